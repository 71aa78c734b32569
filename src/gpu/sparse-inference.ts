/**
 * Batched inference on the GPU, sparse, dense or mixed per layer. A network is uploaded once;
 * each run records every layer into one command encoder and nothing is read back but the logits.
 * A compact network (src/prune/structured.ts) has its kept input features gathered on the CPU at
 * upload.
 *
 * Sparse: each layer is a CSR matrix by output neuron (shaders/sparse_v*.wgsl, ReLU fused on the
 * hidden layers). The input arrives sample-major `[batch, features]`; past
 * SAMPLE_MAJOR_MAX_FEATURES it is transposed to feature-major on the GPU
 * (shaders/sparse_transpose.wgsl) so the kernels' gathers run along samples; hidden activations
 * are feature-major, and the last layer writes sample-major logits.
 *
 * Dense: the training matmul (src/gpu/kernels.ts, ReLU epilogue on hidden layers), sample-major
 * throughout.
 *
 * Hybrid: each layer on whichever of the two `chooseLayerKernel` finds cheaper at the batch size;
 * the matmul reads a feature-major input as Aᵀ, the CSR kernels read either layout.
 *
 * The JS references are `sparseInfer` / `denseInfer` in src/cpu/sparse-forward.ts.
 */
import sparseTransposeSource from '../../shaders/sparse_transpose.wgsl';
import sparseV1Source from '../../shaders/sparse_v1.wgsl';
import sparseV2Source from '../../shaders/sparse_v2.wgsl';
import sparseV3Source from '../../shaders/sparse_v3.wgsl';
import { inferenceOf, type Inference } from '../cpu/forward';
import { csrLayers } from '../cpu/sparse-forward';
import type { Network } from '../model/network';
import { gatherInputs, type CompactNetwork } from '../prune/structured';
import { ceilDiv } from '../util/math';
import { createBuffer, readBuffer, STORAGE, writeArray } from './buffers';
import { detectDeviceLoss, type GpuContext } from './device';
import { bindKernel, matmulChoiceName, matmulKernel, recordDispatch, type MatmulChoice, type MatmulVersion } from './kernels';
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
  for (const step of steps) recordDispatch(pass, step.pipeline, step.bindGroup, step.workgroups);
  pass.end();
  ctx.device.queue.submit([encoder.finish()]);
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
  return inferenceOf(logits, count, engine.classes);
}

/** The kernel program of a sparse version; v2/v3 take their workgroup size and rows per workgroup as overrides. */
export function sparseProgram(version: SparseVersion, workgroupSize = 64, rows = 4): KernelProgram {
  if (version === 1) return { name: 'sparse_v1', source: sparseV1Source };
  return { name: `sparse_v${version}`, source: version === 2 ? sparseV2Source : sparseV3Source, constants: { WG: workgroupSize, ROWS: rows } };
}

/** The kernel that runs one layer: CSR (shaders/sparse_v*.wgsl) or the dense training matmul. */
export type LayerKernel = 'sparse' | 'dense';

/**
 * Cost of one CSR nonzero per sample in units of one dense multiply-add, for `chooseLayerKernel`.
 * Measured on lavapipe (BENCHMARKS.md, 2026-11-24): sparse_v3 does about 0.9 G nonzero·samples/s
 * on the trained network's layers and on 4096² at 95%, matmul_v3 5–9 G multiply-adds/s on full
 * tiles, so one nonzero costs about 6 dense multiply-adds.
 */
export const SPARSE_COST_PER_NONZERO = 6;

/** Rows (samples) × columns (outputs) of C that one matmul_v3 workgroup computes: the dense kernel pays for whole tiles. */
const DENSE_TILE_SAMPLES = 128;
const DENSE_TILE_OUTPUTS = 32;

const roundUp = (n: number, multiple: number): number => ceilDiv(n, multiple) * multiple;

/**
 * The cheaper kernel for one layer at one batch size, by a cost model: dense pays for every
 * weight of the padded tiles it computes (a batch of 1 costs as much as 128 samples), sparse
 * pays SPARSE_COST_PER_NONZERO per kept weight per sample. On the trained MNIST network this runs
 * the 12%-dense first layer sparse and the 35% / 64%-dense small layers dense; see BENCHMARKS.md.
 */
