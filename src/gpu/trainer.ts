/**
 * The WebGPU trainer: the seed's batch training (src/train/trainer.ts) as a handful of dispatches
 * per batch, with everything resident on the GPU.
 *
 * Resident: the training set (once), per layer the weights W[l] [in,out], velocities V[l], masks
 * (0/1 as f32), with biases b[l] [out] and their velocities vb[l], the activations and gradients
 * of one batch. One batch step, recorded into one compute pass with no readback (A0 = the batch's
 * inputs, L layers):
 *   A[l+1] = relu(A[l]·W[l] + b[l])     (no ReLU on the last layer: A[L] = logits)  matmul
 *   G[L]   = onehot − softmax(A[L]) where p[target] < confidence, else 0 (0 where a  softmax_grad
 *            logit is not finite; with distillation mixed with the soft term, see
 *            src/train/distill.ts); counters; flag[s] = 1 where the sample is backpropagated
 *   P      = the flagged samples, packed; n = how many; the workgroup counts     compact_scan
 *            of the indirect dispatches below, from n
 *   A'[l]  = rows P of A[l] (l < L), G'[L] = rows P of G[L]; zeros from n          gather_rows
 *            (A'[0] in a dispatch of its own, A'[1 … L−1] and G'[L] three to one)
 *   G'[l]  = (G'[l+1]·W[l]ᵀ)·[A'[l] > 0]   for l = L−1 … 1, over the packed rows   matmul, Bᵀ
 *   V[l]   = (V[l] + A'[l]ᵀ·G'[l+1])·mask[l]   (the batch sum, not the mean),      matmul, Aᵀ
 *   then W[l] += lr·V[l]; V[l] *= momentum where mask[l] = 1, in the same pass     (its epilogue)
 *   vb[l] += Σ_r G'[l+1][r, ·] over the n packed rows                             bias_grad
 *   b[l]  += lr·vb[l]; vb[l] *= momentum                                          update
 * (without biases the "+ b[l]", bias_grad and the biases' update are not there at all).
 * A pruned layer whose kept density is below `Tuning.sparseTrainingBelow` (or every layer, with
 * `GpuTrainerOptions.layerKernels`) runs its three matmuls over its kept weights only
 * (src/gpu/sparse-training-kernels.ts): the forward pass by output neuron, G'[l] by input
 * neuron over the same row tiles (indirectly), and V[l] += A'[l]ᵀ·G'[l+1] at the kept positions
 * in one direct dispatch that reads n itself, as the dense layers' matmul does (the masked
 * entries stay 0), then takes the momentum step there. W[l], V[l] and the mask stay dense, so
 * apply_mask and state() are the dense layer's; another rule's update runs as for a dense
 * layer. The index of kept positions is built on the CPU from the mask when the trainer is made
 * and at setMasks, which may keep no more of such a layer's weights than it had then (regrowth
 * moves weights, and keeps their count). Made with final masks (`GpuTrainerOptions.masksFinal`),
 * such a layer's forward pass runs a program generated from its mask instead
 * (src/gpu/sparse-unrolled.ts), which reads the kept weights of W[l] through workgroup memory.
 * A skipped sample's gradient is 0, so the backward pass needs only the n packed rows: the gathers
 * and the input-gradient matmuls run ⌈n/tile rows⌉ row tiles, whose counts reach the dispatches
 * through an indirect buffer written on the GPU, and the weight-gradient matmul sums the first n
 * rows, reading n itself (one direct dispatch per layer: Dawn validates each indirect dispatch
 * with a dispatch of its own). So nothing is read back per batch. A packed row past n may hold
 * anything, as rows of a matmul do not mix and the weight gradient reads none of them.
 * With another update rule (src/train/optimizer.ts) the matmul sums into a gradient-sum buffer S[l]
 * instead (no step in its epilogue), and that rule's kernel (shaders/optimizers.wgsl) updates
 * W[l] and its state (momentum's buffer, Adam's m and v) from S[l] and clears it; biases
 * likewise from their own sums, by the same rule with no mask and no weight decay, at the same
 * step. Its uniform has one window per batch, written before the epoch's first submit: Adam's
 * bias correction changes every step.
 * An epoch records all its batches (several batches per command encoder), then reads back only
 * the three counters (correct, backpropagated, non-finite). Pruning (`setMasks`) uploads the new
 * masks and zeroes what they drop with one apply_mask dispatch per layer (biases have no mask).
 *
 * The training set lives in batch slots: slot b holds the inputs of batch b ([batch, features]
 * f32) at an offset aligned for binding, in as many buffers as maxStorageBufferBindingSize needs
 * (the 188 MB MNIST set passes lavapipe's 128 MiB); labels likewise, as u32. Each batch's
 * kernels bind their slot directly, so a step copies no inputs. A shuffled epoch (`order`)
 * rewrites the slots in that order first (one upload of the set, batch by batch through a
 * reused staging array); the next file-order epoch restores file order. With distillation each
 * slot also holds its batch's soft targets [batch, classes], uploaded every epoch in the epoch's
 * order (they change with the epoch's inputs), which softmax_grad reads.
 */
import type { Dataset } from '../data/dataset';
import { applyMasks, cloneNetwork, keptWeights, layerCount, type Network } from '../model/network';
import { checkFirstBatch, epochInputs, epochSoftTargets, type EpochOptions, type EpochResult, type Trainer, type TrainConfig, type TrainerState } from '../train/trainer';
import { ceilDiv } from '../util/math';
import { createBuffer, readBuffer, uniformBuffer, uploadBuffer, writeArray } from './buffers';
import { detectDeviceLoss, throwIfLost, type GpuContext } from './device';
import { bindKernel, compileKernel, recordDispatches, submitDispatches, type Dispatch, type Kernel, type KernelDescriptor } from './dispatch';
import { isAdam, SEED_OPTIMIZER, type OptimizerSettings } from '../train/optimizer';
import { startingOptimizerState, type OptimizerState } from '../train/trainer';
import { applyMaskKernel, matmulDescriptorFor, matmulKernel, SEED_HYPER_BYTES, SOFTMAX_COUNTERS, softmaxGradKernel, updateKernel, type MatmulSpec, type MatmulVersion } from './kernels';
import { biasGradKernel } from './bias-kernels';
import { sparseParams, type SparseShape } from './sparse-kernels';
import { sparseTrainingIndex, sparseTrainingKernels, type SparseTrainingIndex } from './sparse-training-kernels';
import { unrollableForTraining, unrolledTrainingForwardFor } from './sparse-unrolled';
import { compactScanKernel, GATHER_ROWS, gatherGroups, gatherRowsKernel, INDIRECT_ARGS_BYTES, INDIRECT_STORAGE, indirectTable } from './compact-kernels';
import type { IndirectEntry } from '../cpu/compact';
import { HYPER_FLOATS, optimizerUpdateKernel, writeHyper } from './optimizer-kernels';
import { KernelError, withErrorScope } from './program';
import { waitForGpu } from './wait';

