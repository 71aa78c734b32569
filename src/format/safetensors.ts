/**
 * Networks as safetensors (see safetensors-file.ts for the container). Python reads our files
 * with `safetensors.numpy.load_file`.
 *
 * Our layout, per layer l, one of
 *   dense: `layers.{l}.weight` F32 [in, out], plus `layers.{l}.mask` U8 [in, out] (1 = kept)
 *          when any weight of the layer is pruned;
 *   CSR by output neuron (see src/model/csr.ts): `layers.{l}.indptr` I32 [out + 1],
 *          `layers.{l}.indices` I32 [nnz] (input neuron), `layers.{l}.values` F32 [nnz];
 * and, for a network with biases, `layers.{l}.bias` F32 [out] beside either (every layer has
 * one or none does: a file without bias tensors is a network without biases).
 * `__metadata__` holds `format: "webgpu-prune"`, `sizes: "784,100,100,10"` and whatever the
 * caller adds (recipe, sparsity, scores), all strings as the format requires.
 *
 * A compact network (src/prune/structured.ts), whose first layer reads only some features of a
 * sample, adds `inputs.indices` I32 [sizes[0]]: the feature each input reads, ascending, each
 * below `__metadata__.inputSize` (the features of a whole sample). `layers.0` then has
 * `sizes[0]` rows, one per kept feature.
 *
 * The `torch` layout is PyTorch's instead (torch-layout.ts): written on request, recognised on
 * read by its tensor names.
 */
import { csrProblem, fromCsrByOutput, toCsrByOutput } from '../model/csr';
import type { Network } from '../model/network';
import { asCompact, expandInputs, type CompactNetwork } from '../prune/structured';
import { declaredSizesProblem } from './file-limits';
import {
  checkFinite,
  encodeSafetensorsFile,
  expectTensor,
  parseSafetensorsFile,
  readMetadata,
  type Fail,
  type TensorEntry,
  type TensorToWrite,
} from './safetensors-file';
import { decodeTorchLayout, isTorchLayout, torchLayoutTensors, TORCH_FORMAT_NAME } from './torch-layout';

export type { TensorToWrite } from './safetensors-file';

/** `dense`, `csr` and `auto` are our layout (`auto`: CSR for a layer with under half its weights kept). */
export type SafetensorsLayout = 'dense' | 'csr' | 'auto' | 'torch';

export interface EncodeSafetensorsOptions {
  /** Default `auto`. */
  layout?: SafetensorsLayout;
  /** Extra `__metadata__` entries; `format`, `sizes` and `inputSize` are ours. */
  metadata?: Record<string, string>;
  /** State that travels with the network (a checkpoint's velocities): names start with `train.`; not in the torch layout. */
  trainingTensors?: TensorToWrite[];
}

export interface DecodedSafetensors extends CompactNetwork {
  metadata: Record<string, string>;
  /** The `train.*` tensors, by name (empty for a plain network file). */
  trainingTensors: Map<string, Float32Array | Int32Array | Uint8Array>;
  /** Which naming the file uses. */
  layout: 'webgpu-prune' | 'torch';
}

/** Tensors under this prefix are training state beside the network, not part of it. */
export const TRAINING_TENSOR_PREFIX = 'train.';

export const SAFETENSORS_FORMAT_NAME = 'webgpu-prune';

/** The original features each input of a compact network reads. */
export const INPUT_INDICES_TENSOR = 'inputs.indices';

/** `__metadata__` entries the format writes itself. */
export const RESERVED_METADATA_KEYS: readonly string[] = ['format', 'sizes', 'inputSize'];

