// matcher_focal (fixtures/parity/README.md section 5): detrex sigmoid focal loss and SetCriterion, cpu
// backend (the checks are in focal_set_criterion_parity.ts; the .wasm.test.ts twin runs them on wasm).
import { describeFocalSetCriterionParity } from './focal_set_criterion_parity';

describeFocalSetCriterionParity('cpu');
