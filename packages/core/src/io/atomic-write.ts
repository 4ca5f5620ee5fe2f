/**
 * Atomic file replacement: the bytes go to a temporary file in the same folder, are fsync'ed, and
 * the temporary file is renamed over the target. A process killed mid-write leaves the old file
 * untouched (plus, at worst, a stray `.<name>.tmp-*` file), never a half-written target.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export function writeFileAtomic(filePath: string, bytes: Uint8Array | string): void {
  const target = path.resolve(filePath);
  const dir = path.dirname(target);
  if (!fs.existsSync(dir)) throw new Error(`writeFileAtomic: folder '${dir}' of '${filePath}' does not exist`);
  const tmp = path.join(dir, `.${path.basename(target)}.tmp-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`);
  const data = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx', 0o644);
    let written = 0;
    while (written < data.length) written += fs.writeSync(fd, data, written, data.length - written);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, target);
  } catch (err) {
    if (fd !== undefined) {
      try { fs.closeSync(fd); } catch { /* already failing */ }
    }
    try { fs.unlinkSync(tmp); } catch { /* may not exist */ }
    throw new Error(`writeFileAtomic: could not write '${filePath}': ${(err as Error).message}`, { cause: err });
  }
  syncFolder(dir);
}

/** Makes the rename itself durable (POSIX); silently skipped where folders cannot be opened (Windows). */
function syncFolder(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // not supported on this platform / file system
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
