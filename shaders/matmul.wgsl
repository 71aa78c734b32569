// Dense matmul in the three shapes of training, with an optional fused epilogue.
//
//   C[M,N] = op(A)·op(B)        op(A) = A [M,K], or Aᵀ with A stored [K,M] (TRANS_A)
//                               op(B) = B [K,N], or Bᵀ with B stored [N,K] (TRANS_B)
//   forward      X·W     TRANS_A = false, TRANS_B = false
//   back-prop    dY·Wᵀ   TRANS_B = true
//   weight grad  Xᵀ·dY   TRANS_A = true
//
// Bindings, the epilogues and K_FROM_COUNT: shaders/matmul_common.wgsl, which the host appends to
// this file. Each version's geometry (V1_*, V2_*, V4_*) is given with no default here: the
// host's kernel descriptors (src/gpu/kernels.ts) are where the numbers are written.
// JS references: matmul / matmulTransB / matmulTransA in src/cpu/ops.ts (the epilogues':
// matmul_common.wgsl).
//
// matmul_v1: one invocation per element of C, workgroup V1_WG × V1_WG, dispatch
//   (⌈N / V1_WG⌉, ⌈M / V1_WG⌉).
// matmul_v2: a tile of T × T elements of C, T = 8·V2_WG, per workgroup of V2_WG × V2_WG
//   invocations, 8×8 outputs per invocation, K in steps of V2_TK through workgroup memory
//   (2·V2_TK·T·4 bytes); dispatch (⌈N / T⌉, ⌈M / T⌉). V2_TK·T/4 must be a multiple of V2_WG².
// matmul_v4: for few rows of C (small batches): a workgroup of V4_WG invocations computes
//   V4_ROWS (≤ 4) rows × 4·V4_WG columns; invocation li owns columns col0 … col0 + 3,
//   col0 = 4·(V4_WG·wid.x + li), of rows V4_ROWS·wid.y …, so a k step costs one op(A) load per
//   live row and 4 op(B) loads for up to 4·V4_ROWS products (v1: 2 loads per product); dispatch
//   (⌈N / (4·V4_WG)⌉, ⌈M / V4_ROWS⌉).

// op(A)[row, k], 0 outside the matrix and from k_stop on.
fn load_a(row: u32, k: u32, k_stop: u32) -> f32 {
  if (row >= M || k >= k_stop) { return 0.0; }
  if (TRANS_A) { return a[k * M + row]; }
  return a[row * K + k];
}

// op(B)[k, col], 0 outside the matrix and from k_stop on.
fn load_b(k: u32, col: u32, k_stop: u32) -> f32 {
  if (k >= k_stop || col >= N) { return 0.0; }
  if (TRANS_B) { return b[col * K + k]; }
  return b[k * N + col];
}

// ---- v1: naive, the second reference ----

override V1_WG: u32;               // invocations per side of the workgroup

@compute @workgroup_size(V1_WG, V1_WG)
fn matmul_v1(@builtin(global_invocation_id) gid: vec3u) {
  let row = gid.y;
  let col = gid.x;
  if (row >= M || col >= N) { return; }
  let k_stop = k_end();
  var acc = 0.0;
  for (var k = 0u; k < k_stop; k++) {
    acc += load_a(row, k, k_stop) * load_b(k, col, k_stop);
  }
  store_c(row, col, acc);
}

// ---- v2: workgroup-tiled, 8×8 register block ----

override V2_WG: u32;                       // invocations per side of the workgroup
override V2_TK: u32;                       // K per step through workgroup memory
override V2_TILE: u32 = 8u * V2_WG;        // rows and columns of C per workgroup: 8 per invocation
override V2_VECS: u32 = V2_TILE / 4u;      // vec4s across one k of a tile
override V2_TILE_VECS: u32 = V2_TK * V2_VECS;         // vec4s of one workgroup tile
override V2_LOADS: u32 = V2_TILE_VECS / (V2_WG * V2_WG);  // vec4s each invocation stages per tile and step

// tile_a[k·V2_VECS + r/4][r%4] = op(A)[row0 + r, k0 + k], tile_b[k·V2_VECS + c/4][c%4] = op(B)[k0 + k, col0 + c].
// With the descriptor's 16 and 8: 2 · 8 · 128 · 4 bytes = 8 KiB, within the 16 KiB every WebGPU device has.
var<workgroup> tile_a: array<vec4f, V2_TILE_VECS>;
var<workgroup> tile_b: array<vec4f, V2_TILE_VECS>;