export interface GpuTrainerOptions {
  /** Matmul kernel version; default: `matmulVersionFor` picks per shape. */
  matmulVersion?: MatmulVersion;
  /** Batches recorded per command encoder (default 8). */
  batchesPerSubmit?: number;
  /**
   * How each layer runs: `auto` (the default) through the sparse training kernels where its kept
   * density is below `Tuning.sparseTrainingBelow`, else through the matmuls; `dense` or `sparse`
   * every layer one way (tests, benchmarks).
   */
  layerKernels?: LayerKernelChoice;
  /**
   * The masks will not change (no pruning pass is left): a sparse layer's forward pass may then
   * run its own program, generated from its mask (sparse_unrolled's training form, where it fits
   * and `Tuning.unrolledTrainingForward` holds), and `setMasks` refuses masks that change such a
   * layer.
   */
  masksFinal?: boolean;
}

export type LayerKernelChoice = 'auto' | 'dense' | 'sparse';

/** A sparse layer's index of its kept weights on the GPU (`SparseTrainingIndex`), sized for `capacity` of them. */
interface SparseIndexBuffers {
  outPtr: GPUBuffer;
  outRows: GPUBuffer;
  inPtr: GPUBuffer;
  positions: GPUBuffer;
  capacity: number;
}

/** A sparse layer whose forward pass runs the program of its final mask: the descriptor, its `kept` order and shape uniform. */
interface UnrolledForward {
  descriptor: KernelDescriptor<SparseShape, { WG: number }>;
  /** [nonzeros] u32: the weights' indices into the layer's dense buffer, in the program's order. */
  kept: GPUBuffer;
  params: GPUBuffer;
  nonzeros: number;
}

/** Kept weights over all weights of a mask (1 for a layer with none: nothing to skip). */
function keptDensity(mask: Uint8Array): number {
  return mask.length === 0 ? 1 : keptWeights(mask) / mask.length;
}

/** The kernels each layer of a network with `masks` runs under `choice`. */
export function layerKernelsFor(ctx: GpuContext, masks: readonly Uint8Array[], choice: LayerKernelChoice = 'auto'): ('dense' | 'sparse')[] {
  return masks.map((mask) => (choice === 'auto' ? (keptDensity(mask) < ctx.tuning.sparseTrainingBelow ? 'sparse' : 'dense') : choice));
}

const F32 = 4;

/** Layer l's forward pass, A[l+1] = relu(A[l]·W[l] + b[l]) (no ReLU on the last layer). */
export function forwardSpec(sizes: readonly number[], l: number, batch: number, bias = false): MatmulSpec {
  return { m: batch, k: sizes[l]!, n: sizes[l + 1]!, epilogue: l + 2 < sizes.length ? 'relu' : 'none', bias };
}

/** The gradient at layer l's input (l ≥ 1), G'[l] = (G'[l+1]·W[l]ᵀ)·[A'[l] > 0], over the packed rows. */
export function inputGradientSpec(sizes: readonly number[], l: number, batch: number): MatmulSpec {
  return { m: batch, k: sizes[l + 1]!, n: sizes[l]!, transB: true, epilogue: 'reluGrad' };
}

/**
 * Layer l's weight gradient, V[l] += A'[l]ᵀ·G'[l+1]: a sum over the packed backpropagated rows
 * of a batch, as many as the count on the GPU says (at most the batch); with `momentumStep` the
 * seed's step follows in the same pass.
 */
export function weightGradientSpec(sizes: readonly number[], l: number, batch: number, epilogue: 'accumulateVelocity' | 'momentumStep' = 'accumulateVelocity'): MatmulSpec {
  return { m: sizes[l]!, k: batch, n: sizes[l + 1]!, transA: true, epilogue, kFromCount: true };
}

function alignUp(bytes: number, alignment: number): number {
  return ceilDiv(bytes, alignment) * alignment;
}

/** A biased network's biases and their optimizer state, per layer [out], in the weights' roles. */
interface BiasBuffers {
  values: GPUBuffer[];
  /** The seed's velocities, momentum's buffers or Adam's m; empty for sgd. */
  velocities: GPUBuffer[];
  /** Adam's v; empty for the other rules. */
  secondMoments: GPUBuffer[];
}

/** Where one batch's inputs and labels live: windows of the resident training set. */
interface Slot {
  inputs: GPUBufferBinding;
  labels: GPUBufferBinding;
  /** With distillation: the batch's soft targets [batch, classes]. */
  soft?: GPUBufferBinding;
}

/**
 * `count` aligned windows of `bytes` each, in as many buffers (made by `buffer`) as the adapter's
 * binding and buffer limits need.
 */
function slotWindows(ctx: GpuContext, label: string, count: number, bytes: number, buffer: (label: string, bytes: number) => GPUBuffer): GPUBufferBinding[] {
  const { limits } = ctx.adapter;
  const stride = alignUp(bytes, ctx.device.limits.minStorageBufferOffsetAlignment);
  const perChunk = Math.floor(Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize) / stride);
  if (perChunk === 0) throw new KernelError(`GPU trainer: one batch of ${label} (${bytes} bytes) passes the adapter's binding limit`);
  const windows: GPUBufferBinding[] = [];
  for (let first = 0, chunk = 0; first < count; first += perChunk, chunk++) {
    const n = Math.min(perChunk, count - first);
    const b = buffer(`${label} ${chunk}`, n * stride);
    for (let w = 0; w < n; w++) windows.push({ buffer: b, offset: w * stride, size: bytes });
  }
  return windows;
}

