/**
 * Reader for PyTorch `.pth` / `.pt` checkpoints in the zip format of `torch.save` (PyTorch >= 1.6;
 * `torch/serialization.py` `_save` / `_load`):
 *
 *   <folder>/data.pkl     the pickled object; tensors are
 *                         torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride,
 *                                                          requires_grad, backward_hooks[, metadata])
 *                         and each storage is the persistent id
 *                         ('storage', torch.<Type>Storage, key, location, numel)
 *   <folder>/data/<key>   the raw little-endian bytes of each storage
 *   <folder>/version      (and, in newer versions, byteorder)
 *
 * `<folder>` is the file stem at save time (do not assume `archive/`). Storages can be shared by
 * several tensors (tied weights); each tensor is materialised as its own row-major copy.
 */
import * as fs from 'node:fs';
import { PyGlobal, describe, unpickle } from './pickle';
import { type DType, type RawData, type RawTensor, decodeLittleEndian, dtypeItemSize, shapeSize } from './raw-tensor';
import { isRowMajor, materializeStrided } from './strided-copy';
import { ZipArchive } from './zip-archive';

export interface ReadPthOptions {
  /**
   * 'error' (default): a global other than the tensor / storage / container ones is an error naming
   * it. 'opaque': such objects are returned as inert `PyObject`s (e.g. to get at the model weights of
   * a training checkpoint whose other parts hold exotic objects).
   */
  unknownGlobals?: 'error' | 'opaque';
}

export interface PthFile {
  /** The whole unpickled object (dicts as Map, tensors as RawTensor). */
  object: unknown;
  /** The state dict chosen by `findStateDict`, flattened by key ('.'-joined for nested dicts). */
  tensors: Map<string, RawTensor>;
}

/** torch.<Name>Storage -> dtype (torch/storage.py legacy typed storages, which torch.save still names). */
const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
  UntypedStorage: 'uint8',
};

class TorchStorage {
  private bytes?: Uint8Array;
  private decoded?: RawData;
  constructor(
    readonly key: string,
    readonly dtype: DType,
    readonly numel: number,
    private readonly loadBytes: () => Uint8Array,
  ) {}
  /** The storage's raw bytes (a view into the file for stored zip entries), checked for length. */
  raw(): Uint8Array {
    if (!this.bytes) {
      const bytes = this.loadBytes();
      const need = this.numel * dtypeItemSize(this.dtype);
      if (bytes.length < need) {
        throw new Error(`storage '${this.key}' has ${bytes.length} bytes but ${this.numel} ${this.dtype} elements need ${need}`);
      }
      this.bytes = bytes;
    }
    return this.bytes;
  }
  /** The whole storage decoded (only needed for non-contiguous views). */
  data(): RawData {
    this.decoded ??= decodeLittleEndian(this.raw(), 0, this.numel, this.dtype);
    return this.decoded;
  }
}

export function readPth(filePath: string, options: ReadPthOptions = {}): PthFile {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(filePath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`Cannot read PyTorch checkpoint '${filePath}': ${code === 'ENOENT' ? 'file not found' : (err as Error).message}`, { cause: err });
  }
  return parsePth(bytes, filePath, options);
}

