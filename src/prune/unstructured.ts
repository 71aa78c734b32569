/**
 * Unstructured (single-weight) magnitude pruning. Every pass only removes: a weight that is
 * already pruned stays pruned. The optimizer state of removed weights is the trainer's to zero
 * (`Trainer.setMasks`).
 */
import { keptTotal, keptWeights, totalWeights, type Network } from '../model/network';

export interface PruneResult {
  /** Kept weights per layer after the pass. */
  kept: number[];
  /** Weights removed by this pass, per layer. */
  removed: number[];
}

function removeWhere(net: Network, drop: (l: number, k: number) => boolean): PruneResult {
  const kept: number[] = [];
  const removed: number[] = [];
  net.weights.forEach((w, l) => {
    const mask = net.masks[l]!;
    let count = 0;
    for (let k = 0; k < w.length; k++) {
      if (mask[k] === 1 && drop(l, k)) {
        mask[k] = 0;
        w[k] = 0;
        count++;
      }
    }
    removed.push(count);
    kept.push(keptWeights(mask));
  });
  return { kept, removed };
}

/** The seed's rule: drop every weight with w² < threshold. */
export function pruneByThreshold(net: Network, threshold: number): PruneResult {
  return removeWhere(net, (l, k) => net.weights[l]![k]! * net.weights[l]![k]! < threshold);
}

export type SparsityScope = 'global' | 'layer';

/**
 * Keeps the `round((1 − sparsity) · total)` largest |w| and drops the rest. `sparsity` is one
 * fraction for the whole network (`scope: 'global'`, one ranking across layers) or per layer
 * (`scope: 'layer'`, or an array with one fraction per layer, e.g. a denser output layer).
 * Ties at the cut are broken by position, so the result is deterministic.
 */
export function pruneToSparsity(
  net: Network,
  sparsity: number | readonly number[],
  scope: SparsityScope = 'global',
): PruneResult {
  const layers = net.weights.length;
  const perLayer = typeof sparsity === 'number' ? new Array<number>(layers).fill(sparsity) : [...sparsity];
  if (perLayer.length !== layers) throw new Error(`need one sparsity per layer (${layers}), got ${perLayer.length}`);
  for (const s of perLayer) {
    if (!(s >= 0 && s <= 1)) throw new Error(`sparsity must be in [0, 1], got ${s}`);
  }
  const dropped = net.weights.map((w) => new Uint8Array(w.length));
  // Marks the live weights of `groups` past the `keep` largest |w|: the smallest first, ties in
  // (layer, position) order. A numeric sort of the magnitudes finds the cut (no object per weight:
  // a 4096² layer has 16.7 M), then one pass in that order marks them.
  const markSmallest = (groups: number[], fraction: number): void => {
    const total = groups.reduce((n, l) => n + net.weights[l]!.length, 0);
    // |w| of a float32 is a float32: exact in this array.
    const all = new Float32Array(total);
    let live = 0;
    for (const l of groups) {
      const w = net.weights[l]!;
      const mask = net.masks[l]!;
      for (let k = 0; k < w.length; k++) if (mask[k] === 1) all[live++] = Math.abs(w[k]!);
    }
    const drop = live - Math.round((1 - fraction) * total);
    if (drop <= 0) return;
    const magnitudes = all.subarray(0, live).sort();
    const cut = magnitudes[drop - 1]!;
    let atCut = drop - magnitudes.findIndex((m) => m >= cut);
    for (const l of groups) {
      const w = net.weights[l]!;
      const mask = net.masks[l]!;
      for (let k = 0; k < w.length; k++) {
        const m = Math.abs(w[k]!);
        if (mask[k] === 1 && (m < cut || (m === cut && atCut-- > 0))) dropped[l]![k] = 1;
      }
    }
  };
  if (typeof sparsity === 'number' && scope === 'global') markSmallest([...net.weights.keys()], sparsity);
  else perLayer.forEach((s, l) => markSmallest([l], s));
  return removeWhere(net, (l, k) => dropped[l]![k] === 1);
}

export function sparsityOf(net: Network): number {
  const total = totalWeights(net.sizes);
  return total === 0 ? 0 : 1 - keptTotal(net) / total;
}
