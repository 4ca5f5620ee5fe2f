// ResNet-50 against the PyTorch fixture (fixtures/parity/README.md section 9), and DC5 against a float64
// reference, on the wasm backend: the checks of resnet50_parity.ts, as resnet50_parity.test.ts runs them on cpu.
import { describeResNet50Parity } from './resnet50_parity';

describeResNet50Parity('wasm');
