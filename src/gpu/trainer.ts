/**
 * The WebGPU trainer: the seed's batch training (src/train/trainer.ts) as a handful of dispatches
 * per batch, with everything resident on the GPU.
 *
 * Resident: the training set (once), per layer the weights W[l] [in,out], velocities V[l], masks
 * (0/1 as f32), the activations and gradients of one batch. One batch step, recorded into one
 * compute pass with no readback (A0 = the batch's inputs, L layers):
 *   A[l+1] = relu(A[l]·W[l])            (no ReLU on the last layer: A[L] = logits)  matmul
 *   G[L]   = onehot − softmax(A[L]) where p[target] < confidence, else 0 (0 where a  softmax_grad
 *            logit is not finite); counters
 *   G[l]   = (G[l+1]·W[l]ᵀ)·[A[l] > 0]   for l = L−1 … 1                          matmul, Bᵀ
 *   V[l]   = (V[l] + A[l]ᵀ·G[l+1])·mask[l]   (the batch sum, not the mean)         matmul, Aᵀ
 *   W[l]  += lr·V[l]; V[l] *= momentum   where mask[l] = 1                         update
 * An epoch records all its batches (several batches per command encoder), then reads back only
 * the three counters (correct, backpropagated, non-finite). Pruning (`setMasks`) uploads the new
 * masks and zeroes what they drop with one apply_mask dispatch per layer.
 *
 * The training set lives in batch slots: slot b holds the inputs of batch b ([batch, features]
 * f32) at an offset aligned for binding, in as many buffers as maxStorageBufferBindingSize needs
 * (the 188 MB MNIST set passes lavapipe's 128 MiB); labels likewise, as u32. Each batch's
 * kernels bind their slot directly, so a step copies no inputs. A shuffled epoch (`order`)
 * rewrites the slots in that order first (one upload of the set, batch by batch through a
 * reused staging array); the next file-order epoch restores file order.
 */
import type { Dataset } from '../data/dataset';
import { applyMasks, cloneNetwork, layerCount, type Network } from '../model/network';
import { checkFirstBatch, type EpochOptions, type EpochResult, type Trainer, type TrainConfig, type TrainerState } from '../train/trainer';
import { ceilDiv } from '../util/math';
import { createBuffer, readBuffer, uniformBuffer, writeArray } from './buffers';
import { detectDeviceLoss, throwIfLost, type GpuContext } from './device';
import { bindKernel, recordDispatches, submitDispatches, type Dispatch } from './dispatch';
import { applyMaskKernel, matmulKernel, SOFTMAX_COUNTERS, softmaxGradKernel, updateKernel, type MatmulVersion } from './kernels';
import { KernelError } from './program';
import { waitForGpu } from './wait';

export interface GpuTrainerOptions {
  /** Matmul kernel version; default: `matmulVersionFor` picks per shape. */
  matmulVersion?: MatmulVersion;
  /** Batches recorded per command encoder (default 8). */
  batchesPerSubmit?: number;
}

const F32 = 4;

function alignUp(bytes: number, alignment: number): number {
  return ceilDiv(bytes, alignment) * alignment;
}

/** Where one batch's inputs and labels live: windows of the resident training set. */
interface Slot {
  inputs: GPUBufferBinding;
  labels: GPUBufferBinding;
}

export class GpuTrainer implements Trainer {
  readonly backend = 'gpu' as const;

  private residentOrder: 'file' | 'shuffled' = 'file';
  private readonly counterValues = new Uint32Array(SOFTMAX_COUNTERS);

