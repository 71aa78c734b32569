// matmul_v3: C[M,N] = op(A)·op(B) as in matmul.wgsl, for devices with the `subgroups` feature
// and a fixed subgroup size. Its shape, bindings and epilogues are matmul_common.wgsl's, which
// the host appends to this file (after the directives below).
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
// Workgroup: WG invocations (a multiple of SG). A workgroup computes rows [ROWS·WG·wid.y, +ROWS·WG)
// × columns [COLS·wid.x, +COLS); invocation `li` owns rows row0 + li + i·WG, i < ROWS.
// Dispatch (⌈N / COLS⌉, ⌈M / (ROWS·WG)⌉). SG must equal the device's subgroup size. The geometry
// (SG, WG, ROWS, COLS) is given with no default here: the host's kernel descriptor
// (src/gpu/kernels.ts, matmulV3) is where the numbers are written. Limits of the register arrays:
// ROWS ≤ MAX_ROWS, ROWS·COLS ≤ MAX_BLOCK, COLS a multiple of SG with COLS / SG ≤ MAX_LANE_B.
// JS references: matmul / matmulTransB / matmulTransA in src/cpu/ops.ts (the epilogues':
// matmul_common.wgsl).
enable subgroups;
// The zero skip below branches on subgroupAll, which is the same on every lane: the shuffles after
// it still see a full subgroup, though the analysis cannot tell.
diagnostic(off, subgroup_uniformity);

override SG: u32;          // lanes per subgroup
override WG: u32;          // invocations per workgroup
override ROWS: u32;        // rows of C per invocation
override COLS: u32;        // columns of C per invocation (the same for the whole workgroup)

const MAX_ROWS = 4u;       // length of the op(A) register array
const MAX_BLOCK = 64u;     // accumulators per invocation: larger blocks spill on llvmpipe (BENCHMARKS.md)
const MAX_LANE_B = 8u;     // op(B) values each lane loads per k step

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
  // One loop over a copy of the block, not two over the registers: see "Storing a register block"
  // in matmul_common.wgsl.
  let block = acc;
  for (var e = 0u; e < ROWS * COLS; e++) {
    store_c(row0 + (e / COLS) * WG, col0 + e % COLS, block[e]);
  }
}
