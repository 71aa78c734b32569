/**
 * Deskewing (`--deskew`): each image is straightened and centred before the network sees it,
 * the preprocessing of the "deskewing" rows of LeCun's MNIST table. A slanted digit becomes an
 * upright one, so a small network spends no weights on slants. It is part of the network: a
 * network trained on deskewed images says so in its file (`DESKEW_METADATA`), and everything that
 * feeds it images (eval, the teacher of a distilled run, the browser app) deskews them first.
 *
 * From the pixel values as weights: the centre of mass (r̄, c̄), the row variance σ_rr and the
 * row-column covariance σ_rc give the slant α = σ_rc / σ_rr (columns per row). Output pixel
 * (r, c) is the input sampled bilinearly at row r − R + r̄ and column c − C + c̄ + α (r − R),
 * with (R, C) = (rows / 2, cols / 2), and 0 outside the image: the slant is sheared away about
 * the centre of mass, which lands on (R, C). A blank image stays blank.
 */
import { UserError } from '../util/errors';
import { imageShape, type Dataset } from './dataset';

/** The `__metadata__` entry of a network that reads deskewed images. */
export const DESKEW_METADATA: Readonly<Record<string, string>> = Object.freeze({ preprocess: 'deskew' });

/**
 * Whether a network file's metadata says that it reads deskewed images; `file` names it in the
 * error for a preprocessing this version does not know.
 */
export function readsDeskewed(metadata: Readonly<Record<string, string>>, file: string): boolean {
  const preprocess = metadata['preprocess'];
  if (preprocess === undefined) return false;
  if (preprocess === 'deskew') return true;
  throw new UserError(`${file} asks for input preprocessing "${preprocess}", which this version of webgpu-prune does not know (it knows "deskew")`);
}

/**
 * `image` ([rows, cols] row-major) deskewed into `out` ([rows, cols]; not `image`).
 */
export function deskewImage(image: Float32Array, rows: number, cols: number, out: Float32Array): void {
  let mass = 0;
  let rowSum = 0;
  let colSum = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = image[r * cols + c]!;
      mass += v;
      rowSum += r * v;
      colSum += c * v;
    }
  }
  if (mass === 0) {
    out.set(image);
    return;
  }
  const meanRow = rowSum / mass;
  const meanCol = colSum / mass;
  let rowVar = 0;
  let rowColCov = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = image[r * cols + c]!;
      rowVar += (r - meanRow) * (r - meanRow) * v;
      rowColCov += (r - meanRow) * (c - meanCol) * v;
    }
  }
  const slant = rowVar > 0 ? rowColCov / rowVar : 0;
  const centreRow = rows / 2;
  const centreCol = cols / 2;
  const at = (r: number, c: number): number => (r >= 0 && r < rows && c >= 0 && c < cols ? image[r * cols + c]! : 0);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const sourceRow = r - centreRow + meanRow;
      const sourceCol = c - centreCol + meanCol + slant * (r - centreRow);
      const r0 = Math.floor(sourceRow);
      const c0 = Math.floor(sourceCol);
      const fr = sourceRow - r0;
      const fc = sourceCol - c0;
      out[r * cols + c] = (1 - fr) * ((1 - fc) * at(r0, c0) + fc * at(r0, c0 + 1)) + fr * ((1 - fc) * at(r0 + 1, c0) + fc * at(r0 + 1, c0 + 1));
    }
  }
}

/** `data` with every image deskewed (a new inputs array); `what` names the option or file that asks. */
export function deskewDataset(data: Dataset, what: string): Dataset {
  const { rows, cols } = imageShape(data, `${what} deskews images`);
  const inputs = new Float32Array(data.count * data.features);
  for (let s = 0; s < data.count; s++) {
    const at = s * data.features;
    deskewImage(data.inputs.subarray(at, at + data.features), rows, cols, inputs.subarray(at, at + data.features));
  }
  return { ...data, source: `${data.source} (deskewed)`, inputs };
}
