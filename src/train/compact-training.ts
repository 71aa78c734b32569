/**
 * Training a pruned network as the smaller network it is. After a pruning pass the structured
 * step (src/prune/structured.ts) finds the hidden neurons that can no longer affect the output
 * and the input features that feed nothing; the training state is gathered onto the neurons
 * that remain (weights, masks and optimizer state alike), the training set's kept features are
 * gathered once into a smaller dataset, and a new trainer of the caller's backend continues on
 * that smaller network. Outside this module the run stays the full-shape run: `state()` expands
 * back to the full shape, so checkpoints, pruning passes and the saved network are those of the
 * full network.
 *
 * Why the result is that of the full-shape run: every term a removed neuron or feature
 * contributes to a kept neuron's sum, forward or backward, is an exact +0 (its weights to kept
 * neurons are pruned, or its activation or gradient is 0), and adding +0 to a sum that starts at
 * +0 changes no bit; the kept neurons' sums add their other terms in the same order. So on the
 * JS reference the counts and the kept weights are bit-identical; on the GPU they are equal in
 * exact arithmetic (its tiles may sum in another order).
 *
 * The removed weights that are not pruned still move in the full run: their gradient is 0, but
 * the seed's rule keeps applying w += lr·v, v *= momentum, and Adam keeps decaying its moments
 * and stepping. They are kept here, on the CPU, with their optimizer state, and every trained
 * batch replays their zero-gradient update with the JS reference's own update code, so the
 * expanded weights are bit-identical too. (One difference stays invisible in the weights: a
 * velocity that decayed to −0 becomes +0 in the full run when a +0 gradient is added to it.)
 * A run whose removed neurons overflow float32 diverges in the full shape but not here: the
 * equality holds up to divergence.
 *
 * With biases, only the neurons whose output can no longer matter are removed: those with no kept
 * outgoing weight to a kept neuron. A neuron with a bias but no incoming weight stays, since its
 * bias still trains and its output with it. The removed neurons' biases get no gradient either
 * and replay their zero-gradient update beside the removed weights.
 */
import { biasMomentumUpdate, momentumUpdate } from '../cpu/trainer';
import { biasStep, optimizerStep } from '../cpu/optimizers';
import type { Dataset } from '../data/dataset';
import { applyMasks, type Network } from '../model/network';
import { compactNetwork, gatherBlock, gatherInputs } from '../prune/structured';
import { optimizerOf, type OptimizerSettings } from './optimizer';
import type { Recipe } from './recipe';
import { epochInputs, type EpochOptions, type EpochResult, type OptimizerState, type Trainer, type TrainerState } from './trainer';

/**
 * Makes a trainer of the caller's backend for `net` on `train`, its optimizer starting at `start`
 * (absent: zeros); with `masksFinal` its masks will not change, which lets the GPU trainer run a
 * sparse layer's forward pass as a program of its own (`GpuTrainerOptions.masksFinal`).
 */
export type TrainerFactory = (net: Network, train: Dataset, start?: Partial<OptimizerState>, options?: { masksFinal?: boolean }) => Promise<Trainer>;

/** What training the smaller network needs beyond the run's first trainer. */
export interface CompactTraining {
  /** The full training set the first trainer trains on (its kept features are gathered from it). */
  train: Dataset;
  /** Its trainers run the recipe's update rule, as the first trainer does (the removed weights replay that rule). */
  makeTrainer: TrainerFactory;
}

/** The neurons the smaller network keeps, per layer of the full network's sizes. */
interface Layout {
  fullSizes: number[];
  /** Original indices of the kept neurons of each layer, ascending. */
  kept: Int32Array[];
}

/**
 * The removed weights that are not pruned (or a layer's removed biases): their flat indices in
 * the full layer and their state, packed.
 */
interface Residual {
  positions: Uint32Array;
  values: Float32Array;
  /** Same roles as `OptimizerState.velocities` / `secondMoments`. */
  first: Float32Array;
  second: Float32Array | null;
  /** The gradient sum the update rule reads: always 0 (nothing reaches these weights). */
  gradientSum: Float32Array;
  mask: Uint8Array;
}