/** Writes a network, or a compact network with the features it reads (the torch layout expands it back to whole samples). */
export function encodeSafetensors(model: Network | CompactNetwork, options: EncodeSafetensorsOptions = {}): Uint8Array {
  const layout = options.layout ?? 'auto';
  const extra = options.metadata ?? {};
  for (const reserved of RESERVED_METADATA_KEYS) {
    if (reserved in extra) throw new Error(`metadata key "${reserved}" is reserved for the file format`);
  }
  const trainingTensors = options.trainingTensors ?? [];
  if (layout === 'torch') {
    if (trainingTensors.length > 0) throw new Error('the torch layout holds the network alone, no training tensors');
    // PyTorch's own files say `format: pt`; the sizes are in the shapes.
    return encodeSafetensorsFile({ format: TORCH_FORMAT_NAME, ...extra }, torchLayoutTensors(expandInputs(model)));
  }
  const { net, inputIndices, inputSize } = asCompact(model);
  const tensors: TensorToWrite[] = [];
  for (const t of trainingTensors) {
    if (!t.name.startsWith(TRAINING_TENSOR_PREFIX)) throw new Error(`training tensor ${t.name} must be named ${TRAINING_TENSOR_PREFIX}*`);
    tensors.push(t);
  }
  net.weights.forEach((weights, l) => {
    const inSize = net.sizes[l]!;
    const outSize = net.sizes[l + 1]!;
    const mask = net.masks[l]!;
    let kept = 0;
    for (let k = 0; k < mask.length; k++) kept += mask[k]!;
    const csr = layout === 'csr' || (layout === 'auto' && kept * 2 < mask.length);
    if (csr) {
      const { indptr, indices, values } = toCsrByOutput(weights, mask, inSize, outSize);
      tensors.push({ name: `layers.${l}.indptr`, dtype: 'I32', shape: [outSize + 1], data: indptr });
      tensors.push({ name: `layers.${l}.indices`, dtype: 'I32', shape: [indices.length], data: indices });
      tensors.push({ name: `layers.${l}.values`, dtype: 'F32', shape: [values.length], data: values });
    } else {
      tensors.push({ name: `layers.${l}.weight`, dtype: 'F32', shape: [inSize, outSize], data: weights });
      if (kept < mask.length) tensors.push({ name: `layers.${l}.mask`, dtype: 'U8', shape: [inSize, outSize], data: mask });
    }
    const bias = net.biases?.[l];
    if (bias) tensors.push({ name: `layers.${l}.bias`, dtype: 'F32', shape: [outSize], data: bias });
  });
  const metadata: Record<string, string> = { format: SAFETENSORS_FORMAT_NAME, sizes: net.sizes.join(',') };
  if (inputIndices) {
    tensors.push({ name: INPUT_INDICES_TENSOR, dtype: 'I32', shape: [inputIndices.length], data: inputIndices });
    metadata['inputSize'] = String(inputSize);
  }
  return encodeSafetensorsFile({ ...metadata, ...extra }, tensors);
}

/**
 * Reads and checks a network file: ours (written by `encodeSafetensors`, or by Python in the same
 * layout) or PyTorch's `nn.Sequential` state dict, told apart by the tensor names.
 */
