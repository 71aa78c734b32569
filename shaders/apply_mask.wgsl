// Pruning on the GPU, for one layer: where the (new) mask is 0, the weight and its velocity become
// 0; elsewhere both are untouched. The host uploads the mask first, so pruning moves no weights
// or velocities off the GPU.
//
// Bindings (group 0):
//   0 w       [COUNT] f32 (a layer's [in, out] weights)   read_write
//   1 v       [COUNT] f32 (its velocities)                read_write
//   2 mask    [COUNT] f32, 0 or 1                         read
// Workgroup size WG (override, from the host's descriptor APPLY_MASK in src/gpu/kernels.ts); dispatch
// ⌈COUNT / WG⌉. JS reference: applyMasks in src/model/network.ts.

override COUNT: u32;
override WG: u32;

@group(0) @binding(0) var<storage, read_write> w: array<f32>;
@group(0) @binding(1) var<storage, read_write> v: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<f32>;

@compute @workgroup_size(WG)
fn apply_mask(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= COUNT || mask[i] != 0.0) { return; }
  w[i] = 0.0;
  v[i] = 0.0;
}