export function chooseLayerKernel(layer: { inSize: number; outSize: number; nonzeros: number }, batch: number): LayerKernel {
  const denseCost = layer.inSize * roundUp(layer.outSize, DENSE_TILE_OUTPUTS) * roundUp(batch, DENSE_TILE_SAMPLES);
  const sparseCost = SPARSE_COST_PER_NONZERO * layer.nonzeros * batch;
  return sparseCost < denseCost ? 'sparse' : 'dense';
}

type Layout = 'sample-major' | 'feature-major';

/**
 * A sparse first layer with at most this many inputs reads the input sample-major: a 64-sample
 * block of it (≤ 200 KB) stays in the cache, and the gathers ran as fast as feature-major ones
 * (449 and 784 inputs), while the transpose cost half as much again as the layer itself. Wider
 * inputs are transposed first: sample-major gathers were 2× slower at 1024 and 4096 inputs
 * (BENCHMARKS.md).
 */
export const SAMPLE_MAJOR_MAX_FEATURES = 784;

interface LayeredOptions extends InferenceOptions {
  name: string;
  /** The kernel of each layer for a batch of `count` samples. */
  plan: (count: number) => readonly LayerKernel[];
  sparseVersion: SparseVersion | 'auto';
  workgroupSize: number;
  rows: number;
  matmulVersion: MatmulChoice;
}

/**
 * The engine behind all three public constructors: each layer runs the kernel `plan` gives for
 * the batch. A compact network's kept input features are gathered on the CPU at upload, so the
 * input buffer is `[batch, sizes[0]]` sample-major. Layouts follow the kernels: a sparse first
 * layer reads the input as it is or, when it is wide, transposed to feature-major (see
 * SAMPLE_MAJOR_MAX_FEATURES), a sparse layer writes feature-major (sample-major logits), the
 * matmul writes sample-major and reads a feature-major input as Aᵀ. Weights are uploaded on first use, in the form each layer's
 * kernel needs.
 */
