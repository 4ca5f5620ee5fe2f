// One training step from every ablation config of the paper's table(s) 4, 5: built from the row's
// config file (shrunk to test size, 6 decoder layers kept), finite losses, the row's setting in the
// built criterion / detector. Split by table so each file stays short on the 2-core machine.
import { describe } from 'vitest';
import { oneStepPerRow } from './ablation_training';

describe('ablation rows train one step', () => oneStepPerRow(['4', '5']));
