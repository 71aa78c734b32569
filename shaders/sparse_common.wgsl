// sparse_common: the shape uniform of the CSR forward kernels (sparse_v1, sparse_v2, sparse_v3,
// sparse_unrolled). No bindings, no entry point: the host appends it to each kernel's source
// (src/gpu/sparse-kernels.ts, sparse-unrolled.ts), after the kernel's own directives.
//
// x(s, i) is x[i · x_feature_stride + s · x_sample_stride] and y(s, o) likewise, so one kernel
// reads and writes sample-major ([batch, features]: strides 1, features) or feature-major
// ([features, batch]: strides batch, 1) activations.

struct SparseParams {
  batch: u32,
  in_size: u32,
  out_size: u32,
  relu: u32,
  x_feature_stride: u32,
  x_sample_stride: u32,
  y_feature_stride: u32,
  y_sample_stride: u32,
}
