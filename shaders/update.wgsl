// The momentum step after each batch, for one layer:
//   where mask = 1: w += lr·v, then v *= momentum; elsewhere w and v are untouched (they are 0).
// With BIASES the buffers are a layer's biases [out] and their velocities: every one is updated
// (none is pruned; the mask is not read).
// The seed rule's member of the update kernels (one per rule, optimizers.wgsl the others). The GPU
// trainer runs it for the biases; it takes the weights' step inside their weight-gradient pass
// instead (EPILOGUE 4 of matmul_common.wgsl, SEED_STEP of sparse_train_weight_grad.wgsl), which
// saves a pass over every layer per batch.
//
// Bindings (group 0):
//   0 w       [COUNT] f32 (a layer's [in, out] weights)   read_write
//   1 v       [COUNT] f32 (its velocities)                read_write
//   2 mask    [COUNT] f32, 0 or 1 (BIASES: any 4 bytes)   read
//   3 hyper   uniform { lr: f32, momentum: f32 }, rewritten by the host each epoch
// Workgroup size WG (override, from the host's descriptor UPDATE in src/gpu/kernels.ts); dispatch
// ⌈COUNT / WG⌉. JS references: maskedMomentumUpdate in src/cpu/ops.ts, biasMomentumUpdate in
// src/cpu/trainer.ts (BIASES).

struct Hyper {
  lr: f32,
  momentum: f32,
}

override COUNT: u32;
override BIASES: bool = false;
override WG: u32;

@group(0) @binding(0) var<storage, read_write> w: array<f32>;
@group(0) @binding(1) var<storage, read_write> v: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<f32>;
@group(0) @binding(3) var<uniform> hyper: Hyper;

@compute @workgroup_size(WG)
fn update(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= COUNT || (!BIASES && mask[i] == 0.0)) { return; }
  let vi = v[i];
  w[i] += hyper.lr * vi;
  v[i] = vi * hyper.momentum;
}
