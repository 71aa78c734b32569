// sparse_transpose: the network input, sample-major, to the feature-major layout the sparse
// kernels gather from best: out[f, s] = x[s, f]. Each invocation moves one element; the lanes run
// along samples so the writes are contiguous.
//
// JS reference: the index map itself (test/gpu/sparse.test.ts checks it element by element).
// Bindings (group 0):
//   0 x      array<f32>  [batch, features]  read
//   1 out    array<f32>  [features, batch]  read_write
//   2 params uniform TransposeParams
// Workgroup: WG invocations along samples (override, from the host's descriptor SPARSE_TRANSPOSE
// in src/gpu/sparse-kernels.ts).
// Dispatch: (ceil(batch / WG), features, 1); features ≤ maxComputeWorkgroupsPerDimension.

struct TransposeParams {
  batch: u32,
  features: u32,
}

override WG: u32;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: TransposeParams;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let s = gid.x;
  let f = gid.y;
  if (s >= params.batch || f >= params.features) {
    return;
  }
  out[f * params.batch + s] = x[s * params.features + f];
}
