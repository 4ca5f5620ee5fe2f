/**
 * Speed of cocoapi-ts' COCOeval (bbox) on a large generated case, like a COCO val run of a detector:
 * 5,000 images, the 80 COCO category ids (non-contiguous), about 36,000 ground-truth boxes (1% crowd) and
 * 100 detections per image (500,000; about 78 MB of results json with full-precision floats, written the way
 * Python's json.dump writes detectron2's results file).
 *
 *   npx tsx bench/cocoeval.ts [--rounds 3] [--out DIR] [--pycocotools PYTHONAPI_DIR]
 *
 * Reported: seconds to load the ground truth, to load the results file (COCO.loadRes), and for evaluate,
 * accumulate and evaluate+accumulate (median over rounds; wall clock, and CPU time of the process, which other
 * work on the machine disturbs less). With --pycocotools, pycocotools (importable from
 * that folder, C extension built) is timed on the same files in a python3 child process
 * (packages/cocoapi/scripts/time_pycocotools.py) and the stats of both are compared.
 * The files go to a temporary folder that is removed afterwards, unless --out is given.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COCO, COCOeval, type CocoAnnotation, type CocoDataset, type CocoDetection } from 'cocoapi-ts';

const N_IMAGES = 5000;
const DETS_PER_IMAGE = 100;
/** The 80 COCO category ids. */
const COCO_CAT_IDS = [
  1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28, 31, 32, 33, 34,
  35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63,
  64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90,
];

function argValue(flag: string): string | undefined {
  const k = process.argv.indexOf(flag);
  return k >= 0 ? process.argv[k + 1] : undefined;
}

/** mulberry32: a small deterministic PRNG, uniform in [0, 1). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generateCase(seed: number): { gt: CocoDataset; dets: CocoDetection[] } {
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  // skewed category frequencies, like COCO (a few classes dominate)
  const weights = COCO_CAT_IDS.map((_, k) => 1 / (1 + k * 0.15));
  const total = weights.reduce((s, w) => s + w, 0);
  const sampleCat = (): number => {
    let u = rand() * total;
    for (let k = 0; k < weights.length; k++) if ((u -= weights[k]) < 0) return COCO_CAT_IDS[k];
    return COCO_CAT_IDS[COCO_CAT_IDS.length - 1];
  };
  const images = Array.from({ length: N_IMAGES }, (_, i) => ({ id: 100000 + i * 7, width: 640, height: 480 }));
  const annotations: CocoAnnotation[] = [];
  const dets: CocoDetection[] = [];
  const logUniform = (lo: number, hi: number) => Math.exp(Math.log(lo) + rand() * (Math.log(hi) - Math.log(lo)));
  for (const img of images) {
    const nGt = Math.floor(rand() * 15.4); // mean 7.2 → about 36,000 in all
    const imgGts: CocoAnnotation[] = [];
    for (let j = 0; j < nGt; j++) {
      const w = logUniform(4, 500);
      const h = logUniform(4, 400);
      const ann: CocoAnnotation = {
        id: annotations.length + 1,
        image_id: img.id,
        category_id: sampleCat(),
        bbox: [rand() * (640 - Math.min(w, 600)), rand() * (480 - Math.min(h, 440)), w, h],
        area: w * h * (0.5 + 0.45 * rand()),
        iscrowd: rand() < 0.01 ? 1 : 0,
      };
      annotations.push(ann);
      imgGts.push(ann);
    }
    let n = 0;
    // detections near ground truths (some with the wrong category), then background boxes
    for (const g of imgGts) {
      const copies = 1 + Math.floor(rand() * 6);
      for (let c = 0; c < copies && n < DETS_PER_IMAGE; c++, n++) {
        const [x, y, w, h] = g.bbox;
        const s = 0.15 * (rand() - 0.5);
        dets.push({
          image_id: img.id,
          category_id: rand() < 0.8 ? g.category_id : sampleCat(),
          bbox: [x + w * s, y + h * 0.15 * (rand() - 0.5), w * (1 + 0.3 * (rand() - 0.5)), h * (1 + 0.3 * (rand() - 0.5))],
          score: 0.3 + 0.7 * rand(),
        });
      }
    }
    const imgCats = imgGts.map((g) => g.category_id);
    for (; n < DETS_PER_IMAGE; n++) {
      const w = logUniform(4, 500);
      const h = logUniform(4, 400);
      dets.push({
        image_id: img.id,
        category_id: imgCats.length > 0 && rand() < 0.5 ? pick(imgCats) : sampleCat(),
        bbox: [rand() * 600, rand() * 440, w, h],
        score: 0.4 * rand(),
      });
    }
  }
  const categories = COCO_CAT_IDS.map((id) => ({ id, name: `class_${id}`, supercategory: 'thing' }));
  return { gt: { images, categories, annotations }, dets };
}

/** The results array as Python's `json.dump` writes it (detectron2's coco_instances_results.json): ", " and ": ". */
function pythonStyleJson(dets: CocoDetection[]): string {
  const parts = dets.map((d) => `{"image_id": ${d.image_id}, "category_id": ${d.category_id}, "bbox": [${d.bbox.join(', ')}], "score": ${d.score}}`);
  return `[${parts.join(', ')}]`;
}

