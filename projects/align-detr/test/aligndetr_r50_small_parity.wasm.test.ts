// Whole-model eval parity of the small Align-DETR R50 4-scale model (fixtures/parity/README.md section
// 10) built from the project config, on the wasm backend: the output, intermediate and post-processing
// checks of aligndetr_r50_small_parity.ts, as the cpu test runs them.
import { describeAlignDetrSmallParity } from './aligndetr_r50_small_parity';

describeAlignDetrSmallParity('wasm');
