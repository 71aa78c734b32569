/**
 * Networks with one layer pruned empty: a valid network that predicts a constant. With no biases
 * nothing crosses an empty layer, so every logit is 0 and every prediction class 0.
 */
import { initNetwork, type Network } from '../../src/model/network';

/** `initNetwork(sizes, seed)` with every weight of layer `empty` pruned. */
export function networkWithEmptyLayer(sizes: number[], empty: number, seed: number): Network {
  const net = initNetwork(sizes, seed);
  net.weights[empty]!.fill(0);
  net.masks[empty]!.fill(0);
  return net;
}

/** Which layer is empty, in words, for test names. */
export function emptyLayerName(empty: number, layers: number): string {
  return empty === 0 ? 'first' : empty === layers - 1 ? 'last' : 'middle';
}