export function decodeSafetensors(bytes: Uint8Array, fileName: string): DecodedSafetensors {
  const file = parseSafetensorsFile(bytes, fileName);
  const { tensors, fail, read } = file;
  if (isTorchLayout(tensors.keys())) {
    const { net, metadata } = decodeTorchLayout(file);
    return { net, metadata, inputIndices: null, inputSize: net.sizes[0]!, trainingTensors: new Map(), layout: 'torch' };
  }

  if (file.metadata === undefined) {
    fail('safetensors header has no __metadata__ and no tensor named like 0.weight; it is neither a webgpu-prune network nor an nn.Sequential state dict');
  }
  const metadata = readMetadata(file.metadata, fail);
  const sizes = readSizes(metadata, file.fileBytes, fail);

  // Every tensor is checked against the sizes before anything is allocated.
  const layers = sizes.slice(1).map((outSize, l) => planLayer(l, sizes[l]!, outSize, tensors, sizes, fail));
  const biased = layers.findIndex((layer) => layer.bias);
  if (biased >= 0) {
    const missing = layers.findIndex((layer) => !layer.bias);
    if (missing >= 0) fail(`layer ${missing} has no layers.${missing}.bias but layer ${biased} has layers.${biased}.bias; a network has a bias for every layer or for none`);
  }
  const inputs = planInputs(metadata, sizes, tensors, file.fileBytes, fail);
  const used = new Set(layers.flatMap((layer) => Object.values(layer).map((t: TensorEntry) => t.name)));
  if (inputs.indices) used.add(inputs.indices.name);
  for (const name of tensors.keys()) {
    if (!used.has(name) && !name.startsWith(TRAINING_TENSOR_PREFIX)) fail(`unexpected tensor ${name} for sizes ${sizes.join(',')}`);
  }

  const net: Network = { sizes, weights: [], masks: [] };
  layers.forEach((layer, l) => {
    const inSize = sizes[l]!;
    const outSize = sizes[l + 1]!;
    if ('weight' in layer) {
      const weights = read(layer.weight) as Float32Array;
      checkFinite(weights, layer.weight.name, fail);
      const mask = layer.mask ? (read(layer.mask) as Uint8Array) : new Uint8Array(weights.length).fill(1);
      if (layer.mask) {
        const bad = mask.findIndex((m) => m > 1);
        if (bad >= 0) fail(`tensor ${layer.mask.name} has value ${mask[bad]} at element ${bad}; a mask holds 0 or 1`);
        // A weight edited under a 0 in the mask stays pruned: the mask is the truth.
        for (let k = 0; k < mask.length; k++) if (mask[k] === 0) weights[k] = 0;
      }
      net.weights.push(weights);
      net.masks.push(mask);
    } else {
      const csr = {
        indptr: read(layer.indptr) as Int32Array,
        indices: read(layer.indices) as Int32Array,
        values: read(layer.values) as Float32Array,
      };
      const problem = csrProblem(csr, inSize, outSize);
      if (problem) fail(`layer ${l} CSR tensors ${layer.indptr.name}/${layer.indices.name}: ${problem}`);
      checkFinite(csr.values, layer.values.name, fail);
      const { weights, mask } = fromCsrByOutput(csr, inSize, outSize);
      net.weights.push(weights);
      net.masks.push(mask);
    }
  });
  if (biased >= 0) {
    net.biases = layers.map(({ bias }) => {
      const values = read(bias!) as Float32Array;
      checkFinite(values, bias!.name, fail);
      return values;
    });
  }
  const inputIndices = inputs.indices ? (read(inputs.indices) as Int32Array) : null;
  if (inputIndices) {
    const problem = inputIndicesProblem(inputIndices, inputs.size);
    if (problem) fail(`tensor ${INPUT_INDICES_TENSOR}: ${problem}`);
  }
  const trainingTensors = new Map<string, Float32Array | Int32Array | Uint8Array>();
  for (const [name, t] of tensors) if (!used.has(name)) trainingTensors.set(name, read(t));
  return { net, inputIndices, inputSize: inputs.size, metadata, trainingTensors, layout: 'webgpu-prune' };
}

/**
 * The features of a whole sample and, for a compact network, its `inputs.indices` tensor
 * (checked for dtype and shape; the values are checked once read). The two go together.
 */
function planInputs(
  metadata: Record<string, string>,
  sizes: number[],
  tensors: Map<string, TensorEntry>,
  fileBytes: number,
  fail: Fail,
): { size: number; indices: TensorEntry | null } {
  const text = metadata['inputSize'];
  const entry = tensors.get(INPUT_INDICES_TENSOR);
  if (!entry) {
    if (text !== undefined) fail(`__metadata__ has inputSize "${text}" but no ${INPUT_INDICES_TENSOR} tensor to say which features the ${sizes[0]} inputs read`);
    return { size: sizes[0]!, indices: null };
  }
  if (text === undefined) fail(`tensor ${INPUT_INDICES_TENSOR} needs the __metadata__ entry inputSize (the features of a whole sample)`);
  if (!/^\d+$/.test(text!)) fail(`__metadata__ inputSize "${text}" is not a whole number`);
  const size = Number(text);
  if (size < sizes[0]!) fail(`__metadata__ inputSize ${size} is smaller than the ${sizes[0]} inputs of the first layer`);
  // The network expanded back to whole samples must be one a file of this size may declare.
  const problem = declaredSizesProblem([size, ...sizes.slice(1)], fileBytes);
  if (problem) fail(`__metadata__ inputSize ${size}: ${problem}`);
  const indices = expectTensor(entry, 'I32', [sizes[0]!], fail, ` (one feature per input of sizes ${sizes.join(',')})`);
  return { size, indices };
}

