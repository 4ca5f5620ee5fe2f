/**
 * The parts of the WebAssembly JS API that gemm_wasm.ts uses. The project compiles without the DOM
 * library and @types/node does not declare them; Node 20 implements them (WebAssembly JS API spec).
 */
declare namespace WebAssembly {
  interface Memory {
    readonly buffer: ArrayBuffer | SharedArrayBuffer;
    grow(deltaPages: number): number;
  }
  // eslint-disable-next-line no-var
  var Memory: { prototype: Memory; new (descriptor: { initial: number; maximum?: number; shared?: boolean }): Memory };
  // eslint-disable-next-line @typescript-eslint/no-empty-interface
  interface Module {}
  // eslint-disable-next-line no-var
  var Module: { prototype: Module; new (bytes: Uint8Array): Module };
  interface Instance {
    readonly exports: Record<string, unknown>;
  }
  function validate(bytes: Uint8Array): boolean;
  // eslint-disable-next-line no-var
  var Instance: { prototype: Instance; new (module: Module, imports?: Record<string, Record<string, unknown>>): Instance };
}