async function createLayeredInference(ctx: GpuContext, model: Network | CompactNetwork, options: LayeredOptions): Promise<GpuInference> {
  const { device } = ctx;
  const { net, inputIndices, inputSize: features } = asCompact(model);
  const { maxBatch, name, plan, workgroupSize, rows, matmulVersion } = options;
  const sizes = net.sizes;
  const classes = sizes[sizes.length - 1]!;
  const layerCount = net.weights.length;
  checkBatch(name, 1, maxBatch);
  const hasSubgroups = device.features.has('subgroups');
  if (options.sparseVersion === 3 && !hasSubgroups) throw new KernelError('sparse_v3 needs the subgroups feature, which this device lacks');
  const wide: SparseVersion = options.sparseVersion === 'auto' ? (hasSubgroups ? 3 : 2) : options.sparseVersion;
  const sparseVersionFor = (count: number): SparseVersion => (options.sparseVersion === 'auto' && count < AUTO_V1_BELOW ? 1 : wide);

  const widest = Math.max(1, ...sizes.slice(1, -1));
  checkBinding(ctx, name, 'the input batch', maxBatch * sizes[0]! * F32);
  checkBinding(ctx, name, 'the hidden activations', maxBatch * widest * F32);

  const csr = csrLayers(net);
  const buffers: GPUBuffer[] = [];
  const buffer = (label: string, bytes: number, usage = STORAGE): GPUBuffer => {
    const b = createBuffer(ctx, `${name} ${label}`, Math.max(F32, bytes), usage);
    buffers.push(b);
    return b;
  };
  const upload = (label: string, data: Int32Array | Float32Array): GPUBuffer => {
    const b = buffer(label, data.byteLength);
    writeArray(ctx, b, 0, data);
    return b;
  };
  const csrBuffers = new Map<number, GPUBuffer[]>();
  const csrBuffersOf = (l: number): GPUBuffer[] => {
    let found = csrBuffers.get(l);
    if (!found) {
      const layer = csr[l]!;
      found = [upload(`layer ${l} indptr`, layer.indptr), upload(`layer ${l} indices`, layer.indices), upload(`layer ${l} values`, layer.values)];
      csrBuffers.set(l, found);
    }
    return found;
  };
  const denseWeights = new Map<number, GPUBuffer>();
  const denseWeightsOf = (l: number): GPUBuffer => {
    let found = denseWeights.get(l);
    if (!found) {
      found = upload(`layer ${l} weights [in, out]`, net.weights[l]!);
      denseWeights.set(l, found);
    }
    return found;
  };

  const input = buffer('input [batch, features]', maxBatch * sizes[0]! * F32);
  let inputT: GPUBuffer | null = null;
  const hidden = [buffer('activations A', maxBatch * widest * F32), buffer('activations B', maxBatch * widest * F32)];
  const logits = buffer('logits [batch, classes]', maxBatch * classes * F32);
  const unusedAux = buffer('unused aux', F32);

  const stepsByBatch = new Map<number, Step[]>();
  const stepsFor = async (count: number): Promise<Step[]> => {
    const cached = stepsByBatch.get(count);
    if (cached) return cached;
    const kernels = plan(count);
    if (kernels.length !== layerCount) throw new KernelError(`${name}: ${kernels.length} layer kernels for ${layerCount} layers`);
    const label = `${name} batch ${count}`;
    // Pipelines are cached per device: only the first batch size that needs one compiles it.
    const sparseVersion = sparseVersionFor(count);
    const sparsePipeline = kernels.includes('sparse') ? await getPipeline(ctx, sparseProgram(sparseVersion, workgroupSize, rows)) : null;
    const transposeInput = kernels[0] === 'sparse' && sizes[0]! > SAMPLE_MAJOR_MAX_FEATURES;
    const transposePipeline = transposeInput ? await getPipeline(ctx, { name: 'sparse_transpose', source: sparseTransposeSource }) : null;
    const matmuls = await Promise.all(
      kernels.map((kernel, l) =>
        kernel === 'dense'
          ? matmulKernel(ctx, { m: count, k: sizes[l]!, n: sizes[l + 1]!, transA: l > 0 && kernels[l - 1] === 'sparse', epilogue: l + 1 < layerCount ? 'relu' : 'none' }, matmulVersion)
          : null,
      ),
    );
    const steps = await withErrorScope(device, label, () => {
      const uniform = (what: string, values: Uint32Array): GPUBuffer => {
        const b = buffer(`${what} params batch ${count}`, values.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
        writeArray(ctx, b, 0, values);
        return b;
      };
      const list: Step[] = [];
      let x = input;
      let xLayout: Layout = 'sample-major';
      if (transposePipeline) {
        inputT ??= buffer('input [features, batch]', maxBatch * sizes[0]! * F32);
        const params = uniform('transpose', Uint32Array.of(count, sizes[0]!));
        list.push({
          pipeline: transposePipeline,
          bindGroup: bindBuffers(device, transposePipeline, `${label} transpose`, [input, inputT, params]),
          workgroups: [ceilDiv(count, 64), sizes[0]!, 1],
        });
        x = inputT;
        xLayout = 'feature-major';
      }
      matmuls.forEach((matmul, l) => {
        const last = l + 1 === layerCount;
        const y = last ? logits : hidden[l % 2]!;
        if (matmul) {
          const { bindGroup } = bindKernel(ctx, matmul, `batch ${count} layer ${l}`, [x, denseWeightsOf(l), y, unusedAux]);
          list.push({ pipeline: matmul.pipeline, bindGroup, workgroups: matmul.workgroups });
          xLayout = 'sample-major';
        } else {
          const pipeline = sparsePipeline!;
          const yLayout: Layout = last ? 'sample-major' : 'feature-major';
          const params = uniform(`layer ${l}`, sparseParams(count, csr[l]!, !last, xLayout, yLayout));
          const bindGroup = bindBuffers(device, pipeline, `${label} layer ${l}`, [...csrBuffersOf(l), x, y, params]);
          list.push({ pipeline, bindGroup, workgroups: sparseWorkgroups(sparseVersion, sizes[l + 1]!, count, workgroupSize, rows) });
          xLayout = yLayout;
        }
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
      writeArray(ctx, input, 0, gatherInputs(inputs.subarray(0, count * features), count, features, inputIndices));
    },
    async run(count) {
      checkBatch(name, count, maxBatch);
      const steps = await stepsFor(count);
      const label = `${name} batch ${count}`;
      await detectDeviceLoss(ctx, () => label, async () => {
        record(ctx, label, steps);
        await waitForGpu(device.queue.onSubmittedWorkDone());
      });
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

function sparseEngineOptions(options: SparseInferenceOptions): Pick<LayeredOptions, 'sparseVersion' | 'workgroupSize' | 'rows'> {
  return {
    sparseVersion: options.version ?? 'auto',
    workgroupSize: options.workgroupSize ?? DEFAULT_WORKGROUP_SIZE,
    rows: options.rowsPerWorkgroup ?? 4,
  };
}

function sparseEngineName(version: SparseVersion | 'auto', hasSubgroups: boolean): string {
  return version === 'auto' ? `sparse_auto(v1|v${hasSubgroups ? 3 : 2})` : `sparse_v${version}`;
}

/** Uploads `model` (a network, or a compact network from `compactNetwork`) with every layer as CSR. */
export function createSparseInference(ctx: GpuContext, model: Network | CompactNetwork, options: SparseInferenceOptions): Promise<GpuInference> {
  const layers = asCompact(model).net.weights.length;
  const sparse = sparseEngineOptions(options);
  const name = sparseEngineName(sparse.sparseVersion, ctx.device.features.has('subgroups'));
  const plan = Array<LayerKernel>(layers).fill('sparse');
  return createLayeredInference(ctx, model, { ...options, ...sparse, name, plan: () => plan, matmulVersion: 'auto' });
}

/** Uploads `model` with dense weights (pruned weights are zeros) for the training matmul. */
export function createDenseInference(
  ctx: GpuContext,
  model: Network | CompactNetwork,
  options: InferenceOptions & { version?: MatmulVersion },
): Promise<GpuInference> {
  const layers = asCompact(model).net.weights.length;
  // By shape: small batches run the few-rows kernel, whose time grows with the batch instead of
  // paying for a whole 128-sample tile (kernels.ts, matmulVersionFor).
  const matmulVersion = options.version ?? 'auto';
  const plan = Array<LayerKernel>(layers).fill('dense');
  return createLayeredInference(ctx, model, {
    ...options,
    sparseVersion: 'auto',
    workgroupSize: DEFAULT_WORKGROUP_SIZE,
    rows: 4,
    name: `dense ${matmulChoiceName(ctx, matmulVersion)}`,
    plan: () => plan,
    matmulVersion,
  });
}

export interface HybridInferenceOptions extends SparseInferenceOptions {
  /** The kernel of each layer at every batch, instead of `chooseLayerKernel` (tests use it to cover every mix). */
  layerKernels?: readonly LayerKernel[];
}

/**
 * Uploads `model` to run each layer on whichever kernel `chooseLayerKernel` finds cheaper for its
 * density, shape and the batch: sparse CSR for the very sparse layers, the dense matmul for the
 * small, denser ones that structured pruning leaves.
 */
export function createHybridInference(ctx: GpuContext, model: Network | CompactNetwork, options: HybridInferenceOptions): Promise<GpuInference> {
  const { net } = asCompact(model);
  const layers = csrLayers(net).map((layer) => ({ inSize: layer.inSize, outSize: layer.outSize, nonzeros: layer.indices.length }));
  if (options.layerKernels && options.layerKernels.length !== layers.length) {
    throw new KernelError(`hybrid inference: ${options.layerKernels.length} layer kernels given for ${layers.length} layers`);
  }
  const forced = options.layerKernels;
  const plan = forced ? (): readonly LayerKernel[] => forced : (count: number): LayerKernel[] => layers.map((layer) => chooseLayerKernel(layer, count));
  const sparse = sparseEngineOptions(options);
  // Dense layers pick their matmul by shape, as the dense engine does (few rows at small batches).
  const matmulVersion: MatmulChoice = 'auto';
  const name = `hybrid(${sparseEngineName(sparse.sparseVersion, ctx.device.features.has('subgroups'))}|${matmulChoiceName(ctx, matmulVersion)})`;
  return createLayeredInference(ctx, model, { ...options, ...sparse, name, plan, matmulVersion });
}
