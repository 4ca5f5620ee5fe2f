/**
 * Whether this engine compiles WebAssembly relaxed SIMD (f32x4.relaxed_madd, the GEMM's fused
 * multiply-add, gemm_microkernel.ts). Node 22+ (V8 11.4+) ships it; Node 20 has it behind
 * --experimental-wasm-relaxed-simd, which is turned on here at run time (v8.setFlagsFromString;
 * it only widens what WebAssembly validation accepts, and modules compiled before are unaffected).
 * Checked by validating a probe module, once per process.
 */
import * as v8 from 'node:v8';
import { encodeModule, op } from './wasm_binary';

const FLAG = '--experimental-wasm-relaxed-simd';

function probe(): Uint8Array {
  // p(ptr): v128 at ptr = relaxed_madd(v, v, v) of the v128 at ptr
  const v = [...op.localGet(0), ...op.v128Load(0)];
  const body = [...op.localGet(0), ...v, ...v, ...v, ...op.f32x4RelaxedMadd, ...op.v128Store(0)];
  return encodeModule({ shared: false }, [{ name: 'p', params: 1, locals: [], body }]);
}

let available: boolean | null = null;

export function relaxedSimdAvailable(): boolean {
  if (available === null) {
    const bytes = probe();
    available = WebAssembly.validate(bytes);
    if (!available) {
      try {
        v8.setFlagsFromString(FLAG);
        available = WebAssembly.validate(bytes);
      } catch {
        available = false;
      }
    }
  }
  return available;
}
