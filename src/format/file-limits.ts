/**
 * How large a network a file may declare for its size. Networks are held dense (a float32
 * weight and a mask byte for every possible weight), but files store them sparse: an empty row
 * costs a line ending in the seed's text and four bytes of CSR row pointers, however long the
 * row. Without a bound, a file of a few bytes declaring huge layers would make the reader
 * allocate gigabytes. Real files stay far inside it: the seed's 784-100-100-10 with every weight
 * pruned declares 22 weights per byte of its text, a trained one less than one.
 */
import { totalWeights, validateSizes } from '../model/network';
import { grouped } from '../util/format';

export const WEIGHTS_PER_FILE_BYTE = 256;

/** Networks up to this many weights are accepted from a file of any size. */
export const WEIGHTS_ANY_FILE_MAY_DECLARE = 1 << 20;

/** The most weights a file of `fileBytes` bytes may declare. */
export function maxWeightsForFile(fileBytes: number): number {
  return Math.max(WEIGHTS_ANY_FILE_MAY_DECLARE, WEIGHTS_PER_FILE_BYTE * fileBytes);
}

/** What is wrong with layer sizes read from a file of `fileBytes` bytes, or undefined when they may be allocated. */
export function declaredSizesProblem(sizes: readonly number[], fileBytes: number): string | undefined {
  try {
    validateSizes(sizes);
  } catch (error) {
    return (error as Error).message;
  }
  const total = totalWeights(sizes);
  if (total <= maxWeightsForFile(fileBytes)) return undefined;
  return (
    `layer sizes ${sizes.join('-')} make ${grouped(total)} weights, more than a ${grouped(fileBytes)}-byte file can ` +
    `describe (the limit is ${WEIGHTS_PER_FILE_BYTE} weights per byte, at least ${grouped(WEIGHTS_ANY_FILE_MAY_DECLARE)})`
  );
}
