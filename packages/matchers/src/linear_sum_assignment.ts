/**
 * Linear sum assignment (the rectangular assignment problem), solved exactly by shortest augmenting
 * paths with dual variables: Jonker-Volgenant style, following the pseudocode of
 * D. F. Crouse, "On implementing 2D rectangular assignment algorithms", IEEE TAES 52(4), 2016,
 * pp. 1685-1686 -- the algorithm of scipy's `scipy/optimize/rectangular_lsap/rectangular_lsap.cpp`,
 * which is the semantic reference (`scipy.optimize.linear_sum_assignment`):
 *   - every row of the shorter side is assigned, each column at most once;
 *   - a tall matrix (rows > cols) is solved transposed;
 *   - the result is `[rowIndices, colIndices]` with rows in ascending order;
 *   - `maximize` solves the problem on the negated costs.
 * Ties may be broken differently from scipy; the total is optimal.
 *
 * Differences from scipy that only affect speed (each measured by bench/linear_sum_assignment.ts):
 *   - one pass validates the input, builds the (transposed / negated) working copy and finds every
 *     row's minimum; rows whose cheapest column is still free are then assigned greedily, with
 *     duals u = row minimum, v = 0 (dual feasible), so only the remaining rows need a search;
 *   - the first Dijkstra scan of a search initialises the distances (no separate fill), a labelled
 *     column is marked by a NaN distance (no list of remaining columns), and a scan stops as soon as
 *     it meets a free column at the current distance (no other column can be closer);
 *   - rows with identical costs (the k copies of each ground truth in one-to-many matching) are
 *     detected once; a copy reached after its twin was scanned from a no larger offset is not
 *     relaxed again, as it cannot shorten any distance;
 *   - the dual updates walk only the columns that the search labelled.
 *
 * Unlike scipy, +Infinity ("forbidden") entries are not supported: every non-finite entry is an error.
 */

/** Entries above this magnitude are scaled by an exact power of two so that dual sums cannot overflow. */
const OVERFLOW_GUARD = 2 ** 960;
const OVERFLOW_SCALE = 2 ** -128;

/** Scratch buffers reused across calls (the solver is synchronous, hence never re-entered). */
class Workspace {
  /** Row duals; during preparation, the row minima. */
  u = new Float64Array(0);
  /** Column of each row's minimum (first occurrence). */
  rowArgmin = new Int32Array(0);
  /** Rows still unassigned. */
  freeRows = new Int32Array(0);
  /** Earliest row with the same costs as each row (itself if none): tiled matrices repeat rows. */
  twinOf = new Int32Array(0);
  /** Chains of distinct rows by column of their minimum, for finding twins. */
  nextWithSameArgmin = new Int32Array(0);
  firstWithArgmin = new Int32Array(0);
  /** Per twin group: the search that last scanned it, and the smallest offset (distance - u) scanned. */
  groupStamp = new Int32Array(0);
  groupBase = new Float64Array(0);
  /** Column duals. */
  v = new Float64Array(0);
  /** Dijkstra distances of the current search; NaN marks a labelled (scanned) column. */
  shortestPathCosts = new Float64Array(0);
  /** Row from which each column was last reached. */
  path = new Int32Array(0);
  /** Row assigned to each column, -1 if free. */
  row4col = new Int32Array(0);
  /** Columns labelled by the current search, in order, and their distances when labelled. */
  labelledCols = new Int32Array(0);
  labelledColCosts = new Float64Array(0);
  /** Working copy of the matrix (transposed, negated or rescaled), n x m row-major. */
  matrix = new Float64Array(0);

  /** Makes the buffers big enough for an n x m problem (n <= m); only grows. */
  reserve(n: number, m: number, needsMatrix: boolean): void {
    if (this.u.length < n) {
      this.u = new Float64Array(n);
      this.rowArgmin = new Int32Array(n);
      this.freeRows = new Int32Array(n);
      this.twinOf = new Int32Array(n);
      this.nextWithSameArgmin = new Int32Array(n);
      this.groupStamp = new Int32Array(n);
      this.groupBase = new Float64Array(n);
    }
    if (this.v.length < m) {
      this.v = new Float64Array(m);
      this.shortestPathCosts = new Float64Array(m);
      this.path = new Int32Array(m);
      this.row4col = new Int32Array(m);
      this.labelledCols = new Int32Array(m);
      this.labelledColCosts = new Float64Array(m);
      this.firstWithArgmin = new Int32Array(m);
    }
    if (needsMatrix && this.matrix.length < n * m) this.matrix = new Float64Array(n * m);
  }
}

