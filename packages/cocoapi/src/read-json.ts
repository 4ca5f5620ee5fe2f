import { readFileSync } from 'node:fs';
import { CocoInputError } from './errors';

/**
 * Reads and parses a JSON file, turning the usual failures into one clear error that names the file:
 * missing file, a directory, unreadable file, invalid JSON (with V8's position information).
 * `what` says which input it is ("ground-truth file", "detections file").
 */
export function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CocoInputError(`${what} not found: ${path}`);
    if (code === 'EISDIR') throw new CocoInputError(`${what} is a directory, not a JSON file: ${path}`);
    throw new CocoInputError(`cannot read ${what} ${path}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CocoInputError(`${what} ${path} is not valid JSON: ${(err as Error).message}`);
  }
}