  private constructor(
    private readonly ctx: GpuContext,
    private readonly sizes: number[],
    private masks: Uint8Array[],
    private readonly train: Dataset,
    private readonly config: TrainConfig,
    private readonly batchCount: number,
    private readonly slots: Slot[],
    private readonly weights: GPUBuffer[],
    private readonly velocities: GPUBuffer[],
    private readonly maskBuffers: GPUBuffer[],
    private readonly hyper: GPUBuffer,
    private readonly counters: GPUBuffer,
    private readonly countersReadback: GPUBuffer,
    private readonly batchDispatches: Dispatch[][],
    /** Per layer: w = v = 0 where the mask buffer is 0. */
    private readonly maskDispatches: Dispatch[],
    private readonly batchesPerSubmit: number,
    private readonly owned: GPUBuffer[],
  ) {}

  static async create(
    ctx: GpuContext,
    net: Network,
    train: Dataset,
    config: TrainConfig,
    velocities?: Float32Array[],
    options: GpuTrainerOptions = {},
  ): Promise<GpuTrainer> {
    const { sizes } = net;
    const layers = layerCount(net);
    const batch = config.batchSize;
    const { limits } = ctx.adapter;
    const alignment = ctx.device.limits.minStorageBufferOffsetAlignment;
    if (!Number.isInteger(batch) || batch < 1) throw new KernelError(`GPU trainer: batch size ${batch} is not a positive integer`);
    if (sizes[0] !== train.features) throw new KernelError(`GPU trainer: the network takes ${sizes[0]} inputs, the data has ${train.features} features`);
    if (sizes[layers] !== train.classes) throw new KernelError(`GPU trainer: the network has ${sizes[layers]} outputs, the data ${train.classes} classes`);
    if (velocities && velocities.some((v, l) => v.length !== net.weights[l]!.length)) {
      throw new KernelError('GPU trainer: velocities do not match the network’s weight shapes');
    }
    const batchCount = Math.floor(train.count / batch);
    if (batchCount === 0) throw new KernelError(`GPU trainer: ${train.count} samples do not fill one batch of ${batch}`);

    const owned: GPUBuffer[] = [];
    const buffer = (label: string, bytes: number, usage?: number): GPUBuffer => {
      const b = createBuffer(ctx, label, bytes, usage);
      owned.push(b);
      return b;
    };

    // Batch slots: inputs of a batch at aligned offsets, as many per buffer as the binding limit allows.
    const inputBytes = batch * train.features * F32;
    const inputStride = alignUp(inputBytes, alignment);
    const perChunk = Math.floor(Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize) / inputStride);
    if (perChunk === 0) throw new KernelError(`GPU trainer: one batch of inputs (${inputBytes} bytes) passes the adapter's binding limit`);
    const labelStride = alignUp(batch * 4, alignment);
    const labelBuffer = buffer('training labels', batchCount * labelStride);
    const slots: Slot[] = [];
    for (let first = 0, chunk = 0; first < batchCount; first += perChunk, chunk++) {
      const count = Math.min(perChunk, batchCount - first);
      const inputBuffer = buffer(`training inputs ${chunk}`, count * inputStride);
      for (let b = 0; b < count; b++) {
        slots.push({
          inputs: { buffer: inputBuffer, offset: b * inputStride, size: inputBytes },
          labels: { buffer: labelBuffer, offset: (first + b) * labelStride, size: batch * 4 },
        });
      }
    }

