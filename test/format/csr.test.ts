import { describe, expect, it } from 'vitest';
import { csrProblem, fromCsrByOutput, toCsrByOutput } from '../../src/model/csr';

// A [3, 2] layer: input 0 → outputs 0, 1; input 1 → output 1; input 2 → nothing.
const weights = new Float32Array([0.5, -0.25, 0, 2, 0, 0]);
const mask = new Uint8Array([1, 1, 0, 1, 0, 0]);

describe('CSR by output neuron', () => {
  it('lists each output row with ascending input indices', () => {
    const csr = toCsrByOutput(weights, mask, 3, 2);
    expect(Array.from(csr.indptr)).toEqual([0, 1, 3]);
    expect(Array.from(csr.indices)).toEqual([0, 0, 1]);
    expect(Array.from(csr.values)).toEqual([0.5, -0.25, 2]);
    expect(csrProblem(csr, 3, 2)).toBeUndefined();
  });

  it('rebuilds the dense weights and mask, rows in any order', () => {
    const back = fromCsrByOutput(
      { indptr: new Int32Array([0, 1, 3]), indices: new Int32Array([0, 1, 0]), values: new Float32Array([0.5, 2, -0.25]) },
      3,
      2,
    );
    expect(back.weights).toEqual(weights);
    expect(back.mask).toEqual(mask);
  });

  it('keeps a kept weight of value 0', () => {
    const csr = toCsrByOutput(new Float32Array([0, 1]), new Uint8Array([1, 1]), 1, 2);
    expect(Array.from(csr.indptr)).toEqual([0, 1, 2]);
    expect(Array.from(fromCsrByOutput(csr, 1, 2).mask)).toEqual([1, 1]);
  });

  it('names what is wrong with a matrix', () => {
    const csr = (indptr: number[], indices: number[]) => ({
      indptr: new Int32Array(indptr),
      indices: new Int32Array(indices),
      values: new Float32Array(indices.length),
    });
    expect(csrProblem(csr([0, 1], [0]), 3, 2)).toBe('indptr has 2 entries, expected 3 (outputs + 1)');
    expect(csrProblem(csr([1, 1, 1], [0]), 3, 2)).toBe('indptr[0] is 1, expected 0');
    expect(csrProblem(csr([0, 2, 1], [0, 1]), 3, 2)).toBe('indptr decreases at row 1: 2 then 1');
    expect(csrProblem(csr([0, 1, 1], [0, 1]), 3, 2)).toBe('indptr ends at 1 but there are 2 indices');
    expect(csrProblem(csr([0, 1, 2], [0, 3]), 3, 2)).toBe('row 1 has input index 3, outside 0..2');
    expect(csrProblem(csr([0, 2, 2], [1, 1]), 3, 2)).toBe('row 0 lists input 1 twice');
    expect(csrProblem(csr([0, 1, 2], [1, 1]), 3, 2)).toBeUndefined();
  });
});