export class GpuTrainer implements Trainer {
  readonly backend = 'gpu' as const;

  /** How each layer runs: through the matmuls, or the sparse training kernels over its kept weights. */
  get layerKernels(): ('dense' | 'sparse')[] {
    return this.sparseIndexes.map((index) => (index ? 'sparse' : 'dense'));
  }

  /** True when pruning has taken a layer below the sparse crossover: a trainer made from this one's state would run it sparse. */
  kernelsOutdated(): boolean {
    const wanted = layerKernelsFor(this.ctx, this.masks, this.layerChoice);
    return wanted.some((kind, l) => kind !== this.layerKernels[l]);
  }

  /** What the batch slots hold: the set in file order, or reordered or replaced by an epoch's `order` or `inputs`. */
  private resident: 'file' | 'epoch' = 'file';
  private readonly counterValues = new Uint32Array(SOFTMAX_COUNTERS);
  private readonly optimizer: OptimizerSettings;

  private constructor(
    private readonly ctx: GpuContext,
    private readonly sizes: number[],
    private masks: Uint8Array[],
    private readonly train: Dataset,
    private readonly config: TrainConfig,
    private readonly batchCount: number,
    private readonly slots: Slot[],
    private readonly weights: GPUBuffer[],
    /** The seed's velocities, momentum's buffers or Adam's m; empty for sgd. */
    private readonly velocities: GPUBuffer[],
    /** Adam's v; empty for the other rules. */
    private readonly secondMoments: GPUBuffer[],
    /** Null for a network without biases. */
    private readonly biases: BiasBuffers | null,
    private steps: number,
    private readonly maskBuffers: GPUBuffer[],
    /** The seed's rule: (lr, momentum) for the epoch; the others: a window per batch (`hyperStride` bytes apart). */
    private readonly hyper: GPUBuffer,
    private readonly hyperStride: number,
    private readonly counters: GPUBuffer,
    private readonly countersReadback: GPUBuffer,
    /** [batch] f32: each batch slot's cross-entropy summed over the epoch's batches so far. */
    private readonly losses: GPUBuffer,
    private readonly lossesReadback: GPUBuffer,
    private readonly batchDispatches: Dispatch[][],
    /** Per layer: w = v = 0 where the mask buffer is 0. */
    private readonly maskDispatches: Dispatch[],
    private readonly batchesPerSubmit: number,
    private readonly owned: GPUBuffer[],
    /** Per layer: the index of its kept weights when it runs sparse, else null. */
    private readonly sparseIndexes: (SparseIndexBuffers | null)[],
    private readonly layerChoice: LayerKernelChoice,
    /** Per layer: whether its forward pass runs the program of its mask (`GpuTrainerOptions.masksFinal`). */
    private readonly unrolledLayers: readonly boolean[],
  ) {
    this.optimizer = config.updateRule ?? SEED_OPTIMIZER;
  }

  static async create(
    ctx: GpuContext,
    net: Network,
    train: Dataset,
    config: TrainConfig,
    /** Where a resumed run's optimizer was; absent: zeros. */
    start?: Partial<OptimizerState>,
    options: GpuTrainerOptions = {},
  ): Promise<GpuTrainer> {
    const owned: GPUBuffer[] = [];
    try {
      return await GpuTrainer.build(owned, ctx, net, train, config, start, options);
    } catch (err) {
      // A failure after the first allocation (a kernel that does not compile, a limit) leaves no
      // trainer to dispose: its buffers, the resident training set among them, go here.
      for (const b of owned) b.destroy();
      throw err;
    }
  }

