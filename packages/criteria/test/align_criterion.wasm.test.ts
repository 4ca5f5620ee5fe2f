// align_criterion (fixtures/parity/README.md section 6) on the wasm backend, the training backend: the
// same loss-dict, index and gradient checks as align_criterion.test.ts, from align_criterion_parity.ts.
// The backend is set up through selectBackend (useTestBackend), never a bare tf.setBackend('wasm'),
// so the run has its threads and the fast kernels as training does.
import { describeAlignCriterionParity } from './align_criterion_parity';

describeAlignCriterionParity('wasm');
