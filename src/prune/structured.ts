/**
 * Structured compression of a pruned network: removes whole neurons that can no longer affect
 * the output, so the layers that inference runs are smaller.
 *
 * A hidden neuron with no incoming weight always sums to 0, and ReLU passes nothing on; a
 * hidden neuron with no outgoing weight feeds nothing. Either way every term it contributes is
 * an exact zero, so removing it leaves every output bit for bit the same. Removing one neuron can
 * orphan others (its only source or only sink), so the pass repeats until nothing changes.
 * With biases, a hidden neuron with no incoming weight outputs the constant relu(b[j]) instead:
 * it is removed too, and that constant times each of its kept outgoing weights is added to the
 * next layer's bias (b_next[o] += relu(b[j])·w[j,o]), so the outputs stay equal up to float32
 * rounding (the term moves from the sum into the bias). A removed neuron's bias goes with it.
 * Input features that feed nothing are dropped too: the compact network then reads only the
 * kept features, listed in `inputIndices`. Output neurons are never removed.
 *
 * Optionally, after that, the weakest hidden neurons (smallest L2 norm of their incoming and
 * outgoing weights) are removed down to a target count; that one changes the outputs.
 */
import { keptWeights, type Network } from '../model/network';
import { UserError } from '../util/errors';

/** A network whose first layer reads a subset of the original input features. */
export interface CompactNetwork {
  /** `sizes[0] === inputIndices.length` when `inputIndices` is set. */
  net: Network;
  /** Original feature index of each input the compact network reads, ascending; null = all of them. */
  inputIndices: Int32Array | null;
  /** Features of an original input sample (the uncompacted network's `sizes[0]`). */
  inputSize: number;
}

/** Neurons of one layer of the network (`layer` indexes `sizes`: 0 = input, last = output). */
export interface NeuronLayerReport {
  layer: number;
  role: 'input' | 'hidden' | 'output';
  neuronsBefore: number;
  neuronsAfter: number;
  /** Original indices of the removed neurons, ascending. */
  removed: Int32Array;
  /** Of `removed`, how many were removed as the weakest (the rest could not affect the output). */
  removedAsWeakest: number;
}

/** Weights of one weight layer (`layer` maps `sizes[layer]` to `sizes[layer + 1]`). */
export interface WeightLayerReport {
  layer: number;
  weightsBefore: number;
  weightsAfter: number;
}

export interface StructuredReport {
  neurons: NeuronLayerReport[];
  weights: WeightLayerReport[];
  /** Rounds of the dead-neuron pass until nothing changed (over both passes when trimming). */
  rounds: number;
}

export interface StructuredOptions {
  /** Drop input features that feed nothing (default true). */
  dropInputs?: boolean;
  /**
   * Keep the hidden neurons that have no incoming weight (default false: removed, their constant
   * output folded into the next biases). Training keeps them when the network has biases: their
   * bias still learns, so their output is not constant while training goes on.
   */
  keepUnfed?: boolean;
  /**
   * Keep at most this many neurons in each hidden layer (one number per hidden layer, or one
   * fraction in (0, 1] of each hidden layer's original size), removing the weakest first.
   */
  keepHidden?: readonly number[] | { fraction: number };
}

/** ReLU as the forward pass applies it: values ≤ 0 become 0, a NaN passes on. */
function relu(x: number): number {
  return x <= 0 ? 0 : x;
}

/**
 * Marks dead neurons in `alive` (per layer of `sizes`) until a fixed point; returns the rounds
 * taken. A removed neuron without live inputs adds its constant output relu(b) through its kept
 * outgoing weights to `biases` (per weight layer, [out]; the network's biases, folded so far).
 */
function removeDeadNeurons(net: Network, alive: Uint8Array[], biases: Float32Array[] | undefined, dropInputs: boolean, keepUnfed: boolean): number {
  const { sizes, masks, weights } = net;
  const last = sizes.length - 1;
  let rounds = 0;
  for (let changed = true; changed; rounds++) {
    changed = false;
    for (let l = 0; l < last; l++) {
      if (l === 0 && !dropInputs) continue;
      const out = sizes[l + 1]!;
      const below = l > 0 ? alive[l - 1]! : null;
      const above = alive[l + 1]!;
      for (let j = 0; j < sizes[l]!; j++) {
        if (!alive[l]![j]) continue;
        let feeds = false;
        const outMask = masks[l]!;
        for (let o = 0; o < out && !feeds; o++) feeds = outMask[j * out + o] === 1 && above[o] === 1;
        let fed = l === 0 || keepUnfed;
        if (!fed) {
          const inMask = masks[l - 1]!;
          const width = sizes[l]!;
          for (let i = 0; i < sizes[l - 1]! && !fed; i++) fed = inMask[i * width + j] === 1 && below![i] === 1;
        }
        if (!feeds || !fed) {
          alive[l]![j] = 0;
          changed = true;
          const constant = !fed && biases ? relu(biases[l - 1]![j]!) : 0;
          if (constant !== 0) {
            const next = biases![l]!;
            const w = weights[l]!;
            for (let o = 0; o < out; o++) if (outMask[j * out + o] === 1) next[o] += constant * w[j * out + o]!;
          }
        }
      }
    }
  }
  return rounds;
}