/**
 * The neurons `net` keeps under the structured step (with biases, the neurons without incoming
 * weights too); null when nothing is removed or a layer would be empty.
 */
function layoutOf(net: Network): Layout | null {
  const { report } = compactNetwork(net, { keepUnfed: net.biases !== undefined });
  if (report.neurons.every((n) => n.removed.length === 0)) return null;
  if (report.neurons.some((n) => n.neuronsAfter === 0)) return null;
  const kept = report.neurons.map((n) => {
    const removed = new Set(n.removed);
    const ids = new Int32Array(n.neuronsAfter);
    let r = 0;
    for (let j = 0; j < n.neuronsBefore; j++) if (!removed.has(j)) ids[r++] = j;
    return ids;
  });
  return { fullSizes: [...net.sizes], kept };
}

/** Layer l's `[kept in, kept out]` block of a full `[in, out]` array. */
function gatherLayer<T extends Float32Array | Uint8Array>(full: T, layout: Layout, l: number): T {
  return gatherBlock(full, layout.fullSizes[l + 1]!, layout.kept[l]!, layout.kept[l + 1]!);
}

/** Writes layer l's compact block back into its place in the full `[in, out]` array. */
function scatterLayer(block: ArrayLike<number>, full: Float32Array | Uint8Array, layout: Layout, l: number): void {
  const out = layout.fullSizes[l + 1]!;
  const rows = layout.kept[l]!;
  const cols = layout.kept[l + 1]!;
  for (let r = 0; r < rows.length; r++) {
    const to = rows[r]! * out;
    for (let c = 0; c < cols.length; c++) full[to + cols[c]!] = block[r * cols.length + c]!;
  }
}

function residualOf(state: TrainerState, layout: Layout, l: number): Residual {
  const out = layout.fullSizes[l + 1]!;
  const keptRow = new Uint8Array(layout.fullSizes[l]!);
  const keptCol = new Uint8Array(out);
  layout.kept[l]!.forEach((i) => (keptRow[i] = 1));
  layout.kept[l + 1]!.forEach((o) => (keptCol[o] = 1));
  const mask = state.net.masks[l]!;
  const positions: number[] = [];
  for (let k = 0; k < mask.length; k++) {
    if (mask[k] === 1 && !(keptRow[Math.floor(k / out)] && keptCol[k % out])) positions.push(k);
  }
  return packResidual(positions, state.net.weights[l]!, state.velocities[l]!, state.secondMoments[l]);
}

/** The biases of layer l's removed outputs (of a state with biases). */
function biasResidualOf(state: TrainerState, layout: Layout, l: number): Residual {
  const kept = new Set(layout.kept[l + 1]);
  const positions: number[] = [];
  for (let o = 0; o < layout.fullSizes[l + 1]!; o++) if (!kept.has(o)) positions.push(o);
  return packResidual(positions, state.net.biases![l]!, state.biasVelocities![l]!, state.biasSecondMoments?.[l]);
}

function packResidual(positions: number[], values: Float32Array, first: Float32Array, second: Float32Array | undefined): Residual {
  const pick = (full: Float32Array): Float32Array => Float32Array.from(positions, (k) => full[k]!);
  return {
    positions: Uint32Array.from(positions),
    values: pick(values),
    first: pick(first),
    second: second ? pick(second) : null,
    gradientSum: new Float32Array(positions.length),
    mask: new Uint8Array(positions.length).fill(1),
  };
}

/** The kept outputs of layer l of a full `[out]` array (biases and their state). */
function gatherOutputs(full: Float32Array, layout: Layout, l: number): Float32Array {
  return Float32Array.from(layout.kept[l + 1]!, (o) => full[o]!);
}

