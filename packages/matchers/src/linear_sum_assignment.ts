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
 * Differences from scipy that only affect speed: rows whose cheapest column is still free are
 * assigned greedily before any augmentation (duals u = row minimum, v = 0, which is dual feasible),
 * the first Dijkstra scan initialises the path costs instead of a separate fill, a scan stops as
 * soon as it reaches a free column at the current distance (no other column can be closer), and the
 * dual updates walk only the rows and columns that the search labelled.
 *
 * Unlike scipy, +Infinity ("forbidden") entries are not supported: every non-finite entry is an error.
 */

/** Entries above this magnitude are scaled by an exact power of two so that dual sums cannot overflow. */
const OVERFLOW_GUARD = 2 ** 960;
const OVERFLOW_SCALE = 2 ** -128;

/** Scratch buffers reused across calls (the solver is synchronous, hence never re-entered). */
class Workspace {
  u = new Float64Array(0);
  v = new Float64Array(0);
  shortestPathCosts = new Float64Array(0);
  path = new Int32Array(0);
  row4col = new Int32Array(0);
  remaining = new Int32Array(0);
  labelledRows = new Int32Array(0);
  labelledCols = new Int32Array(0);
  matrix = new Float64Array(0);

  /** Makes the buffers big enough for an n x m problem (n <= m); only grows. */
  reserve(n: number, m: number, needsMatrix: boolean): void {
    if (this.u.length < n) {
      this.u = new Float64Array(n);
      this.labelledRows = new Int32Array(n);
    }
    if (this.v.length < m) {
      this.v = new Float64Array(m);
      this.shortestPathCosts = new Float64Array(m);
      this.path = new Int32Array(m);
      this.row4col = new Int32Array(m);
      this.remaining = new Int32Array(m);
      this.labelledCols = new Int32Array(m);
    }
    if (needsMatrix && this.matrix.length < n * m) this.matrix = new Float64Array(n * m);
  }
}

const workspace = new Workspace();
/** Problems up to this size reuse the module's scratch buffers (at most ~9 MiB kept alive). */
const MAX_CACHED_ENTRIES = 1 << 20;
const MAX_CACHED_COLS = 1 << 16;

function describeNonFinite(x: number): string {
  return Number.isNaN(x) ? 'NaN' : String(x);
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

  // One pass: reject NaN/±Infinity (naming the entry) and spot magnitudes that could overflow.
  let hugeEntries = false;
  for (let k = 0; k < cost.length; k++) {
    const x = cost[k];
    if (!(x <= OVERFLOW_GUARD && x >= -OVERFLOW_GUARD)) {
      if (!Number.isFinite(x)) {
        const row = Math.floor(k / nCols);
        throw new RangeError(
          `linearSumAssignment: cost[${row}][${k - row * nCols}] is ${describeNonFinite(x)} ` +
            `(row ${row}, column ${k - row * nCols}); the cost matrix contains invalid numeric entries, all costs must be finite`,
        );
      }
      hugeEntries = true;
    }
  }

  const needsCopy = transpose || maximize || hugeEntries;
  const ws = n * m <= MAX_CACHED_ENTRIES && m <= MAX_CACHED_COLS ? workspace : new Workspace();
  ws.reserve(n, m, needsCopy);
  let matrix: Float64Array = cost;
  if (needsCopy) {
    matrix = ws.matrix;
    const scale = (maximize ? -1 : 1) * (hugeEntries ? OVERFLOW_SCALE : 1);
    if (transpose) {
      // matrix[c * m + r] = scale * cost[r * nCols + c]: cost is m x n here, matrix is n x m.
      for (let r = 0; r < m; r++) {
        const src = r * n;
        for (let c = 0; c < n; c++) matrix[c * m + r] = scale * cost[src + c];
      }
    } else {
      for (let k = 0; k < n * m; k++) matrix[k] = scale * cost[k];
    }
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
    // Matrix row i is original column i, assigned to original row col4row[i]; emit original rows ascending.
    const colOfOriginalRow = ws.row4col; // row4col[j] = matrix row of matrix column j = original row j
    let k = 0;
    for (let r = 0; r < m; r++) {
      const c = colOfOriginalRow[r];
      if (c >= 0) {
        rowIndices[k] = r;
        colIndices[k] = c;
        k++;
      }
    }
  }
  return [rowIndices, colIndices];
}

