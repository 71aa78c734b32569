// sparse_v3: sparse_v2 with the nonzeros shared through the subgroup (needs `subgroups`). The
// lanes of a subgroup load SG consecutive nonzeros of the row at once, one each, and pass them
// round with subgroupShuffle, instead of every lane loading every nonzero.
//
//   y(s, o) = Σ_{k in indptr[o] .. indptr[o + 1]} values[k] · x(s, indices[k]) (+ bias[o] with
//   HAS_BIAS, once, after the sum), then ReLU if relu (0 where y ≤ 0; NaN passes on, so an
//   overflow reaches the logits)
//
// x(s, i) is x[i · x_feature_stride + s · x_sample_stride] and y(s, o) likewise (see sparse_common).
//
// JS reference: csrForward in src/cpu/sparse-forward.ts.
// Bindings (group 0): as sparse_v2.
//   0 indptr  array<i32>  [out_size + 1]     row o of the CSR matrix (by output) is indptr[o] .. indptr[o + 1]
//   1 indices array<i32>  [nnz]              input index of each kept weight, ascending within a row
//   2 values  array<f32>  [nnz]              the weights
//   3 x       array<f32>  [batch · in_size]  input activations, laid out by the x strides
//   4 y       array<f32>  [batch · out_size] output activations, laid out by the y strides (read_write)
//   5 params  uniform SparseParams (shaders/sparse_common.wgsl)
//   6 bias    array<f32>  [out_size]         read with HAS_BIAS (override, default false); any 4 bytes otherwise
// Workgroup: WG invocations along samples, 4 samples each; ROWS output rows per workgroup. Both
// are overrides with no default: the host's descriptor (src/gpu/sparse-kernels.ts) gives them.
// Every lane runs every loop to the same trip count (samples past the batch are clamped, not
// branched around), so the shuffles see the whole subgroup. WG must be a multiple of the
// subgroup size, so that no subgroup is partly empty: the loop takes sg_size nonzeros a turn and
// reads each from its lane. The host runs only such geometries (sparseVariantsOn in
// src/gpu/sparse-kernels.ts).
// Dispatch: (ceil(out_size / ROWS), ceil(batch / (4 · WG)), 1).
enable subgroups;

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
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_index) lane: u32,
  @builtin(subgroup_invocation_id) sg_lane: u32,
  @builtin(subgroup_size) sg_size: u32,
) {
  let s0 = wid.y * 4u * WG + lane;
  let last = params.batch - 1u;
  let xo = vec4u(min(s0, last), min(s0 + WG, last), min(s0 + 2u * WG, last), min(s0 + 3u * WG, last)) * params.x_sample_stride;
  let row_end = min((wid.x + 1u) * ROWS, params.out_size);
  for (var o = wid.x * ROWS; o < row_end; o++) {
    var acc = vec4f(0.0);
    let end = u32(indptr[o + 1u]);
    for (var k0 = u32(indptr[o]); k0 < end; k0 += sg_size) {
      // Lanes past the row's end load its last nonzero (in bounds) and are never read.
      let k = min(k0 + sg_lane, end - 1u);
      let lane_feature = u32(indices[k]) * params.x_feature_stride;
      let lane_weight = values[k];
      let count = min(sg_size, end - k0);
      for (var t = 0u; t < count; t++) {
        let f = subgroupShuffle(lane_feature, t);
        acc += subgroupShuffle(lane_weight, t) * vec4f(x[f + xo.x], x[f + xo.y], x[f + xo.z], x[f + xo.w]);
      }
    }
    store(o, s0, acc.x);
    store(o, s0 + WG, acc.y);
    store(o, s0 + 2u * WG, acc.z);
    store(o, s0 + 3u * WG, acc.w);
  }
}