/** L2 norm of the kept incoming and outgoing weights of hidden neuron j in layer l, counting only live peers. */
function neuronNorm(net: Network, alive: Uint8Array[], l: number, j: number): number {
  const { sizes, weights } = net;
  const width = sizes[l]!;
  const out = sizes[l + 1]!;
  let sum = 0;
  const win = weights[l - 1]!;
  for (let i = 0; i < sizes[l - 1]!; i++) if (alive[l - 1]![i]) sum += win[i * width + j]! ** 2;
  const wout = weights[l]!;
  for (let o = 0; o < out; o++) if (alive[l + 1]![o]) sum += wout[j * out + o]! ** 2;
  return Math.sqrt(sum);
}

function hiddenTargets(sizes: readonly number[], keep: StructuredOptions['keepHidden']): number[] | null {
  if (keep === undefined) return null;
  const hidden = sizes.slice(1, -1);
  if (Array.isArray(keep)) {
    if (keep.length !== hidden.length) throw new Error(`keepHidden needs one count per hidden layer (${hidden.length}), got ${keep.length}`);
    for (const k of keep) if (!Number.isInteger(k) || k < 1) throw new Error(`keepHidden counts must be positive integers, got ${keep.join(',')}`);
    return [...keep];
  }
  const { fraction } = keep as { fraction: number };
  if (!(fraction > 0 && fraction <= 1)) throw new Error(`keepHidden fraction must be in (0, 1], got ${fraction}`);
  return hidden.map((n) => Math.max(1, Math.round(n * fraction)));
}

/** Copies the weights and masks between the live neurons of each pair of layers, and the live neurons' `biases`. */
function extract(net: Network, alive: Uint8Array[], biases: Float32Array[] | undefined): Network {
  const kept = alive.map((a) => {
    const ids: number[] = [];
    a.forEach((v, i) => v && ids.push(i));
    return ids;
  });
  const sizes = kept.map((ids) => ids.length);
  const block = <T extends Float32Array | Uint8Array>(full: T, l: number): T => gatherBlock(full, net.sizes[l + 1]!, kept[l]!, kept[l + 1]!);
  const compact: Network = { sizes, weights: net.weights.map((w, l) => block(w, l)), masks: net.masks.map((m, l) => block(m, l)) };
  if (biases) compact.biases = biases.map((b, l) => Float32Array.from(kept[l + 1]!, (o) => b[o]!));
  return compact;
}

/** The `[rows.length, cols.length]` block of a `[in, out]` layer array `full` at the given rows (inputs) and columns (outputs). */
export function gatherBlock<T extends Float32Array | Uint8Array>(full: T, out: number, rows: ArrayLike<number>, cols: ArrayLike<number>): T {
  const block = new (full.constructor as new (n: number) => T)(rows.length * cols.length);
  for (let r = 0; r < rows.length; r++) {
    const from = rows[r]! * out;
    for (let c = 0; c < cols.length; c++) block[r * cols.length + c] = full[from + cols[c]!]!;
  }
  return block;
}

/**
 * Throws unless every hidden layer of the structured step's network keeps a neuron: with one
 * emptied, the outputs no longer depend on the input (and no file format holds a layer of none).
 */
export function checkHiddenLayersKept(sizes: readonly number[], what: string): void {
  const empty = sizes.findIndex((n, l) => l > 0 && l < sizes.length - 1 && n === 0);
  if (empty > 0) throw new UserError(`${what}: after pruning no neuron of hidden layer ${empty} can reach the output; the network no longer depends on its input (prune less)`);
}

/**
 * The compact form of `model` (which is not modified) and what was removed. Weights inside the
 * compact network keep their values and masks; pruned weights stay exact zeros. A model that
 * already reads a subset of the features keeps its `inputSize`, and the indices stay those of
 * the original sample; the report counts the neurons of `model`'s own layers.
 */
