/**
 * Compressed sparse rows by OUTPUT neuron: the transpose of the network's `[in, out]` layout.
 * Row o lists the inputs that feed output o, so a sparse forward pass computes each output as
 * one gather-and-sum over its row, with no write conflicts between outputs.
 *
 *   indptr  `[outSize + 1]`  row o is `indices/values[indptr[o] .. indptr[o + 1])`; indptr[0] = 0
 *   indices `[nnz]`          input neuron of each kept weight, ascending within a row
 *   values  `[nnz]`          the weight
 *
 * A kept weight is one whose mask is 1, even if its value is 0.
 */
export interface CsrByOutput {
  indptr: Int32Array;
  indices: Int32Array;
  values: Float32Array;
}

/**
 * Where the kept weights of a row-major `[inSize, outSize]` layer go in CSR by output neuron:
 * `indptr` and `indices` as in `CsrByOutput`, and `positions[k]` = i·outSize + o, the flat index
 * in the layer of entry k.
 */
export function csrIndexByOutput(mask: Uint8Array, inSize: number, outSize: number): { indptr: Int32Array; indices: Int32Array; positions: Int32Array } {
  const indptr = new Int32Array(outSize + 1);
  for (let i = 0; i < inSize; i++) {
    for (let o = 0; o < outSize; o++) if (mask[i * outSize + o] === 1) indptr[o + 1]!++;
  }
  for (let o = 0; o < outSize; o++) indptr[o + 1]! += indptr[o]!;
  const nnz = indptr[outSize]!;
  const indices = new Int32Array(nnz);
  const positions = new Int32Array(nnz);
  const next = indptr.slice(0, outSize);
  // Walking inputs in ascending order fills every row in ascending input order.
  for (let i = 0; i < inSize; i++) {
    for (let o = 0; o < outSize; o++) {
      if (mask[i * outSize + o] !== 1) continue;
      const k = next[o]!++;
      indices[k] = i;
      positions[k] = i * outSize + o;
    }
  }
  return { indptr, indices, positions };
}

/** The kept weights of a row-major `[inSize, outSize]` layer as CSR by output neuron. */
export function toCsrByOutput(weights: Float32Array, mask: Uint8Array, inSize: number, outSize: number): CsrByOutput {
  const { indptr, indices, positions } = csrIndexByOutput(mask, inSize, outSize);
  return { indptr, indices, values: Float32Array.from(positions, (p) => weights[p]!) };
}

/**
 * The dense `[inSize, outSize]` weights and mask of a CSR-by-output layer; absent weights are 0
 * with mask 0. The matrix must be valid (see `csrProblem`); row order within a row is free.
 */
export function fromCsrByOutput(
  csr: CsrByOutput,
  inSize: number,
  outSize: number,
): { weights: Float32Array; mask: Uint8Array } {
  const weights = new Float32Array(inSize * outSize);
  const mask = new Uint8Array(inSize * outSize);
  for (let o = 0; o < outSize; o++) {
    for (let k = csr.indptr[o]!; k < csr.indptr[o + 1]!; k++) {
      const at = csr.indices[k]! * outSize + o;
      weights[at] = csr.values[k]!;
      mask[at] = 1;
    }
  }
  return { weights, mask };
}

/**
 * What is wrong with a CSR-by-output matrix for an `[inSize, outSize]` layer, or undefined when
 * it is valid: array lengths, indptr starting at 0, non-decreasing and ending at nnz, indices in
 * `[0, inSize)`, no input twice in a row.
 */
export function csrProblem(csr: CsrByOutput, inSize: number, outSize: number): string | undefined {
  const { indptr, indices, values } = csr;
  if (indptr.length !== outSize + 1) return `indptr has ${indptr.length} entries, expected ${outSize + 1} (outputs + 1)`;
  if (indices.length !== values.length) return `${indices.length} indices but ${values.length} values`;
  if (indptr[0] !== 0) return `indptr[0] is ${indptr[0]}, expected 0`;
  for (let o = 0; o < outSize; o++) {
    if (indptr[o + 1]! < indptr[o]!) return `indptr decreases at row ${o}: ${indptr[o]} then ${indptr[o + 1]}`;
  }
  if (indptr[outSize] !== indices.length) {
    return `indptr ends at ${indptr[outSize]} but there are ${indices.length} indices`;
  }
  const lastRowSeen = new Int32Array(inSize).fill(-1);
  for (let o = 0; o < outSize; o++) {
    for (let k = indptr[o]!; k < indptr[o + 1]!; k++) {
      const i = indices[k]!;
      if (i < 0 || i >= inSize) return `row ${o} has input index ${i}, outside 0..${inSize - 1}`;
      if (lastRowSeen[i] === o) return `row ${o} lists input ${i} twice`;
      lastRowSeen[i] = o;
    }
  }
  return undefined;
}
