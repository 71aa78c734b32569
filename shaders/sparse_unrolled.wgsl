// sparse_unrolled: one CSR layer written into the program. The host (src/gpu/sparse-unrolled.ts)
// generates the body of main from the layer's structure (indptr, indices): one invocation per
// sample copies the sample's inputs into a private row with a loop, then, per block of up to 16
// outputs, walks the inputs that feed the block in ascending order and adds each times its
// weights into one accumulator per output. The other CSR kernels gather the input once per
// nonzero and sample and load an index and a weight with it; here a sample costs one gathered
// load per input and one multiply-add per nonzero. The blocks keep their accumulators in
// registers, and the one load in a loop keeps the program quick to compile: written once per
// used input, with all outputs' accumulators live, lavapipe compiled a layer for minutes
// (BENCHMARKS.md, "sparse_unrolled compiles in seconds").
//
// The weights come in one of two forms, chosen by the host:
// - constants (inference): each written into the program as a literal;
// - from a dense weight buffer (training, whose weights change every step but whose mask is
//   final): the workgroup first copies the kept weights, in the order the program uses them, into
//   workgroup memory (w[kept[n]] into wk[n]), and the products read wk[n]. A product that read w
//   itself made the program 10–15× slower to compile on lavapipe (a load per nonzero).
//
//   y(s, o) = Σ_{k in indptr[o] .. indptr[o + 1]} weight(k) · x(s, indices[k]) (+ bias[o] with
//   HAS_BIAS, once, after the sum), then ReLU if relu (0 where y ≤ 0; NaN passes on, so an
//   overflow reaches the logits); weight(k) = values[k], or w[indices[k] · out_size + o] for the
//   dense [in_size, out_size] buffer
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
// with weights from a buffer also:
//   4 w       array<f32>  [in_size, out_size] the dense weights (read only at kept positions)
//   5 kept    array<u32>  [nonzeros]          w's index of each weight, in the program's order
// Workgroup: WG invocations along samples, one sample each (override, from the host's descriptor).
// An invocation past the batch computes the last sample again and stores nothing.
// Dispatch: (ceil(batch / WG), 1, 1).

override WG: u32;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: SparseParams;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
// GENERATED: the weight buffer's bindings and workgroup copy, with weights from a buffer.

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let s = min(gid.x, params.batch - 1u);
  let xs = s * params.x_sample_stride;
  let fs = params.x_feature_stride;
  // GENERATED: the sample's inputs into a private row; per block of outputs their accumulators, products and stores.
}