  /** `create`, allocating into `owned`. */
  private static async build(
    owned: GPUBuffer[],
    ctx: GpuContext,
    net: Network,
    train: Dataset,
    config: TrainConfig,
    start: Partial<OptimizerState> | undefined,
    options: GpuTrainerOptions,
  ): Promise<GpuTrainer> {
    const { sizes } = net;
    const layers = layerCount(net);
    const batch = config.batchSize;
    const alignment = ctx.device.limits.minStorageBufferOffsetAlignment;
    if (!Number.isInteger(batch) || batch < 1) throw new KernelError(`GPU trainer: batch size ${batch} is not a positive integer`);
    if (sizes[0] !== train.features) throw new KernelError(`GPU trainer: the network takes ${sizes[0]} inputs, the data has ${train.features} features`);
    if (sizes[layers] !== train.classes) throw new KernelError(`GPU trainer: the network has ${sizes[layers]} outputs, the data ${train.classes} classes`);
    const rule = config.updateRule?.kind ?? 'seed';
    const startState = startingOptimizerState(net.weights, isAdam(rule), start, net.biases);
    if (!startState) throw new KernelError('GPU trainer: the optimizer state does not match the network’s weight and bias shapes');
    // The per-batch buffers and each layer's weights are bound whole: checked before allocating.
    const limit = ctx.device.limits.maxStorageBufferBindingSize;
    const widest = Math.max(...sizes);
    if (batch * widest * F32 > limit) {
      throw new KernelError(`GPU trainer: a batch of ${batch} samples × ${widest} activations (${batch * widest * F32} bytes) passes the adapter's binding limit of ${limit} bytes; a smaller batch fits`);
    }
    const tooLarge = sizes.findIndex((n, l) => l < layers && n * sizes[l + 1]! * F32 > limit);
    if (tooLarge >= 0) {
      const bytes = sizes[tooLarge]! * sizes[tooLarge + 1]! * F32;
      throw new KernelError(`GPU trainer: layer ${tooLarge}'s weights [${sizes[tooLarge]}, ${sizes[tooLarge + 1]}] (${bytes} bytes) pass the adapter's binding limit of ${limit} bytes`);
    }
    const batchCount = Math.floor(train.count / batch);
    if (batchCount === 0) throw new KernelError(`GPU trainer: ${train.count} samples do not fill one batch of ${batch}`);

    const buffer = (label: string, bytes: number, usage?: number): GPUBuffer => {
      const b = createBuffer(ctx, label, bytes, usage);
      owned.push(b);
      return b;
    };

    // Batch slots: inputs (and with distillation soft targets) of a batch at aligned offsets, as many per buffer as the binding limit allows.
    const labelStride = alignUp(batch * 4, alignment);
    const labelBuffer = buffer('training labels', batchCount * labelStride);
    const inputWindows = slotWindows(ctx, 'training inputs', batchCount, batch * train.features * F32, buffer);
    const softWindows = config.distill ? slotWindows(ctx, 'soft targets', batchCount, batch * train.classes * F32, buffer) : null;
    const slots: Slot[] = inputWindows.map((inputs, b) => ({
      inputs,
      labels: { buffer: labelBuffer, offset: b * labelStride, size: batch * 4 },
      ...(softWindows ? { soft: softWindows[b]! } : {}),
    }));

    // Parameters and per-batch scratch.
    const masked = cloneNetwork(net);
    applyMasks(masked, startState.velocities, ...(isAdam(rule) ? [startState.secondMoments] : []));
    /** A buffer per layer shaped like `shapes[l]` holding `arrays` (zeros when absent). */
    const perLayerOf = (shapes: Float32Array[], label: string, arrays?: Float32Array[]): GPUBuffer[] =>
      shapes.map((shape, l) => {
        const b = buffer(`${label} ${l}`, shape.byteLength);
        if (arrays) writeArray(ctx, b, 0, arrays[l]!);
        return b;
      });
    const perLayer = (label: string, arrays?: Float32Array[]): GPUBuffer[] => perLayerOf(masked.weights, label, arrays);
    const weights = perLayer('weights', masked.weights);
    const maskBuffers = perLayer('mask', masked.masks.map((m) => Float32Array.from(m)));
    // A sparse layer's index of its kept weights, as many as it keeps now: later passes keep no more (magnitude pruning removes, regrowth moves).
    const indexes = layerKernelsFor(ctx, masked.masks, options.layerKernels).map((kind, l) => (kind === 'dense' ? null : sparseTrainingIndex(masked.masks[l]!, sizes[l]!, sizes[l + 1]!)));
    const sparseIndexes = indexes.map((index, l): SparseIndexBuffers | null => {
      if (!index) return null;
      const indexBuffer = (name: keyof SparseTrainingIndex): GPUBuffer => buffer(`layer ${l} kept weights, ${name}`, index[name].byteLength);
      const buffers = { outPtr: indexBuffer('outPtr'), outRows: indexBuffer('outRows'), inPtr: indexBuffer('inPtr'), positions: indexBuffer('positions'), capacity: index.positions.length };
      writeSparseIndex(ctx, buffers, index);
      return buffers;
    });
    // With final masks, a sparse layer's forward pass runs the program of its mask where it fits
    // and the tuning prefers it (on lavapipe 2.8× the CSR kernel's speed: BENCHMARKS.md, "The
    // pruned layer's own program in training").
    const unrolled = indexes.map((index, l): UnrolledForward | null => {
      const structure = index && { inSize: sizes[l]!, outSize: sizes[l + 1]!, indptr: index.outPtr, indices: index.outRows };
      if (!options.masksFinal || !ctx.tuning.unrolledTrainingForward || !structure || !unrollableForTraining(ctx, structure)) return null;
      const { descriptor, kept } = unrolledTrainingForwardFor(ctx, structure);
      const params = uniformBuffer(ctx, `layer ${l} sparse_unrolled params`, sparseParams(batch, structure, l + 1 < layers, 'sample-major', 'sample-major'));
      const keptBuffer = uploadBuffer(ctx, `layer ${l} kept weights, program order`, kept);
      owned.push(params, keptBuffer);
      return { descriptor, kept: keptBuffer, params, nonzeros: kept.length };
    });
    const velocityLabel = rule === 'seed' ? 'velocities' : rule === 'momentum' ? 'momentum buffers' : 'first moments';
    const velocityBuffers = rule === 'sgd' ? [] : perLayer(velocityLabel, startState.velocities);
    const secondMoments = isAdam(rule) ? perLayer('second moments', startState.secondMoments) : [];
    // The weight-gradient matmul's target: the seed sums into its velocities, the other rules into a buffer their update clears.
    const gradientSums = rule === 'seed' ? velocityBuffers : perLayer('gradient sums');
    // The biases in the same roles; bias_grad sums into biasGradientSums.
    const biasShapes = masked.biases;
    const biases: BiasBuffers | null = biasShapes
      ? {
          values: perLayerOf(biasShapes, 'biases', biasShapes),
          velocities: rule === 'sgd' ? [] : perLayerOf(biasShapes, `bias ${velocityLabel}`, startState.biasVelocities),
          secondMoments: isAdam(rule) ? perLayerOf(biasShapes, 'bias second moments', startState.biasSecondMoments) : [],
        }
      : null;
    const biasGradientSums = !biases || !biasShapes ? [] : rule === 'seed' ? biases.velocities : perLayerOf(biasShapes, 'bias gradient sums');
    // activations[l]: [batch, sizes[l]] for l = 1..L (index 0 unused: the inputs are the slot).
    // gradients[l]: [batch, sizes[l]] for l = 1..L, packed rows below L (G'[l]), sample order at L.
    const activations = sizes.map((n, l) => (l === 0 ? null : buffer(`activations ${l}`, batch * n * F32)));
    const gradients = sizes.map((n, l) => (l === 0 ? null : buffer(`${l < layers ? 'packed ' : ''}gradients ${l}`, batch * n * F32)));
    // The compaction: flags, the packed sample list and its count, the packed rows A'[l] (l < L) and G'[L].
    const backpropFlags = buffer('backpropagated flags', batch * 4);
    const packedSamples = buffer('backpropagated samples', batch * 4);
    const packedCount = buffer('backpropagated count', 4);
    const packedActivations = sizes.slice(0, layers).map((n, l) => buffer(`packed activations ${l}`, batch * n * F32));
    const packedOutputGradients = buffer(`packed gradients ${layers}`, batch * sizes[layers]! * F32);
    const hyperStride = alignUp(HYPER_FLOATS * F32, ctx.device.limits.minUniformBufferOffsetAlignment);
    const hyper =
      rule === 'seed'
        ? uniformBuffer(ctx, 'hyperparameters (lr, momentum)', new Float32Array(2))
        : uniformBuffer(ctx, `${rule} hyperparameters, per batch`, new Float32Array((batchCount * hyperStride) / F32));
    owned.push(hyper);
    const counters = buffer('counters (correct, backpropagated, non-finite)', SOFTMAX_COUNTERS * 4);
    const countersReadback = buffer('counters readback', SOFTMAX_COUNTERS * 4, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    const losses = buffer('loss sums [batch]', batch * F32);
    const lossesReadback = buffer('loss sums readback', batch * F32, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    // Any 4 bytes for a binding the kernel does not read: the matmul's aux, a bias update's mask.
    const unread = buffer('unread binding', F32);

    // Kernels, one per shape, compiled concurrently.
    // 'auto' keeps v3 (v2 without subgroups) for the batch-sized shapes (M = batch or K = batch) and
    // takes v4 only where M, a layer's width in the weight gradient, is tiny.
    const version = options.matmulVersion ?? 'auto';
    const layerIndices = [...Array(layers).keys()];
    const backwardSpecs = layerIndices.slice(1).map((l) => inputGradientSpec(sizes, l, batch));
    const backwardDescriptors = backwardSpecs.map((spec) => matmulDescriptorFor(ctx, spec, version));
    const bias = biases !== null;
    const biasLayers = bias ? layerIndices : [];
    const updateOf = (count: number, biasUpdate: boolean): Promise<Kernel> =>
      rule === 'seed' ? updateKernel(ctx, count, biasUpdate) : optimizerUpdateKernel(ctx, rule, count, biasUpdate);
    const isSparse = (l: number): boolean => sparseIndexes[l] !== null;
    // With the seed's rule every layer's weight-gradient kernel takes the momentum step too: only the biases have an update kernel.
    const seedStep = rule === 'seed';
    // The gathers after the scan: layer l's activations (0 < l < L) and at l = L the output gradients, a few to a dispatch.
    const packedGroups = gatherGroups(layerIndices.map((l) => l + 1));
    const [forward, backward, weightGrad, sparse, unrolledKernels, update, applyMask, softmax, inputGather, packedGather, biasGrad, biasUpdate] = await Promise.all([
      Promise.all(layerIndices.map((l) => (isSparse(l) ? null : matmulKernel(ctx, forwardSpec(sizes, l, batch, bias), version)))),
      Promise.all(backwardSpecs.map((spec, i) => (isSparse(i + 1) ? null : compileKernel(ctx, backwardDescriptors[i]!, spec)))),
      Promise.all(layerIndices.map((l) => (isSparse(l) ? null : matmulKernel(ctx, weightGradientSpec(sizes, l, batch, seedStep ? 'momentumStep' : 'accumulateVelocity'), version)))),
      Promise.all(
        layerIndices.map((l) =>
          isSparse(l)
            ? sparseTrainingKernels(
                ctx,
                { batch, inSize: sizes[l]!, outSize: sizes[l + 1]!, capacity: sparseIndexes[l]!.capacity, relu: l + 1 < layers, bias, seedStep },
                { withForward: !unrolled[l], withInputGrad: l > 0 },
              )
            : null,
        ),
      ),
      Promise.all(unrolled.map((u, l) => u && compileKernel(ctx, u.descriptor, { batch, inSize: sizes[l]!, outSize: sizes[l + 1]!, nonzeros: u.nonzeros, bias }))),
      Promise.all(layerIndices.map((l) => (seedStep ? null : updateOf(sizes[l]! * sizes[l + 1]!, false)))),
      Promise.all(layerIndices.map((l) => applyMaskKernel(ctx, sizes[l]! * sizes[l + 1]!))),
      softmaxGradKernel(ctx, batch, sizes[layers]!, config.confidence, config.distill),
      gatherRowsKernel(ctx, batch, [sizes[0]!]),
      Promise.all(packedGroups.map((group) => gatherRowsKernel(ctx, batch, group.map((l) => sizes[l]!)))),
      Promise.all(biasLayers.map((l) => biasGradKernel(ctx, batch, sizes[l + 1]!))),
      Promise.all(biasLayers.map((l) => updateOf(sizes[l + 1]!, true))),
    ]);

    // The indirect dispatches: the gathers (the inputs, then the groups) and the input-gradient
    // matmuls (l = 1 … L−1) count their row tiles from the packed rows (the rows past them are
    // never read).
    const rowTiled = (kernel: Kernel, rows: number): IndirectEntry => {
      if (kernel.workgroups[1] !== ceilDiv(batch, rows)) throw new KernelError(`GPU trainer: ${kernel.name} does not tile its rows by ${rows}`);
      return { x: kernel.workgroups[0], rowsPerWorkgroup: rows };
    };
    const gatherEntries = [inputGather, ...packedGather].map((kernel) => rowTiled(kernel, GATHER_ROWS.geometry.ROWS));
    const backwardEntries = backward.map((kernel, i) => {
      const sparseKernels = sparse[i + 1];
      if (sparseKernels) return rowTiled(sparseKernels.inputGrad!, sparseKernels.inputGradRows);
      return rowTiled(kernel!, backwardDescriptors[i]!.tile(backwardDescriptors[i]!.geometry)[0]);
    });
    const entries = [...gatherEntries, ...backwardEntries];
    const scan = await compactScanKernel(ctx, batch, entries);
    const table = buffer('indirect dispatch table', entries.length * 2 * 4);
    writeArray(ctx, table, 0, indirectTable(entries));
    const args = buffer('indirect dispatch workgroups', entries.length * INDIRECT_ARGS_BYTES, INDIRECT_STORAGE);
    const indirectly = (dispatch: Dispatch, entry: number): Dispatch => ({ ...dispatch, indirect: { buffer: args, offset: entry * INDIRECT_ARGS_BYTES } });

    // Bind groups: those that read a batch's slot per batch, the rest once.
    const act = (l: number) => activations[l]!;
    const packedGrad = (l: number) => (l === layers ? packedOutputGradients : gradients[l]!);
    const biasOf = (l: number): GPUBuffer[] => (biases ? [biases.values[l]!] : []);
    /** Layer l's forward pass from `input`: the matmul, or over a sparse layer's kept weights. */
    const forwardDispatch = (l: number, input: GPUBuffer | GPUBufferBinding, label: string): Dispatch => {
      const index = sparseIndexes[l];
      const own = unrolled[l];
      if (own) return bindKernel(ctx, unrolledKernels[l]!, label, [input, act(l + 1), own.params, biases?.values[l] ?? unread, weights[l]!, own.kept]);
      if (index) return bindKernel(ctx, sparse[l]!.forward!, label, [input, index.outPtr, index.outRows, weights[l]!, act(l + 1), ...biasOf(l)]);
      return bindKernel(ctx, forward[l]!, label, [input, weights[l]!, act(l + 1), unread, ...biasOf(l)]);
    };
    const hiddenForward = layerIndices.slice(1).map((l) => forwardDispatch(l, act(l), `layer ${l} forward`));
    /** Layer l's rows to pack and where they go: its activations, or at l = L the output gradients. */
    const packedPair = (l: number): GPUBuffer[] => (l === layers ? [gradients[layers]!, packedOutputGradients] : [act(l), packedActivations[l]!]);
    const compaction = [
      bindKernel(ctx, scan, 'backpropagated samples, backward workgroups', [backpropFlags, packedSamples, packedCount, table, args]),
      ...packedGroups.map((group, g) =>
        indirectly(bindKernel(ctx, packedGather[g]!, `layers ${group.join(', ')}`, [packedSamples, packedCount, ...group.flatMap(packedPair)]), 1 + g),
      ),
    ];
    const gatherInputs = (inputs: GPUBufferBinding, b: number): Dispatch =>
      indirectly(bindKernel(ctx, inputGather, `inputs, batch ${b}`, [packedSamples, packedCount, inputs, packedActivations[0]!]), 0);
    const backprop = layerIndices
      .slice(1)
      .reverse()
      .map((l) => {
        const index = sparseIndexes[l];
        const dispatch = index
          ? bindKernel(ctx, sparse[l]!.inputGrad!, `layer ${l} backprop over kept weights`, [packedGrad(l + 1), index.inPtr, index.positions, weights[l]!, gradients[l]!, packedActivations[l]!])
          : bindKernel(ctx, backward[l - 1]!, `layer ${l} backprop`, [packedGrad(l + 1), weights[l]!, gradients[l]!, packedActivations[l]!]);
        return indirectly(dispatch, gatherEntries.length + l - 1);
      });
    // The momentum step's bindings in the weight-gradient kernels (the seed's rule only).
    const stepBindings = (l: number): (GPUBuffer | GPUBufferBinding)[] => (seedStep ? [weights[l]!, { buffer: hyper, size: SEED_HYPER_BYTES }] : []);
    /**
     * Layer l's weight gradient over the n packed rows of A'[l] and G'[l+1]: dense, the matmul
     * that reads n; sparse, the kernel over the kept weights, which reads it too (and with the
     * seed's rule takes the momentum step).
     */
    const weightGradient = (l: number): Dispatch => {
      const index = sparseIndexes[l];
      if (index) {
        const bindings = [packedActivations[l]!, packedGrad(l + 1), index.inPtr, index.positions, packedCount, gradientSums[l]!, ...stepBindings(l)];
        return bindKernel(ctx, sparse[l]!.weightGrad, `layer ${l} gradient sum at kept weights`, bindings);
      }
      const bindings = [packedActivations[l]!, packedGrad(l + 1), gradientSums[l]!, maskBuffers[l]!, unread, packedCount, ...stepBindings(l)];
      return bindKernel(ctx, weightGrad[l]!, `layer ${l} gradient sum`, bindings);
    };
    // Layer l's bias gradient: the n packed rows of G'[l+1] (bias_grad reads the count itself).
    const biasGradients = biasLayers.map((l) => bindKernel(ctx, biasGrad[l]!, `layer ${l} bias gradient sum`, [packedGrad(l + 1), packedCount, biasGradientSums[l]!]));
    const backwardPass = [...backprop, ...layerIndices.map(weightGradient), ...biasGradients];
    const seedUpdates = seedStep
      ? biasLayers.map((l) => bindKernel(ctx, biasUpdate[l]!, `layer ${l} bias update`, [biases!.values[l]!, biases!.velocities[l]!, unread, hyper]))
      : [];
    const batchUpdates = (b: number): Dispatch[] => {
      if (seedStep) return seedUpdates;
      const window = { buffer: hyper, offset: b * hyperStride, size: HYPER_FLOATS * F32 };
      const state = (buffers: GPUBuffer[][], l: number) => buffers.flatMap((s) => s.slice(l, l + 1));
      return [
        ...layerIndices.map((l) =>
          bindKernel(ctx, update[l]!, `layer ${l} update, batch ${b}`, [weights[l]!, gradientSums[l]!, maskBuffers[l]!, window, ...state([velocityBuffers, secondMoments], l)]),
        ),
        ...biasLayers.map((l) =>
          bindKernel(ctx, biasUpdate[l]!, `layer ${l} bias update, batch ${b}`, [biases!.values[l]!, biasGradientSums[l]!, unread, window, ...state([biases!.velocities, biases!.secondMoments], l)]),
        ),
      ];
    };
    // apply_mask zeroes two buffers: the weights and the state in pairs, the last one paired with the (already zero) gradient sums.
    const zeroed = layerIndices.map((l) => [weights[l]!, ...velocityBuffers.slice(l, l + 1), ...secondMoments.slice(l, l + 1)]);
    const maskDispatches = layerIndices.flatMap((l) => {
      const buffers = zeroed[l]!.length % 2 === 0 ? zeroed[l]! : [...zeroed[l]!, gradientSums[l]!];
      return Array.from({ length: buffers.length / 2 }, (_, p) => bindKernel(ctx, applyMask[l]!, `layer ${l}`, [buffers[2 * p]!, buffers[2 * p + 1]!, maskBuffers[l]!]));
    });
    const batchDispatches = slots.map((slot, b) => [
      forwardDispatch(0, slot.inputs, `layer 0 forward, batch ${b}`),
      ...hiddenForward,
      bindKernel(ctx, softmax, `batch ${b}`, [act(layers), slot.labels, gradients[layers]!, counters, backpropFlags, losses, ...(slot.soft ? [slot.soft] : [])]),
      ...compaction,
      gatherInputs(slot.inputs, b),
      ...backwardPass,
      ...batchUpdates(b),
    ]);

    const trainer = new GpuTrainer(
      ctx,
      [...sizes],
      masked.masks,
      train,
      config,
      batchCount,
      slots,
      weights,
      velocityBuffers,
      secondMoments,
      biases,
      startState.steps,
      maskBuffers,
      hyper,
      hyperStride,
      counters,
      countersReadback,
      losses,
      lossesReadback,
      batchDispatches,
      maskDispatches,
      options.batchesPerSubmit ?? 8,
      owned,
      sparseIndexes,
      options.layerKernels ?? 'auto',
      unrolled.map((u) => u !== null),
    );
    trainer.uploadSamples(null);
    return trainer;
  }

  /** Writes the training set into the batch slots, in `order` (null = file order), with `inputs` for its own. */
  private uploadSamples(order: Uint32Array | null, inputs = this.train.inputs): void {
    const { labels, features } = this.train;
    const batch = this.config.batchSize;
    const stagingInputs = order ? new Float32Array(batch * features) : null;
    const stagingLabels = new Uint32Array(batch);
    for (let b = 0; b < this.batchCount; b++) {
      const slot = this.slots[b]!;
      const first = b * batch;
      if (order && stagingInputs) {
        for (let r = 0; r < batch; r++) {
          const s = order[first + r]!;
          stagingInputs.set(inputs.subarray(s * features, (s + 1) * features), r * features);
          stagingLabels[r] = labels[s]!;
        }
        writeArray(this.ctx, slot.inputs.buffer, slot.inputs.offset!, stagingInputs);
      } else {
        writeArray(this.ctx, slot.inputs.buffer, slot.inputs.offset!, inputs.subarray(first * features, (first + batch) * features));
        stagingLabels.set(labels.subarray(first, first + batch));
      }
      writeArray(this.ctx, slot.labels.buffer, slot.labels.offset!, stagingLabels);
    }
    this.resident = order || inputs !== this.train.inputs ? 'epoch' : 'file';
  }

  /** Writes an epoch's soft targets ([count, classes], sample order) into the batch slots, in `order` (null = file order). */
  private uploadSoftTargets(order: Uint32Array | null, soft: Float32Array): void {
    const classes = this.train.classes;
    const batch = this.config.batchSize;
    const staging = new Float32Array(batch * classes);
    for (let b = 0; b < this.batchCount; b++) {
      const window = this.slots[b]!.soft!;
      const first = b * batch;
      if (order) {
        for (let r = 0; r < batch; r++) {
          const s = order[first + r]!;
          staging.set(soft.subarray(s * classes, (s + 1) * classes), r * classes);
        }
        writeArray(this.ctx, window.buffer, window.offset!, staging);
      } else {
        writeArray(this.ctx, window.buffer, window.offset!, soft.subarray(first * classes, (first + batch) * classes));
      }
    }
  }

  async trainEpoch(order: Uint32Array | null, lr: number, momentum: number, options: EpochOptions = {}): Promise<EpochResult> {
    const { ctx } = this;
    const { device } = ctx;
    const batch = this.config.batchSize;
    const firstBatch = checkFirstBatch(options.firstBatch ?? 0, this.batchCount);
    if (order) {
      const needed = this.batchCount * batch;
      if (order.length < needed) throw new KernelError(`GPU trainer: order has ${order.length} indices, an epoch needs ${needed}`);
      for (let i = 0; i < needed; i++) {
        if (order[i]! >= this.train.count) throw new KernelError(`GPU trainer: order[${i}] = ${order[i]} is not a sample index`);
      }
    }
    const inputs = epochInputs(options, this.train.inputs);
    if (order || inputs !== this.train.inputs || this.resident !== 'file') this.uploadSamples(order, inputs);
    const soft = epochSoftTargets(options, this.config, this.train.count, this.train.classes);
    if (soft) this.uploadSoftTargets(order, soft);
    this.writeHyper(firstBatch, lr, momentum);
    // Batches [done, end) are submitted and not known to have finished: what a lost device
    // interrupted, named as the submissions' labels name them.
    let done = firstBatch;
    let end = firstBatch;
    const running = (): string => (done < end ? `train batches ${done}–${end - 1}` : 'read training counters');
    return detectDeviceLoss(ctx, running, async () => {
      await withErrorScope(device, 'GPU trainer epoch', async () => {
        while (end < this.batchCount) {
          const first = end;
          end = Math.min(first + this.batchesPerSubmit, this.batchCount);
          const label = `train batches ${first}–${end - 1}`;
          const encoder = device.createCommandEncoder({ label });
          if (first === firstBatch) this.clearEpochSums(encoder);
          const pass = encoder.beginComputePass({ label });
          for (let b = first; b < end; b++) recordDispatches(pass, this.batchDispatches[b]!);
          pass.end();
          device.queue.submit([encoder.finish()]);
          // A stop request (a signal) can only arrive while the event loop runs: wait for each
          // submission then, so the epoch can end between batches.
          if (options.shouldStop && end < this.batchCount) {
            await waitForGpu(device.queue.onSubmittedWorkDone());
            throwIfLost(ctx, running());
            done = end;
            if (options.shouldStop(end)) break;
          }
        }
        const encoder = device.createCommandEncoder({ label: 'read training counters' });
        if (end === firstBatch) this.clearEpochSums(encoder);
        encoder.copyBufferToBuffer(this.counters, 0, this.countersReadback, 0, SOFTMAX_COUNTERS * 4);
        encoder.copyBufferToBuffer(this.losses, 0, this.lossesReadback, 0, batch * F32);
        device.queue.submit([encoder.finish()]);
      });
      await waitForGpu(this.countersReadback.mapAsync(GPUMapMode.READ));
      this.counterValues.set(new Uint32Array(this.countersReadback.getMappedRange()));
      this.countersReadback.unmap();
      await waitForGpu(this.lossesReadback.mapAsync(GPUMapMode.READ));
      let lossSum = options.lossSumBefore ?? 0;
      for (const slotSum of new Float32Array(this.lossesReadback.getMappedRange())) lossSum += slotSum;
      this.lossesReadback.unmap();
      this.steps += end - firstBatch;
      const [correct, backpropagated, nonFinite] = this.counterValues;
      return { correct: correct!, samples: (end - firstBatch) * batch, backpropagated: backpropagated!, nonFinite: nonFinite!, lossSum };
    });
  }

  /**
   * The dispatches of the epoch's last batch, in order, for timing each alone (bench train). After
   * an epoch at lr 0 and momentum 0 each of them, run again, reads what the ones before it wrote
   * for that batch and writes the same again: the weights do not move and the seed's velocities
   * end every step at 0.
   */
  lastBatchDispatches(): readonly Dispatch[] {
    return this.batchDispatches[this.batchCount - 1]!;
  }

  /** The epoch's counters and loss sums start from 0. */
  private clearEpochSums(encoder: GPUCommandEncoder): void {
    encoder.clearBuffer(this.counters);
    encoder.clearBuffer(this.losses);
  }

  /** The epoch's uniform: (lr, momentum) for the seed's rule; for the others one window per batch from `firstBatch`, for its step. */
  private writeHyper(firstBatch: number, lr: number, momentum: number): void {
    if (this.optimizer.kind === 'seed') {
      writeArray(this.ctx, this.hyper, 0, new Float32Array([lr, momentum]));
      return;
    }
    const stride = this.hyperStride / F32;
    const windows = new Float32Array((this.batchCount - firstBatch) * stride);
    for (let b = firstBatch; b < this.batchCount; b++) {
      writeHyper(windows, (b - firstBatch) * stride, this.optimizer, lr, momentum, this.config.batchSize, this.steps + b - firstBatch + 1);
    }
    writeArray(this.ctx, this.hyper, firstBatch * this.hyperStride, windows);
  }

  async state(): Promise<TrainerState> {
    /** Per layer, arrays of `lengths[l]` read from `buffers`: the rule's state, or zeros for a first state it lacks (sgd). */
    const read = (buffers: GPUBuffer[], lengths: number[], zerosIfNone = false) =>
      buffers.length === 0 && zerosIfNone
        ? lengths.map((n) => new Float32Array(n))
        : Promise.all(buffers.map((b, l) => readBuffer(this.ctx, b, new Float32Array(lengths[l]!))));
    const lengths = this.masks.map((m) => m.length);
    const net: Network = { sizes: [...this.sizes], weights: await read(this.weights, lengths), masks: this.masks.map((m) => m.slice()) };
    const state: TrainerState = { net, velocities: await read(this.velocities, lengths, true), secondMoments: await read(this.secondMoments, lengths), steps: this.steps };
    if (this.biases) {
      const outputs = this.sizes.slice(1);
      net.biases = await read(this.biases.values, outputs);
      state.biasVelocities = await read(this.biases.velocities, outputs, true);
      state.biasSecondMoments = await read(this.biases.secondMoments, outputs);
    }
    return state;
  }

  async setMasks(masks: Uint8Array[]): Promise<void> {
    if (masks.length !== this.masks.length || masks.some((m, l) => m.length !== this.masks[l]!.length)) {
      throw new KernelError('GPU trainer: masks do not match the network’s weight shapes');
    }
    const changed = masks.findIndex((mask, l) => this.unrolledLayers[l] && mask.some((m, i) => m !== this.masks[l]![i]));
    if (changed >= 0) throw new KernelError(`GPU trainer: layer ${changed}'s forward pass runs the program of its mask, made as final (masksFinal), so the mask cannot change`);
    // A sparse layer's index has room for the weights it kept when the trainer was made.
    const indexes = masks.map((mask, l) => (this.sparseIndexes[l] ? sparseTrainingIndex(mask, this.sizes[l]!, this.sizes[l + 1]!) : null));
    indexes.forEach((index, l) => {
      const capacity = this.sparseIndexes[l]?.capacity ?? 0;
      if (index && index.positions.length > capacity) {
        throw new KernelError(`GPU trainer: the masks keep ${index.positions.length} weights of sparse layer ${l}, which was made for at most ${capacity}`);
      }
    });
    // Only the masks travel (and a sparse layer's index): apply_mask zeroes the weights and optimizer state they drop.
    masks.forEach((mask, l) => writeArray(this.ctx, this.maskBuffers[l]!, 0, Float32Array.from(mask)));
    indexes.forEach((index, l) => index && writeSparseIndex(this.ctx, this.sparseIndexes[l]!, index));
    await detectDeviceLoss(this.ctx, () => 'apply masks', () => submitDispatches(this.ctx, 'apply masks', this.maskDispatches));
    this.masks = masks.map((m) => m.slice());
  }

  dispose(): void {
    for (const b of this.owned) b.destroy();
    this.owned.length = 0;
  }
}

/** Writes a layer's index into its buffers (an index shorter than their capacity leaves stale entries past nnz, which no kernel reads). */
function writeSparseIndex(ctx: GpuContext, buffers: SparseIndexBuffers, index: SparseTrainingIndex): void {
  for (const name of ['outPtr', 'outRows', 'inPtr', 'positions'] as const) writeArray(ctx, buffers[name], 0, index[name]);
}