function seconds(t0: number): number {
  return (performance.now() - t0) / 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function main(): void {
  const rounds = Number(argValue('--rounds') ?? 3);
  const outArg = argValue('--out');
  const pycocotools = argValue('--pycocotools');
  const dir = outArg ?? mkdtempSync(join(tmpdir(), 'cocoeval-bench-'));
  mkdirSync(dir, { recursive: true });
  const gtPath = join(dir, 'bench.gt.json');
  const dtPath = join(dir, 'bench.dt.json');
  try {
    const { gt, dets } = generateCase(20240601);
    writeFileSync(gtPath, JSON.stringify(gt));
    writeFileSync(dtPath, pythonStyleJson(dets));
    console.log(`case: ${gt.images.length} images, ${gt.categories.length} categories, ${gt.annotations.length} ground truths, `
      + `${dets.length} detections (${(statSync(dtPath).size / 1e6).toFixed(1)} MB results json)`);

    const loadGt: number[] = [];
    const loadRes: number[] = [];
    const loadResCpu: number[] = [];
    const evaluate: number[] = [];
    const accumulate: number[] = [];
    const both: number[] = [];
    const bothCpu: number[] = [];
    let stats: number[] = [];
    for (let r = 0; r < rounds; r++) {
      let t0 = performance.now();
      const cocoGt = new COCO(gtPath);
      loadGt.push(seconds(t0));
      const loadCpu0 = process.cpuUsage();
      t0 = performance.now();
      const cocoDt = cocoGt.loadRes(dtPath);
      loadRes.push(seconds(t0));
      const loadCpu = process.cpuUsage(loadCpu0);
      loadResCpu.push((loadCpu.user + loadCpu.system) / 1e6);
      const E = new COCOeval(cocoGt, cocoDt, 'bbox');
      const cpu0 = process.cpuUsage();
      t0 = performance.now();
      E.evaluate();
      const te = seconds(t0);
      const t1 = performance.now();
      E.accumulate();
      const ta = seconds(t1);
      const cpu = process.cpuUsage(cpu0);
      evaluate.push(te);
      accumulate.push(ta);
      both.push(te + ta);
      bothCpu.push((cpu.user + cpu.system) / 1e6);
      stats = E.summarize(null);
    }
    const fmt = (xs: number[]) => `${median(xs).toFixed(3)} s (runs: ${xs.map((x) => x.toFixed(2)).join(', ')})`;
    console.log(`cocoapi-ts  load gt            ${fmt(loadGt)}`);
    console.log(`cocoapi-ts  loadRes (file)     ${fmt(loadRes)}; CPU time ${fmt(loadResCpu)}`);
    console.log(`cocoapi-ts  evaluate           ${fmt(evaluate)}`);
    console.log(`cocoapi-ts  accumulate         ${fmt(accumulate)}`);
    console.log(`cocoapi-ts  evaluate+accumulate ${fmt(both)}; CPU time ${fmt(bothCpu)}`);
    console.log(`cocoapi-ts  stats ${JSON.stringify(stats.map((s) => Number(s.toFixed(6))))}`);

    if (pycocotools) {
      const script = new URL('../packages/cocoapi/scripts/time_pycocotools.py', import.meta.url).pathname;
      const res = spawnSync('python3', [script, gtPath, dtPath], {
        env: { ...process.env, PYTHONPATH: pycocotools },
        encoding: 'utf8',
        maxBuffer: 1 << 24,
      });
      if (res.status !== 0) throw new Error(`pycocotools run failed: ${res.stderr}`);
      const py = JSON.parse(res.stdout.trim().split('\n').pop()!) as Record<string, number> & { stats: number[] };
      const pyBoth = py.evaluate + py.accumulate;
      console.log(`pycocotools load gt ${py.load_gt.toFixed(3)} s, loadRes ${py.load_res.toFixed(3)} s, evaluate ${py.evaluate.toFixed(3)} s, `
        + `accumulate ${py.accumulate.toFixed(3)} s, evaluate+accumulate ${pyBoth.toFixed(3)} s`);
      console.log(`pycocotools CPU time: loadRes ${py.cpu_load_res.toFixed(3)} s, evaluate+accumulate ${py.cpu_evaluate_accumulate.toFixed(3)} s`);
      console.log(`speed-up evaluate+accumulate: ${(pyBoth / median(both)).toFixed(1)}x wall, `
        + `${(py.cpu_evaluate_accumulate / median(bothCpu)).toFixed(1)}x CPU time; loadRes: ${(py.load_res / median(loadRes)).toFixed(1)}x wall, `
        + `${(py.cpu_load_res / median(loadResCpu)).toFixed(1)}x CPU time`);
      const maxDiff = Math.max(...stats.map((s, i) => Math.abs(s - py.stats[i])));
      console.log(`max |stats - pycocotools stats| = ${maxDiff}`);
    }
  } finally {
    if (!outArg) rmSync(dir, { recursive: true, force: true });
  }
}

main();
