// Output layer of a training step, one invocation per sample.
//
//   prediction = argmax(logits) (the first maximum wins); correct += [prediction == target]
//   p = softmax(logits), computed as exp(x − max) / Σ exp(x − max): the seed's exp(x) / Σ exp(x)
//       in value, without overflow for large logits
//   grad = onehot(target) − p if p[target] < CONFIDENCE (and backpropagated += 1), else 0
//   backprop = 1 where the gradient was computed, else 0 (what compact_scan packs, compact.wgsl)
//   loss[s] += −ln p[target] = ln Σ exp(x − max) − (x[target] − max): the slot's cross-entropy
//       summed over the batches until the host clears it (the host sums the slots per epoch)
// With DISTILL (knowledge distillation, src/train/distill.ts), a learning sample's gradient is
//   grad = (1 − DISTILL_WEIGHT)·(onehot − p) + DISTILL_WEIGHT·TEMPERATURE·(soft − p_T),
//   p_T = softmax(logits / TEMPERATURE), soft = the teacher's q_T for the sample; without it the
//   soft binding is a placeholder that is never read.
// A sample with a NaN or infinite logit (the network overflowed) only adds 1 to nonFinite and
// gets grad = 0 and backprop = 0: it predicts nothing and spreads no NaN.
//
// Bindings (group 0):
//   0 logits    [BATCH, CLASSES] f32   read
//   1 targets   [BATCH] u32            read
//   2 grad      [BATCH, CLASSES] f32   write
//   3 counters  [3] atomic u32         read_write: [0] correct, [1] backpropagated, [2] nonFinite
//               (summed over every dispatch until the host clears them)
//   4 backprop  [BATCH] u32            write
//   5 loss      [BATCH] f32            read_write (accumulated, as the counters are)
//   6 soft      [BATCH, CLASSES] f32   read (DISTILL only)
// Workgroup size WG (override, from the host's descriptor SOFTMAX_GRAD in src/gpu/kernels.ts);
// dispatch ⌈BATCH / WG⌉. JS reference: softmaxGrad in src/cpu/ops.ts; the distillation term:
// addDistillation in src/train/distill.ts.

override BATCH: u32;
override CLASSES: u32;
override CONFIDENCE: f32;
override WG: u32;
override DISTILL: bool;
override DISTILL_WEIGHT: f32;
override TEMPERATURE: f32;

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> targets: array<u32>;
@group(0) @binding(2) var<storage, read_write> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> counters: array<atomic<u32>, 3>;
@group(0) @binding(4) var<storage, read_write> backprop: array<u32>;
@group(0) @binding(5) var<storage, read_write> loss: array<f32>;
@group(0) @binding(6) var<storage, read> soft: array<f32>;

@compute @workgroup_size(WG)
fn softmax_grad(@builtin(global_invocation_id) gid: vec3u) {
  let s = gid.x;
  if (s >= BATCH) { return; }
  let row = s * CLASSES;
  var finite = true;
  for (var i = 0u; i < CLASSES; i++) { finite = finite && is_finite(logits[row + i]); }
  if (!finite) {
    atomicAdd(&counters[2], 1u);
    for (var i = 0u; i < CLASSES; i++) { grad[row + i] = 0.0; }
    backprop[s] = 0u;
    return;
  }
  var best = 0u;
  for (var i = 1u; i < CLASSES; i++) {
    if (logits[row + i] > logits[row + best]) { best = i; }
  }
  let label = targets[s];
  if (best == label) { atomicAdd(&counters[0], 1u); }
  let top = logits[row + best];
  var sum = 0.0;
  for (var i = 0u; i < CLASSES; i++) { sum += exp(logits[row + i] - top); }
  if (label < CLASSES) { loss[s] += log(sum) - (logits[row + label] - top); }
  let learn = label < CLASSES && exp(logits[row + label] - top) / sum < CONFIDENCE;
  if (learn) { atomicAdd(&counters[1], 1u); }
  backprop[s] = select(0u, 1u, learn);
  var tempered_sum = 0.0;
  if (DISTILL) {
    for (var i = 0u; i < CLASSES; i++) { tempered_sum += exp((logits[row + i] - top) / TEMPERATURE); }
  }
  for (var i = 0u; i < CLASSES; i++) {
    let p = exp(logits[row + i] - top) / sum;
    var g = select(0.0, 1.0, i == label) - p;
    if (DISTILL) {
      let p_t = exp((logits[row + i] - top) / TEMPERATURE) / tempered_sum;
      g = (1.0 - DISTILL_WEIGHT) * g + DISTILL_WEIGHT * TEMPERATURE * (soft[row + i] - p_t);
    }
    grad[row + i] = select(0.0, g, learn);
  }
}
