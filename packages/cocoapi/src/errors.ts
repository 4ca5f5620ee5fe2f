/** Bad input (missing file, invalid JSON, malformed annotation or detection). The message names the item. */
export class CocoInputError extends Error {
  override readonly name = 'CocoInputError';
}
