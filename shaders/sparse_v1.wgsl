// sparse_v1: CSR gather, one invocation per (output neuron, sample): the straightforward kernel,
// kept as the baseline the later versions are measured against (and the fastest for tiny
// batches, where the later versions leave most lanes idle).
//
//   y(s, o) = Σ_{k in indptr[o] .. indptr[o + 1]} values[k] · x(s, indices[k]) (+ bias[o] with
//   HAS_BIAS, once, after the sum), then ReLU if relu (0 where y ≤ 0; NaN passes on, so an
//   overflow reaches the logits)
//
// x(s, i) is x[i · x_feature_stride + s · x_sample_stride] and y(s, o) likewise (see sparse_common).
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
// Workgroup: WG invocations along the outputs (override, from the host's descriptor SPARSE_V1 in
// src/gpu/sparse-kernels.ts).
// Dispatch: (ceil(out_size / WG), batch, 1); batch ≤ maxComputeWorkgroupsPerDimension.

override WG: u32;

@group(0) @binding(0) var<storage, read> indptr: array<i32>;
@group(0) @binding(1) var<storage, read> indices: array<i32>;
@group(0) @binding(2) var<storage, read> values: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<uniform> params: SparseParams;
@group(0) @binding(6) var<storage, read> bias: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let o = gid.x;
  let s = gid.y;
  if (o >= params.out_size || s >= params.batch) {
    return;
  }
  let sample = s * params.x_sample_stride;
  var acc = 0.0;
  let end = u32(indptr[o + 1u]);
  for (var k = u32(indptr[o]); k < end; k++) {
    acc += values[k] * x[u32(indices[k]) * params.x_feature_stride + sample];
  }
  store(o, s, acc);
}
