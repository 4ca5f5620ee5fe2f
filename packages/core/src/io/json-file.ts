/** Reads and parses a JSON file; errors name the file and what it was meant to be. */
import * as fs from 'node:fs';

/**
 * @param what a few words for error messages, e.g. 'config' or 'trainer state'.
 */
export function readJsonFile(filePath: string, what: string): any {
  let text: string;
  try {
    text = fs.readFileSync(filePath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a folder' : (err as Error).message;
    throw new Error(`Cannot read ${what} file '${filePath}': ${reason}`, { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`Invalid JSON in ${what} file '${filePath}': ${(err as Error).message}`, { cause: err });
  }
}