export function parsePth(bytes: Uint8Array, source = '<pth bytes>', options: ReadPthOptions = {}): PthFile {
  if (bytes.length >= 2 && bytes[0] === 0x80 && bytes[1] <= 5) {
    throw new Error(
      `PyTorch checkpoint '${source}' uses the legacy (pre-1.6, non-zip) torch.save format, which is not supported; ` +
        're-save it with torch.save(obj, path) in PyTorch >= 1.6',
    );
  }
  const zip = new ZipArchive(bytes, source);
  const pickles = zip.names().filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pickles.length !== 1) {
    throw new Error(`PyTorch checkpoint '${source}': expected one '<folder>/data.pkl' entry, found ${pickles.length ? pickles.join(', ') : 'none'} (not a torch.save file?)`);
  }
  const prefix = pickles[0].slice(0, -'data.pkl'.length);
  const byteorder = zip.entries.has(`${prefix}byteorder`) ? new TextDecoder().decode(zip.read(`${prefix}byteorder`)).trim() : 'little';
  if (byteorder !== 'little') throw new Error(`PyTorch checkpoint '${source}': byteorder '${byteorder}' is not supported`);

  const storages = new Map<string, TorchStorage>();
  const persistentLoad = (pid: unknown): TorchStorage => {
    if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== 'storage') {
      throw new Error(`expected ('storage', type, key, location, numel), got ${describe(pid)}`);
    }
    const [, type, key, , numel] = pid as unknown[];
    if (!(type instanceof PyGlobal) || type.module !== 'torch' || !Object.hasOwn(STORAGE_DTYPES, type.name)) {
      throw new Error(`unsupported storage type ${describe(type)} (supported: ${Object.keys(STORAGE_DTYPES).map((n) => `torch.${n}`).join(', ')})`);
    }
    if (typeof key !== 'string') throw new Error(`storage key must be a string, got ${describe(key)}`);
    if (typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) throw new Error(`storage '${key}': bad element count ${describe(numel)}`);
    const dtype = STORAGE_DTYPES[type.name];
    const known = storages.get(key);
    if (known) {
      if (known.dtype !== dtype || known.numel !== numel) {
        throw new Error(`storage '${key}' is referenced both as ${known.dtype}[${known.numel}] and ${dtype}[${numel}]`);
      }
      return known;
    }
    const entry = `${prefix}data/${key}`;
    if (!zip.entries.has(entry)) throw new Error(`storage '${key}' has no entry '${entry}' in the archive`);
    const storage = new TorchStorage(key, dtype, numel, () => zip.read(entry));
    storages.set(key, storage);
    return storage;
  };

  const object = unpickle(zip.read(pickles[0]), {
    source: `${source}:${pickles[0]}`,
    findGlobal: findTorchGlobal,
    persistentLoad,
    unknownGlobals: options.unknownGlobals,
  });
  const tensors = object instanceof Map ? flattenStateDict(findStateDict(object)) : new Map<string, RawTensor>();
  return { object, tensors };
}

/**
 * The state dict inside a loaded checkpoint: the `model` entry (detectron2 / detrex / Align-DETR
 * `Checkpointer` files are `{"model": OrderedDict, ...}`), else the `state_dict` entry
 * (mmdetection / Lightning), else the top dict itself.
 */
export function findStateDict(obj: unknown): Map<unknown, unknown> {
  if (!(obj instanceof Map)) throw new Error(`findStateDict: the checkpoint holds ${describe(obj)}, not a dict`);
  for (const key of ['model', 'state_dict']) {
    const inner = obj.get(key);
    if (inner instanceof Map) return inner;
  }
  return obj;
}

/** The tensors of a state dict by key; nested dicts are flattened with '.', other values skipped. */
export function flattenStateDict(dict: Map<unknown, unknown>, prefix = ''): Map<string, RawTensor> {
  const out = new Map<string, RawTensor>();
  for (const [key, value] of dict) {
    const name = `${prefix}${String(key)}`;
    if (isRawTensor(value)) out.set(name, value);
    else if (value instanceof Map) for (const [k, v] of flattenStateDict(value, `${name}.`)) out.set(k, v);
  }
  return out;
}

export function isRawTensor(value: unknown): value is RawTensor {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as RawTensor).dtype === 'string' &&
    Array.isArray((value as RawTensor).shape) &&
    ArrayBuffer.isView((value as RawTensor).data)
  );
}

// ---- the globals a torch.save state dict may name

function rebuildTensor(args: unknown[], fn: string): RawTensor {
  const [storage, storageOffset, size, stride] = args;
  if (!(storage instanceof TorchStorage)) throw new Error(`${fn}: first argument is ${describe(storage)}, not a storage`);
  const shape = intTuple(size, `${fn}: size`);
  if (shape.some((d) => d < 0)) throw new Error(`${fn}: negative size ${describe(size)}`);
  const strides = intTuple(stride, `${fn}: stride`);
  if (typeof storageOffset !== 'number') throw new Error(`${fn}: storage_offset is ${describe(storageOffset)}`);
  const what = `tensor on storage '${storage.key}'`;
  const count = shapeSize(shape);
  if (strides.length === shape.length && isRowMajor(shape, strides) && Number.isSafeInteger(storageOffset) && storageOffset >= 0) {
    // Contiguous (the usual case): one copy straight from the file bytes.
    if (storageOffset + count > storage.numel) {
      throw new Error(`${what}: elements ${storageOffset}..${storageOffset + count} exceed the storage of ${storage.numel}`);
    }
    const data = decodeLittleEndian(storage.raw(), storageOffset * dtypeItemSize(storage.dtype), count, storage.dtype);
    return { dtype: storage.dtype, shape, data };
  }
  const data = materializeStrided(storage.data(), storage.dtype, storageOffset, shape, strides, what);
  return { dtype: storage.dtype, shape, data };
}

