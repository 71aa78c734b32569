/**
 * Regrowth (RigL, Evci et al. 2020; after gradual pruning, as GraNet, Liu et al. 2021): a pass
 * moves a share of each layer's kept weights to the pruned positions where the loss falls
 * fastest. It grows the pruned positions with the largest |∂L/∂w| (the gradient a weight of 0
 * there gets), starting them at 0, and drops as many of the smallest kept |w|, so the kept count
 * stays. Magnitude pruning alone never revisits a position it removed, and at 1–2% kept it
 * matters which few positions survive.
 */
import { allocateActivations, forwardSample } from '../cpu/forward';
import { backpropSample, softmaxInPlace } from '../cpu/trainer';
import type { Network } from '../model/network';
import { weightScores, type PruneScore } from './unstructured';

/** Samples a pass reads for its gradients: the first of the epoch's order. */
export const REGROWTH_SAMPLES = 2000;

/**
 * Σ over `samples` of ∂ log p[target] / ∂w at every weight position, pruned ones included (per
 * layer [in, out]): the JS reference's forward and backward passes, every sample backpropagated.
 */
export function denseGradients(
  net: Network,
  inputs: Float32Array, // [count, sizes[0]]
  labels: Uint8Array, // [count]
  samples: ArrayLike<number>, // indices into inputs and labels
): Float32Array[] {
  const features = net.sizes[0]!;
  const last = net.sizes.length - 1;
  const activations = allocateActivations(net.sizes);
  const gradients = allocateActivations(net.sizes);
  const sums = net.weights.map((w) => new Float32Array(w.length));
  for (let n = 0; n < samples.length; n++) {
    const s = samples[n]!;
    activations[0]!.set(inputs.subarray(s * features, (s + 1) * features));
    forwardSample(net, activations);
    softmaxInPlace(activations[last]!);
    backpropSample(net, activations, gradients, labels[s]!, sums);
  }
  return sums;
}

/**
 * Moves `fraction` of each layer's kept weights (rounded; fewer where fewer pruned positions have
 * a nonzero gradient): grows the pruned positions of largest |gradient| (mask 1, weight 0) and
 * drops as many kept weights of smallest `score` (mask 0, weight 0; the pruning passes' ranking,
 * taken before anything moves). Ties go to the lower position. Returns the weights moved per layer.
 */
export function regrow(net: Network, gradients: readonly Float32Array[], fraction: number, score: PruneScore = 'magnitude'): number[] {
  const scores = weightScores(net, score);
  return net.weights.map((w, l) => {
    const s = scores[l]!;
    const mask = net.masks[l]!;
    const g = gradients[l]!;
    const kept: number[] = [];
    const growable: number[] = [];
    for (let k = 0; k < w.length; k++) {
      if (mask[k] === 1) kept.push(k);
      else if (g[k] !== 0) growable.push(k);
    }
    const n = Math.min(Math.round(fraction * kept.length), growable.length);
    growable.sort((a, b) => Math.abs(g[b]!) - Math.abs(g[a]!) || a - b);
    kept.sort((a, b) => s[a]! - s[b]! || a - b);
    for (let i = 0; i < n; i++) {
      mask[kept[i]!] = 0;
      w[kept[i]!] = 0;
      mask[growable[i]!] = 1;
    }
    return n;
  });
}
