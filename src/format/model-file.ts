/**
 * One entry point for network files: the format is recognised from the content, so a file
 * keeps working whatever it is named. ONNX is written, not read.
 */
import type { Network } from '../model/network';
import { asCompact, expandInputs, type CompactNetwork } from '../prune/structured';
import { UserError } from '../util/errors';
import { encodeOnnx } from './onnx';
import { decodeSafetensors, encodeSafetensors, type SafetensorsLayout } from './safetensors';
import { formatSeedText, parseSeedText, refuseBiasesInSeedText } from './seed-text';

/** The formats read. */
export type ModelFormat = 'seed-text' | 'safetensors';

/** The formats written. */
export type OutputFormat = ModelFormat | 'onnx';

/**
 * A network as read. `inputIndices` is set for a compact network (safetensors only): its first
 * layer reads those features of a whole sample of `inputSize`.
 */
export interface ParsedModel extends CompactNetwork {
  /** safetensors `__metadata__`; empty for the seed's text format, which has none. */
  metadata: Record<string, string>;
  format: ModelFormat;
  /** safetensors only: our tensor names or PyTorch's `nn.Sequential` ones. */
  layout?: 'webgpu-prune' | 'torch';
}

export interface EncodeModelOptions {
  /** safetensors only. */
  layout?: SafetensorsLayout;
  /** safetensors and ONNX; the seed's text format has no room for it. */
  metadata?: Record<string, string>;
  /** seed text only; default CRLF as in the seed's files. */
  lineEnding?: '\r\n' | '\n';
  /** ONNX only: end the graph with a Softmax. */
  softmax?: boolean;
}

/**
 * safetensors starts with an 8-byte header length and then `{`; the seed's text format starts
 * with the layer sizes (digits and commas), possibly after a UTF-8 byte order mark.
 */
export function detectModelFormat(bytes: Uint8Array): ModelFormat | undefined {
  if (bytes.length >= 9 && bytes[8] === 0x7b) return 'safetensors';
  const start = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const first = bytes[start];
  if (first !== undefined && first >= 0x30 && first <= 0x39) return 'seed-text';
  return undefined;
}

/** An ONNX model opens with its `ir_version` field: protobuf field 1, a varint (tag byte 0x08). */
function looksLikeOnnx(bytes: Uint8Array): boolean {
  return bytes[0] === 0x08;
}

export function detectAndParseModel(bytes: Uint8Array, fileName: string): ParsedModel {
  const format = detectModelFormat(bytes);
  if (format === 'safetensors') return { ...decodeSafetensors(bytes, fileName), format };
  if (format === 'seed-text') {
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new UserError(`${fileName}: looks like the seed's text format but is not valid UTF-8 text`);
    }
    const net = parseSeedText(text, fileName);
    return { net, inputIndices: null, inputSize: net.sizes[0]!, metadata: {}, format };
  }
  if (looksLikeOnnx(bytes)) {
    throw new UserError(`${fileName}: looks like an ONNX model; ONNX is written (convert --out model.onnx), not read: give the safetensors or seed text file it came from`);
  }
  throw new UserError(
    `${fileName}: not a network file: neither safetensors (8-byte header length, then "{") ` +
      `nor the seed's text format (first line the layer sizes, like 784,100,100,10)`,
  );
}

/** The format written to a file of this name: `.txt` is the seed's text, `.onnx` ONNX, anything else safetensors. */
export function outputFormatForName(name: string): OutputFormat {
  const lower = name.toLowerCase();
  if (lower.endsWith('.txt')) return 'seed-text';
  if (lower.endsWith('.onnx')) return 'onnx';
  return 'safetensors';
}

/**
 * A compact network keeps reading only its features in safetensors (our layout) and ONNX; the
 * seed's text and the torch layout have no place for that and get the network expanded back to
 * whole samples, the unread features' weights pruned. The seed's text has no place for biases
 * or for metadata either: a network with biases, or one whose metadata says its inputs are
 * preprocessed (`preprocess`, e.g. deskewed), is refused there (a `UserError`).
 */
export function encodeModel(model: Network | CompactNetwork, format: OutputFormat, options: EncodeModelOptions = {}): Uint8Array {
  if (format === 'safetensors') return encodeSafetensors(model, { layout: options.layout, metadata: options.metadata });
  if (format === 'onnx') return encodeOnnx(model, { softmax: options.softmax, metadata: options.metadata });
  // On the network as given, whatever expanding it to whole samples carries over.
  refuseBiasesInSeedText(asCompact(model).net);
  const preprocess = options.metadata?.['preprocess'];
  if (preprocess !== undefined) throw new UserError(`the network reads images preprocessed by "${preprocess}", which the seed's text format cannot record; save as .safetensors`);
  const lineEnding = options.lineEnding;
  return new TextEncoder().encode(formatSeedText(expandInputs(model), lineEnding ? { lineEnding } : {}));
}
