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
 * What a pass ranks the kept weights by.
 * - `magnitude`: |w| (Zhu & Gupta; the seed's threshold is a cut on it too).
 * - `lookahead` (Park et al. 2020, "Lookahead: a far-sighted alternative of magnitude-based
 *   pruning"): |w| times the L2 norm of what feeds the neuron the weight reads (the weights into
 *   it, and its bias) and times the L2 norm of the weights out of the neuron it feeds; 1 at the
 *   network's inputs and outputs. It ranks a weight by the two-layer paths through it, so a weight
 *   whose neurons have nothing left on the far side (it can no longer change the output) ranks
 *   last. README.md, "Ranking by lookahead", has what it gave.
 */
export type PruneScore = 'magnitude' | 'lookahead';

/** A sparsity pass's rule as the logs name it: "global sparsity 0.9", "layer lookahead sparsity 0.99,0.98,0.9". */
export function sparsityRule(sparsity: string, scope: SparsityScope, score: PruneScore = 'magnitude'): string {
  return `${scope}${score === 'magnitude' ? '' : ` ${score}`} sparsity ${sparsity}`;
}

/** Each layer's score of every weight ([in, out] as its weights), by `score`; pruned weights score 0. */
export function weightScores(net: Network, score: PruneScore): Float32Array[] {
  if (score === 'magnitude') return net.weights.map((w) => w.map(Math.abs));
  const layers = net.weights.length;
  // into[n]: ‖weights into neuron n of layer boundary l, and its bias‖; outOf[n]: ‖weights out of it‖ (pruned weights are 0).
  const into = net.sizes.map((size) => new Float64Array(size));
  const outOf = net.sizes.map((size) => new Float64Array(size));
  net.weights.forEach((w, l) => {
    const outputs = net.sizes[l + 1]!;
    for (let k = 0; k < w.length; k++) {
      const square = w[k]! * w[k]!;
      into[l + 1]![k % outputs] += square;
      outOf[l]![Math.floor(k / outputs)] += square;
    }
    net.biases?.[l]!.forEach((b, o) => (into[l + 1]![o] += b * b));
  });
  const norm = (sums: Float64Array, atEdge: boolean): Float64Array => (atEdge ? sums.fill(1) : sums.map(Math.sqrt));
  return net.weights.map((w, l) => {
    const before = norm(into[l]!, l === 0);
    const after = norm(outOf[l + 1]!, l + 1 === layers);
    const outputs = net.sizes[l + 1]!;
    return w.map((v, k) => Math.abs(v) * before[Math.floor(k / outputs)]! * after[k % outputs]!);
  });
}

/**
 * Keeps the `round((1 − sparsity) · total)` largest scores (`score`: |w| by default) and drops the
 * rest. `sparsity` is one fraction for the whole network (`scope: 'global'`, one ranking across
 * layers) or per layer (`scope: 'layer'`, or an array with one fraction per layer, e.g. a denser
 * output layer). Ties at the cut are broken by position, so the result is deterministic.
 */
export function pruneToSparsity(
  net: Network,
  sparsity: number | readonly number[],
  scope: SparsityScope = 'global',
  score: PruneScore = 'magnitude',
): PruneResult {
  const layers = net.weights.length;
  const perLayer = typeof sparsity === 'number' ? new Array<number>(layers).fill(sparsity) : [...sparsity];
  if (perLayer.length !== layers) throw new Error(`need one sparsity per layer (${layers}), got ${perLayer.length}`);
  for (const s of perLayer) {
    if (!(s >= 0 && s <= 1)) throw new Error(`sparsity must be in [0, 1], got ${s}`);
  }
  const dropped = net.weights.map((w) => new Uint8Array(w.length));
  // Every comparison below reads these float32 scores, so the cut is exact.
  const scores = weightScores(net, score);
  // Marks the live weights of `groups` past the `keep` largest scores: the smallest first, ties in
  // (layer, position) order. A numeric sort of the scores finds the cut (no object per weight:
  // a 4096² layer has 16.7 M), then one pass in that order marks them.
  const markSmallest = (groups: number[], fraction: number): void => {
    const total = groups.reduce((n, l) => n + net.weights[l]!.length, 0);
    const all = new Float32Array(total);
    let live = 0;
    for (const l of groups) {
      const mask = net.masks[l]!;
      const s = scores[l]!;
      for (let k = 0; k < s.length; k++) if (mask[k] === 1) all[live++] = s[k]!;
    }
    const drop = live - Math.round((1 - fraction) * total);
    if (drop <= 0) return;
    const ranked = all.subarray(0, live).sort();
    const cut = ranked[drop - 1]!;
    let atCut = drop - ranked.findIndex((m) => m >= cut);
    for (const l of groups) {
      const mask = net.masks[l]!;
      const s = scores[l]!;
      for (let k = 0; k < s.length; k++) {
        const m = s[k]!;
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
