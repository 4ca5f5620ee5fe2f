// Whole-model eval parity of the small Align-DETR R50 4-scale model (fixtures/parity/README.md section
// 10) built from the project config, on the cpu backend, with the structure and init_checkpoint checks
// (the checks are in aligndetr_r50_small_parity.ts; the .wasm.test.ts twin runs them on wasm).
import { describeAlignDetrSmallParity } from './aligndetr_r50_small_parity';

describeAlignDetrSmallParity('cpu', { structure: true });
