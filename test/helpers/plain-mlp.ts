/**
 * An MLP with biases written out in float64 plain loops, from the math alone: what the bias tests
 * compare the JS reference, structured pruning and the update rules with. Weights are the
 * network's `[in, out]` arrays; pruned weights are zeros there, so the loops need no mask.
 */

/** A network's shape and values in any precision (a `Network`, or float64 copies of one). */
export interface PlainNet {
  sizes: readonly number[];
  weights: readonly ArrayLike<number>[];
  biases?: readonly ArrayLike<number>[];
}

/** Each layer's values for one sample: [0] the input, then z = x·W + b, with ReLU on the hidden layers. */
export function plainLayers(net: PlainNet, input: ArrayLike<number>): number[][] {
  const layers = [Array.from(input)];
  for (let l = 0; l + 1 < net.sizes.length; l++) {
    const x = layers[l]!;
    const out = net.sizes[l + 1]!;
    const hidden = l + 2 < net.sizes.length;
    const z: number[] = [];
    for (let o = 0; o < out; o++) {
      let sum = net.biases ? net.biases[l]![o]! : 0;
      for (let i = 0; i < x.length; i++) sum += x[i]! * net.weights[l]![i * out + o]!;
      z.push(hidden ? Math.max(0, sum) : sum);
    }
    layers.push(z);
  }
  return layers;
}

/** The logits of one sample. */
export function plainLogits(net: PlainNet, input: ArrayLike<number>): number[] {
  return plainLayers(net, input).at(-1)!;
}

/** −ln softmax(logits)[target]. */
export function plainCrossEntropy(logits: readonly number[], target: number): number {
  const max = Math.max(...logits);
  const sum = logits.reduce((s, z) => s + Math.exp(z - max), 0);
  return Math.log(sum) - (logits[target]! - max);
}

/** Per layer, the batch sums of onehot − p backpropagated: `[in × out]` for the weights, `[out]` for the biases. */
export interface PlainGradients {
  weights: number[][];
  biases: number[][];
}

/**
 * Σ over the samples whose p[target] < `confidence` of onehot(target) − p pushed back through
 * the layers (the negative loss gradient): δ at a layer's outputs, a·δ for a weight, δ for a bias;
 * δ below = W·δ where the hidden value is > 0, else 0.
 */
export function plainGradients(net: PlainNet, inputs: readonly ArrayLike<number>[], targets: readonly number[], confidence: number): PlainGradients {
  const layerCount = net.sizes.length - 1;
  const sums: PlainGradients = {
    weights: net.weights.map((w) => new Array<number>(w.length).fill(0)),
    biases: net.sizes.slice(1).map((out) => new Array<number>(out).fill(0)),
  };
  inputs.forEach((input, s) => {
    const values = plainLayers(net, input);
    const logits = values[layerCount]!;
    const max = Math.max(...logits);
    const exps = logits.map((z) => Math.exp(z - max));
    const total = exps.reduce((a, b) => a + b, 0);
    const p = exps.map((e) => e / total);
    if (!(p[targets[s]!]! < confidence)) return;
    let delta = p.map((pc, c) => (c === targets[s] ? 1 : 0) - pc);
    for (let l = layerCount - 1; l >= 0; l--) {
      const x = values[l]!;
      const out = net.sizes[l + 1]!;
      for (let o = 0; o < out; o++) sums.biases[l]![o] += delta[o]!;
      for (let i = 0; i < x.length; i++) for (let o = 0; o < out; o++) sums.weights[l]![i * out + o] += x[i]! * delta[o]!;
      const below = x.map((xi, i) => {
        if (!(xi > 0)) return 0;
        let sum = 0;
        for (let o = 0; o < out; o++) sum += net.weights[l]![i * out + o]! * delta[o]!;
        return sum;
      });
      delta = below;
    }
  });
  return sums;
}
