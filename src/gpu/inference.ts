/**
 * Batched inference on the GPU: the interface every engine has, and the one engine behind them,
 * which runs each layer on the kernel a plan gives it for the batch. A network is uploaded once;
 * each run records every layer into one command encoder through the shared dispatch path
 * (src/gpu/dispatch.ts) and nothing is read back but the logits. A compact network
 * (src/prune/structured.ts) has its kept input features gathered on the CPU at upload. A network
 * with biases has them added by every layer's kernel, after the sum and before the ReLU.
 *
 * The engines: sparse (every layer CSR, src/gpu/sparse-inference.ts), dense (every layer the
 * training matmul, src/gpu/dense-inference.ts) and hybrid (each layer on whichever of the two the
 * cost model finds cheaper, src/gpu/hybrid-inference.ts). The JS references are `sparseInfer` /
 * `denseInfer` in src/cpu/sparse-forward.ts.
 */
import { inferenceOf, type Inference } from '../cpu/forward';
import { csrLayers } from '../cpu/sparse-forward';
import type { Network } from '../model/network';
import { asCompact, gatherInputs, type CompactNetwork } from '../prune/structured';
import { createBuffer, readBuffer, STORAGE, writeArray } from './buffers';
import type { LayerKernel } from './cost-model';
import { detectDeviceLoss, type GpuContext } from './device';
import { bindKernel, compileKernel, encodeAndSubmit, type Dispatch } from './dispatch';
import { matmulKernel, type MatmulChoice } from './kernels';
import { KernelError, withErrorScope } from './program';
import { sparseParams, SPARSE_TRANSPOSE, transposeParams, type Layout, type SparseDescriptor } from './sparse-kernels';
import { unrolledKernelFor } from './sparse-unrolled';
import { waitForGpu } from './wait';

