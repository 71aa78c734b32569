// The bias gradient of one layer for a training batch: per column o of the layer's output gradient
// dY (the packed rows of the backward pass, compact.wgsl), the sum over the backpropagated rows
//   sum[o] += Σ_{r < count} dY[r, o]
// added to `sum` the way the weight-gradient matmul adds Aᵀ·dY to its target: the seed's bias
// velocities, or the gradient sums the other rules' update kernel reads and clears
// (optimizers.wgsl). Rows r ≥ count are never read: the backward pass leaves them undefined past
// the padded prefix, and a skipped sample's gradient is 0 anyway. count = 0 adds nothing, so no
// indirect dispatch is needed: the work follows count inside the kernel.
// A workgroup of COLS × LANES invocations covers COLS adjacent columns (a row's reads are
// contiguous); invocation (c, lane) sums the rows lane, lane + LANES, … below count, and lane 0
// adds the LANES partial sums, in lane order, to sum[o].
//
// Bindings (group 0):
//   0 dy     [BATCH, N] f32   read (rows below count)
//   1 count  [1] u32          read (the backpropagated rows, from compact_scan)
//   2 sum    [N] f32          read_write (accumulated)
// BATCH and N fix the shape; COLS and LANES are the geometry, overrides with no default: the
// host's descriptor BIAS_GRAD (src/gpu/bias-kernels.ts) writes the numbers.
// Dispatch ⌈N / COLS⌉ workgroups. Plain-loop reference: addColumnSums in test/gpu/bias-grad.test.ts.

override BATCH: u32;
override N: u32;
override COLS: u32;
override LANES: u32;

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> count: array<u32, 1>;
@group(0) @binding(2) var<storage, read_write> sum: array<f32>;

var<workgroup> partial: array<f32, COLS * LANES>;

@compute @workgroup_size(COLS, LANES)
fn bias_grad(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let col = wid.x * COLS + lid.x;
  let rows = min(count[0], BATCH);
  var acc = 0.0;
  if (col < N) {
    for (var r = lid.y; r < rows; r += LANES) { acc += dy[r * N + col]; }
  }
  partial[lid.y * COLS + lid.x] = acc;
  workgroupBarrier();
  if (lid.y == 0u && col < N) {
    var total = partial[lid.x];
    for (var lane = 1u; lane < LANES; lane++) { total += partial[lane * COLS + lid.x]; }
    sum[col] += total;
  }
}