/** What the smaller network's trainer starts from: `state` gathered onto `layout`, and the training set's kept features. */
function smallerOf(state: TrainerState, layout: Layout, full: Dataset): SmallerTraining {
  const gather = (arrays: Float32Array[]): Float32Array[] => arrays.map((a, l) => gatherLayer(a, layout, l));
  const net: Network = {
    sizes: layout.kept.map((k) => k.length),
    weights: gather(state.net.weights),
    masks: state.net.masks.map((m, l) => gatherLayer(m, layout, l)),
  };
  const start: OptimizerState = { velocities: gather(state.velocities), secondMoments: gather(state.secondMoments), steps: state.steps };
  if (state.net.biases) {
    const outputs = (arrays: Float32Array[]): Float32Array[] => arrays.map((a, l) => gatherOutputs(a, layout, l));
    net.biases = outputs(state.net.biases);
    start.biasVelocities = outputs(state.biasVelocities!);
    start.biasSecondMoments = outputs(state.biasSecondMoments ?? []);
  }
  const features = layout.kept[0]!;
  const readsAll = features.length === full.features;
  const train: Dataset = readsAll
    ? full
    : { ...full, features: features.length, inputs: gatherInputs(full.inputs, full.count, full.features, features) };
  return { net, train, start };
}

/** A pruned network as the smaller network it trains as: what `CompactTrainer` hands its backend's trainer. */
export interface SmallerTraining {
  net: Network;
  /** The training set with the kept input features only (the full set when every feature is kept). */
  train: Dataset;
  /** The optimizer state of the kept weights and biases. */
  start: OptimizerState;
}

/**
 * The smaller network of `state` (a full-shape state whose pruned weights and optimizer state
 * are 0) on `full`, or null when the structured step removes nothing.
 */
export function smallerTraining(state: TrainerState, full: Dataset): SmallerTraining | null {
  const layout = layoutOf(state.net);
  return layout ? smallerOf(state, layout, full) : null;
}

/**
 * A trainer of the smaller network that reads and writes the full-shape state: what the
 * training loop drives once pruning has removed neurons. A later pruning pass (`setMasks`)
 * compacts again from the full state.
 */
export class CompactTrainer implements Trainer {
  readonly backend: 'cpu' | 'gpu';
  private constructor(
    private inner: Trainer,
    private layout: Layout,
    private residuals: Residual[],
    /** Per layer, its removed outputs' biases; empty without biases. */
    private biasResiduals: Residual[],
    private fullMasks: Uint8Array[],
    private steps: number,
    private readonly optimizer: OptimizerSettings,
    private readonly batchSize: number,
    private readonly setup: CompactTraining,
  ) {
    this.backend = inner.backend;
  }

  /**
   * A trainer of the smaller form of `state` (a full-shape state whose pruned weights and
   * optimizer state are 0), or null when the structured step removes nothing.
   */
  static async start(state: TrainerState, recipe: Recipe, setup: CompactTraining): Promise<CompactTrainer | null> {
    const layout = layoutOf(state.net);
    if (!layout) return null;
    const parts = await CompactTrainer.parts(state, layout, setup);
    return new CompactTrainer(parts.inner, layout, parts.residuals, parts.biasResiduals, parts.fullMasks, state.steps, optimizerOf(recipe), recipe.batchSize, setup);
  }

  private static async parts(state: TrainerState, layout: Layout, setup: CompactTraining) {
    const layers = layout.fullSizes.length - 1;
    const smaller = smallerOf(state, layout, setup.train);
    // The training loop switches to the smaller network once no pruning pass is left; a later
    // setMasks compacts again into a trainer of its own.
    const inner = await setup.makeTrainer(smaller.net, smaller.train, smaller.start, { masksFinal: true });
    const residuals = Array.from({ length: layers }, (_, l) => residualOf(state, layout, l));
    const biasResiduals = state.net.biases ? Array.from({ length: layers }, (_, l) => biasResidualOf(state, layout, l)) : [];
    return { inner, residuals, biasResiduals, fullMasks: state.net.masks.map((m) => m.slice()) };
  }

  /** The layer sizes of the network trained now. */
  get sizes(): number[] {
    return this.layout.kept.map((k) => k.length);
  }

  async trainEpoch(order: Uint32Array | null, lr: number, momentum: number, options: EpochOptions = {}): Promise<EpochResult> {
    const full = this.setup.train;
    const features = this.layout.kept[0]!;
    const inputs = options.inputs && features.length < full.features ? gatherInputs(epochInputs(options, full.inputs), full.count, full.features, features) : options.inputs;
    const result = await this.inner.trainEpoch(order, lr, momentum, { ...options, inputs });
    const batches = result.samples / this.batchSize;
    for (let b = 0; b < batches; b++) this.replayZeroGradientUpdate(lr, momentum);
    return result;
  }

