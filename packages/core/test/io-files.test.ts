// writeFileAtomic and readJsonFile: a process killed mid-write never replaces a good file; clear
// errors name the file.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import fsModule from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readJsonFile, writeFileAtomic } from '../src/io/index';

const ATOMIC_WRITE_MODULE = fileURLToPath(new URL('../src/io/atomic-write.ts', import.meta.url));

function withTempDir(body: (dir: string) => void): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'detr-io-files-'));
  try {
    body(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs writeFileAtomic in a child process that SIGKILLs itself at the named fs call. */
function killedChildWrite(target: string, killAt: 'writeSync' | 'renameSync'): void {
  const script = `
    import fs from 'node:fs';
    import { syncBuiltinESMExports } from 'node:module';
    const { writeFileAtomic } = await import(${JSON.stringify(ATOMIC_WRITE_MODULE)});
    const original = fs.${killAt};
    fs.${killAt} = (...args) => {
      if ('${killAt}' === 'writeSync') original(args[0], args[1], 0, 1000); // part of the bytes reach the disk
      process.kill(process.pid, 'SIGKILL');
    };
    syncBuiltinESMExports();
    writeFileAtomic(${JSON.stringify(target)}, new Uint8Array(1 << 20).fill(7));
  `;
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  if (child.signal !== 'SIGKILL') throw new Error(`child was not killed: ${child.status} ${child.stderr}`);
}

describe('writeFileAtomic', () => {
  it('replaces the file content and leaves no temporary file', () => {
    withTempDir((dir) => {
      const file = path.join(dir, 'a.bin');
      writeFileAtomic(file, Uint8Array.from([1, 2, 3]));
      writeFileAtomic(file, 'text ✓');
      expect(fs.readFileSync(file, 'utf8')).toBe('text ✓');
      expect(fs.readdirSync(dir)).toEqual(['a.bin']);
    });
  });

  it('a process killed while writing or just before renaming leaves the old file intact', () => {
    withTempDir((dir) => {
      const file = path.join(dir, 'ckpt.safetensors');
      fs.writeFileSync(file, 'good old content');
      // Killed with part of the bytes written, and with all of them written and synced.
      for (const killAt of ['writeSync', 'renameSync'] as const) {
        killedChildWrite(file, killAt);
        expect(fs.readFileSync(file, 'utf8'), killAt).toBe('good old content');
      }
      // The killed writers leave temporary files beside it, never a half-written target.
      expect(fs.readdirSync(dir).filter((n) => n !== 'ckpt.safetensors').every((n) => n.startsWith('.ckpt.safetensors.tmp-'))).toBe(true);
    });
  });

  it('a failing write throws, removes its temporary file and keeps the old file', () => {
    withTempDir((dir) => {
      const file = path.join(dir, 'b.bin');
      fs.writeFileSync(file, 'keep me');
      const original = fsModule.writeSync;
      (fsModule as { writeSync: unknown }).writeSync = () => {
        throw new Error('ENOSPC: no space left on device');
      };
      syncBuiltinESMExports();
      try {
        expect(() => writeFileAtomic(file, 'new')).toThrow(/could not write '.*b\.bin': ENOSPC/);
      } finally {
        fsModule.writeSync = original;
        syncBuiltinESMExports();
      }
      expect(fs.readFileSync(file, 'utf8')).toBe('keep me');
      expect(fs.readdirSync(dir)).toEqual(['b.bin']);
      expect(() => writeFileAtomic(path.join(dir, 'missing', 'c.bin'), 'x')).toThrow(/folder '.*missing' of .* does not exist/);
    });
  });
});

describe('readJsonFile', () => {
  it('parses JSON and names the file in errors', () => {
    withTempDir((dir) => {
      const good = path.join(dir, 'cfg.json');
      fs.writeFileSync(good, '{"lr": 1e-4, "steps": [1, 2]}');
      expect(readJsonFile(good, 'config')).toEqual({ lr: 1e-4, steps: [1, 2] });
      const bad = path.join(dir, 'bad.json');
      fs.writeFileSync(bad, '{"lr": ');
      expect(() => readJsonFile(bad, 'config')).toThrow(/Invalid JSON in config file '.*bad\.json'/);
      expect(() => readJsonFile(path.join(dir, 'none.json'), 'trainer state')).toThrow(/Cannot read trainer state file '.*none\.json': file not found/);
      expect(() => readJsonFile(dir, 'config')).toThrow(/Cannot read config file '.*': is a folder/);
    });
  });
});