    // Parameters and per-batch scratch.
    const masked = cloneNetwork(net);
    const startVelocities = sizes.slice(1).map((_, l) => velocities?.[l]?.slice() ?? new Float32Array(net.weights[l]!.length));
    applyMasks(masked, startVelocities);
    const weights: GPUBuffer[] = [];
    const velocityBuffers: GPUBuffer[] = [];
    const maskBuffers: GPUBuffer[] = [];
    for (let l = 0; l < layers; l++) {
      const bytes = masked.weights[l]!.byteLength;
      weights.push(buffer(`weights ${l}`, bytes));
      velocityBuffers.push(buffer(`velocities ${l}`, bytes));
      maskBuffers.push(buffer(`mask ${l}`, bytes));
      writeArray(ctx, weights[l]!, 0, masked.weights[l]!);
      writeArray(ctx, velocityBuffers[l]!, 0, startVelocities[l]!);
      writeArray(ctx, maskBuffers[l]!, 0, Float32Array.from(masked.masks[l]!));
    }
    // activations[l], gradients[l]: [batch, sizes[l]] for l = 1..L (index 0 unused: the inputs are the slot).
    const activations = sizes.map((n, l) => (l === 0 ? null : buffer(`activations ${l}`, batch * n * F32)));
    const gradients = sizes.map((n, l) => (l === 0 ? null : buffer(`gradients ${l}`, batch * n * F32)));
    const hyper = uniformBuffer(ctx, 'hyperparameters (lr, momentum)', new Float32Array(2));
    owned.push(hyper);
    const counters = buffer('counters (correct, backpropagated, non-finite)', SOFTMAX_COUNTERS * 4);
    const countersReadback = buffer('counters readback', SOFTMAX_COUNTERS * 4, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    const noAux = buffer('unused epilogue input', F32);

    // Kernels, one per shape, compiled concurrently.
    // 'auto' keeps v3 (v2 without subgroups) for the batch-sized shapes (M = batch or K = batch) and
    // takes v4 only where M, a layer's width in the weight gradient, is tiny.
    const version = options.matmulVersion ?? 'auto';
    const layerIndices = [...Array(layers).keys()];
    const [forward, backward, weightGrad, update, applyMask, softmax] = await Promise.all([
      Promise.all(layerIndices.map((l) => matmulKernel(ctx, { m: batch, k: sizes[l]!, n: sizes[l + 1]!, epilogue: l + 1 < layers ? 'relu' : 'none' }, version))),
      Promise.all(layerIndices.slice(1).map((l) => matmulKernel(ctx, { m: batch, k: sizes[l + 1]!, n: sizes[l]!, transB: true, epilogue: 'reluGrad' }, version))),
      Promise.all(layerIndices.map((l) => matmulKernel(ctx, { m: sizes[l]!, k: batch, n: sizes[l + 1]!, transA: true, epilogue: 'accumulateVelocity' }, version))),
      Promise.all(layerIndices.map((l) => updateKernel(ctx, sizes[l]! * sizes[l + 1]!))),
      Promise.all(layerIndices.map((l) => applyMaskKernel(ctx, sizes[l]! * sizes[l + 1]!))),
      softmaxGradKernel(ctx, batch, sizes[layers]!, config.confidence),
    ]);

    // Bind groups: those that read a batch's slot per batch, the rest once.
    const act = (l: number) => activations[l]!;
    const grad = (l: number) => gradients[l]!;
    const hiddenForward = layerIndices.slice(1).map((l) => bindKernel(ctx, forward[l]!, `layer ${l} forward`, [act(l), weights[l]!, act(l + 1), noAux]));
    const backprop = layerIndices
      .slice(1)
      .reverse()
      .map((l) => bindKernel(ctx, backward[l - 1]!, `layer ${l} backprop`, [grad(l + 1), weights[l]!, grad(l), act(l)]));
    const hiddenWeightGrad = layerIndices.slice(1).map((l) => bindKernel(ctx, weightGrad[l]!, `layer ${l} velocity`, [act(l), grad(l + 1), velocityBuffers[l]!, maskBuffers[l]!]));
    const updates = layerIndices.map((l) => bindKernel(ctx, update[l]!, `layer ${l} update`, [weights[l]!, velocityBuffers[l]!, maskBuffers[l]!, hyper]));
    const maskDispatches = layerIndices.map((l) => bindKernel(ctx, applyMask[l]!, `layer ${l}`, [weights[l]!, velocityBuffers[l]!, maskBuffers[l]!]));
    const batchDispatches = slots.map((slot, b) => [
      bindKernel(ctx, forward[0]!, `layer 0 forward, batch ${b}`, [slot.inputs, weights[0]!, act(1), noAux]),
      ...hiddenForward,
      bindKernel(ctx, softmax, `batch ${b}`, [act(layers), slot.labels, grad(layers), counters]),
      ...backprop,
      bindKernel(ctx, weightGrad[0]!, `layer 0 velocity, batch ${b}`, [slot.inputs, grad(1), velocityBuffers[0]!, maskBuffers[0]!]),
      ...hiddenWeightGrad,
      ...updates,
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
      maskBuffers,
      hyper,
      counters,
      countersReadback,
      batchDispatches,
      maskDispatches,
      options.batchesPerSubmit ?? 8,
      owned,
    );
    trainer.uploadSamples(null);
    return trainer;
  }

  /** Writes the training set into the batch slots, in `order` (null = file order). */
  private uploadSamples(order: Uint32Array | null): void {
    const { inputs, labels, features } = this.train;
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
    this.residentOrder = order ? 'shuffled' : 'file';
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
      this.uploadSamples(order);
    } else if (this.residentOrder !== 'file') {
      this.uploadSamples(null);
    }
    writeArray(this.ctx, this.hyper, 0, new Float32Array([lr, momentum]));
    // Batches [done, end) are submitted and not known to have finished: what a lost device
    // interrupted, named as the submissions' labels name them.
    let done = firstBatch;
    let end = firstBatch;
    const running = (): string => (done < end ? `train batches ${done}–${end - 1}` : 'read training counters');
    return detectDeviceLoss(ctx, running, async () => {
      device.pushErrorScope('validation');
      while (end < this.batchCount) {
        const first = end;
        end = Math.min(first + this.batchesPerSubmit, this.batchCount);
        const label = `train batches ${first}–${end - 1}`;
        const encoder = device.createCommandEncoder({ label });
        if (first === firstBatch) encoder.clearBuffer(this.counters);
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
          if (options.shouldStop()) break;
        }
      }
      const encoder = device.createCommandEncoder({ label: 'read training counters' });
      if (end === firstBatch) encoder.clearBuffer(this.counters);
      encoder.copyBufferToBuffer(this.counters, 0, this.countersReadback, 0, SOFTMAX_COUNTERS * 4);
      device.queue.submit([encoder.finish()]);
      const error = await device.popErrorScope();
      if (error) throw new KernelError(`GPU trainer epoch: ${error.message}`);
      await waitForGpu(this.countersReadback.mapAsync(GPUMapMode.READ));
      this.counterValues.set(new Uint32Array(this.countersReadback.getMappedRange()));
      this.countersReadback.unmap();
      const [correct, backpropagated, nonFinite] = this.counterValues;
      return { correct: correct!, samples: (end - firstBatch) * batch, backpropagated: backpropagated!, nonFinite: nonFinite! };
    });
  }

  async state(): Promise<TrainerState> {
    const weights = await Promise.all(this.weights.map((b, l) => readBuffer(this.ctx, b, new Float32Array(this.masks[l]!.length))));
    const velocities = await Promise.all(this.velocities.map((b, l) => readBuffer(this.ctx, b, new Float32Array(this.masks[l]!.length))));
    return { net: { sizes: [...this.sizes], weights, masks: this.masks.map((m) => m.slice()) }, velocities };
  }

  async setMasks(masks: Uint8Array[]): Promise<void> {
    if (masks.length !== this.masks.length || masks.some((m, l) => m.length !== this.masks[l]!.length)) {
      throw new KernelError('GPU trainer: masks do not match the network’s weight shapes');
    }
    // Only the masks travel: one kernel per layer zeroes the weights and velocities they drop.
    masks.forEach((mask, l) => writeArray(this.ctx, this.maskBuffers[l]!, 0, Float32Array.from(mask)));
    await detectDeviceLoss(this.ctx, () => 'apply masks', () => submitDispatches(this.ctx, 'apply masks', this.maskDispatches));
    this.masks = masks.map((m) => m.slice());
  }

  dispose(): void {
    for (const b of this.owned) b.destroy();
    this.owned.length = 0;
  }
}
