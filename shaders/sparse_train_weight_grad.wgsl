// sparse_train_weight_grad: a pruned layer's weight gradient at its kept positions only, summed
// over the backpropagated rows of the batch (the packed rows of compact.wgsl) and added into the
// trainer's target, as the dense weight-gradient matmul (EPILOGUE 3 of matmul_common.wgsl) adds
// Aᵀ·dY: the seed's velocities, or the gradient sums another rule's update reads and clears:
//
//   for each kept position p = i·OUT + j:  v[p] = v[p] + Σ_{r < count} a[r, i] · g[r, j]
//
// adding row by row in ascending row order (the samples' order), starting from v[p].
// With SEED_STEP the seed's momentum step follows at the same position, as update.wgsl would
// run it after this kernel: w[p] += lr · v[p], then v[p] *= momentum. A pruned layer's update
// then needs no dispatch of its own, and no pass over its masked positions.
// The masked positions are not in the index and are left untouched (the trainer keeps them 0).
// Rows r ≥ count are never read, so count = 0 adds nothing and no indirect dispatch is needed:
// the work follows count inside the kernel.
//
// JS references: sparseWeightGradient in src/cpu/sparse-training.ts, then (SEED_STEP)
// maskedMomentumUpdate in src/cpu/ops.ts.
// Bindings (group 0):
//   0 a         array<f32>  [BATCH, IN]   read (rows below count): the layer's packed inputs
//   1 g         array<f32>  [BATCH, OUT]  read (rows below count): the packed output gradients
//   2 in_ptr    array<u32>  [IN + 1]      in_ptr[IN] = nnz, the kept weights
//   3 positions array<u32>  [nnz]         flat index i·OUT + j of each kept weight, ascending
//   4 count     array<u32>  [1]           read (the backpropagated rows, from compact_scan)
//   5 v         array<f32>  [IN, OUT]     read_write (only at kept positions)
//   6 w         array<f32>  [IN, OUT]     read_write with SEED_STEP (only at kept positions)
//   7 hyper     uniform { lr: f32, momentum: f32 }, read with SEED_STEP
// Workgroup: WG invocations, one kept position each (neighbours share i, and their g loads are
// adjacent). Dispatch: (⌈capacity / WG⌉, 1, 1) for an index of at most `capacity` positions; an
// invocation past nnz does nothing. BATCH, IN, OUT, SEED_STEP fix the shape; WG is the
// geometry, an override with no default: the host's descriptor SPARSE_TRAIN_WEIGHT_GRAD
// (src/gpu/sparse-training-kernels.ts) writes the number.

struct Hyper {
  lr: f32,
  momentum: f32,
}

override BATCH: u32;
override IN: u32;
override OUT: u32;
override SEED_STEP: bool = false;
override WG: u32;

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> in_ptr: array<u32>;
@group(0) @binding(3) var<storage, read> positions: array<u32>;
@group(0) @binding(4) var<storage, read> count: array<u32, 1>;
@group(0) @binding(5) var<storage, read_write> v: array<f32>;
@group(0) @binding(6) var<storage, read_write> w: array<f32>;
@group(0) @binding(7) var<uniform> hyper: Hyper;

@compute @workgroup_size(WG)
fn sparse_train_weight_grad(@builtin(global_invocation_id) gid: vec3u) {
  let k = gid.x;
  if (k >= in_ptr[IN]) { return; }
  let p = positions[k];
  // A layer with no outputs has no kept position; max keeps the division valid when OUT = 0.
  let i = p / max(OUT, 1u);
  let j = p - i * OUT;
  let rows = min(count[0], BATCH);
  var acc = v[p];
  var r = 0u;
  // Four rows per step: about 0.8× the time of one on lavapipe (less loop overhead per load).
  for (; r + 4u <= rows; r += 4u) {
    acc += a[r * IN + i] * g[r * OUT + j];
    acc += a[(r + 1u) * IN + i] * g[(r + 1u) * OUT + j];
    acc += a[(r + 2u) * IN + i] * g[(r + 2u) * OUT + j];
    acc += a[(r + 3u) * IN + i] * g[(r + 3u) * OUT + j];
  }
  for (; r < rows; r++) {
    acc += a[r * IN + i] * g[r * OUT + j];
  }
  if (SEED_STEP) {
    w[p] += hyper.lr * acc;
    v[p] = acc * hyper.momentum;
  } else {
    v[p] = acc;
  }
}
