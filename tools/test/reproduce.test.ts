/**
 * tools/reproduce.ts through its command line (child processes, as a person runs it):
 *  - a dry run plans rows x seeds with the right configs and overrides and writes nothing; bad input
 *    (unknown set, row or override path) fails before any training;
 *  - a tiny end-to-end run (tiny model and data, 2 iterations, 4 test images) trains and analyses both
 *    rows of align-vs-dino and writes the table; rerunning skips finished runs; a run whose training
 *    was interrupted continues from its last checkpoint; other settings in the same folder are refused.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = resolve(__dirname, '../..');

function reproduce(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'tools/reproduce.ts', ...args], { cwd: REPO, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

describe('reproduce --dry-run', () => {
  it('plans every row x seed with its config and seed override, and writes nothing', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'reproduce-dry-')), 'runs');
    const r = reproduce(['--set', 'align-vs-dino', '--seeds', '2', '--first-seed', '5', '--max-iter', '7', '--dry-run', '--output-dir', out, 'train.eval_period=0']);
    expect(r.status, r.out).toBe(0);
    expect(r.out.match(/^\[new\] /gm)?.length).toBe(4);
    for (const row of ['dino_focal', 'aligndetr_ia_bce']) for (const seed of [5, 6]) expect(r.out).toContain(`[new] ${row} seed ${seed}`);
    expect(r.out).toContain('projects/dino/configs/dino_small_mnist.ts');
    expect(r.out).toContain('projects/align-detr/configs/aligndetr_small_mnist.ts');
    expect(r.out).toMatch(/train_net\.ts .* train\.max_iter=7 train\.eval_period=0 train\.seed=6/);
    expect(existsSync(out)).toBe(false);
  });

  it("takes a paper table's rows from the ablation table (Table B: the weight variants on k = 1)", () => {
    const r = reproduce(['--set', 'tableB', '--seeds', '1', '--dry-run', '--output-dir', join(tmpdir(), 'reproduce-never-written')]);
    expect(r.status, r.out).toBe(0);
    expect(r.out.match(/^\[new\] tableB_/gm)?.length).toBe(6);
    expect(r.out).toContain(`'model.criterion.class_loss.w_neg="(1-t)s^2"'`);
    // the small base has 3 decoder layers: one-to-one matching is [encoder, dec 0, dec 1, last] = 1
    expect(r.out).toContain("'model.criterion.match_num=[1,1,1,1]'");
  });

  it('rejects an unknown set, row or override path before running anything', () => {
    let r = reproduce(['--set', 'table99', '--dry-run']);
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/unknown set "table99"; sets: align-vs-dino, table4/);
    r = reproduce(['--set', 'align-vs-dino', '--rows', 'dino_focal,nope', '--dry-run']);
    expect(r.out).toMatch(/unknown rows nope in set align-vs-dino; rows: dino_focal, aligndetr_ia_bce/);
    r = reproduce(['--set', 'align-vs-dino', '--dry-run', 'model.num_querys=10']);
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/row dino_focal \(projects\/dino\/configs\/dino_small_mnist\.ts\): .*num_querys/);
  });
});

/** A tiny detector and data set: frozen ResNet-18 (0.26 M trainable), 32-d transformer, 64 px images, 8 / 4 images. */
function tinyOverrides(cache: string): string[] {
  return [
    'model.backbone.freeze_at=5',
    'model.num_queries=10',
    'model.dn_number=4',
    'model.select_box_nums_for_evaluation=10',
    'model.embed_dim=32',
    'model.position_embedding.num_pos_feats=16',
    'model.neck.out_channels=32',
    'model.neck.norm_layer.num_channels=32',
    'model.neck.norm_layer.num_groups=8',
    'model.transformer.encoder.num_layers=1',
    ...['encoder', 'decoder'].flatMap((p) => [`model.transformer.${p}.embed_dim=32`, `model.transformer.${p}.feedforward_dim=64`]),
    ...['train', 'test'].flatMap((s) => [`dataloader.${s}.dataset.num_train=8`, `dataloader.${s}.dataset.num_val=4`, `+dataloader.${s}.dataset.cache_dir=${cache}`]),
    'dataloader.train.batch_size=2',
    'dataloader.train.transforms.short_edge_length=[64]',
    'dataloader.train.transforms.max_size=96',
    'dataloader.train.transforms.crop_pre_resize=[64]',
    'dataloader.train.transforms.crop_size=[48,64]',
    'dataloader.test.transforms.short=64',
    'dataloader.test.transforms.max=96',
    'train.eval_period=0',
    'train.log_period=1',
    'train.checkpointer.period=1',
    'train.num_visualize=0',
  ];
}

