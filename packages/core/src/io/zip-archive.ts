/**
 * A read-only zip container reader (PKWARE APPNOTE.TXT sections 4.3-4.5), enough for the archives
 * `torch.save` writes (PyTorch >= 1.6, `caffe2/serialize/inline_container.cc`, via miniz): stored
 * or deflated entries, zip64 sizes and offsets. Every offset and size read from the file is checked
 * against the file length before use, and every entry's CRC-32 is verified.
 */
import * as zlib from 'node:zlib';

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflate. */
  method: number;
  compressedSize: number;
  uncompressedSize: number;
  crc32: number;
  localHeaderOffset: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;

export class ZipArchive {
  readonly entries = new Map<string, ZipEntry>();
  private readonly view: DataView;

  /** @param source the file name used in error messages. */
  constructor(
    private readonly bytes: Uint8Array,
    readonly source: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.readCentralDirectory();
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  /** The uncompressed bytes of an entry (a view into the file for stored entries). */
  read(name: string): Uint8Array {
    const entry = this.entries.get(name);
    if (!entry) throw this.error(`no entry '${name}'`);
    const at = entry.localHeaderOffset;
    this.need(at, 30, `local header of '${name}'`);
    if (this.view.getUint32(at, true) !== SIG_LOCAL) throw this.error(`bad local header signature for '${name}' at byte ${at}`);
    const dataStart = at + 30 + this.view.getUint16(at + 26, true) + this.view.getUint16(at + 28, true);
    this.need(dataStart, entry.compressedSize, `data of '${name}'`);
    const stored = this.bytes.subarray(dataStart, dataStart + entry.compressedSize);
    let data: Uint8Array;
    if (entry.method === 0) {
      if (entry.compressedSize !== entry.uncompressedSize) throw this.error(`stored entry '${name}' has compressed size ${entry.compressedSize} != size ${entry.uncompressedSize}`);
      data = stored;
    } else if (entry.method === 8) {
      try {
        data = zlib.inflateRawSync(stored, { maxOutputLength: Math.max(1, entry.uncompressedSize) });
      } catch (err) {
        throw this.error(`cannot inflate '${name}': ${(err as Error).message}`);
      }
      if (data.length !== entry.uncompressedSize) throw this.error(`entry '${name}' inflated to ${data.length} bytes, expected ${entry.uncompressedSize}`);
    } else {
      throw this.error(`entry '${name}' uses compression method ${entry.method}; only stored (0) and deflate (8) are supported`);
    }
    const crc = crc32(data);
    if (crc !== entry.crc32) throw this.error(`CRC-32 mismatch in '${name}' (file corrupt): ${hex(crc)} != ${hex(entry.crc32)}`);
    return data;
  }

  private readCentralDirectory(): void {
    const len = this.bytes.length;
    let eocd = -1;
    for (let p = len - EOCD_SIZE; p >= Math.max(0, len - EOCD_SIZE - MAX_COMMENT); p--) {
      if (this.view.getUint32(p, true) === SIG_EOCD && p + EOCD_SIZE + this.view.getUint16(p + 20, true) <= len) {
        eocd = p;
        break;
      }
    }
    if (eocd < 0) throw this.error('not a zip archive (no end-of-central-directory record; truncated file?)');
    let count = this.view.getUint16(eocd + 10, true);
    let cdSize = this.view.getUint32(eocd + 12, true);
    let cdOffset = this.view.getUint32(eocd + 16, true);
    const locator = eocd - 20;
    if (locator >= 0 && this.view.getUint32(locator, true) === SIG_ZIP64_LOCATOR) {
      const rec = this.u64(locator + 8, 'zip64 end-of-central-directory offset');
      this.need(rec, 56, 'zip64 end-of-central-directory record');
      if (this.view.getUint32(rec, true) !== SIG_ZIP64_EOCD) throw this.error(`bad zip64 end-of-central-directory signature at byte ${rec}`);
      count = this.u64(rec + 32, 'zip64 entry count');
      cdSize = this.u64(rec + 40, 'zip64 central directory size');
      cdOffset = this.u64(rec + 48, 'zip64 central directory offset');
    }
    this.need(cdOffset, cdSize, 'central directory');
    let p = cdOffset;
    const end = cdOffset + cdSize;
    const utf8 = new TextDecoder('utf-8');
    for (let i = 0; i < count; i++) {
      this.need(p, 46, `central directory entry ${i}`);
      if (p + 46 > end) throw this.error(`central directory entry ${i} runs past the directory end`);
      if (this.view.getUint32(p, true) !== SIG_CENTRAL) throw this.error(`bad central directory signature for entry ${i} at byte ${p}`);
      const flags = this.view.getUint16(p + 8, true);
      const method = this.view.getUint16(p + 10, true);
      const crc = this.view.getUint32(p + 16, true);
      let compressedSize = this.view.getUint32(p + 20, true);
      let uncompressedSize = this.view.getUint32(p + 24, true);
      const nameLen = this.view.getUint16(p + 28, true);
      const extraLen = this.view.getUint16(p + 30, true);
      const commentLen = this.view.getUint16(p + 32, true);
      let localHeaderOffset = this.view.getUint32(p + 42, true);
      this.need(p + 46, nameLen + extraLen + commentLen, `central directory entry ${i} name/extra`);
      const name = utf8.decode(this.bytes.subarray(p + 46, p + 46 + nameLen));
      if (flags & 1) throw this.error(`entry '${name}' is encrypted`);
      // zip64 extended information (header id 0x0001): the saturated fields, in this order.
      let q = p + 46 + nameLen;
      const extraEnd = q + extraLen;
      while (q + 4 <= extraEnd) {
        const id = this.view.getUint16(q, true);
        const size = this.view.getUint16(q + 2, true);
        if (q + 4 + size > extraEnd) throw this.error(`extra field of '${name}' runs past its end`);
        if (id === 0x0001) {
          let r = q + 4;
          const take = (what: string): number => {
            if (r + 8 > q + 4 + size) throw this.error(`zip64 extra field of '${name}' lacks the ${what}`);
            const v = this.u64(r, `zip64 ${what} of '${name}'`);
            r += 8;
            return v;
          };
          if (uncompressedSize === 0xffffffff) uncompressedSize = take('uncompressed size');
          if (compressedSize === 0xffffffff) compressedSize = take('compressed size');
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = take('local header offset');
        }
        q += 4 + size;
      }
      if (!this.entries.has(name)) {
        this.entries.set(name, { name, method, compressedSize, uncompressedSize, crc32: crc, localHeaderOffset });
      }
      p += 46 + nameLen + extraLen + commentLen;
    }
  }

  private u64(at: number, what: string): number {
    this.need(at, 8, what);
    const v = this.view.getBigUint64(at, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw this.error(`${what} ${v} is out of range`);
    return Number(v);
  }

  private need(at: number, length: number, what: string): void {
    if (!(at >= 0 && length >= 0 && at + length <= this.bytes.length)) {
      throw this.error(`${what} (bytes ${at}..${at + length}) lies outside the file of ${this.bytes.length} bytes (truncated or corrupt)`);
    }
  }

  private error(msg: string): Error {
    return new Error(`zip '${this.source}': ${msg}`);
  }
}

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
}

let crcTable: Uint32Array | undefined;

/** CRC-32 (ISO-HDLC, the zip one): node:zlib's native crc32 when present (Node >= 20.15), else a table. */
export function crc32(data: Uint8Array): number {
  const native = (zlib as unknown as { crc32?: (d: Uint8Array) => number }).crc32;
  if (typeof native === 'function') return native(data) >>> 0;
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
