// The box_ops parity fixture (fixtures/parity/README.md section 4) on the wasm backend (the training
// backend): the same checks as box_ops.test.ts, from box_ops_parity.ts.
import { describeBoxOpsParity } from './box_ops_parity';

describeBoxOpsParity('wasm');