  /** One batch's update of the removed weights and biases, whose gradient is 0, with the JS reference's code. */
  private replayZeroGradientUpdate(lr: number, momentum: number): void {
    this.steps++;
    const { kind, weightDecay, beta1, beta2, eps } = this.optimizer;
    if (kind === 'seed') {
      const packed: Network = { sizes: [], weights: this.residuals.map((r) => r.values), masks: this.residuals.map((r) => r.mask) };
      momentumUpdate(packed, this.residuals.map((r) => r.first), lr, momentum);
      for (const r of this.biasResiduals) biasMomentumUpdate(r.values, r.first, lr, momentum);
      return;
    }
    const constants = { lr, momentum, weightDecay, beta1, beta2, eps, batch: this.batchSize, step: this.steps };
    for (const r of this.residuals) {
      optimizerStep(kind, { w: r.values, gradientSum: r.gradientSum, mask: r.mask, first: r.first, second: r.second ?? undefined }, constants);
    }
    for (const r of this.biasResiduals) biasStep(kind, { w: r.values, gradientSum: r.gradientSum, first: r.first, second: r.second ?? undefined }, constants);
  }

  async state(): Promise<TrainerState> {
    const inner = await this.inner.state();
    const { fullSizes } = this.layout;
    const expand = (compact: Float32Array[], packed: (r: Residual) => Float32Array): Float32Array[] =>
      compact.map((block, l) => {
        const full = new Float32Array(fullSizes[l]! * fullSizes[l + 1]!);
        scatterLayer(block, full, this.layout, l);
        const r = this.residuals[l]!;
        const values = packed(r);
        r.positions.forEach((k, p) => (full[k] = values[p]!));
        return full;
      });
    const state: TrainerState = {
      net: { sizes: [...fullSizes], weights: expand(inner.net.weights, (r) => r.values), masks: this.fullMasks.map((m) => m.slice()) },
      velocities: expand(inner.velocities, (r) => r.first),
      secondMoments: inner.secondMoments.length > 0 ? expand(inner.secondMoments, (r) => r.second!) : [],
      steps: inner.steps,
    };
    if (inner.net.biases) {
      /** Each layer's kept outputs back in their places, the removed ones from their residual. */
      const expandOutputs = (compact: Float32Array[], packed: (r: Residual) => Float32Array): Float32Array[] =>
        compact.map((kept, l) => {
          const full = new Float32Array(fullSizes[l + 1]!);
          this.layout.kept[l + 1]!.forEach((o, c) => (full[o] = kept[c]!));
          const r = this.biasResiduals[l]!;
          const values = packed(r);
          r.positions.forEach((o, p) => (full[o] = values[p]!));
          return full;
        });
      state.net.biases = expandOutputs(inner.net.biases, (r) => r.values);
      state.biasVelocities = expandOutputs(inner.biasVelocities!, (r) => r.first);
      state.biasSecondMoments = inner.biasSecondMoments!.length > 0 ? expandOutputs(inner.biasSecondMoments!, (r) => r.second!) : [];
    }
    return state;
  }

  /** Prunes the full-shape state and compacts it again (a trainer of the full shape when nothing is removed). */
  async setMasks(masks: Uint8Array[]): Promise<void> {
    const state = await this.state();
    state.net.masks = masks.map((m) => m.slice());
    applyMasks(state.net, state.velocities, ...(state.secondMoments.length > 0 ? [state.secondMoments] : []));
    const layout = layoutOf(state.net) ?? identityLayout(state.net.sizes);
    const parts = await CompactTrainer.parts(state, layout, this.setup);
    this.inner.dispose();
    this.inner = parts.inner;
    this.layout = layout;
    this.residuals = parts.residuals;
    this.biasResiduals = parts.biasResiduals;
    this.fullMasks = parts.fullMasks;
    this.steps = state.steps;
  }

  dispose(): void {
    this.inner.dispose();
  }
}

function identityLayout(sizes: readonly number[]): Layout {
  return { fullSizes: [...sizes], kept: sizes.map((n) => Int32Array.from({ length: n }, (_, j) => j)) };
}
