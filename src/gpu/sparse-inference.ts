/**
 * Batched inference on the GPU, sparse and dense. A network is uploaded once; each run records
 * every layer into one command encoder and nothing is read back but the logits.
 *
 * Sparse: each layer is a CSR matrix by output neuron (shaders/sparse_v*.wgsl, ReLU fused on the
 * hidden layers). The network input arrives sample-major `[batch, features]`; it is transposed to
 * feature-major on the GPU (shaders/sparse_transpose.wgsl) so the kernels' gathers run along
 * samples, hidden activations stay feature-major, and the last layer writes sample-major logits.
 * A compact network (src/prune/structured.ts) reads the original features: its first layer's
 * column indices are mapped back through `inputIndices`, so nothing is gathered on the CPU.
 *
 * Dense: the training matmul (src/gpu/kernels.ts, ReLU epilogue on hidden layers), sample-major
 * throughout; a compact network's kept features are gathered on the CPU at upload.
 *
 * The JS references are `sparseInfer` / `denseInfer` in src/cpu/sparse-forward.ts.
 */
import sparseTransposeSource from '../../shaders/sparse_transpose.wgsl';
import sparseV1Source from '../../shaders/sparse_v1.wgsl';
import sparseV2Source from '../../shaders/sparse_v2.wgsl';
import sparseV3Source from '../../shaders/sparse_v3.wgsl';
import { argmax } from '../cpu/forward';
import { csrLayers, type CsrLayer, type Inference } from '../cpu/sparse-forward';
import type { Network } from '../model/network';
import { gatherInputs, type CompactNetwork } from '../prune/structured';
import { ceilDiv } from '../util/math';
import { createBuffer, readBuffer, STORAGE, writeArray } from './buffers';
import type { GpuContext } from './device';
import { bindKernel, defaultMatmulVersion, matmulKernel, type MatmulVersion } from './kernels';
import { bindBuffers, getPipeline, KernelError, withErrorScope, type KernelProgram } from './program';
import { waitForGpu } from './wait';

/** 1 one invocation per (output, sample); 2 lanes over samples; 3 as 2 with subgroup-shared nonzeros. */
export type SparseVersion = 1 | 2 | 3;

export interface InferenceOptions {
  /** Most samples per run; buffers are sized for it once. */
  maxBatch: number;
}

export interface SparseInferenceOptions extends InferenceOptions {
  /** Kernel version, or `auto` (default): v1 for batches under AUTO_V1_BELOW, else v3 where subgroups exist, else v2. */
  version?: SparseVersion | 'auto';
  /** Invocations per workgroup of v2/v3 (default 16: a block of 64 samples stays in the cache; see BENCHMARKS.md). */
  workgroupSize?: number;
  /** Output rows per workgroup of v2/v3 (default 4). */
  rowsPerWorkgroup?: number;
}

/** A network resident on the GPU, ready to run batches. */
export interface GpuInference {
  /** What runs, for tables: e.g. `sparse_v2`, `dense matmul_v3`. */
  readonly name: string;
  /** Values per input sample (the original features, also for a compact network). */
  readonly features: number;
  readonly classes: number;
  readonly maxBatch: number;
  /** Writes `count` samples `[count, features]` into the input buffer. */
  upload(inputs: Float32Array, count: number): void;
  /** Runs the network on the first `count` uploaded samples; resolves when the GPU is done. */
  run(count: number): Promise<void>;
  /** The logits `[count, classes]` of the last run. */
  readLogits(count: number): Promise<Float32Array>;
  /** upload + run + readLogits over all of `inputs` `[count, features]`, in chunks of maxBatch. */
  infer(inputs: Float32Array, count: number): Promise<Inference>;
  dispose(): void;
}

/** Below this batch the lanes-over-samples kernels leave most lanes idle and v1 is faster (see BENCHMARKS.md). */
export const AUTO_V1_BELOW = 64;

/** v2/v3 workgroup size: 16 beat 8, 32 and 64 on lavapipe for 784→100 and 4096×4096 (BENCHMARKS.md). */
export const DEFAULT_WORKGROUP_SIZE = 16;

const F32 = 4;

interface Step {
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: [number, number, number];
}

function asCompact(model: Network | CompactNetwork): CompactNetwork {
  return 'net' in model ? model : { net: model, inputIndices: null, inputSize: model.sizes[0]! };
}

function checkBatch(name: string, count: number, maxBatch: number): void {
  if (!Number.isInteger(count) || count < 1 || count > maxBatch) {
    throw new KernelError(`${name}: batch ${count} is outside 1..${maxBatch}`);
  }
}

