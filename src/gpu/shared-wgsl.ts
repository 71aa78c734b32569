/**
 * The WGSL that several kernels share, appended to their sources (after their own directives,
 * such as `enable subgroups`, which must open a module): shaders/numerics.wgsl (is_finite,
 * is_nan, the ReLU that passes NaN on) and shaders/sparse_common.wgsl (the CSR forward kernels'
 * shape uniform and their store of a finished output).
 */
import numericsSource from '../../shaders/numerics.wgsl';
import sparseCommonSource from '../../shaders/sparse_common.wgsl';

/** `source` with the shared float tests and ReLU. */
export function withNumerics(source: string): string {
  return `${source}\n${numericsSource}`;
}

/** A CSR forward kernel's `source` with its shape uniform and store, the float tests and ReLU. */
export function withSparseCommon(source: string): string {
  return withNumerics(`${source}\n${sparseCommonSource}`);
}
