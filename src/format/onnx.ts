/**
 * Export to ONNX (https://onnx.ai), for ONNX Runtime (web, Node, Python) and everything else
 * that reads it. The graph is the forward pass of our reference: per layer a Gemm of the
 * activations with the layer's [in, out] float32 weights (an initializer) plus, for a network
 * with biases, its [out] bias (Gemm's C input, broadcast over the batch), Relu on the hidden
 * layers, the last layer's output as logits; optionally a final Softmax. One input, `input`
 * [batch, inputs] float32, and one output, `logits` (or `probabilities` with the Softmax)
 * [batch, classes], the batch dimension left free.
 *
 * Pruned weights are exported as zeros in dense matrices (ONNX's standard operators have no
 * sparse matmul); a structurally compacted network is exported at its compact shape. A compact
 * network that reads only some features still takes whole samples: a Gather of those features
 * (int64 initializer `inputs.indices`) on axis 1 comes first.
 *
 * The protobuf encoding is onnx-proto's (ONNX's own .proto compiled by protobufjs).
 */
import onnxProto, { type onnx } from 'onnx-proto';
import type { Network } from '../model/network';
import { asCompact, type CompactNetwork } from '../prune/structured';

const { AttributeProto, ModelProto, TensorProto } = onnxProto.onnx;

/** Opset 13: Softmax over one axis (earlier opsets flatten the trailing axes). */
const OPSET = 13;
/** The IR version that goes with opset 13. */
const IR_VERSION = 7;

export const ONNX_INPUT = 'input';
export const ONNX_LOGITS = 'logits';
export const ONNX_PROBABILITIES = 'probabilities';

export interface EncodeOnnxOptions {
  /** End with a Softmax: the output is `probabilities` instead of `logits`. */
  softmax?: boolean;
  /** Strings for the model's `metadata_props` (the recipe, the scores). */
  metadata?: Record<string, string>;
}

export function encodeOnnx(network: Network | CompactNetwork, options: EncodeOnnxOptions = {}): Uint8Array {
  const { net, inputIndices, inputSize } = asCompact(network);
  const { sizes } = net;
  const layers = sizes.length - 1;
  const initializer: onnx.ITensorProto[] = net.weights.map((weights, l) => ({
    name: `layers.${l}.weight`,
    dims: [sizes[l]!, sizes[l + 1]!],
    dataType: TensorProto.DataType.FLOAT,
    rawData: littleEndianFloats(weights),
  }));
  net.biases?.forEach((bias, l) => {
    initializer.push({ name: `layers.${l}.bias`, dims: [bias.length], dataType: TensorProto.DataType.FLOAT, rawData: littleEndianFloats(bias) });
  });
  const node: onnx.INodeProto[] = [];
  let activation = ONNX_INPUT;
  if (inputIndices) {
    initializer.push({ name: 'inputs.indices', dims: [inputIndices.length], dataType: TensorProto.DataType.INT64, rawData: littleEndianInt64s(inputIndices) });
    activation = 'inputs.gathered';
    node.push({
      name: 'inputs.gather',
      opType: 'Gather',
      input: [ONNX_INPUT, 'inputs.indices'],
      output: [activation],
      attribute: [{ name: 'axis', type: AttributeProto.AttributeType.INT, i: 1 }],
    });
  }
  for (let l = 0; l < layers; l++) {
    const last = l === layers - 1;
    const linear = last ? ONNX_LOGITS : `layers.${l}.linear`;
    const bias = net.biases ? [`layers.${l}.bias`] : [];
    node.push({ name: `layers.${l}.gemm`, opType: 'Gemm', input: [activation, `layers.${l}.weight`, ...bias], output: [linear] });
    activation = linear;
    if (!last) {
      activation = `layers.${l}.relu`;
      node.push({ name: activation, opType: 'Relu', input: [linear], output: [activation] });
    }
  }
  if (options.softmax) {
    node.push({
      name: 'softmax',
      opType: 'Softmax',
      input: [ONNX_LOGITS],
      output: [ONNX_PROBABILITIES],
      attribute: [{ name: 'axis', type: AttributeProto.AttributeType.INT, i: 1 }],
    });
  }
  const model = ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'webgpu-prune',
    docString: `${sizes.join('-')} fully connected network${net.biases ? ' with biases' : ''}${inputIndices ? ` reading ${sizes[0]} of ${inputSize} input features (Gather)` : ''}: ` +
      `Gemm and Relu per hidden layer, ${options.softmax ? 'softmax probabilities' : 'logits'} out`,
    metadataProps: Object.entries({ sizes: sizes.join(','), ...options.metadata }).map(([key, value]) => ({ key, value })),
    graph: {
      name: 'webgpu-prune',
      node,
      initializer,
      input: [batchOf(ONNX_INPUT, inputSize)],
      output: [batchOf(options.softmax ? ONNX_PROBABILITIES : ONNX_LOGITS, sizes[layers]!)],
    },
  });
  return ModelProto.encode(model).finish();
}

/** A float32 [batch, width] value with a free batch dimension. */
function batchOf(name: string, width: number): onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: TensorProto.DataType.FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: width }] } } },
  };
}

/** int64 raw_data, little-endian like the floats. */
function littleEndianInt64s(values: Int32Array): Uint8Array {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  for (let k = 0; k < values.length; k++) view.setBigInt64(8 * k, BigInt(values[k]!), true);
  return bytes;
}

/** ONNX's raw_data is little-endian whatever the machine. */
function littleEndianFloats(values: Float32Array): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let k = 0; k < values.length; k++) view.setFloat32(4 * k, values[k]!, true);
  return bytes;
}
