/** Reading and writing network files for the CLI: format from content on read, from the extension on write. */
import { basename } from 'node:path';
import { detectAndParseModel, encodeModel, outputFormatForName, type OutputFormat } from '../format/model-file';
import type { SafetensorsLayout } from '../format/safetensors';
import type { Network } from '../model/network';
import type { CompactNetwork } from '../prune/structured';
import { readModelFile, writeFileAtomic } from '../node/files';

export async function loadModel(path: string): Promise<ReturnType<typeof detectAndParseModel>> {
  const bytes = await readModelFile(path);
  return detectAndParseModel(bytes, basename(path));
}

/**
 * The layer sizes a loaded network had before structured pruning removed neurons and inputs
 * (written by `prune` as `originalSizes`), else its own with whole samples in: what its kept
 * weights are counted against, as the training table counts them.
 */
export function sizesBeforePruning({ net, metadata, inputIndices, inputSize }: Awaited<ReturnType<typeof loadModel>>): number[] {
  const before = metadata.originalSizes?.split(',').map(Number);
  if (before && before.length === net.sizes.length && before.every((n) => Number.isInteger(n) && n > 0)) return before;
  return inputIndices ? [inputSize, ...net.sizes.slice(1)] : net.sizes;
}

export interface SaveOptions {
  /** safetensors only; default `auto`. */
  layout?: SafetensorsLayout;
  /** ONNX only: end with a Softmax. */
  softmax?: boolean;
}

/**
 * Writes `net` in the format its extension names: `.txt` the seed's text, `.onnx` ONNX, else
 * safetensors. A compact network is expanded back to whole samples where the format has no
 * place for the features it reads (see `encodeModel`).
 */
export async function saveModel(path: string, net: Network | CompactNetwork, metadata: Record<string, string>, options: SaveOptions = {}): Promise<OutputFormat> {
  const format = outputFormatForName(path);
  await writeFileAtomic(path, encodeModel(net, format, { layout: options.layout ?? 'auto', softmax: options.softmax, metadata }));
  return format;
}