function intTuple(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isSafeInteger(x))) {
    throw new Error(`${what} must be a tuple of ints, got ${describe(v)}`);
  }
  return [...v] as number[];
}

function arity(args: unknown[], allowed: number[], fn: string): void {
  if (!allowed.includes(args.length)) throw new Error(`${fn} takes ${allowed.join(' or ')} arguments, got ${args.length}`);
}

function asTensor(v: unknown, fn: string): RawTensor {
  if (!isRawTensor(v)) throw new Error(`${fn}: expected a tensor, got ${describe(v)}`);
  return v;
}

const notCallable = (name: string) => (): never => {
  throw new Error(`${name} cannot be called here`);
};

const TORCH_GLOBALS: Record<string, (args: unknown[]) => unknown> = {
  'collections.OrderedDict': (args) => {
    const dict = new Map<unknown, unknown>();
    if (args.length && Array.isArray(args[0])) for (const pair of args[0] as unknown[][]) dict.set(pair[0], pair[1]);
    return dict;
  },
  'torch._utils._rebuild_tensor_v2': (args) => {
    arity(args, [6, 7], '_rebuild_tensor_v2');
    return rebuildTensor(args, '_rebuild_tensor_v2');
  },
  'torch._utils._rebuild_tensor': (args) => {
    arity(args, [4], '_rebuild_tensor');
    return rebuildTensor(args, '_rebuild_tensor');
  },
  // nn.Parameter(data, requires_grad) -> its data tensor
  'torch._utils._rebuild_parameter': (args) => {
    arity(args, [3], '_rebuild_parameter');
    return asTensor(args[0], '_rebuild_parameter');
  },
  'torch._utils._rebuild_parameter_with_state': (args) => {
    arity(args, [4], '_rebuild_parameter_with_state');
    return asTensor(args[0], '_rebuild_parameter_with_state');
  },
  // torch._tensor._rebuild_from_type_v2(func, new_type, args, state): a Tensor subclass around func(*args)
  'torch._tensor._rebuild_from_type_v2': (args) => {
    arity(args, [4], '_rebuild_from_type_v2');
    const [func, , inner] = args;
    if (!(func instanceof PyGlobal) || !Array.isArray(inner)) throw new Error(`_rebuild_from_type_v2: bad arguments`);
    return asTensor(func.call(inner as unknown[]), '_rebuild_from_type_v2');
  },
  'torch.Tensor': notCallable('torch.Tensor'),
  'torch.nn.parameter.Parameter': notCallable('torch.nn.parameter.Parameter'),
  'torch.Size': (args) => Object.freeze([...(args[0] as unknown[])]),
  'builtins.set': (args) => new Set(args.length ? (args[0] as unknown[]) : []),
  'builtins.frozenset': (args) => new Set(args.length ? (args[0] as unknown[]) : []),
  '__builtin__.set': (args) => new Set(args.length ? (args[0] as unknown[]) : []),
  '__builtin__.frozenset': (args) => new Set(args.length ? (args[0] as unknown[]) : []),
  // protocol-2 pickles of Python 3 bytes: _codecs.encode(latin1_text, 'latin1')
  '_codecs.encode': (args) => {
    const [text, encoding] = args;
    if (typeof text !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1')) throw new Error(`_codecs.encode: only (str, 'latin1') is supported`);
    return Uint8Array.from(text, (c) => c.charCodeAt(0));
  },
};

/** The globals a torch.save file may name (tensor rebuilders, storage types, plain containers). */
export function findTorchGlobal(module: string, name: string): PyGlobal | undefined {
  if (module === 'torch' && Object.hasOwn(STORAGE_DTYPES, name)) return new PyGlobal(module, name, notCallable(`torch.${name}`));
  const qualified = `${module}.${name}`;
  return Object.hasOwn(TORCH_GLOBALS, qualified) ? new PyGlobal(module, name, TORCH_GLOBALS[qualified]) : undefined;
}