describe('reproduce end to end (tiny)', () => {
  it('trains and analyses each run, writes the table, skips finished runs and resumes an interrupted one', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'reproduce-e2e-'));
    const out = join(tmp, 'runs');
    const args = ['--set', 'align-vs-dino', '--seeds', '1', '--max-iter', '2', '--max-images', '4', '--backend', 'wasm', '--output-dir', out, ...tinyOverrides(join(tmp, 'cache'))];

    const first = reproduce(args);
    expect(first.status, first.out).toBe(0);
    const table = readFileSync(join(out, 'results.md'), 'utf8');
    for (const row of ['dino_focal', 'aligndetr_ia_bce']) {
      const run = JSON.parse(readFileSync(join(out, row, 'seed0', 'run.json'), 'utf8'));
      expect(run.status).toBe('done');
      const alignment = JSON.parse(readFileSync(join(out, row, 'seed0', 'alignment', 'alignment.json'), 'utf8'));
      expect(alignment.num_images).toBe(4);
      // the table's row: n = 1 and the values of this run's alignment.json
      const line = table.split('\n').find((l) => l.includes(`(\`${row}\`) |`))!;
      const cells = line.split('|').map((c) => c.trim());
      expect(cells[2]).toBe('1');
      expect(cells[3]).toBe(alignment.bbox.AP.toFixed(1));
      const recall = alignment.alignment.recall.top_n;
      expect(cells[6]).toBe(recall === null ? '–' : recall.toFixed(3));
      const r = alignment.alignment.matched.pearson;
      expect(cells[8]).toBe(r === null ? '–' : r.toFixed(3));
    }
    for (const png of ['summary_ap.png', 'summary_alignment.png', 'recall_curves.png']) expect(statSync(join(out, png)).size).toBeGreaterThan(1000);

    // Rerun: both runs are skipped, nothing is retrained.
    const dinoFinal = join(out, 'dino_focal', 'seed0', 'checkpoints', 'model_final.safetensors');
    const mtime = statSync(dinoFinal).mtimeMs;
    const second = reproduce(args);
    expect(second.status, second.out).toBe(0);
    expect(second.out.match(/done, skipped/g)?.length).toBe(2);
    expect(statSync(dinoFinal).mtimeMs).toBe(mtime);

    // Interrupt the Align-DETR run after its first iteration: only model_0000000 remains.
    const alignDir = join(out, 'aligndetr_ia_bce', 'seed0');
    for (const f of ['model_final.safetensors', 'model_final.optim.safetensors', 'model_final.json']) rmSync(join(alignDir, 'checkpoints', f));
    writeFileSync(join(alignDir, 'checkpoints', 'last_checkpoint'), 'model_0000000');
    rmSync(join(alignDir, 'alignment'), { recursive: true });
    const third = reproduce(args);
    expect(third.status, third.out).toBe(0);
    expect(third.out).toMatch(/run 1\/2 dino_focal seed 0: done, skipped/);
    expect(third.out).toMatch(/run 2\/2 aligndetr_ia_bce seed 0: resuming the interrupted training/);
    expect(readFileSync(join(alignDir, 'log.txt'), 'utf8')).toMatch(/\[resume\] continuing from model_0000000 at iteration 1 of 2/);
    expect(JSON.parse(readFileSync(join(alignDir, 'run.json'), 'utf8')).status).toBe('done');

    // Other training settings in the same folder are refused.
    const other = reproduce(args.map((a) => (a === '2' ? '3' : a)));
    expect(other.status).toBe(1);
    expect(other.out).toMatch(/holds a run with other settings/);
    rmSync(tmp, { recursive: true, force: true });
  }, 300_000);
});
