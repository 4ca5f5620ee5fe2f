// align_ia_bce (fixtures/parity/README.md section 6) on the wasm backend: the same quality, rank, IA-BCE
// loss / gradient and many-to-one checks as ia_bce.test.ts, from ia_bce_parity.ts.
import { describeIaBceParity } from './ia_bce_parity';

describeIaBceParity('wasm');
