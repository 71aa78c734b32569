// sparse_train_forward: a pruned layer's forward pass in training, reading only its kept weights.
// The weights stay in the trainer's dense [IN, OUT] buffer (the update, the optimizer state and
// the readback are those of a dense layer); an index of the kept positions, built on the host
// from the mask, says which to read:
//
//   y[s, j] = Σ_{k in out_ptr[j] .. out_ptr[j + 1]} x[s, out_rows[k]] · w[out_rows[k] · OUT + j]
//             (+ bias[j] with HAS_BIAS, once, after the sum), then ReLU with RELU (0 where y ≤ 0;
//             NaN passes on, so an overflow reaches the logits)
//
// Each output sums its products in ascending input order (the order of its index row).
// x and y are sample-major, as the trainer holds its activations.
//
// JS reference: csrForward in src/cpu/sparse-forward.ts on csrLayer(w, mask).
// Bindings (group 0):
//   0 x        array<f32>  [BATCH, IN]   read
//   1 out_ptr  array<u32>  [OUT + 1]     row j of the index is out_rows[out_ptr[j] .. out_ptr[j + 1]]
//   2 out_rows array<u32>  [nnz]         input of each kept weight, ascending within a row
//   3 w        array<f32>  [IN, OUT]     read (only at kept positions)
//   4 y        array<f32>  [BATCH, OUT]  written
//   5 bias     array<f32>  [OUT]         read with HAS_BIAS; any 4 bytes otherwise
// Workgroup: WG invocations along samples, each ROWS samples WG apart (one index and weight load
// serves ROWS products); workgroup (j, t) computes output j of samples t·WG·ROWS … (t + 1)·WG·ROWS − 1.
// Dispatch: (OUT, ⌈BATCH / (WG·ROWS)⌉, 1). BATCH, IN, OUT, RELU, HAS_BIAS fix the shape; WG and
// ROWS are the geometry, overrides with no default: the host's descriptor SPARSE_TRAIN_FORWARD
// (src/gpu/sparse-training-kernels.ts) writes the numbers.

override BATCH: u32;
override IN: u32;
override OUT: u32;
override RELU: bool = false;
override HAS_BIAS: bool = false;
override WG: u32;
override ROWS: u32;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> out_ptr: array<u32>;
@group(0) @binding(2) var<storage, read> out_rows: array<u32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read> bias: array<f32>;

// Up to 8 samples per invocation: the accumulators live in registers.
const MAX_ROWS = 8u;

@compute @workgroup_size(WG)
fn sparse_train_forward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let j = wid.x;
  let first = wid.y * WG * ROWS + li;
  var acc: array<f32, MAX_ROWS>;
  // A sample past the batch reads the last one and stores nothing.
  var row: array<u32, MAX_ROWS>;
  for (var t = 0u; t < ROWS; t++) {
    row[t] = min(first + t * WG, BATCH - 1u) * IN;
  }
  for (var k = out_ptr[j]; k < out_ptr[j + 1u]; k++) {
    let i = out_rows[k];
    let weight = w[i * OUT + j];
    for (var t = 0u; t < ROWS; t++) {
      acc[t] += x[row[t] + i] * weight;
    }
  }
  for (var t = 0u; t < ROWS; t++) {
    let s = first + t * WG;
    if (s >= BATCH) { return; }
    var v = acc[t];
    if (HAS_BIAS) { v += bias[j]; }
    if (RELU) { v = relu(v); }
    y[s * OUT + j] = v;
  }
}
