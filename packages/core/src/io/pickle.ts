/**
 * A safe, data-only unpickler for the Python pickle subset that `torch.save` and plain Python data
 * produce (opcodes as in CPython `Lib/pickle.py` / `Lib/pickletools.py`, protocols 0-5 minus
 * out-of-band buffers). No code runs: a GLOBAL is looked up in a table the caller supplies, and an
 * unknown one is an error naming it (or, if the caller allows it, an inert `PyObject`).
 *
 * Python values map to JavaScript as: None -> null, bool -> boolean, int -> number (bigint beyond
 * 2^53), float -> number, str -> string, bytes/bytearray -> Uint8Array, list -> array, tuple ->
 * frozen array, dict / OrderedDict -> Map (insertion order kept), set / frozenset -> Set.
 */

/** A Python global (`module.qualname`) that REDUCE / NEWOBJ may call. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
    /** Called by REDUCE / NEWOBJ with the argument tuple. */
    readonly call: (args: unknown[]) => unknown,
  ) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** An instance of a global the reader does not know (only when unknown globals are allowed). */
export class PyObject {
  /** The state given by BUILD (usually the instance `__dict__`), if any. */
  state: unknown = undefined;
  /** Items added by SETITEM(S) when the class is a dict subclass. */
  dictItems: Map<unknown, unknown> | undefined = undefined;
  /** Items added by APPEND(S) when the class is a list subclass. */
  listItems: unknown[] | undefined = undefined;
  constructor(
    readonly className: string,
    readonly args: unknown[],
  ) {}
}

export interface UnpickleOptions {
  /** Name used in error messages (e.g. 'model.pth:archive/data.pkl'). */
  source: string;
  /** Resolves `module`, `name` to a callable; return undefined for "unknown". */
  findGlobal: (module: string, name: string) => PyGlobal | undefined;
  /** Resolves a persistent id (BINPERSID / PERSID); required if the pickle uses them. */
  persistentLoad?: (pid: unknown) => unknown;
  /** 'error' (default): an unknown global throws. 'opaque': it yields inert PyObject instances. */
  unknownGlobals?: 'error' | 'opaque';
}

/** BUILD state attached to dicts (e.g. the `_metadata` attribute of a PyTorch state dict). */
const dictAttributes = new WeakMap<object, Map<unknown, unknown>>();

/** The attributes BUILD set on an unpickled dict (OrderedDict subclass state), if any. */
export function pickleAttributes(obj: object): Map<unknown, unknown> | undefined {
  return dictAttributes.get(obj);
}

const MARK = Symbol('pickle.mark');
const UTF8 = new TextDecoder('utf-8', { fatal: true });

export function unpickle(bytes: Uint8Array, options: UnpickleOptions): unknown {
  return new Unpickler(bytes, options).load();
}

