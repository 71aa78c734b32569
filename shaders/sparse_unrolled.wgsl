// sparse_unrolled: one CSR layer written into the program, its weights as constants. The host
// (src/gpu/sparse-unrolled.ts) generates the body of main from the layer's indptr, indices and
// values: one invocation per sample walks the used inputs in ascending order, loads each once
// and adds it times its weights into one accumulator per output. The other CSR kernels gather
// the input once per nonzero and sample and load an index and a weight with it; here a sample
// costs one load per used input and one multiply-add per nonzero. One program per layer, whose
// first compile on lavapipe took from seconds to minutes (BENCHMARKS.md, "pruned inference at
// batch 10 000"): the host caps the nonzeros it unrolls and runs it only when asked.
//
//   y(s, o) = Σ_{k in indptr[o] .. indptr[o + 1]} values[k] · x(s, indices[k]) (+ bias[o] with
//   HAS_BIAS, once, after the sum), then ReLU if relu (0 where y ≤ 0; NaN passes on, so an
//   overflow reaches the logits)
//
// Each output sums its products in ascending input order, the order of its CSR row.
// x(s, i) is x[i · x_feature_stride + s · x_sample_stride] and y(s, o) likewise (see sparse_common).
//
// JS reference: csrForward in src/cpu/sparse-forward.ts.
// Bindings (group 0):
//   0 x       array<f32>  [batch · in_size]  input activations, laid out by the x strides
//   1 y       array<f32>  [batch · out_size] output activations, laid out by the y strides (read_write)
//   2 params  uniform SparseParams (shaders/sparse_common.wgsl)
//   3 bias    array<f32>  [out_size]         read with HAS_BIAS (override, default false); any 4 bytes otherwise
// Workgroup: WG invocations along samples, one sample each (override, from the host's descriptor).
// An invocation past the batch computes the last sample again and stores nothing.
// Dispatch: (ceil(batch / WG), 1, 1).

override WG: u32;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: SparseParams;
@group(0) @binding(3) var<storage, read> bias: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let s = min(gid.x, params.batch - 1u);
  let xs = s * params.x_sample_stride;
  let fs = params.x_feature_stride;
  // GENERATED: an accumulator per output; per used input one load and its products; the stores.
}