export interface InferenceOptions {
  /** Most samples per run; buffers are sized for it once. */
  maxBatch: number;
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

const F32 = 4;

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

/** Chunked upload → run → read back, with argmax on the CPU. */
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

export interface LayeredOptions extends InferenceOptions {
  name: string;
  /** The kernel of each layer for a batch of `count` samples. */
  plan: (count: number) => readonly LayerKernel[];
  /** The CSR kernel for a batch of `count` samples; absent for a plan with no sparse layer. */
  sparseKernel?: (count: number) => SparseDescriptor;
  matmulVersion: MatmulChoice;
}

/**
 * Uploads `model` to run each layer on the kernel `plan` gives for the batch. The input buffer is
 * `[batch, sizes[0]]` sample-major. Layouts follow the kernels: a sparse first layer reads the
 * input as it is or, when it is wide, transposed to feature-major (`Tuning.sampleMajorMaxFeatures`),
 * a sparse or unrolled layer writes feature-major (sample-major logits) and reads either layout,
 * the matmul writes sample-major and reads a feature-major input as Aᵀ. An unrolled layer
 * (sparse_unrolled) reads a wide input sample-major too: it loads each input once per sample.
 * Weights are uploaded on first use, in the form each layer's
 * kernel needs.
 */
export async function createLayeredInference(ctx: GpuContext, model: Network | CompactNetwork, options: LayeredOptions): Promise<GpuInference> {
  const { device } = ctx;
  const { net, inputIndices, inputSize: features } = asCompact(model);
  const { maxBatch, name, plan, matmulVersion } = options;
  const sizes = net.sizes;
  const classes = sizes[sizes.length - 1]!;
  const layerCount = net.weights.length;
  checkBatch(name, 1, maxBatch);

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
  const upload = (label: string, data: Int32Array | Float32Array | Uint32Array, usage = STORAGE): GPUBuffer => {
    const b = buffer(label, data.byteLength, usage);
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

  const biasBuffers = net.biases?.map((b, l) => upload(`layer ${l} biases [out]`, b));

  const input = buffer('input [batch, features]', maxBatch * sizes[0]! * F32);
  let inputT: GPUBuffer | null = null;
  const hidden = [buffer('activations A', maxBatch * widest * F32), buffer('activations B', maxBatch * widest * F32)];
  const logits = buffer('logits [batch, classes]', maxBatch * classes * F32);
  const unusedAux = buffer('unused aux', F32);

  const dispatchesByBatch = new Map<number, Dispatch[]>();
  const dispatchesFor = async (count: number): Promise<Dispatch[]> => {
    const cached = dispatchesByBatch.get(count);
    if (cached) return cached;
    const kernels = plan(count);
    if (kernels.length !== layerCount) throw new KernelError(`${name}: ${kernels.length} layer kernels for ${layerCount} layers`);
    // Pipelines are cached per device: only the first batch size that needs one compiles it.
    const transposeShape = { batch: count, features: sizes[0]! };
    const transpose = kernels[0] === 'sparse' && sizes[0]! > ctx.tuning.sampleMajorMaxFeatures ? await compileKernel(ctx, SPARSE_TRANSPOSE, transposeShape) : null;
    const sparseKernel = (): SparseDescriptor => {
      if (!options.sparseKernel) throw new KernelError(`${name}: the plan runs a layer sparse, and no CSR kernel was given`);
      return options.sparseKernel(count);
    };
    const layerKernels = await Promise.all(
      kernels.map((kernel, l) => {
        const [inSize, outSize] = [sizes[l]!, sizes[l + 1]!];
        const bias = biasBuffers !== undefined;
        return kernel === 'dense'
          ? matmulKernel(ctx, { m: count, k: inSize, n: outSize, transA: l > 0 && kernels[l - 1] !== 'dense', epilogue: l + 1 < layerCount ? 'relu' : 'none', bias }, matmulVersion)
          : compileKernel(ctx, kernel === 'unrolled' ? unrolledKernelFor(ctx, csr[l]!) : sparseKernel(), { batch: count, inSize, outSize, nonzeros: csr[l]!.indices.length, bias });
      }),
    );
    const label = `batch ${count}`;
    const dispatches = await withErrorScope(device, `kernel ${name} ${label}`, () => {
      const list: Dispatch[] = [];
      let x = input;
      let xLayout: Layout = 'sample-major';
      if (transpose) {
        inputT ??= buffer('input [features, batch]', maxBatch * sizes[0]! * F32);
        const params = upload(`transpose params ${label}`, transposeParams(transposeShape), GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
        list.push(bindKernel(ctx, transpose, label, [input, inputT, params]));
        x = inputT;
        xLayout = 'feature-major';
      }
      layerKernels.forEach((kernel, l) => {
        const last = l + 1 === layerCount;
        const y = last ? logits : hidden[l % 2]!;
        const at = `${label} layer ${l}`;
        // Without biases the kernels' bias binding is left off (`unreadBindings`).
        const bias = biasBuffers ? [biasBuffers[l]!] : [];
        if (kernels[l] === 'dense') {
          list.push(bindKernel(ctx, kernel, at, [x, denseWeightsOf(l), y, unusedAux, ...bias]));
          xLayout = 'sample-major';
        } else {
          const yLayout: Layout = last ? 'sample-major' : 'feature-major';
          const params = upload(`layer ${l} params ${label}`, sparseParams(count, csr[l]!, !last, xLayout, yLayout), GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
          // An unrolled layer has its weights in its program: it binds no CSR arrays.
          const weights = kernels[l] === 'unrolled' ? [] : csrBuffersOf(l);
          list.push(bindKernel(ctx, kernel, at, [...weights, x, y, params, ...bias]));
          xLayout = yLayout;
        }
        x = y;
      });
      return list;
    });
    dispatchesByBatch.set(count, dispatches);
    return dispatches;
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
      const dispatches = await dispatchesFor(count);
      const label = `${name} batch ${count}`;
      await detectDeviceLoss(ctx, () => label, async () => {
        encodeAndSubmit(ctx, label, dispatches);
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
