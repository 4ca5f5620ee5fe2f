// ResNet-50 against the PyTorch fixture (fixtures/parity/README.md section 9), and DC5 against a float64
// reference, on the cpu backend (the checks are in resnet50_parity.ts; the .wasm.test.ts twin runs them on wasm).
import { describeResNet50Parity } from './resnet50_parity';

describeResNet50Parity('cpu');
