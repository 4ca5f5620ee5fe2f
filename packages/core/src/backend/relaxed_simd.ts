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
  // p(ptr): the v128 at ptr + 48 = relaxed_madd(v128 at ptr, at ptr + 16, at ptr + 32)
  const v = (offset: number): number[] => [...op.localGet(0), ...op.v128Load(offset)];
  const body = [...op.localGet(0), ...v(0), ...v(16), ...v(32), ...op.f32x4RelaxedMadd, ...op.v128Store(48)];
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

let fuses: boolean | null = null;

/**
 * Whether relaxed_madd rounds once here (a fused multiply-add; V8 on x86 with FMA3) rather than
 * after the product and after the sum: (1 + 2⁻¹²)(1 - 2⁻¹²) - 1 is -2⁻²⁴ fused and 0 unfused in
 * float32. False where relaxed SIMD is not available.
 */
export function relaxedMaddFuses(): boolean {
  if (fuses === null) {
    fuses = false;
    if (relaxedSimdAvailable()) {
      const memory = new WebAssembly.Memory({ initial: 1 });
      const run = new WebAssembly.Instance(new WebAssembly.Module(probe()), { env: { memory } }).exports as unknown as { p(ptr: number): void };
      const f = new Float32Array(memory.buffer);
      f.fill(1 + 2 ** -12, 0, 4);
      f.fill(1 - 2 ** -12, 4, 8);
      f.fill(-1, 8, 12);
      run.p(0);
      fuses = f[12] !== 0;
    }
  }
  return fuses;
}