/**
 * Core solver on a row-major n x m matrix with n <= m and finite entries: fills `col4row` (and
 * `ws.row4col`, -1 for unassigned columns) with a minimum-cost assignment of every row.
 */
function solveShortSide(c: Float64Array, n: number, m: number, col4row: Int32Array, ws: Workspace): void {
  const { u, v, shortestPathCosts: spc, path, row4col, remaining, labelledRows, labelledCols } = ws;
  v.fill(0, 0, m);
  row4col.fill(-1, 0, m);
  col4row.fill(-1);

  // Greedy start: u[i] = min_j c[i][j] with v = 0 keeps every reduced cost c - u - v >= 0 (dual
  // feasible, and v = 0 on free columns as the rectangular problem requires); a row whose cheapest
  // column is still free takes it, which is tight, so the partial assignment is optimal for its rows.
  for (let i = 0; i < n; i++) {
    const off = i * m;
    let best = c[off];
    let bestCol = 0;
    let bestFree = row4col[0] === -1;
    for (let j = 1; j < m; j++) {
      const x = c[off + j];
      if (x < best || (x === best && !bestFree && row4col[j] === -1)) {
        best = x;
        bestCol = j;
        bestFree = row4col[j] === -1;
      }
    }
    u[i] = best;
    if (bestFree) {
      row4col[bestCol] = i;
      col4row[i] = bestCol;
    }
  }

  for (let curRow = 0; curRow < n; curRow++) {
    if (col4row[curRow] !== -1) continue;

    // Dijkstra on reduced costs from curRow until a free column (the sink) is reached (Crouse Alg. 4).
    let i = curRow;
    let minVal = 0;
    let numRemaining = m;
    let nLabelledRows = 0;
    let nLabelledCols = 0;
    let sink = -1;
    let first = true;
    while (sink === -1) {
      labelledRows[nLabelledRows++] = i;
      const base = minVal - u[i];
      const off = i * m;
      let lowest = Infinity;
      let index = -1;
      if (first) {
        // First scan: every column is unlabelled; set its path cost directly (no Infinity fill).
        first = false;
        for (let j = 0; j < m; j++) {
          remaining[j] = j;
          const r = base + c[off + j] - v[j];
          spc[j] = r;
          path[j] = i;
          if (r < lowest || (r === lowest && row4col[j] === -1)) {
            lowest = r;
            index = j;
            // A free column at the current distance is a shortest augmenting path already.
            if (r <= minVal && row4col[j] === -1) break;
          }
        }
      } else {
        for (let it = 0; it < numRemaining; it++) {
          const j = remaining[it];
          const r = base + c[off + j] - v[j];
          let s = spc[j];
          if (r < s) {
            path[j] = i;
            spc[j] = r;
            s = r;
          }
          if (s < lowest || (s === lowest && row4col[j] === -1)) {
            lowest = s;
            index = it;
            if (s <= minVal && row4col[j] === -1) break;
          }
        }
      }
      if (index < 0) {
        // Unreachable for finite inputs below the overflow guard; never loop.
        throw new Error('linearSumAssignment: no augmenting path found (numerical overflow in the cost matrix?)');
      }
      minVal = lowest;
      const j = remaining[index];
      labelledCols[nLabelledCols++] = j;
      remaining[index] = remaining[--numRemaining];
      if (row4col[j] === -1) sink = j;
      else i = row4col[j];
    }

    // Dual update (Crouse Alg. 4, steps after the search; scipy's solve()).
    u[curRow] += minVal;
    for (let k = 1; k < nLabelledRows; k++) {
      const r = labelledRows[k];
      u[r] += minVal - spc[col4row[r]];
    }
    for (let k = 0; k < nLabelledCols; k++) {
      const j = labelledCols[k];
      v[j] -= minVal - spc[j];
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
  const nCols = Array.isArray(cost[0]) ? cost[0].length : -1;
  const flat = new Float64Array(nRows * Math.max(nCols, 0));
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
