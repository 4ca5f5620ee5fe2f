/** Option checks shared by the Anchor DETR parts (configs pass plain snake_case objects). */

/** Throws naming `where` and the valid keys if `opts` has a key outside `known` (a typo in a config). */
export function checkKnownOptions(opts: object, known: readonly string[], where: string): void {
  for (const key of Object.keys(opts)) {
    if (!known.includes(key)) throw new Error(`${where}: unknown option "${key}" (valid options: ${known.join(', ')})`);
  }
}

/** A positive integer option, else an error naming it. */
export function positiveInt(value: unknown, name: string, where: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new Error(`${where}: ${name} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** A dropout probability in [0, 1). */
export function probability(value: unknown, name: string, where: string): number {
  if (typeof value !== 'number' || !(value >= 0 && value < 1)) throw new Error(`${where}: ${name} must be a number in [0, 1), got ${JSON.stringify(value)}`);
  return value;
}