function checkBinding(ctx: GpuContext, name: string, what: string, bytes: number): void {
  const limit = ctx.adapter.limits.maxStorageBufferBindingSize;
  if (bytes > limit) {
    throw new KernelError(`${name}: ${what} needs ${bytes} bytes, past this device's storage binding limit of ${limit}; use a smaller batch`);
  }
}

function checkWorkgroups(ctx: GpuContext, name: string, workgroups: [number, number, number]): void {
  const max = ctx.adapter.limits.maxComputeWorkgroupsPerDimension;
  if (workgroups.some((w) => w > max)) throw new KernelError(`${name}: ${workgroups.join('×')} workgroups pass the limit of ${max} per dimension`);
}

/** Workgroups of one sparse layer dispatch: see each shader's header. */
export function sparseWorkgroups(version: SparseVersion, outSize: number, batch: number, workgroupSize = 64, rows = 4): [number, number, number] {
  return version === 1 ? [ceilDiv(outSize, 64), batch, 1] : [ceilDiv(outSize, rows), ceilDiv(batch, 4 * workgroupSize), 1];
}

/** The uniform of shaders/sparse_v*.wgsl: sizes, ReLU flag, and the (feature, sample) strides of x and y. */
export function sparseParams(
  batch: number,
  layer: { inSize: number; outSize: number },
  relu: boolean,
  x: 'sample-major' | 'feature-major',
  y: 'sample-major' | 'feature-major',
): Uint32Array {
  const strides = (layout: typeof x, features: number): number[] => (layout === 'feature-major' ? [batch, 1] : [1, features]);
  return Uint32Array.from([batch, layer.inSize, layer.outSize, relu ? 1 : 0, ...strides(x, layer.inSize), ...strides(y, layer.outSize)]);
}

function record(ctx: GpuContext, label: string, steps: readonly Step[]): void {
  const encoder = ctx.device.createCommandEncoder({ label });
  const pass = encoder.beginComputePass({ label });
  for (const step of steps) {
    pass.setPipeline(step.pipeline);
    pass.setBindGroup(0, step.bindGroup);
    pass.dispatchWorkgroups(...step.workgroups);
  }
  pass.end();
  ctx.device.queue.submit([encoder.finish()]);
}

function predict(logits: Float32Array, count: number, classes: number): Uint8Array {
  const predictions = new Uint8Array(count);
  for (let s = 0; s < count; s++) predictions[s] = argmax(logits.subarray(s * classes, (s + 1) * classes));
  return predictions;
}

/** Shared by both engines: chunked upload → run → read back, with argmax on the CPU. */
async function inferChunked(engine: GpuInference, inputs: Float32Array, count: number): Promise<Inference> {
  if (inputs.length < count * engine.features) {
    throw new KernelError(`${engine.name}: ${inputs.length} input values for ${count} samples of ${engine.features}`);
  }
  const logits = new Float32Array(count * engine.classes);
  for (let start = 0; start < count; start += engine.maxBatch) {
    const n = Math.min(engine.maxBatch, count - start);
    engine.upload(inputs.subarray(start * engine.features, (start + n) * engine.features), n);
    await engine.run(n);
    logits.set(await engine.readLogits(n), start * engine.classes);
  }
  return { logits, predictions: predict(logits, count, engine.classes) };
}

/** Layer 0 of a compact network, with its column indices mapped back to the original features. */
function onOriginalFeatures(layer: CsrLayer, inputIndices: Int32Array | null, features: number): CsrLayer {
  if (!inputIndices) return layer;
  return { ...layer, inSize: features, indices: layer.indices.map((i) => inputIndices[i]!) };
}

/** The kernel program of a sparse version; v2/v3 take their workgroup size and rows per workgroup as overrides. */
export function sparseProgram(version: SparseVersion, workgroupSize = 64, rows = 4): KernelProgram {
  if (version === 1) return { name: 'sparse_v1', source: sparseV1Source };
  return { name: `sparse_v${version}`, source: version === 2 ? sparseV2Source : sparseV3Source, constants: { WG: workgroupSize, ROWS: rows } };
}

/**
 * Uploads `model` (a network, or a compact network from `compactNetwork`) as CSR layers. Every
 * kernel version that `auto` may pick is compiled here, so runs never wait for a compile.
 */
