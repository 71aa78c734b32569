// sparse_v2: CSR gather with the lanes over samples. All invocations of a workgroup walk the same
// CSR row together, each for 4 samples strided by WG: the row's index and weight loads are the
// same for every lane (CPU adapters turn them into one scalar load) and serve 4 samples, and
// with feature-major activations ([features, batch]) the x values one nonzero gathers are
// contiguous across the lanes. Each workgroup handles ROWS rows of one block of 4 · WG samples,
// so that block of x stays in the cache across its rows.
//
//   y(s, o) = Σ_{k in indptr[o] .. indptr[o + 1]} values[k] · x(s, indices[k]) (+ bias[o] with
//   HAS_BIAS, once, after the sum), then ReLU if relu (0 where y ≤ 0; NaN passes on, so an
//   overflow reaches the logits)
//
// x(s, i) is x[i · x_feature_stride + s · x_sample_stride] and y(s, o) likewise (see sparse_common):
// hidden activations pass feature-major, the logits come out sample-major.
//
// JS reference: csrForward in src/cpu/sparse-forward.ts.
// Bindings (group 0):
//   0 indptr  array<i32>  [out_size + 1]     row o of the CSR matrix (by output) is indptr[o] .. indptr[o + 1]
//   1 indices array<i32>  [nnz]              input index of each kept weight, ascending within a row
//   2 values  array<f32>  [nnz]              the weights
//   3 x       array<f32>  [batch · in_size]  input activations, laid out by the x strides
//   4 y       array<f32>  [batch · out_size] output activations, laid out by the y strides (read_write)
//   5 params  uniform SparseParams (shaders/sparse_common.wgsl)
//   6 bias    array<f32>  [out_size]         read with HAS_BIAS (override, default false); any 4 bytes otherwise
// Workgroup: WG invocations along samples, 4 samples each (one vec4 accumulator: private arrays
// indexed in loops are spilled to memory on CPU adapters); ROWS output rows per workgroup. Both
// are overrides with no default: the host's descriptor (src/gpu/sparse-kernels.ts) gives them.
// Dispatch: (ceil(out_size / ROWS), ceil(batch / (4 · WG)), 1).

override WG: u32;
override ROWS: u32;

@group(0) @binding(0) var<storage, read> indptr: array<i32>;
@group(0) @binding(1) var<storage, read> indices: array<i32>;
@group(0) @binding(2) var<storage, read> values: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<uniform> params: SparseParams;
@group(0) @binding(6) var<storage, read> bias: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lane: u32) {
  let s0 = wid.y * 4u * WG + lane;
  // This invocation's samples are s0 + j·WG. Past the batch they repeat the last sample so every
  // load stays in bounds without a branch; only the stores are masked.
  let last = params.batch - 1u;
  let stride = params.x_sample_stride;
  let xo = vec4u(min(s0, last), min(s0 + WG, last), min(s0 + 2u * WG, last), min(s0 + 3u * WG, last)) * stride;
  let row_end = min((wid.x + 1u) * ROWS, params.out_size);
  for (var o = wid.x * ROWS; o < row_end; o++) {
    var acc = vec4f(0.0);
    let end = u32(indptr[o + 1u]);
    for (var k = u32(indptr[o]); k < end; k++) {
      let f = u32(indices[k]) * params.x_feature_stride;
      acc += values[k] * vec4f(x[f + xo.x], x[f + xo.y], x[f + xo.z], x[f + xo.w]);
    }
    store(o, s0, acc.x);
    store(o, s0 + WG, acc.y);
    store(o, s0 + 2u * WG, acc.z);
    store(o, s0 + 3u * WG, acc.w);
  }
}