const sharedWorkspace = new Workspace();
/**
 * Problems up to this size reuse the module's scratch buffers: the working matrix (at most 16 MiB,
 * enough for H-DETR's 1800 x 600) and per-row / per-column vectors (at most ~3 MiB). Allocating the
 * matrix afresh cost 0.8 ms of 6 ms per 1800 x 600 solve (bench/linear_sum_assignment.ts).
 */
const MAX_CACHED_ENTRIES = 1 << 21;
const MAX_CACHED_COLS = 1 << 16;
/** Flattened input of `linearSumAssignment(number[][])`, reused across calls up to 8 MiB. */
let nestedInput = new Float64Array(0);
const MAX_CACHED_INPUT = 1 << 20;

function invalidEntryError(cost: Float64Array, nCols: number): RangeError | null {
  for (let k = 0; k < cost.length; k++) {
    const x = cost[k];
    if (!Number.isFinite(x)) {
      const row = Math.floor(k / nCols);
      const col = k - row * nCols;
      return new RangeError(
        `linearSumAssignment: cost[${row}][${col}] is ${Number.isNaN(x) ? 'NaN' : String(x)} (row ${row}, column ${col}); ` +
          'the cost matrix contains invalid numeric entries, all costs must be finite',
      );
    }
  }
  return null;
}

/**
 * One pass over a tall `cost` (m x n, m >= n): writes `matrix` = scale * cost transposed (n x m) and
 * the minimum of each matrix row with its first column. Returns -1, or (stopping there) a
 * non-negative number if some scaled entry lies outside [-guard, guard] or is NaN.
 */
function prepareTransposed(
  cost: Float64Array, m: number, n: number, scale: number, guard: number,
  matrix: Float64Array, rowMin: Float64Array, rowArgmin: Int32Array,
): number {
  rowMin.fill(Infinity, 0, n);
  let r = 0;
  // Eight source rows at a time, unrolled: each write is a run of 8 doubles (one cache line) in
  // matrix row c, and the minimum of row c is read and written once per 8 entries. Measured on the
  // 2-core machine: 0.32 -> 0.14 ms (900 x 100) and 4.1 -> 1.9 ms (1800 x 600) for this pass
  // against one source row at a time; a plain copy without transposing takes 0.13 / 1.5 ms.
  for (; r + 8 <= m; r += 8) {
    const s0 = r * n, s1 = s0 + n, s2 = s1 + n, s3 = s2 + n, s4 = s3 + n, s5 = s4 + n, s6 = s5 + n, s7 = s6 + n;
    for (let c = 0; c < n; c++) {
      const x0 = scale * cost[s0 + c], x1 = scale * cost[s1 + c], x2 = scale * cost[s2 + c], x3 = scale * cost[s3 + c];
      const x4 = scale * cost[s4 + c], x5 = scale * cost[s5 + c], x6 = scale * cost[s6 + c], x7 = scale * cost[s7 + c];
      if (
        !(x0 <= guard && x0 >= -guard && x1 <= guard && x1 >= -guard && x2 <= guard && x2 >= -guard &&
          x3 <= guard && x3 >= -guard && x4 <= guard && x4 >= -guard && x5 <= guard && x5 >= -guard &&
          x6 <= guard && x6 >= -guard && x7 <= guard && x7 >= -guard)
      ) {
        return s0 + c; // a flag only: the caller locates the offending entry itself
      }
      const d = c * m + r; // matrix[c][r..r+7] = cost[r..r+7][c]
      matrix[d] = x0;
      matrix[d + 1] = x1;
      matrix[d + 2] = x2;
      matrix[d + 3] = x3;
      matrix[d + 4] = x4;
      matrix[d + 5] = x5;
      matrix[d + 6] = x6;
      matrix[d + 7] = x7;
      let best = rowMin[c];
      if (x0 < best || x1 < best || x2 < best || x3 < best || x4 < best || x5 < best || x6 < best || x7 < best) {
        let at = rowArgmin[c];
        if (x0 < best) { best = x0; at = r; }
        if (x1 < best) { best = x1; at = r + 1; }
        if (x2 < best) { best = x2; at = r + 2; }
        if (x3 < best) { best = x3; at = r + 3; }
        if (x4 < best) { best = x4; at = r + 4; }
        if (x5 < best) { best = x5; at = r + 5; }
        if (x6 < best) { best = x6; at = r + 6; }
        if (x7 < best) { best = x7; at = r + 7; }
        rowMin[c] = best;
        rowArgmin[c] = at;
      }
    }
  }
  for (; r < m; r++) {
    const src = r * n;
    for (let c = 0; c < n; c++) {
      const x = scale * cost[src + c];
      if (!(x <= guard && x >= -guard)) return src + c;
      matrix[c * m + r] = x;
      if (x < rowMin[c]) {
        rowMin[c] = x;
        rowArgmin[c] = r;
      }
    }
  }
  return -1;
}

