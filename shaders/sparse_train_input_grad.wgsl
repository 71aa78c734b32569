// sparse_train_input_grad: the gradient at a pruned layer's input in the backward pass (dY·Wᵀ
// through the ReLU), reading only the kept weights, over the packed rows of the backward pass
// (compact.wgsl):
//
//   dx[r, i] = Σ_{k in in_ptr[i] .. in_ptr[i + 1]} dy[r, j_k] · w[positions[k]]
//              with j_k = positions[k] − i·OUT, then dx[r, i] = 0 where !(a[r, i] > 0) (an
//              inactive neuron gets no gradient), and a[r, i] = 0 where it is NaN or ±Inf (such
//              an activation belongs to a sample whose gradient is 0, and the weight gradient that
//              reads a next would turn ∞·0 into NaN)
//
// as the dense matmul's EPILOGUE 2 (matmul_common.wgsl). Each input sums its products in
// ascending output order. positions[in_ptr[i] .. in_ptr[i + 1]) are the flat indices i·OUT + j
// of row i's kept weights, ascending: the kept positions of W in row-major order (also what
// sparse_train_weight_grad walks).
//
// JS reference: sparseInputGradient in src/cpu/sparse-training.ts.
// Bindings (group 0):
//   0 dy        array<f32>  [BATCH, OUT]  read (the rows dispatched)
//   1 in_ptr    array<u32>  [IN + 1]      row i of the index is positions[in_ptr[i] .. in_ptr[i + 1]]
//   2 positions array<u32>  [nnz]         flat index i·OUT + j of each kept weight, ascending
//   3 w         array<f32>  [IN, OUT]     read (only at kept positions)
//   4 dx        array<f32>  [BATCH, IN]   written
//   5 a         array<f32>  [BATCH, IN]   read_write: the layer's input activations (after ReLU)
// Workgroup: WG invocations along rows, each ROWS rows WG apart; workgroup (i, t) computes input i
// of rows t·WG·ROWS … (t + 1)·WG·ROWS − 1.
// Dispatch: (IN, ⌈BATCH / (WG·ROWS)⌉, 1), or fewer row workgroups (indirect_args: the packed
// rows, so rows past them are never written). BATCH, IN, OUT fix the shape; WG and ROWS are the
// geometry, overrides with no default: the host's descriptor SPARSE_TRAIN_INPUT_GRAD
// (src/gpu/sparse-training-kernels.ts) writes the numbers.

override BATCH: u32;
override IN: u32;
override OUT: u32;
override WG: u32;
override ROWS: u32;

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> in_ptr: array<u32>;
@group(0) @binding(2) var<storage, read> positions: array<u32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
@group(0) @binding(5) var<storage, read_write> a: array<f32>;

const MAX_ROWS = 8u;

@compute @workgroup_size(WG)
fn sparse_train_input_grad(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = wid.x;
  let first = wid.y * WG * ROWS + li;
  let base = i * OUT;
  var acc: array<f32, MAX_ROWS>;
  var row: array<u32, MAX_ROWS>;
  for (var t = 0u; t < ROWS; t++) {
    row[t] = min(first + t * WG, BATCH - 1u) * OUT;
  }
  for (var k = in_ptr[i]; k < in_ptr[i + 1u]; k++) {
    let p = positions[k];
    let weight = w[p];
    let j = p - base;
    for (var t = 0u; t < ROWS; t++) {
      acc[t] += dy[row[t] + j] * weight;
    }
  }
  for (var t = 0u; t < ROWS; t++) {
    let r = first + t * WG;
    if (r >= BATCH) { return; }
    let at = r * IN + i;
    let h = a[at];
    dx[at] = select(0.0, acc[t], h > 0.0);
    if (!is_finite(h)) { a[at] = 0.0; }
  }
}