@compute @workgroup_size(V2_WG, V2_WG)
fn matmul_v2(@builtin(workgroup_id) wid: vec3u,
             @builtin(local_invocation_id) lid: vec3u,
             @builtin(local_invocation_index) li: u32) {
  let row0 = wid.y * V2_TILE;
  let col0 = wid.x * V2_TILE;
  // Invocation (x, y) owns rows 4y + i + (V2_TILE / 2)·h and columns 4x + j + (V2_TILE / 2)·g
  // (h, g < 2; i, j < 4) in acc[(4h + i)·2 + g][j]: two 4-wide groups half a tile apart, so each
  // k step reads the tiles as 4 whole vec4s.
  var acc: array<vec4f, 16>;
  let k_stop = k_end();
  for (var k0 = 0u; k0 < k_stop; k0 += V2_TK) {
    // Each invocation stages whole vec4s (4 rows of op(A), 4 columns of op(B) at one k): no
    // per-component stores into workgroup memory. Lanes walk memory contiguously: along k for a
    // row-major op(A) or a transposed op(B), along rows / columns otherwise.
    for (var e = 0u; e < V2_LOADS; e++) {
      let v = li + e * V2_WG * V2_WG;
      let ka = select(v % V2_TK, v / V2_VECS, TRANS_A);
      let ra = 4u * select(v / V2_TK, v % V2_VECS, TRANS_A);
      tile_a[ka * V2_VECS + ra / 4u] = vec4f(load_a(row0 + ra, k0 + ka, k_stop),
                                             load_a(row0 + ra + 1u, k0 + ka, k_stop),
                                             load_a(row0 + ra + 2u, k0 + ka, k_stop),
                                             load_a(row0 + ra + 3u, k0 + ka, k_stop));
      let kb = select(v / V2_VECS, v % V2_TK, TRANS_B);
      let cb = 4u * select(v % V2_VECS, v / V2_TK, TRANS_B);
      tile_b[kb * V2_VECS + cb / 4u] = vec4f(load_b(k0 + kb, col0 + cb, k_stop),
                                             load_b(k0 + kb, col0 + cb + 1u, k_stop),
                                             load_b(k0 + kb, col0 + cb + 2u, k_stop),
                                             load_b(k0 + kb, col0 + cb + 3u, k_stop));
    }
    workgroupBarrier();
    for (var k = 0u; k < V2_TK; k++) {
      let a0 = tile_a[k * V2_VECS + lid.y];
      let a1 = tile_a[k * V2_VECS + V2_WG + lid.y];
      let b0 = tile_b[k * V2_VECS + lid.x];
      let b1 = tile_b[k * V2_VECS + V2_WG + lid.x];
      for (var i = 0u; i < 4u; i++) {
        acc[2u * i] = fma(vec4f(a0[i]), b0, acc[2u * i]);
        acc[2u * i + 1u] = fma(vec4f(a0[i]), b1, acc[2u * i + 1u]);
        acc[8u + 2u * i] = fma(vec4f(a1[i]), b0, acc[8u + 2u * i]);
        acc[8u + 2u * i + 1u] = fma(vec4f(a1[i]), b1, acc[8u + 2u * i + 1u]);
      }
    }
    workgroupBarrier();
  }
  // One loop over a copy of the block (matmul_common.wgsl, "Storing a register block"); e walks
  // (h, i, g, j) with j fastest.
  let block = acc;
  for (var e = 0u; e < 64u; e++) {
    let j = e % 4u;
    let g = (e / 4u) % 2u;
    let i = (e / 8u) % 4u;
    let h = e / 32u;
    store_c(row0 + 4u * lid.y + i + h * V2_TILE / 2u, col0 + 4u * lid.x + j + g * V2_TILE / 2u, block[(4u * h + i) * 2u + g][j]);
  }
}

// ---- v4: few rows (GEMV-like), V4_ROWS rows × 4 adjacent columns per invocation ----

override V4_WG: u32;          // invocations per workgroup, along the columns
override V4_ROWS: u32;        // rows of C per workgroup (and per invocation), at most V4_MAX_ROWS
const V4_MAX_ROWS = 4u;       // the length of the accumulator array
const V4_COLS = 4u;           // adjacent columns of C per invocation: one vec4

// No workgroup memory and no barrier: with so few rows there is nothing to share between
// invocations but op(A)'s row values, and a barrier per K step cost more than those loads on
// lavapipe (BENCHMARKS.md). Adjacent columns let the lanes of a subgroup read whole cache lines
// of op(B) at each k.
@compute @workgroup_size(V4_WG)
fn matmul_v4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let row0 = wid.y * V4_ROWS;
  let col0 = (wid.x * V4_WG + li) * V4_COLS;
  var acc: array<vec4f, V4_MAX_ROWS>;   // acc[i][j] = C[row0 + i, col0 + j], i < V4_ROWS
  let k_stop = k_end();
  if (col0 < N) {
    for (var k = 0u; k < k_stop; k++) {
      let bv = vec4f(load_b(k, col0, k_stop), load_b(k, col0 + 1u, k_stop),
                     load_b(k, col0 + 2u, k_stop), load_b(k, col0 + 3u, k_stop));
      for (var i = 0u; i < V4_ROWS; i++) {
        acc[i] = fma(vec4f(load_a(row0 + i, k, k_stop)), bv, acc[i]);
      }
    }
  }
  // One loop over a copy of the block (matmul_common.wgsl, "Storing a register block").
  let block = acc;
  for (var e = 0u; e < V4_ROWS * V4_COLS; e++) {
    store_c(row0 + e / V4_COLS, col0 + e % V4_COLS, block[e / V4_COLS][e % V4_COLS]);
  }
}