/** Like `prepareTransposed` for a wide `cost` (n x m, n <= m); copies into `matrix` unless it is null. */
function prepareRows(
  cost: Float64Array, n: number, m: number, scale: number, guard: number,
  matrix: Float64Array | null, rowMin: Float64Array, rowArgmin: Int32Array,
): number {
  for (let i = 0; i < n; i++) {
    const off = i * m;
    let best = Infinity;
    let bestCol = 0;
    for (let j = 0; j < m; j++) {
      const raw = cost[off + j];
      if (!(raw <= guard && raw >= -guard)) return off + j;
      const x = scale * raw;
      if (matrix !== null) matrix[off + j] = x;
      if (x < best) {
        best = x;
        bestCol = j;
      }
    }
    rowMin[i] = best;
    rowArgmin[i] = bestCol;
  }
  return -1;
}

/**
 * Solves the linear sum assignment problem on a row-major `nRows x nCols` cost matrix.
 *
 * @returns `[rowIndices, colIndices]`, both of length `min(nRows, nCols)`, rows ascending; the
 *   assignment pairs `rowIndices[k]` with `colIndices[k]` and minimises (or, with `maximize`,
 *   maximises) the sum of their costs.
 * @throws if the shape does not match the buffer or an entry is NaN or infinite.
 */
export function linearSumAssignmentFlat(
  cost: Float64Array,
  nRows: number,
  nCols: number,
  maximize = false,
): [Int32Array, Int32Array] {
  if (!(cost instanceof Float64Array)) {
    throw new TypeError('linearSumAssignmentFlat: cost must be a Float64Array (row-major nRows x nCols)');
  }
  if (!Number.isInteger(nRows) || nRows < 0 || !Number.isInteger(nCols) || nCols < 0) {
    throw new RangeError(`linearSumAssignmentFlat: nRows (${nRows}) and nCols (${nCols}) must be non-negative integers`);
  }
  if (cost.length !== nRows * nCols) {
    throw new RangeError(
      `linearSumAssignmentFlat: cost has ${cost.length} entries, expected nRows x nCols = ${nRows} x ${nCols} = ${nRows * nCols}`,
    );
  }
  if (nRows === 0 || nCols === 0) return [new Int32Array(0), new Int32Array(0)];

  // Solve on an n x m matrix with n <= m (scipy transposes tall matrices the same way).
  const transpose = nRows > nCols;
  const n = transpose ? nCols : nRows;
  const m = transpose ? nRows : nCols;
  const ws = n * m <= MAX_CACHED_ENTRIES && m <= MAX_CACHED_COLS ? sharedWorkspace : new Workspace();
  ws.reserve(n, m, transpose || maximize);

  // One pass validates the entries, builds the working matrix and finds the row minima.
  let scale = maximize ? -1 : 1;
  let guard = OVERFLOW_GUARD;
  let matrix: Float64Array = cost;
  for (;;) {
    if (transpose || scale !== 1) matrix = ws.matrix;
    const bad = transpose
      ? prepareTransposed(cost, m, n, scale, guard, matrix, ws.u, ws.rowArgmin)
      : prepareRows(cost, n, m, scale, guard, matrix === cost ? null : matrix, ws.u, ws.rowArgmin);
    if (bad < 0) break;
    const invalid = invalidEntryError(cost, nCols);
    if (invalid !== null) throw invalid;
    // Only huge finite entries: rescale everything by an exact power of two and redo the pass.
    scale *= OVERFLOW_SCALE;
    guard = Infinity;
    ws.reserve(n, m, true);
  }

  const col4row = new Int32Array(n);
  solveShortSide(matrix, n, m, col4row, ws);

  const rowIndices = new Int32Array(n);
  const colIndices = new Int32Array(n);
  if (!transpose) {
    for (let i = 0; i < n; i++) {
      rowIndices[i] = i;
      colIndices[i] = col4row[i];
    }
  } else {
    // Matrix column r is original row r, matched to matrix row row4col[r] = original column; rows ascending.
    const row4col = ws.row4col;
    let k = 0;
    for (let r = 0; r < m; r++) {
      const c = row4col[r];
      if (c >= 0) {
        rowIndices[k] = r;
        colIndices[k] = c;
        k++;
      }
    }
  }
  return [rowIndices, colIndices];
}

