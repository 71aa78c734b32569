// sparse_common: what the CSR forward kernels (sparse_v1, sparse_v2, sparse_v3, sparse_unrolled)
// share: the shape uniform and the store of a finished output. No bindings and no entry point of
// its own: each kernel declares y, params and bias at its bindings, and the host appends this
// file to the kernel's source (src/gpu/sparse-kernels.ts, sparse-unrolled.ts), after the kernel's
// own directives.
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

override HAS_BIAS: bool = false;

// Output o of sample s from its sum: + bias[o] with HAS_BIAS (once, after the sum), then the ReLU
// where params.relu is set; nothing for a sample past the batch.
fn store(o: u32, s: u32, sum: f32) {
  if (s >= params.batch) {
    return;
  }
  var v = sum;
  if (HAS_BIAS) {
    v += bias[o];
  }
  if (params.relu != 0u) {
    v = relu(v);
  }
  y[o * params.y_feature_stride + s * params.y_sample_stride] = v;
}