export async function createSparseInference(
  ctx: GpuContext,
  model: Network | CompactNetwork,
  options: SparseInferenceOptions,
): Promise<GpuInference> {
  const { device } = ctx;
  const { net, inputIndices, inputSize: features } = asCompact(model);
  const classes = net.sizes[net.sizes.length - 1]!;
  const { maxBatch } = options;
  const workgroupSize = options.workgroupSize ?? DEFAULT_WORKGROUP_SIZE;
  const rows = options.rowsPerWorkgroup ?? 4;
  const hasSubgroups = device.features.has('subgroups');
  const requested = options.version ?? 'auto';
  if (requested === 3 && !hasSubgroups) throw new KernelError('sparse_v3 needs the subgroups feature, which this device lacks');
  const wide: SparseVersion = requested === 'auto' ? (hasSubgroups ? 3 : 2) : requested;
  const name = requested === 'auto' ? `sparse_auto(v1|v${wide})` : `sparse_v${requested}`;
  checkBatch(name, 1, maxBatch);

  const layers = csrLayers(net);
  layers[0] = onOriginalFeatures(layers[0]!, inputIndices, features);
  const widest = Math.max(1, ...net.sizes.slice(1, -1));
  checkBinding(ctx, name, 'the input batch', maxBatch * features * F32);
  checkBinding(ctx, name, 'the hidden activations', maxBatch * widest * F32);

  const versions = new Set<SparseVersion>(requested === 'auto' ? [1, wide] : [requested]);
  const pipelines = new Map<SparseVersion, GPUComputePipeline>();
  for (const v of versions) pipelines.set(v, await getPipeline(ctx, sparseProgram(v, workgroupSize, rows)));
  const transposePipeline = await getPipeline(ctx, { name: 'sparse_transpose', source: sparseTransposeSource });

  const buffers: GPUBuffer[] = [];
  const buffer = (label: string, bytes: number, usage = STORAGE): GPUBuffer => {
    const b = createBuffer(ctx, `${name} ${label}`, bytes, usage);
    buffers.push(b);
    return b;
  };
  const upload = (label: string, data: Int32Array | Float32Array): GPUBuffer => {
    const b = buffer(label, data.byteLength);
    writeArray(ctx, b, 0, data);
    return b;
  };
  const csrBuffers = layers.map((layer, l) => ({
    indptr: upload(`layer ${l} indptr`, layer.indptr),
    indices: upload(`layer ${l} indices`, layer.indices),
    values: upload(`layer ${l} values`, layer.values),
  }));
  const input = buffer('input [batch, features]', maxBatch * features * F32);
  const inputT = buffer('input [features, batch]', maxBatch * features * F32);
  const hidden = [buffer('activations A [features, batch]', maxBatch * widest * F32), buffer('activations B [features, batch]', maxBatch * widest * F32)];
  const logits = buffer('logits [batch, classes]', maxBatch * classes * F32);

  const stepsByBatch = new Map<number, Step[]>();
  const stepsFor = async (count: number): Promise<Step[]> => {
    const cached = stepsByBatch.get(count);
    if (cached) return cached;
    const version: SparseVersion = requested === 'auto' ? (count < AUTO_V1_BELOW ? 1 : wide) : requested;
    const pipeline = pipelines.get(version)!;
    const label = `${name} batch ${count}`;
    const steps = await withErrorScope(device, label, () => {
      const uniform = (what: string, values: Uint32Array): GPUBuffer => {
        const b = buffer(`${what} params batch ${count}`, values.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
        writeArray(ctx, b, 0, values);
        return b;
      };
      const list: Step[] = [];
      const transposeParams = uniform('transpose', Uint32Array.of(count, features));
      list.push({
        pipeline: transposePipeline,
        bindGroup: bindBuffers(device, transposePipeline, `${label} transpose`, [input, inputT, transposeParams]),
        workgroups: [ceilDiv(count, 64), features, 1],
      });
      let x = inputT;
      layers.forEach((layer, l) => {
        const last = l === layers.length - 1;
        const y = last ? logits : hidden[l % 2]!;
        const params = uniform(`layer ${l}`, sparseParams(count, layer, !last, 'feature-major', last ? 'sample-major' : 'feature-major'));
        const { indptr, indices, values } = csrBuffers[l]!;
        const workgroups = sparseWorkgroups(version, layer.outSize, count, workgroupSize, rows);
        list.push({ pipeline, bindGroup: bindBuffers(device, pipeline, `${label} layer ${l}`, [indptr, indices, values, x, y, params]), workgroups });
        x = y;
      });
      return list;
    });
    for (const step of steps) checkWorkgroups(ctx, label, step.workgroups);
    stepsByBatch.set(count, steps);
    return steps;
  };

  const engine: GpuInference = {
    name,
    features,
    classes,
    maxBatch,
    upload(inputs, count) {
      checkBatch(name, count, maxBatch);
      writeArray(ctx, input, 0, inputs.subarray(0, count * features));
    },
    async run(count) {
      checkBatch(name, count, maxBatch);
      const steps = await stepsFor(count);
      record(ctx, `${name} batch ${count}`, steps);
      await waitForGpu(device.queue.onSubmittedWorkDone());
      if (ctx.lostReason) throw new Error(ctx.lostReason);
    },
    readLogits: (count) => readBuffer(ctx, logits, new Float32Array(count * classes)),
    infer: (inputs, count) => inferChunked(engine, inputs, count),
    dispose() {
      for (const b of buffers) b.destroy();
      buffers.length = 0;
    },
  };
  return engine;
}

/** Uploads `model` with dense weights (pruned weights are zeros) for the training matmul. */
export async function createDenseInference(
  ctx: GpuContext,
  model: Network | CompactNetwork,
  options: InferenceOptions & { version?: MatmulVersion },
): Promise<GpuInference> {
  const { device } = ctx;
  const { net, inputIndices, inputSize: features } = asCompact(model);
  const classes = net.sizes[net.sizes.length - 1]!;
  const { maxBatch } = options;
  const version = options.version ?? defaultMatmulVersion(ctx);
  const name = `dense matmul_v${version}`;
  checkBatch(name, 1, maxBatch);
  const widest = Math.max(1, ...net.sizes.slice(0, -1));
  checkBinding(ctx, name, 'the activations', maxBatch * widest * F32);

  const buffers: GPUBuffer[] = [];
  const buffer = (label: string, bytes: number): GPUBuffer => {
    const b = createBuffer(ctx, `${name} ${label}`, bytes);
    buffers.push(b);
    return b;
  };
  const weights = net.weights.map((w, l) => {
    const b = buffer(`layer ${l} weights [in, out]`, w.byteLength);
    writeArray(ctx, b, 0, w);
    return b;
  });
  const input = buffer('input [batch, in]', maxBatch * net.sizes[0]! * F32);
  const hidden = [buffer('activations A [batch, features]', maxBatch * widest * F32), buffer('activations B [batch, features]', maxBatch * widest * F32)];
  const logits = buffer('logits [batch, classes]', maxBatch * classes * F32);
  const unusedAux = buffer('unused aux', F32);

  const stepsByBatch = new Map<number, Step[]>();
  const stepsFor = async (count: number): Promise<Step[]> => {
    const cached = stepsByBatch.get(count);
    if (cached) return cached;
    const layers = net.weights.length;
    const kernels = await Promise.all(
      net.weights.map((_, l) =>
        matmulKernel(ctx, { m: count, k: net.sizes[l]!, n: net.sizes[l + 1]!, epilogue: l + 1 < layers ? 'relu' : 'none' }, version),
      ),
    );
    const steps = await withErrorScope(device, `${name} batch ${count}`, () => {
      let x = input;
      return kernels.map((kernel, l) => {
        const y = l + 1 < layers ? hidden[l % 2]! : logits;
        const { bindGroup } = bindKernel(ctx, kernel, `batch ${count} layer ${l}`, [x, weights[l]!, y, unusedAux]);
        x = y;
        return { pipeline: kernel.pipeline, bindGroup, workgroups: kernel.workgroups };
      });
    });
    stepsByBatch.set(count, steps);
    return steps;
  };

  const engine: GpuInference = {
    name,
    features,
    classes,
    maxBatch,
    upload(inputs, count) {
      checkBatch(name, count, maxBatch);
      writeArray(ctx, input, 0, gatherInputs(inputs.subarray(0, count * features), count, features, inputIndices));
    },
    async run(count) {
      checkBatch(name, count, maxBatch);
      const steps = await stepsFor(count);
      record(ctx, `${name} batch ${count}`, steps);
      await waitForGpu(device.queue.onSubmittedWorkDone());
      if (ctx.lostReason) throw new Error(ctx.lostReason);
    },
    readLogits: (count) => readBuffer(ctx, logits, new Float32Array(count * classes)),
    infer: (inputs, count) => inferChunked(engine, inputs, count),
    dispose() {
      for (const b of buffers) b.destroy();
      buffers.length = 0;
    },
  };
  return engine;
}
