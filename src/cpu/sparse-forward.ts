/**
 * The JS reference for batched inference, sparse and dense, in plain loops. The kernels of
 * `shaders/sparse_*.wgsl` are checked against these functions; dense layers use `matmul` and
 * `relu` of src/cpu/ops.ts, the references of the dense kernels.
 *
 * Sums run in float64 over the inputs in ascending order, as `matmul` does, so the sparse and
 * dense references give the same bits on the same pruned network: a pruned weight only ever
 * adds an exact zero (while the activations are finite: 0 · ∞ is NaN). A layer's bias is added to
 * its sum rounded to float32, in both, so they still agree bit for bit.
 */
import { toCsrByOutput } from '../model/csr';
import type { Network } from '../model/network';
import { gatherInputs, type CompactNetwork } from '../prune/structured';
import { inferenceOf, type Inference } from './forward';
import { matmul, relu as reluInPlace } from './ops';

/** One layer as CSR by output neuron: row o lists the inputs feeding output o, ascending. */
export interface CsrLayer {
  inSize: number;
  outSize: number;
  /** `[outSize + 1]`: row o is `indptr[o] .. indptr[o + 1]`. */
  indptr: Int32Array;
  /** `[nnz]`: input index of each kept weight. */
  indices: Int32Array;
  /** `[nnz]`: the weight. */
  values: Float32Array;
  /** `[outSize]`: added to each output's sum; absent without biases. */
  bias?: Float32Array;
}

/** CSR by output of a dense `[inSize, outSize]` layer, keeping the weights whose mask is 1 (and its `[outSize]` bias, if any). */
export function csrLayer(weights: Float32Array, mask: Uint8Array, inSize: number, outSize: number, bias?: Float32Array): CsrLayer {
  const layer: CsrLayer = { inSize, outSize, ...toCsrByOutput(weights, mask, inSize, outSize) };
  if (bias) layer.bias = bias;
  return layer;
}

/** Every layer of `net` as CSR by output. */
export function csrLayers(net: Network): CsrLayer[] {
  return net.weights.map((w, l) => csrLayer(w, net.masks[l]!, net.sizes[l]!, net.sizes[l + 1]!, net.biases?.[l]));
}

/**
 * y[s, o] = Σ_{k in row o} values[k] · x[s, indices[k]] (+ bias[o]), then ReLU when `relu` (see `relu` in ops.ts).
 * x `[batch, inSize]`, returns y `[batch, outSize]`.
 */
export function csrForward(layer: CsrLayer, x: Float32Array, batch: number, relu: boolean): Float32Array {
  const { inSize, outSize, indptr, indices, values, bias } = layer;
  const y = new Float32Array(batch * outSize);
  for (let s = 0; s < batch; s++) {
    const row = s * inSize;
    for (let o = 0; o < outSize; o++) {
      let acc = 0;
      for (let k = indptr[o]!; k < indptr[o + 1]!; k++) acc += values[k]! * x[row + indices[k]!]!;
      if (bias) acc = Math.fround(Math.fround(acc) + bias[o]!);
      y[s * outSize + o] = relu && acc <= 0 ? 0 : acc;
    }
  }
  return y;
}

/**
 * y[s, o] = Σ_i x[s, i] · w[i, o] (+ bias[o]), then ReLU when `relu`.
 * x `[batch, inSize]`, w `[inSize, outSize]`, bias `[outSize]`, returns y `[batch, outSize]`.
 */
function denseForward(w: Float32Array, x: Float32Array, batch: number, inSize: number, outSize: number, relu: boolean, bias?: Float32Array): Float32Array {
  const y = new Float32Array(batch * outSize);
  matmul(x, w, y, batch, inSize, outSize);
  if (bias) for (let i = 0; i < y.length; i++) y[i] += bias[i % outSize]!;
  if (relu) reluInPlace(y);
  return y;
}

/** out[f, s] = x[s, f]: `[rows, cols]` → `[cols, rows]`, the reference of shaders/sparse_transpose.wgsl. */
export function transpose(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = x[r * cols + c]!;
  return out;
}

/** Whole-network inference through CSR layers: ReLU on every layer but the last. inputs `[count, layers[0].inSize]`. */
export function sparseInfer(layers: readonly CsrLayer[], inputs: Float32Array, count: number): Inference {
  let x = inputs;
  layers.forEach((layer, l) => (x = csrForward(layer, x, count, l + 1 < layers.length)));
  return inferenceOf(x, count, layers[layers.length - 1]!.outSize);
}

/** Whole-network dense inference (pruned weights are zeros): ReLU on every layer but the last. inputs `[count, sizes[0]]`. */
export function denseInfer(net: Network, inputs: Float32Array, count: number): Inference {
  let x = inputs;
  const layers = net.weights.length;
  for (let l = 0; l < layers; l++) x = denseForward(net.weights[l]!, x, count, net.sizes[l]!, net.sizes[l + 1]!, l + 1 < layers, net.biases?.[l]);
  return inferenceOf(x, count, net.sizes[layers]!);
}

/** Inference of a compact network on the original input features `[count, inputSize]`, dense or through CSR layers. */
export function compactInfer(compact: CompactNetwork, inputs: Float32Array, count: number, sparse = false): Inference {
  const kept = gatherInputs(inputs, count, compact.inputSize, compact.inputIndices);
  return sparse ? sparseInfer(csrLayers(compact.net), kept, count) : denseInfer(compact.net, kept, count);
}
