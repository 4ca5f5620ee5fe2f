// matcher_focal (fixtures/parity/README.md section 5) on the wasm backend: the same focal loss and
// SetCriterion checks as focal_set_criterion.test.ts, from focal_set_criterion_parity.ts.
import { describeFocalSetCriterionParity } from './focal_set_criterion_parity';

describeFocalSetCriterionParity('wasm');
