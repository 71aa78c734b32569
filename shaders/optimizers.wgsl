// The update rules other than the seed's (src/train/optimizer.ts), one entry point per rule, for
// one layer after each batch. grad_sum holds the batch's Σ a·δ (δ = onehot − p, accumulated by the
// weight-gradient matmul), so the mean loss gradient is −grad_sum / batch; each step reads it and
// sets it to 0 for the next batch. Where mask = 0 the weight and every state buffer the rule binds
// are written 0, so pruned weights and their moments stay exactly 0.
// With BIASES the buffers are a layer's biases [out]: none is pruned (the mask is not read) and
// none is decayed (wd = 0 in the formulas below); the uniform is the weights' (same step t).
//   update_sgd       g = ∇ + wd·w;  w −= lr·g
//   update_momentum  g = ∇ + wd·w;  m = μ·m + g;  w −= lr·m
//   update_adam      g = ∇ + wd·w;  m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²;
//                    w −= step_size·m / (√v / c2_sqrt + ε)   (= lr·m̂/(√v̂ + ε), bias-corrected)
//   update_adamw     as update_adam with g = ∇, and w ·= (1 − lr·wd) first (decoupled decay)
//
// Bindings (group 0); each entry point uses a prefix of them:
//   0 w         [COUNT] f32, a layer's [in, out] weights      read_write   all
//   1 grad_sum  [COUNT] f32, Σ a·δ of the batch, cleared      read_write   all
//   2 mask      [COUNT] f32, 0 or 1 (BIASES: any 4 bytes)     read         all
//   3 hyper     uniform Hyper (below), one window per batch   read         all
//   4 m         [COUNT] f32, momentum's buffer or Adam's m    read_write   momentum, adam, adamw
//   5 v         [COUNT] f32, Adam's second moments            read_write   adam, adamw
// step_size = lr / (1 − β1ᵗ) and c2_sqrt = √(1 − β2ᵗ) come from the host, for the batch's step t.
// Workgroup size WG (override, from the descriptors in src/gpu/optimizer-kernels.ts); dispatch
// ⌈COUNT / WG⌉, one invocation per weight. JS reference: optimizerStep in src/cpu/optimizers.ts
// (BIASES: biasStep).

struct Hyper {
  lr: f32,
  momentum: f32,
  weight_decay: f32,
  batch: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  step_size: f32,
  c2_sqrt: f32,
}

override COUNT: u32;
override BIASES: bool = false;
override WG: u32;

@group(0) @binding(0) var<storage, read_write> w: array<f32>;
@group(0) @binding(1) var<storage, read_write> grad_sum: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<f32>;
@group(0) @binding(3) var<uniform> hyper: Hyper;
@group(0) @binding(4) var<storage, read_write> m: array<f32>;
@group(0) @binding(5) var<storage, read_write> v: array<f32>;

// Where mask = 0, writes 0 to the weight and its gradient sum and says so (the caller clears its state).
fn cleared(i: u32) -> bool {
  if (BIASES || mask[i] != 0.0) { return false; }
  w[i] = 0.0;
  grad_sum[i] = 0.0;
  return true;
}

// The weight decay of these parameters: biases are not decayed.
fn decay() -> f32 {
  return select(hyper.weight_decay, 0.0, BIASES);
}

// The mean loss gradient of weight i; its sum is cleared for the next batch.
fn take_gradient(i: u32) -> f32 {
  let g = -grad_sum[i] / hyper.batch;
  grad_sum[i] = 0.0;
  return g;
}

// Adam's moments after gradient g, and the step to subtract from the weight.
fn adam_step(i: u32, g: f32) -> f32 {
  let mi = hyper.beta1 * m[i] + (1.0 - hyper.beta1) * g;
  let vi = hyper.beta2 * v[i] + (1.0 - hyper.beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  return hyper.step_size * mi / (sqrt(vi) / hyper.c2_sqrt + hyper.eps);
}

fn adam_update(i: u32, decoupled: bool) {
  if (i >= COUNT) { return; }
  if (cleared(i)) {
    m[i] = 0.0;
    v[i] = 0.0;
    return;
  }
  let wi = w[i];
  if (decoupled) {
    w[i] = wi * (1.0 - hyper.lr * decay()) - adam_step(i, take_gradient(i));
  } else {
    w[i] = wi - adam_step(i, take_gradient(i) + decay() * wi);
  }
}

@compute @workgroup_size(WG)
fn update_sgd(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= COUNT || cleared(i)) { return; }
  let wi = w[i];
  w[i] = wi - hyper.lr * (take_gradient(i) + decay() * wi);
}

@compute @workgroup_size(WG)
fn update_momentum(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= COUNT) { return; }
  if (cleared(i)) {
    m[i] = 0.0;
    return;
  }
  let wi = w[i];
  let mi = hyper.momentum * m[i] + take_gradient(i) + decay() * wi;
  m[i] = mi;
  w[i] = wi - hyper.lr * mi;
}

@compute @workgroup_size(WG)
fn update_adam(@builtin(global_invocation_id) gid: vec3u) {
  adam_update(gid.x, false);
}

@compute @workgroup_size(WG)
fn update_adamw(@builtin(global_invocation_id) gid: vec3u) {
  adam_update(gid.x, true);
}
