// The box_ops parity fixture (fixtures/parity/README.md section 4) against @detr/core's box ops, cpu
// backend (the checks are in box_ops_parity.ts; box_ops.wasm.test.ts runs them on wasm).
import { describeBoxOpsParity } from './box_ops_parity';

describeBoxOpsParity('cpu');
