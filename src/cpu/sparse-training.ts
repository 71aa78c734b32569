/**
 * Plain-loop references for the sparse training kernels (shaders/sparse_train_*.wgsl), written
 * from the math over the dense `[in, out]` weights and their 0/1 mask: a pruned layer's backward
 * pass reads and updates only the kept positions. The forward pass's reference is `csrForward`
 * (src/cpu/sparse-forward.ts) on `csrLayer(w, mask)`. Sums run in float64, in ascending order.
 */

/**
 * dx[r, i] = Σ_{j: mask[i, j] = 1} dy[r, j] · w[i, j] for the first `rows` rows, then the ReLU
 * derivative as `reluGradMask` (src/cpu/ops.ts) applies it: dx = 0 where !(a > 0), and a = 0
 * where it is NaN or ±Inf (in place). Returns dx `[rows, inSize]`.
 */
export function sparseInputGradient(
  dy: Float32Array, // [rows, outSize]
  w: Float32Array, // [inSize, outSize]
  mask: Uint8Array, // [inSize, outSize]
  a: Float32Array, // [rows, inSize]: the layer's input activations, cleared where not finite
  rows: number,
  inSize: number,
  outSize: number,
): Float32Array {
  const dx = new Float32Array(rows * inSize);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < inSize; i++) {
      let sum = 0;
      for (let j = 0; j < outSize; j++) if (mask[i * outSize + j] === 1) sum += dy[r * outSize + j]! * w[i * outSize + j]!;
      const at = r * inSize + i;
      const h = a[at]!;
      dx[at] = h > 0 ? sum : 0;
      if (!Number.isFinite(h)) a[at] = 0;
    }
  }
  return dx;
}

/**
 * v[i, j] += Σ_{r < count} a[r, i] · g[r, j] where mask[i, j] = 1, in place; the masked entries
 * are left as they are. Each sum starts from v[i, j] and adds the rows in order.
 */
export function sparseWeightGradient(
  a: Float32Array, // [≥ count, inSize]
  g: Float32Array, // [≥ count, outSize]
  mask: Uint8Array, // [inSize, outSize]
  v: Float32Array, // [inSize, outSize]
  count: number,
  inSize: number,
  outSize: number,
): void {
  for (let i = 0; i < inSize; i++) {
    for (let j = 0; j < outSize; j++) {
      const p = i * outSize + j;
      if (mask[p] !== 1) continue;
      let sum = v[p]!;
      for (let r = 0; r < count; r++) sum += a[r * inSize + i]! * g[r * outSize + j]!;
      v[p] = sum;
    }
  }
}
