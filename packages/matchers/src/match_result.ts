/**
 * Matching results: per image, the matched query indices `src` and the GT indices `tgt` (within the
 * image), pair k = (src[k], tgt[k]) -- detrex's list of `(index_i, index_j)` tuples. The flat form is
 * the parity fixtures' `*_sizes / *_batch / *_src / *_tgt` (fixtures/parity/README.md section 1).
 */
export interface ImageMatch {
  src: Int32Array;
  tgt: Int32Array;
}

export interface FlatMatches {
  /** Matched pairs per image [B]. */
  sizes: Int32Array;
  /** Image index of each pair [M]. */
  batch: Int32Array;
  src: Int32Array;
  tgt: Int32Array;
}

export function emptyMatch(): ImageMatch {
  return { src: new Int32Array(0), tgt: new Int32Array(0) };
}

export function flattenMatches(matches: readonly ImageMatch[]): FlatMatches {
  let total = 0;
  for (const m of matches) total += m.src.length;
  const out: FlatMatches = {
    sizes: new Int32Array(matches.length),
    batch: new Int32Array(total),
    src: new Int32Array(total),
    tgt: new Int32Array(total),
  };
  let at = 0;
  matches.forEach((m, b) => {
    out.sizes[b] = m.src.length;
    out.batch.fill(b, at, at + m.src.length);
    out.src.set(m.src, at);
    out.tgt.set(m.tgt, at);
    at += m.src.length;
  });
  return out;
}
