/** Reading and writing network files for the CLI: format from content on read, from the extension on write. */
import { basename } from 'node:path';
import { detectAndParseModel, encodeModel } from '../format/model-file';
import type { Network } from '../model/network';
import { readModelFile, writeFileAtomic } from '../node/files';

export type Layout = 'auto' | 'dense' | 'csr';

export async function loadModel(path: string): Promise<ReturnType<typeof detectAndParseModel>> {
  const bytes = await readModelFile(path);
  return detectAndParseModel(bytes, basename(path));
}

/** `.txt` is the seed's text format; everything else is safetensors. */
export function formatForPath(path: string): 'seed-text' | 'safetensors' {
  return path.toLowerCase().endsWith('.txt') ? 'seed-text' : 'safetensors';
}

export async function saveModel(path: string, net: Network, metadata: Record<string, string>, layout: Layout = 'auto'): Promise<string> {
  const format = formatForPath(path);
  await writeFileAtomic(path, encodeModel(net, format, { layout, metadata }));
  return format;
}