/** How many earlier distinct rows with the same minimum are compared with a row when looking for its twin. */
const MAX_TWIN_CANDIDATES = 4;

/**
 * Fills `ws.twinOf[i]` with the earliest row whose costs equal row i's entry for entry (i itself if
 * none). Identical rows have the same minimum at the same column, so only rows sharing both are
 * compared (a few of them at most, each comparison stopping at the first difference): cheap when
 * rows differ, and it finds the copies of one-to-many matching, whose cost matrix repeats every
 * ground-truth row k times.
 */
function findTwinRows(c: Float64Array, n: number, m: number, ws: Workspace): void {
  const { u: rowMin, rowArgmin, twinOf, nextWithSameArgmin, firstWithArgmin } = ws;
  firstWithArgmin.fill(-1, 0, m);
  for (let i = 0; i < n; i++) {
    twinOf[i] = i;
    const j = rowArgmin[i];
    let candidate = firstWithArgmin[j];
    for (let tries = 0; candidate >= 0 && tries < MAX_TWIN_CANDIDATES; tries++) {
      if (rowMin[candidate] === rowMin[i] && rowsEqual(c, candidate * m, i * m, m)) {
        twinOf[i] = candidate;
        break;
      }
      candidate = nextWithSameArgmin[candidate];
    }
    if (twinOf[i] === i) {
      nextWithSameArgmin[i] = firstWithArgmin[j];
      firstWithArgmin[j] = i;
    }
  }
}

function rowsEqual(c: Float64Array, offA: number, offB: number, m: number): boolean {
  for (let j = 0; j < m; j++) if (c[offA + j] !== c[offB + j]) return false;
  return true;
}

/**
 * Core solver on a row-major n x m matrix with n <= m and finite entries, whose row minima and
 * their columns are already in `ws.u` / `ws.rowArgmin`: fills `col4row` (and `ws.row4col`, -1 for
 * unassigned columns) with a minimum-cost assignment of every row.
 */
