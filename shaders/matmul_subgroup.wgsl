// matmul_v3: C[M,N] = op(A)·op(B) with the fused epilogues of matmul.wgsl (same bindings, same
// overrides, same meaning), for devices with the `subgroups` feature and a fixed subgroup size.
//
// On CPU-emulated adapters (lavapipe, SwiftShader) a matmul is bound by loads, and a storage
// load costs far more than a subgroup shuffle. So each invocation keeps a ROWS × COLS block of
// C in registers; per k step it loads its ROWS values of op(A) and only COLS / SG values of
// op(B): the subgroup's lanes load the COLS values of op(B)[k, ·] once between them and pass
// them around with subgroupShuffle.
//
// A k step whose op(A) values are 0 on every row of the subgroup is skipped (found with
// subgroupAll, so all lanes take the same branch): the seed skips zero activations, and in
// training most of them come in whole columns (an image's border pixels, a neuron that no sample
// of the rows activates). For a finite op(B) this changes nothing, as fma(0, b, acc) = acc; an
// infinite or NaN op(B)[k, ·] then adds nothing either, as in the seed's loops, where 0·∞ would
// make the sum NaN.
//
// Bindings (group 0), all row-major f32:
//   0 a    [M,K] or [K,M] (TRANS_A)   read
//   1 b    [K,N] or [N,K] (TRANS_B)   read
//   2 c    [M,N]                      read_write
//   3 aux  [M,N]                      read_write (EPILOGUE 2: h, 0 where not finite; EPILOGUE 3:
//                                     0/1 mask)
//   4 bias [N]                        read with HAS_BIAS (EPILOGUE 0 and 1 add bias[col] to the
//                                     sum, before the ReLU); any 4 bytes otherwise
//   5 k_count [1] u32                 read with K_FROM_COUNT: the sum runs over k < min(k_count[0],
//                                     K) only (see matmul.wgsl); any 4 bytes otherwise
// Workgroup: WG invocations (a multiple of SG). A workgroup computes rows [ROWS·WG·wid.y, +ROWS·WG)
// × columns [COLS·wid.x, +COLS); invocation `li` owns rows row0 + li + i·WG, i < ROWS.
// Dispatch (⌈N / COLS⌉, ⌈M / (ROWS·WG)⌉). SG must equal the device's subgroup size. The geometry
// (SG, WG, ROWS, COLS) is given with no default here: the host's kernel descriptor
// (src/gpu/kernels.ts, matmulV3) is where the numbers are written. Limits of the register arrays:
// ROWS ≤ MAX_ROWS, ROWS·COLS ≤ MAX_BLOCK, COLS a multiple of SG with COLS / SG ≤ MAX_LANE_B.
// JS references: matmul / matmulTransB / matmulTransA, addBias, relu, reluGradMask, accumulateVelocity
// in src/cpu/ops.ts.
enable subgroups;
// The zero skip below branches on subgroupAll, which is the same on every lane: the shuffles after
// it still see a full subgroup, though the analysis cannot tell.
diagnostic(off, subgroup_uniformity);

override M: u32;
override N: u32;
override K: u32;
override TRANS_A: bool = false;
override TRANS_B: bool = false;
override EPILOGUE: u32 = 0u;
override HAS_BIAS: bool = false;
override K_FROM_COUNT: bool = false;
override SG: u32;          // lanes per subgroup
override WG: u32;          // invocations per workgroup
override ROWS: u32;        // rows of C per invocation
override COLS: u32;        // columns of C per invocation (the same for the whole workgroup)

const MAX_ROWS = 4u;       // length of the op(A) register array
const MAX_BLOCK = 64u;     // accumulators per invocation: larger blocks spill on llvmpipe (BENCHMARKS.md)
const MAX_LANE_B = 8u;     // op(B) values each lane loads per k step

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<storage, read_write> aux: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read> k_count: array<u32>;

// NaN and ±Inf have every exponent bit set. Tested on the bits: WGSL lets a compiler assume that
// no float operation meets them, so a float comparison cannot be trusted to see one.
fn is_finite(x: f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u; }
fn is_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }

// ReLU that passes NaN on (max(NaN, 0) may be 0), as the JS reference does: an overflow must
// reach the logits, where it is detected.
fn relu(x: f32) -> f32 { return select(max(x, 0.0), x, is_nan(x)); }

// How many k the sum runs over: K, or with K_FROM_COUNT the count in binding 5 (at most K).
fn k_end() -> u32 {
  if (K_FROM_COUNT) { return min(k_count[0], K); }
  return K;
}

fn load_a(row: u32, k: u32) -> f32 {
  if (row >= M) { return 0.0; }
  if (TRANS_A) { return a[k * M + row]; }
  return a[row * K + k];
}

fn load_b(k: u32, col: u32) -> f32 {
  if (col >= N) { return 0.0; }
  if (TRANS_B) { return b[col * K + k]; }
  return b[k * N + col];
}

// The forward epilogues' sum: acc, plus the column's bias with HAS_BIAS.
fn with_bias(acc: f32, col: u32) -> f32 {
  if (HAS_BIAS) { return acc + bias[col]; }
  return acc;
}

fn store_c(row: u32, col: u32, acc: f32) {
  if (row >= M || col >= N) { return; }
  let i = row * N + col;
  switch (EPILOGUE) {
    case 1u: { c[i] = relu(with_bias(acc, col)); }
    case 2u: {
      let h = aux[i];
      c[i] = select(0.0, acc, h > 0.0);
      if (!is_finite(h)) { aux[i] = 0.0; }
    }
    case 3u: { c[i] = select(0.0, c[i] + acc, aux[i] != 0.0); }
    default: { c[i] = with_bias(acc, col); }
  }
}

@compute @workgroup_size(WG)
fn matmul_v3(@builtin(workgroup_id) wid: vec3u,
             @builtin(local_invocation_index) li: u32,
             @builtin(subgroup_invocation_id) lane: u32) {
  let row0 = wid.y * ROWS * WG + li;
  let col0 = wid.x * COLS;
  var acc: array<f32, MAX_BLOCK>;   // acc[i·COLS + j] = C[row0 + i·WG, col0 + j]
  // Every lane of a subgroup runs the same k steps (no early exit; a skip is the whole subgroup's)
  // so the shuffles see a full subgroup.
  let k_stop = k_end();
  for (var k = 0u; k < k_stop; k++) {
    var av: array<f32, MAX_ROWS>;
    var zero = true;
    for (var i = 0u; i < ROWS; i++) {
      av[i] = load_a(row0 + i * WG, k);
      zero = zero && av[i] == 0.0;
    }
    if (subgroupAll(zero)) { continue; }
    var lane_b: array<f32, MAX_LANE_B>;   // lane_b[q] = op(B)[k, col0 + q·SG + lane]
    for (var q = 0u; q < COLS / SG; q++) {
      lane_b[q] = load_b(k, col0 + q * SG + lane);
    }
    for (var j = 0u; j < COLS; j++) {
      let bj = subgroupShuffle(lane_b[j / SG], j % SG);
      for (var i = 0u; i < ROWS; i++) {
        acc[i * COLS + j] = fma(av[i], bj, acc[i * COLS + j]);
      }
    }
  }
  for (var i = 0u; i < ROWS; i++) {
    for (var j = 0u; j < COLS; j++) {
      store_c(row0 + i * WG, col0 + j, acc[i * COLS + j]);
    }
  }
}
