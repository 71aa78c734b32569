// Compaction of a training batch: the samples that are backpropagated packed into a prefix, so the
// backward pass runs over `count` rows instead of BATCH. Two entry points, dispatched in order
// after softmax_grad has written one flag per sample:
//
// compact_scan: one workgroup of WG invocations. Invocation i owns the samples
//   [i·PER, (i+1)·PER), PER = ⌈BATCH / WG⌉: it counts their flags, a workgroup-wide exclusive
//   prefix sum over those counts gives where its samples go, and it writes them there in order.
//   Result: samples[0 … count) = the indices s with flags[s] ≠ 0, ascending; count[0] = how many.
//   samples[count …) is left as it was.
//   With the count known, the workgroup also writes the workgroup counts of the dispatches that
//   run over the packed rows, for dispatchWorkgroupsIndirect (in the same dispatch: each indirect
//   or direct dispatch more costs Dawn and the driver a dispatch of their own). Entry e of
//   `table` is (x, rows_per_wg):
//     args[e] = (x, ⌈count / rows_per_wg⌉, 1)
//   so a matmul whose M is the batch runs the row tiles that hold the packed rows, and none when
//   no sample is backpropagated.
//   Bindings (group 0):
//     0 flags    [BATCH] u32           read (1: backpropagate, 0: skip)
//     1 samples  [BATCH] u32           write
//     2 count    [1] u32               write
//     3 table    [ENTRIES, 2] u32      read
//     4 args     [ENTRIES, 3] u32      write (the indirect buffer)
//   Dispatch 1 workgroup.
//
// gather_rows: up to three matrices m at once (an indirect dispatch costs Dawn a dispatch of its
//   own): dst_m row r = src_m row samples[r] for r < count, 0 for r ≥ count (so the rows of the
//   last row tile past the count hold zeros, not an earlier batch's values). The matrices' columns
//   lie side by side in the dispatch, matrix 0's first. A workgroup of WG invocations covers WG
//   of those columns over ROWS rows; dispatched indirectly with fewer row workgroups, it writes
//   only their rows.
//   Bindings (group 0):
//     0 samples  [BATCH] u32           read
//     1 count    [1] u32               read
//     2 src0     [BATCH, WIDTH0] f32   read
//     3 dst0     [BATCH, WIDTH0] f32   write
//     4 src1, 5 dst1, 6 src2, 7 dst2   likewise with WIDTH1, WIDTH2 (any 4 bytes where it is 0)
//   Dispatch (⌈(WIDTH0 + WIDTH1 + WIDTH2) / WG⌉, ⌈BATCH / ROWS⌉) or fewer rows of workgroups.
//
// BATCH, ENTRIES, WIDTH0 … WIDTH2 fix the shape; WG and ROWS are the geometry, both overrides with no
// default: the host's descriptors (src/gpu/compact-kernels.ts) write the numbers.
// JS references: compactSamples then indirectArgs (compact_scan), gatherRows in src/cpu/compact.ts.

override BATCH: u32;
override ENTRIES: u32;
override WG: u32;

@group(0) @binding(0) var<storage, read> scan_flags: array<u32>;
@group(0) @binding(1) var<storage, read_write> scan_samples: array<u32>;
@group(0) @binding(2) var<storage, read_write> scan_count: array<u32, 1>;
@group(0) @binding(3) var<storage, read> table: array<vec2u>;
@group(0) @binding(4) var<storage, read_write> args: array<u32>;

var<workgroup> partial: array<u32, WG>;

@compute @workgroup_size(WG)
fn compact_scan(@builtin(local_invocation_index) li: u32) {
  let per = (BATCH + WG - 1u) / WG;
  let first = min(li * per, BATCH);
  let last = min(first + per, BATCH);
  var mine = 0u;
  for (var s = first; s < last; s++) { mine += select(0u, 1u, scan_flags[s] != 0u); }
  partial[li] = mine;
  workgroupBarrier();
  // Hillis–Steele inclusive scan over the WG counts.
  for (var step = 1u; step < WG; step *= 2u) {
    var add = 0u;
    if (li >= step) { add = partial[li - step]; }
    workgroupBarrier();
    partial[li] += add;
    workgroupBarrier();
  }
  var at = partial[li] - mine;
  for (var s = first; s < last; s++) {
    if (scan_flags[s] != 0u) {
      scan_samples[at] = s;
      at++;
    }
  }
  let count = partial[WG - 1u];
  if (li == WG - 1u) { scan_count[0] = count; }
  for (var e = li; e < ENTRIES; e += WG) {
    let entry = table[e];
    args[3u * e] = entry.x;
    args[3u * e + 1u] = (count + entry.y - 1u) / entry.y;
    args[3u * e + 2u] = 1u;
  }
}

override WIDTH0: u32;
override WIDTH1: u32 = 0u;
override WIDTH2: u32 = 0u;
override ROWS: u32;

@group(0) @binding(0) var<storage, read> gather_samples: array<u32>;
@group(0) @binding(1) var<storage, read> gather_count: array<u32, 1>;
@group(0) @binding(2) var<storage, read> src0: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst0: array<f32>;
@group(0) @binding(4) var<storage, read> src1: array<f32>;
@group(0) @binding(5) var<storage, read_write> dst1: array<f32>;
@group(0) @binding(6) var<storage, read> src2: array<f32>;
@group(0) @binding(7) var<storage, read_write> dst2: array<f32>;

@compute @workgroup_size(WG)
fn gather_rows(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let col = gid.x;
  if (col >= WIDTH0 + WIDTH1 + WIDTH2) { return; }
  let count = gather_count[0];
  let first = wid.y * ROWS;
  let last = min(first + ROWS, BATCH);
  for (var r = first; r < last; r++) {
    // A row past the count writes 0; its samples entry is stale, so it reads source row 0 instead.
    let live = r < count;
    let source = select(0u, gather_samples[r], live);
    if (col < WIDTH0) {
      dst0[r * WIDTH0 + col] = select(0.0, src0[source * WIDTH0 + col], live);
    } else if (col < WIDTH0 + WIDTH1) {
      let c = col - WIDTH0;
      dst1[r * WIDTH1 + c] = select(0.0, src1[source * WIDTH1 + c], live);
    } else {
      let c = col - WIDTH0 - WIDTH1;
      dst2[r * WIDTH2 + c] = select(0.0, src2[source * WIDTH2 + c], live);
    }
  }
}
