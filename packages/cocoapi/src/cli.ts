import { parseArgs } from 'node:util';
import { CocoInputError } from './errors';
import { evaluateBbox } from './evaluate-bbox';

const USAGE = `Usage: cocoapi-ts eval --gt GT.json --dt DT.json [--json] [--no-cats]

Evaluates COCO bbox detections with pycocotools semantics.
  --gt FILE     ground-truth annotation file (COCO instances json)
  --dt FILE     detections file (json array of {image_id, category_id, bbox, score})
  --json        print one JSON object {"stats": [12 numbers], "per_category": {...}} instead of the summary
  --no-cats     pool categories (pycocotools useCats=0)
  -h, --help    this text`;

/** Runs the CLI; returns the process exit code (0 ok, 1 bad input, 2 bad usage). */
export function main(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s), err: (s: string) => void = (s) => process.stderr.write(s)): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        gt: { type: 'string' },
        dt: { type: 'string' },
        json: { type: 'boolean', default: false },
        'no-cats': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    err(`cocoapi-ts: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    out(`${USAGE}\n`);
    return 0;
  }
  if (positionals.length !== 1 || positionals[0] !== 'eval') {
    err(`cocoapi-ts: expected the command 'eval'${positionals.length ? `, got '${positionals.join(' ')}'` : ''}\n${USAGE}\n`);
    return 2;
  }
  if (!values.gt || !values.dt) {
    err(`cocoapi-ts: eval needs both --gt and --dt\n${USAGE}\n`);
    return 2;
  }
  try {
    const result = evaluateBbox(values.gt, values.dt, { useCats: !values['no-cats'] });
    if (result.unknownCategoryIds.length > 0) {
      const ids = result.unknownCategoryIds;
      err(`cocoapi-ts: warning: detections with category ids not in the ground truth were not evaluated: ${ids.slice(0, 20).join(', ')}${ids.length > 20 ? ', ...' : ''}\n`);
    }
    if (values.json) {
      const perCategory: Record<string, { name: string; stats: number[] }> = {};
      for (const c of result.perCategory) perCategory[String(c.categoryId)] = { name: c.name, stats: c.stats };
      out(`${JSON.stringify({ stats: result.stats, per_category: perCategory })}\n`);
    } else {
      out(`${result.summary.join('\n')}\n`);
    }
    return 0;
  } catch (e) {
    if (e instanceof CocoInputError) {
      err(`cocoapi-ts: error: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