class Unpickler {
  private pos = 0;
  private stack: unknown[] = [];
  private marks: number[] = [];
  private memo = new Map<number, unknown>();
  private readonly view: DataView;
  private opStart = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly options: UnpickleOptions,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  load(): unknown {
    for (;;) {
      this.opStart = this.pos;
      const op = this.u8();
      switch (op) {
        // ---- framing and control
        case 0x80: { // PROTO
          const proto = this.u8();
          if (proto > 5) throw this.error(`unsupported pickle protocol ${proto}`);
          break;
        }
        case 0x95: // FRAME: an 8-byte length; frames are only a read-ahead hint
          this.take(8);
          break;
        case 0x2e: // STOP
          if (this.stack.length !== 1 || this.marks.length) throw this.error('STOP with an unbalanced stack');
          return this.stack.pop();
        case 0x28: // MARK
          this.marks.push(this.stack.length);
          this.stack.push(MARK);
          break;
        case 0x30: // POP
          if (this.stack.length && this.stack[this.stack.length - 1] === MARK) this.popMark();
          else this.pop();
          break;
        case 0x31: // POP_MARK
          this.popMark();
          break;
        case 0x32: // DUP
          this.stack.push(this.top());
          break;

        // ---- constants and numbers
        case 0x4e: this.stack.push(null); break; // NONE
        case 0x88: this.stack.push(true); break; // NEWTRUE
        case 0x89: this.stack.push(false); break; // NEWFALSE
        case 0x4a: this.stack.push(this.i32()); break; // BININT
        case 0x4b: this.stack.push(this.u8()); break; // BININT1
        case 0x4d: this.stack.push(this.u16()); break; // BININT2
        case 0x8a: this.stack.push(this.longBytes(this.u8())); break; // LONG1
        case 0x8b: this.stack.push(this.longBytes(this.length32())); break; // LONG4
        case 0x47: { // BINFLOAT: big-endian float64
          const at = this.take(8);
          this.stack.push(this.view.getFloat64(at, false));
          break;
        }
        case 0x49: { // INT (text): also "I00"/"I01" for False/True
          const text = this.line();
          if (text === '00') this.stack.push(false);
          else if (text === '01') this.stack.push(true);
          else this.stack.push(this.parseInt(text));
          break;
        }
        case 0x4c: this.stack.push(this.parseInt(this.line().replace(/L$/, ''))); break; // LONG (text)
        case 0x46: { // FLOAT (text)
          const text = this.line();
          const v = Number(text);
          if (Number.isNaN(v) && !/nan/i.test(text)) throw this.error(`bad FLOAT literal '${text}'`);
          this.stack.push(v);
          break;
        }

        // ---- strings and bytes
        case 0x58: this.stack.push(this.utf8(this.length32())); break; // BINUNICODE
        case 0x8c: this.stack.push(this.utf8(this.u8())); break; // SHORT_BINUNICODE
        case 0x8d: this.stack.push(this.utf8(this.length64())); break; // BINUNICODE8
        case 0x54: this.stack.push(this.latin1(this.length32())); break; // BINSTRING (py2 str)
        case 0x55: this.stack.push(this.latin1(this.u8())); break; // SHORT_BINSTRING
        case 0x42: this.stack.push(this.bytesCopy(this.length32())); break; // BINBYTES
        case 0x43: this.stack.push(this.bytesCopy(this.u8())); break; // SHORT_BINBYTES
        case 0x8e: this.stack.push(this.bytesCopy(this.length64())); break; // BINBYTES8
        case 0x96: this.stack.push(this.bytesCopy(this.length64())); break; // BYTEARRAY8
        case 0x53: this.stack.push(this.pyStringLiteral(this.line())); break; // STRING (text, quoted)
        case 0x56: this.stack.push(this.rawUnicodeEscape(this.line())); break; // UNICODE (text)

        // ---- containers
        case 0x29: this.stack.push(Object.freeze([])); break; // EMPTY_TUPLE
        case 0x85: this.stack.push(Object.freeze([this.pop()])); break; // TUPLE1
        case 0x86: { // TUPLE2
          const b = this.pop();
          const a = this.pop();
          this.stack.push(Object.freeze([a, b]));
          break;
        }
        case 0x87: { // TUPLE3
          const c = this.pop();
          const b = this.pop();
          const a = this.pop();
          this.stack.push(Object.freeze([a, b, c]));
          break;
        }
        case 0x74: this.stack.push(Object.freeze(this.popMark())); break; // TUPLE
        case 0x5d: this.stack.push([]); break; // EMPTY_LIST
        case 0x6c: this.stack.push(this.popMark()); break; // LIST
        case 0x61: { // APPEND
          const item = this.pop();
          this.asList(this.top(), 'APPEND').push(item);
          break;
        }
        case 0x65: { // APPENDS
          const items = this.popMark();
          this.appendAll(this.top(), items);
          break;
        }
        case 0x7d: this.stack.push(new Map()); break; // EMPTY_DICT
        case 0x64: { // DICT
          const items = this.popMark();
          const dict = new Map();
          this.setItems(dict, items);
          this.stack.push(dict);
          break;
        }
        case 0x73: { // SETITEM
          const value = this.pop();
          const key = this.pop();
          this.asDict(this.top(), 'SETITEM').set(key, value);
          break;
        }
        case 0x75: { // SETITEMS
          const items = this.popMark();
          this.setItems(this.asDict(this.top(), 'SETITEMS'), items);
          break;
        }
        case 0x8f: this.stack.push(new Set()); break; // EMPTY_SET
        case 0x90: { // ADDITEMS
          const items = this.popMark();
          const set = this.top();
          if (!(set instanceof Set)) throw this.error('ADDITEMS on a non-set');
          for (const item of items) set.add(item);
          break;
        }
        case 0x91: this.stack.push(new Set(this.popMark())); break; // FROZENSET

        // ---- memo
        case 0x71: this.memo.set(this.u8(), this.top()); break; // BINPUT
        case 0x72: this.memo.set(this.u32(), this.top()); break; // LONG_BINPUT
        case 0x70: this.memo.set(this.parseIndex(this.line()), this.top()); break; // PUT
        case 0x94: this.memo.set(this.memo.size, this.top()); break; // MEMOIZE
        case 0x68: this.stack.push(this.memoGet(this.u8())); break; // BINGET
        case 0x6a: this.stack.push(this.memoGet(this.u32())); break; // LONG_BINGET
        case 0x67: this.stack.push(this.memoGet(this.parseIndex(this.line()))); break; // GET

        // ---- objects
        case 0x63: { // GLOBAL "module\nname\n"
          const module = this.line();
          const name = this.line();
          this.stack.push(this.resolveGlobal(module, name));
          break;
        }
        case 0x93: { // STACK_GLOBAL
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') throw this.error('STACK_GLOBAL needs two strings');
          this.stack.push(this.resolveGlobal(module, name));
          break;
        }
        case 0x52: { // REDUCE
          const args = this.pop();
          const callable = this.pop();
          this.stack.push(this.callGlobal(callable, args, 'REDUCE'));
          break;
        }
        case 0x81: { // NEWOBJ: cls.__new__(cls, *args)
          const args = this.pop();
          const cls = this.pop();
          this.stack.push(this.callGlobal(cls, args, 'NEWOBJ'));
          break;
        }
        case 0x92: { // NEWOBJ_EX: cls.__new__(cls, *args, **kwargs)
          const kwargs = this.pop();
          const args = this.pop();
          const cls = this.pop();
          if (!(kwargs instanceof Map) || kwargs.size) throw this.error('NEWOBJ_EX with keyword arguments is not supported');
          this.stack.push(this.callGlobal(cls, args, 'NEWOBJ_EX'));
          break;
        }
        case 0x62: { // BUILD
          const state = this.pop();
          this.build(this.top(), state);
          break;
        }
        case 0x51: { // BINPERSID
          const pid = this.pop();
          this.stack.push(this.persistentLoad(pid));
          break;
        }
        case 0x50: this.stack.push(this.persistentLoad(this.line())); break; // PERSID

        default:
          throw this.error(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')}${printable(op)}`);
      }
    }
  }

  // ---- helpers for objects

  private resolveGlobal(module: string, name: string): PyGlobal {
    const found = this.options.findGlobal(module, name);
    if (found) return found;
    if (this.options.unknownGlobals === 'opaque') {
      return new PyGlobal(module, name, (args) => new PyObject(`${module}.${name}`, args));
    }
    throw this.error(`unsupported global '${module}.${name}' (this reader only rebuilds tensors, storages and plain containers)`);
  }

  private callGlobal(callable: unknown, args: unknown, op: string): unknown {
    if (!(callable instanceof PyGlobal)) throw this.error(`${op} on a non-callable ${describe(callable)}`);
    if (!Array.isArray(args)) throw this.error(`${op} of '${callable.qualifiedName}' needs an argument tuple, got ${describe(args)}`);
    try {
      return callable.call(args as unknown[]);
    } catch (err) {
      throw this.error(`${callable.qualifiedName}${op === 'REDUCE' ? '(...)' : ''}: ${(err as Error).message}`);
    }
  }

  private build(target: unknown, state: unknown): void {
    // A (dict_state, slot_state) pair is allowed too; only the dict part carries data here.
    let dictState = state;
    if (Array.isArray(state) && Object.isFrozen(state) && state.length === 2) dictState = state[0] ?? state[1];
    if (target instanceof PyObject) {
      target.state = state;
      return;
    }
    if (target instanceof Map && dictState instanceof Map) {
      dictAttributes.set(target, dictState);
      return;
    }
    if (dictState === null || (dictState instanceof Map && dictState.size === 0)) return;
    throw this.error(`BUILD of ${describe(target)} with state ${describe(state)} is not supported`);
  }

  private persistentLoad(pid: unknown): unknown {
    if (!this.options.persistentLoad) throw this.error('persistent id found but no persistent loader is available');
    try {
      return this.options.persistentLoad(pid);
    } catch (err) {
      throw this.error(`persistent id ${describe(pid)}: ${(err as Error).message}`);
    }
  }

  private setItems(dict: Map<unknown, unknown>, items: unknown[]): void {
    if (items.length % 2) throw this.error('SETITEMS/DICT with an odd number of items');
    for (let i = 0; i < items.length; i += 2) dict.set(items[i], items[i + 1]);
  }

  private appendAll(target: unknown, items: unknown[]): void {
    this.asList(target, 'APPENDS').push(...items);
  }

  private asList(target: unknown, op: string): unknown[] {
    if (target instanceof PyObject) return (target.listItems ??= []);
    if (!Array.isArray(target) || Object.isFrozen(target)) throw this.error(`${op} on ${describe(target)}, not a list`);
    return target;
  }

  private asDict(target: unknown, op: string): Map<unknown, unknown> {
    if (target instanceof PyObject) return (target.dictItems ??= new Map());
    if (!(target instanceof Map)) throw this.error(`${op} on ${describe(target)}, not a dict`);
    return target;
  }

  // ---- stack

  private pop(): unknown {
    if (this.stack.length === 0 || this.stack.length - 1 === this.marks[this.marks.length - 1]) {
      throw this.error('stack underflow');
    }
    return this.stack.pop();
  }

  private top(): unknown {
    if (this.stack.length === 0 || this.stack[this.stack.length - 1] === MARK) throw this.error('stack underflow');
    return this.stack[this.stack.length - 1];
  }

  /** Pops everything above the last MARK and the MARK itself. */
  private popMark(): unknown[] {
    const at = this.marks.pop();
    if (at === undefined) throw this.error('MARK expected but none is open');
    const items = this.stack.slice(at + 1);
    this.stack.length = at;
    return items;
  }

  private memoGet(index: number): unknown {
    if (!this.memo.has(index)) throw this.error(`memo index ${index} was never stored`);
    return this.memo.get(index);
  }

  // ---- raw reads (all bounds-checked)

  private take(n: number): number {
    if (!(n >= 0) || this.pos + n > this.bytes.length) {
      throw this.error(`truncated: needs ${n} bytes at byte ${this.pos} of ${this.bytes.length}`);
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }
  private u8(): number {
    return this.bytes[this.take(1)];
  }
  private u16(): number {
    return this.view.getUint16(this.take(2), true);
  }
  private u32(): number {
    return this.view.getUint32(this.take(4), true);
  }
  private i32(): number {
    return this.view.getInt32(this.take(4), true);
  }
  private length32(): number {
    return this.u32();
  }
  private length64(): number {
    const v = this.view.getBigUint64(this.take(8), true);
    if (v > BigInt(this.bytes.length)) throw this.error(`length ${v} exceeds the data`);
    return Number(v);
  }
  private utf8(n: number): string {
    const at = this.take(n);
    try {
      return UTF8.decode(this.bytes.subarray(at, at + n));
    } catch {
      throw this.error('invalid UTF-8 in a string');
    }
  }
  private latin1(n: number): string {
    const at = this.take(n);
    let s = '';
    for (let i = at; i < at + n; i++) s += String.fromCharCode(this.bytes[i]);
    return s;
  }
  private bytesCopy(n: number): Uint8Array {
    const at = this.take(n);
    return Uint8Array.prototype.slice.call(this.bytes, at, at + n); // a copy, also for Node Buffers
  }
  /** Little-endian two's-complement integer of n bytes (LONG1 / LONG4). */
  private longBytes(n: number): number | bigint {
    const at = this.take(n);
    if (n === 0) return 0;
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(this.bytes[at + i]);
    if (this.bytes[at + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
    return narrow(v);
  }
  private line(): string {
    const start = this.pos;
    const nl = this.bytes.indexOf(0x0a, start);
    if (nl < 0) throw this.error(`truncated: no newline after byte ${start}`);
    this.pos = nl + 1;
    return this.latin1Range(start, nl);
  }
  private latin1Range(a: number, b: number): string {
    let s = '';
    for (let i = a; i < b; i++) s += String.fromCharCode(this.bytes[i]);
    return s;
  }
  private parseInt(text: string): number | bigint {
    if (!/^[+-]?\d+$/.test(text)) throw this.error(`bad integer literal '${text}'`);
    return narrow(BigInt(text));
  }
  private parseIndex(text: string): number {
    const v = this.parseInt(text);
    if (typeof v !== 'number' || v < 0) throw this.error(`bad memo index '${text}'`);
    return v;
  }
  private pyStringLiteral(text: string): string {
    const q = text[0];
    if ((q !== "'" && q !== '"') || text.length < 2 || text[text.length - 1] !== q) throw this.error(`bad STRING literal ${text}`);
    return text.slice(1, -1).replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/g, (_, e: string) => {
      if (e[0] === 'x') return String.fromCharCode(parseInt(e.slice(1), 16));
      if (/^[0-7]/.test(e)) return String.fromCharCode(parseInt(e, 8));
      return ({ n: '\n', r: '\r', t: '\t', '\\': '\\', "'": "'", '"': '"' } as Record<string, string>)[e] ?? `\\${e}`;
    });
  }
  private rawUnicodeEscape(text: string): string {
    return text.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_, a: string, b: string) =>
      String.fromCodePoint(parseInt(a ?? b, 16)),
    );
  }

  private error(msg: string): Error {
    return new Error(`pickle '${this.options.source}' at byte ${this.opStart}: ${msg}`);
  }
}

function narrow(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function printable(op: number): string {
  return op >= 0x20 && op < 0x7f ? ` ('${String.fromCharCode(op)}')` : '';
}

/** A short description of a value for error messages. */
export function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof PyGlobal) return `global ${v.qualifiedName}`;
  if (v instanceof PyObject) return `${v.className} object`;
  if (v instanceof Map) return `dict(${v.size})`;
  if (Array.isArray(v)) return `${Object.isFrozen(v) ? 'tuple' : 'list'}(${v.length})`;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return String(v);
}