/** What is wrong with the features a compact network reads, or undefined: ascending, unique, each in [0, inputSize). */
export function inputIndicesProblem(indices: Int32Array, inputSize: number): string | undefined {
  for (let k = 0; k < indices.length; k++) {
    const feature = indices[k]!;
    if (feature < 0 || feature >= inputSize) return `element ${k} is ${feature}, outside the ${inputSize} features of a sample`;
    if (k > 0 && feature <= indices[k - 1]!) {
      return `element ${k} is ${feature} after ${indices[k - 1]}; the features must be ascending and each listed once`;
    }
  }
  return undefined;
}

type LayerTensors = ({ weight: TensorEntry; mask?: TensorEntry } | { indptr: TensorEntry; indices: TensorEntry; values: TensorEntry }) & { bias?: TensorEntry };

/** The tensors of layer l, each checked for its dtype and the shape the sizes imply. */
function planLayer(
  l: number,
  inSize: number,
  outSize: number,
  tensors: Map<string, TensorEntry>,
  sizes: number[],
  fail: Fail,
): LayerTensors {
  const expect = (name: string, dtype: 'F32' | 'I32' | 'U8', shape: number[]): TensorEntry =>
    expectTensor(tensors.get(name)!, dtype, shape, fail, ` for sizes ${sizes.join(',')}`);
  const names = {
    weight: `layers.${l}.weight`,
    mask: `layers.${l}.mask`,
    indptr: `layers.${l}.indptr`,
    indices: `layers.${l}.indices`,
    values: `layers.${l}.values`,
    bias: `layers.${l}.bias`,
  };
  const dense = tensors.has(names.weight);
  const csrNames = [names.indptr, names.indices, names.values];
  const csrPresent = csrNames.filter((n) => tensors.has(n));
  if (dense && csrPresent.length > 0) fail(`layer ${l} has both ${names.weight} and ${csrPresent[0]}`);
  if (!dense && csrPresent.length === 0) {
    fail(`layer ${l} has no weights: expected ${names.weight} or ${csrNames.join(', ')}`);
  }
  const bias = tensors.has(names.bias) ? { bias: expect(names.bias, 'F32', [outSize]) } : {};
  if (dense) {
    const weight = expect(names.weight, 'F32', [inSize, outSize]);
    return tensors.has(names.mask) ? { weight, mask: expect(names.mask, 'U8', [inSize, outSize]), ...bias } : { weight, ...bias };
  }
  const missing = csrNames.find((n) => !tensors.has(n));
  if (missing) fail(`layer ${l} is CSR but ${missing} is missing`);
  const nnz = tensors.get(names.indices)!.shape[0] ?? -1;
  return {
    indptr: expect(names.indptr, 'I32', [outSize + 1]),
    indices: expect(names.indices, 'I32', [nnz]),
    values: expect(names.values, 'F32', [nnz]),
    ...bias,
  };
}

function readSizes(metadata: Record<string, string>, fileBytes: number, fail: Fail): number[] {
  const text = metadata['sizes'];
  if (text === undefined) fail('__metadata__ has no "sizes" entry; it is not a webgpu-prune network');
  const fields = text!.split(',');
  if (!fields.every((f) => /^\d+$/.test(f))) fail(`__metadata__ sizes "${text}" is not a list like 784,100,100,10`);
  const sizes = fields.map(Number);
  const problem = declaredSizesProblem(sizes, fileBytes);
  if (problem) fail(`__metadata__ sizes "${text}": ${problem}`);
  return sizes;
}