export function compactNetwork(model: Network | CompactNetwork, options: StructuredOptions = {}): { compact: CompactNetwork; report: StructuredReport } {
  const { net, inputIndices: readIndices, inputSize } = asCompact(model);
  const { sizes } = net;
  const last = sizes.length - 1;
  const dropInputs = options.dropInputs ?? true;
  const keepUnfed = options.keepUnfed ?? false;
  const alive = sizes.map((n) => new Uint8Array(n).fill(1));
  const biases = net.biases?.map((b) => b.slice());
  let rounds = removeDeadNeurons(net, alive, biases, dropInputs, keepUnfed);
  const afterDead = alive.map((a) => a.slice());

  const targets = hiddenTargets(sizes, options.keepHidden);
  if (targets) {
    for (let l = 1; l < last; l++) {
      const live: { j: number; norm: number }[] = [];
      for (let j = 0; j < sizes[l]!; j++) if (alive[l]![j]) live.push({ j, norm: neuronNorm(net, alive, l, j) });
      // Weakest first; ties by index so the result is deterministic.
      live.sort((a, b) => a.norm - b.norm || a.j - b.j);
      for (let r = 0; r < live.length - targets[l - 1]!; r++) alive[l]![live[r]!.j] = 0;
    }
    rounds += removeDeadNeurons(net, alive, biases, dropInputs, keepUnfed);
  }

  const compactNet = extract(net, alive, biases);
  const neurons: NeuronLayerReport[] = sizes.map((n, l) => {
    const removed: number[] = [];
    let weakest = 0;
    for (let j = 0; j < n; j++) {
      if (alive[l]![j]) continue;
      removed.push(j);
      if (afterDead[l]![j]) weakest++;
    }
    return {
      layer: l,
      role: l === 0 ? 'input' : l === last ? 'output' : 'hidden',
      neuronsBefore: n,
      neuronsAfter: n - removed.length,
      removed: Int32Array.from(removed),
      removedAsWeakest: weakest,
    };
  });
  const weights: WeightLayerReport[] = net.masks.map((m, l) => ({
    layer: l,
    weightsBefore: keptWeights(m),
    weightsAfter: keptWeights(compactNet.masks[l]!),
  }));
  let inputIndices = readIndices;
  if (compactNet.sizes[0] !== sizes[0]) {
    inputIndices = new Int32Array(compactNet.sizes[0]!);
    let r = 0;
    // Indices of the original sample's features, also when `model` already read a subset of them.
    alive[0]!.forEach((v, i) => v && (inputIndices![r++] = readIndices ? readIndices[i]! : i));
  }
  return { compact: { net: compactNet, inputIndices, inputSize }, report: { neurons, weights, rounds } };
}

/** A plain network as the compact network that reads every feature. */
export function asCompact(model: Network | CompactNetwork): CompactNetwork {
  return 'net' in model ? model : { net: model, inputIndices: null, inputSize: model.sizes[0]! };
}

/**
 * The network that reads whole samples again: the first layer gets back a row for every
 * feature the compact network does not read, all weights pruned (0, mask 0). Its outputs are
 * those of the compact network.
 */
export function expandInputs(model: Network | CompactNetwork): Network {
  const { net, inputIndices, inputSize } = asCompact(model);
  if (!inputIndices) return net;
  const out = net.sizes[1]!;
  const weights = new Float32Array(inputSize * out);
  const mask = new Uint8Array(inputSize * out);
  inputIndices.forEach((feature, r) => {
    weights.set(net.weights[0]!.subarray(r * out, (r + 1) * out), feature * out);
    mask.set(net.masks[0]!.subarray(r * out, (r + 1) * out), feature * out);
  });
  return withBiasesOf(net, { sizes: [inputSize, ...net.sizes.slice(1)], weights: [weights, ...net.weights.slice(1)], masks: [mask, ...net.masks.slice(1)] });
}

/** `changed` (a network with `net`'s layers after the first) with `net`'s biases, when it has them. */
function withBiasesOf(net: Network, changed: Network): Network {
  if (net.biases) changed.biases = net.biases;
  return changed;
}

/** `net` reading only the features `inputIndices` (ascending): the first layer keeps their rows alone. */
export function selectInputs(net: Network, inputIndices: Int32Array | null): CompactNetwork {
  if (!inputIndices) return asCompact(net);
  const out = net.sizes[1]!;
  const weights = new Float32Array(inputIndices.length * out);
  const mask = new Uint8Array(inputIndices.length * out);
  inputIndices.forEach((feature, r) => {
    weights.set(net.weights[0]!.subarray(feature * out, (feature + 1) * out), r * out);
    mask.set(net.masks[0]!.subarray(feature * out, (feature + 1) * out), r * out);
  });
  return {
    net: withBiasesOf(net, { sizes: [inputIndices.length, ...net.sizes.slice(1)], weights: [weights, ...net.weights.slice(1)], masks: [mask, ...net.masks.slice(1)] }),
    inputIndices,
    inputSize: net.sizes[0]!,
  };
}

/**
 * The input batch a compact network reads: `[count, inputIndices.length]` gathered from
 * `inputs` `[count, features]`; `inputs` itself when no feature was dropped.
 */
export function gatherInputs(inputs: Float32Array, count: number, features: number, inputIndices: Int32Array | null): Float32Array {
  if (!inputIndices) return inputs;
  const kept = inputIndices.length;
  const gathered = new Float32Array(count * kept);
  for (let s = 0; s < count; s++) {
    for (let f = 0; f < kept; f++) gathered[s * kept + f] = inputs[s * features + inputIndices[f]!]!;
  }
  return gathered;
}
