// numerics: the float tests and the ReLU that the kernels share. No bindings, no entry point: the
// host appends it to each source that uses them (src/gpu/kernels.ts: the matmul versions and
// softmax_grad; sparse-kernels.ts, sparse-unrolled.ts, sparse-training-kernels.ts), after the
// source's own directives.
// JS references: allFinite and forwardSample in src/cpu/forward.ts (a value ≤ 0 passes nothing
// on; a NaN, which is not ≤ 0, passes on).

// NaN and ±Inf have every exponent bit set, a NaN a nonzero mantissa too. Tested on the bits:
// WGSL lets a compiler assume that no float operation meets them, so a float comparison cannot be
// trusted to see one.
fn is_finite(x: f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u; }
fn is_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }

// ReLU that passes NaN on (max(NaN, 0) may be 0), as the JS reference does: an overflow must
// reach the logits, where it is detected.
fn relu(x: f32) -> f32 { return select(max(x, 0.0), x, is_nan(x)); }