function solveShortSide(c: Float64Array, n: number, m: number, col4row: Int32Array, ws: Workspace): void {
  const { u, rowArgmin, freeRows, twinOf, groupStamp, groupBase } = ws;
  const { v, shortestPathCosts: spc, path, row4col, labelledCols, labelledColCosts } = ws;
  v.fill(0, 0, m);
  row4col.fill(-1, 0, m);

  // Greedy start: u[i] = min_j c[i][j] with v = 0 keeps every reduced cost c - u - v >= 0 (dual
  // feasible, and v = 0 on free columns as the rectangular problem requires); a row whose cheapest
  // column is still free takes it, which is tight, so the partial assignment is optimal for its rows.
  let numFree = 0;
  for (let i = 0; i < n; i++) {
    const j = rowArgmin[i];
    if (row4col[j] === -1) {
      row4col[j] = i;
      col4row[i] = j;
    } else {
      col4row[i] = -1;
      freeRows[numFree++] = i;
    }
  }

  if (numFree === 0) return;
  findTwinRows(c, n, m, ws);
  groupStamp.fill(0, 0, n);

  for (let f = 0; f < numFree; f++) {
    const curRow = freeRows[f];
    const stamp = f + 1;

    // Dijkstra on reduced costs from curRow until a free column (the sink) is reached (Crouse,
    // Algorithm 4; scipy's augmenting_path). Labelled columns get distance NaN, which fails every
    // comparison below, so each scan is a plain sequential pass without a list of remaining columns.
    let i = curRow;
    let minVal = 0;
    let nLabelled = 0;
    let sink = -1;
    let first = true;
    while (sink === -1) {
      const base = minVal - u[i];
      const off = i * m;
      let lowest = Infinity;
      let index = -1;
      // A row identical to one already scanned in this search from a no larger offset base cannot
      // shorten any distance: base + c[j] - v[j] rounds to at least its twin's value, which the
      // distance already does not exceed, so only the minimum needs finding. (In exact arithmetic
      // the offsets of twins are always equal -- dual feasibility forces equal u on identical
      // matched rows -- so the comparison only keeps the skip exact under rounding.)
      const group = twinOf[i];
      let relax = true;
      if (groupStamp[group] !== stamp) {
        groupStamp[group] = stamp;
        groupBase[group] = base;
      } else if (base >= groupBase[group]) {
        relax = false;
      } else {
        groupBase[group] = base;
      }
      if (first) {
        // First scan: nothing is labelled yet; set every distance directly (no Infinity fill).
        first = false;
        for (let j = 0; j < m; j++) {
          const r = base + c[off + j] - v[j];
          spc[j] = r;
          path[j] = i;
          if (r < lowest || (r === lowest && row4col[j] === -1)) {
            lowest = r;
            index = j;
            // A free column at the current distance ends a shortest augmenting path: no other column
            // can be closer, and the distances of unscanned columns are not needed any more.
            if (r <= minVal && row4col[j] === -1) break;
          }
        }
      } else if (relax) {
        for (let j = 0; j < m; j++) {
          let s = spc[j];
          const r = base + c[off + j] - v[j];
          if (r < s) {
            path[j] = i;
            spc[j] = r;
            s = r;
          }
          if (s < lowest || (s === lowest && row4col[j] === -1)) {
            lowest = s;
            index = j;
            if (s <= minVal && row4col[j] === -1) break;
          }
        }
      } else {
        for (let j = 0; j < m; j++) {
          const s = spc[j];
          if (s < lowest || (s === lowest && row4col[j] === -1)) {
            lowest = s;
            index = j;
            if (s <= minVal && row4col[j] === -1) break;
          }
        }
      }
      if (index < 0) {
        // Unreachable for finite inputs below the overflow guard; never loop.
        throw new Error('linearSumAssignment: no augmenting path found (numerical overflow in the cost matrix?)');
      }
      minVal = lowest;
      labelledCols[nLabelled] = index;
      labelledColCosts[nLabelled] = lowest;
      nLabelled++;
      spc[index] = NaN;
      if (row4col[index] === -1) sink = index;
      else i = row4col[index];
    }

    // Dual update (scipy's solve(): u[curRow] += minVal; u[i] += minVal - d[col4row[i]] for the other
    // labelled rows, which are exactly the rows matched to labelled columns; v[j] -= minVal - d[j]).
    u[curRow] += minVal;
    for (let k = 0; k < nLabelled; k++) {
      const j = labelledCols[k];
      const delta = minVal - labelledColCosts[k];
      v[j] -= delta;
      const r = row4col[j];
      if (r >= 0) u[r] += delta;
    }

    // Augment along the path back to curRow.
    let j = sink;
    for (;;) {
      const r = path[j];
      row4col[j] = r;
      const previous = col4row[r];
      col4row[r] = j;
      j = previous;
      if (r === curRow) break;
    }
  }
}

/**
 * Solves the linear sum assignment problem like `scipy.optimize.linear_sum_assignment(cost, maximize)`.
 *
 * @param cost rectangular matrix, `cost[row][col]`, all entries finite numbers.
 * @returns `[rowIndices, colIndices]` of length `min(rows, cols)`, rows ascending.
 */
export function linearSumAssignment(cost: number[][], maximize = false): [number[], number[]] {
  if (!Array.isArray(cost)) throw new TypeError('linearSumAssignment: cost must be an array of rows (number[][])');
  const nRows = cost.length;
  if (nRows === 0) return [[], []];
  if (!Array.isArray(cost[0])) throw new TypeError('linearSumAssignment: cost[0] is not an array');
  const nCols = cost[0].length;
  const size = nRows * nCols;
  // Reuse one buffer for the flattened input (the flat solver keeps no reference to it).
  let flat: Float64Array;
  if (size <= MAX_CACHED_INPUT) {
    if (nestedInput.length < size) nestedInput = new Float64Array(Math.min(MAX_CACHED_INPUT, Math.max(size, 2 * nestedInput.length)));
    flat = nestedInput.subarray(0, size);
  } else {
    flat = new Float64Array(size);
  }
  for (let r = 0; r < nRows; r++) {
    const row = cost[r];
    if (!Array.isArray(row)) throw new TypeError(`linearSumAssignment: cost[${r}] is not an array`);
    if (row.length !== nCols) {
      throw new RangeError(`linearSumAssignment: cost[${r}] has ${row.length} columns, expected ${nCols} like cost[0]`);
    }
    const off = r * nCols;
    for (let c = 0; c < nCols; c++) {
      const x = row[c];
      if (typeof x !== 'number') {
        throw new TypeError(`linearSumAssignment: cost[${r}][${c}] is ${typeof x}, expected a number`);
      }
      flat[off + c] = x;
    }
  }
  const [rows, cols] = linearSumAssignmentFlat(flat, nRows, nCols, maximize);
  return [Array.from(rows), Array.from(cols)];
}
