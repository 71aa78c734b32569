/** Small inputs the data and format tests build from scratch. */
import { initNetwork, type Network } from '../../src/model/network';
import { pruneByThreshold } from '../../src/prune/unstructured';

/** An IDX file: big-endian magic, one u32 per dimension, then the data bytes. */
export function idxFile(magic: number, dims: number[], data: number[]): Uint8Array {
  const bytes = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, magic, false);
  dims.forEach((d, k) => view.setUint32(4 + 4 * k, d, false));
  bytes.set(data, 4 + 4 * dims.length);
  return bytes;
}

/** The seed's network pruned the seed's way: drop every weight with w² < threshold. */
export function prunedNetwork(sizes: number[], seed: number, threshold: number): Network {
  const net = initNetwork(sizes, seed);
  pruneByThreshold(net, threshold);
  return net;
}
