/**
 * The sparse training kernels (shaders/sparse_train_*.wgsl) as descriptors (src/gpu/dispatch.ts),
 * and the index they read: a pruned layer whose kept density is below `Tuning.sparseTrainingBelow`
 * runs its forward pass, its input gradient and its weight gradient over its kept weights only,
 * while its weights, optimizer state and mask stay in the trainer's dense buffers.
 * JS references: csrForward (src/cpu/sparse-forward.ts) for the forward pass, sparseInputGradient
 * and sparseWeightGradient (src/cpu/sparse-training.ts).
 */
import forwardSource from '../../shaders/sparse_train_forward.wgsl';
import inputGradSource from '../../shaders/sparse_train_input_grad.wgsl';
import weightGradSource from '../../shaders/sparse_train_weight_grad.wgsl';
import { csrIndexByOutput } from '../model/csr';
import { ceilDiv } from '../util/math';
import type { GpuContext } from './device';
import { compileKernel, type Kernel, type KernelDescriptor } from './dispatch';
import { integersFrom, SEED_HYPER_BYTES } from './kernels';
import { withNumerics } from './shared-wgsl';
import { tunedVariant } from './tuning';

const F32 = 4;
const U32 = 4;

/** One pruned layer in a training step. */
export interface SparseTrainingShape {
  batch: number;
  inSize: number;
  outSize: number;
  /** Most kept weights the index holds: the weight gradient dispatches one invocation per position up to it. */
  capacity: number;
  /** Forward: ReLU on the output (a hidden layer). */
  relu?: boolean;
  /** Forward: the layer adds its bias (binding 5, [outSize]). */
  bias?: boolean;
  /** Weight gradient: the seed's momentum step follows at each kept position (bindings 6, 7), so the layer needs no update dispatch. */
  seedStep?: boolean;
}

/**
 * A layer's kept positions, built on the host from its mask, in the two orders the kernels walk:
 * by output (the forward pass) and by input, which is W's row-major order (the input and weight
 * gradients).
 */
export interface SparseTrainingIndex {
  /** `[out + 1]`: output j's kept inputs are `outRows[outPtr[j] .. outPtr[j + 1])`. */
  outPtr: Uint32Array;
  /** `[nnz]`: the input of each kept weight, ascending within an output. */
  outRows: Uint32Array;
  /** `[in + 1]`: input i's kept weights are `positions[inPtr[i] .. inPtr[i + 1])`; inPtr[in] = nnz. */
  inPtr: Uint32Array;
  /** `[nnz]`: the flat index i·out + j of each kept weight, ascending. */
  positions: Uint32Array;
}

export function sparseTrainingIndex(mask: Uint8Array, inSize: number, outSize: number): SparseTrainingIndex {
  const byOutput = csrIndexByOutput(mask, inSize, outSize);
  const inPtr = new Uint32Array(inSize + 1);
  const positions: number[] = [];
  for (let i = 0; i < inSize; i++) {
    for (let j = 0; j < outSize; j++) if (mask[i * outSize + j] === 1) positions.push(i * outSize + j);
    inPtr[i + 1] = positions.length;
  }
  return { outPtr: new Uint32Array(byOutput.indptr.buffer), outRows: new Uint32Array(byOutput.indices.buffer), inPtr, positions: Uint32Array.from(positions) };
}

const shapeLabel = ({ batch, inSize, outSize, capacity }: SparseTrainingShape): string => `${batch}x${inSize}→${outSize}, ≤ ${capacity} kept`;
const shapeConstants = ({ batch, inSize, outSize }: SparseTrainingShape) => ({ BATCH: batch, IN: inSize, OUT: outSize });

/**
 * The forward and input-gradient kernels' geometry: WG invocations along samples, ROWS (≤ 8)
 * samples each. 16 × 8 took half the time of 64 × 2 and 0.6–0.8× that of 32 × 4 on the seed's
 * pruned layers on lavapipe (8 × 8 and 8 × 16 were level with it): each index and weight load
 * serves more samples.
 */
export type RowsGeometry = { WG: number; ROWS: number };

/** Rows of the batch one workgroup of a row-tiled kernel covers. */
export const rowTile = (g: RowsGeometry): number => g.WG * g.ROWS;

/** The forward's bias binding, read only with `SparseTrainingShape.bias`. */
const BIAS_BINDING = 5;

/** y = (relu)(x·W + b) over the kept weights; workgroup (output, row tile). */
export const SPARSE_TRAIN_FORWARD: KernelDescriptor<SparseTrainingShape, RowsGeometry> = {
  name: 'sparse_train_forward',
  source: withNumerics(forwardSource),
  entryPoint: 'sparse_train_forward',
  geometry: { WG: 16, ROWS: 8 },
  describe: (shape) => `${shapeLabel(shape)}${shape.bias ? ' +bias' : ''}${shape.relu ? ' relu' : ''}`,
  shapeConstants: (shape) => ({ ...shapeConstants(shape), RELU: Number(shape.relu ?? false), HAS_BIAS: Number(shape.bias ?? false) }),
  workgroups: ({ batch, outSize }, g) => [outSize, ceilDiv(batch, rowTile(g)), 1],
  bindingBytes: ({ batch, inSize, outSize, capacity, bias }) => [
    batch * inSize * F32,
    (outSize + 1) * U32,
    capacity * U32,
    inSize * outSize * F32,
    batch * outSize * F32,
    bias ? outSize * F32 : F32,
  ],
  unreadBindings: ({ bias }) => (bias ? [] : [BIAS_BINDING]),
};

/** dx = (dY·Wᵀ)·[a > 0] over the kept weights; workgroup (input, row tile). */
export const SPARSE_TRAIN_INPUT_GRAD: KernelDescriptor<SparseTrainingShape, RowsGeometry> = {
  name: 'sparse_train_input_grad',
  source: withNumerics(inputGradSource),
  entryPoint: 'sparse_train_input_grad',
  geometry: { WG: 16, ROWS: 8 },
  describe: shapeLabel,
  shapeConstants,
  workgroups: ({ batch, inSize }, g) => [inSize, ceilDiv(batch, rowTile(g)), 1],
  bindingBytes: ({ batch, inSize, outSize, capacity }) => [
    batch * outSize * F32,
    (inSize + 1) * U32,
    capacity * U32,
    inSize * outSize * F32,
    batch * inSize * F32,
    batch * inSize * F32,
  ],
};

/** The weights and the (lr, momentum) uniform, read only with `seedStep`. */
const STEP_BINDINGS = [6, 7];

/**
 * v += Aᵀ·dY at the kept positions, over the first `count` rows, then with `seedStep` the seed's
 * momentum step there; one invocation per position.
 */
export const SPARSE_TRAIN_WEIGHT_GRAD: KernelDescriptor<SparseTrainingShape, { WG: number }> = {
  name: 'sparse_train_weight_grad',
  source: weightGradSource,
  entryPoint: 'sparse_train_weight_grad',
  geometry: { WG: 64 },
  describe: (shape) => `${shapeLabel(shape)}${shape.seedStep ? ' +momentum step' : ''}`,
  shapeConstants: (shape) => ({ ...shapeConstants(shape), SEED_STEP: Number(shape.seedStep ?? false) }),
  workgroups: ({ capacity }, g) => [ceilDiv(capacity, g.WG), 1, 1],
  bindingBytes: ({ batch, inSize, outSize, capacity, seedStep }) => [
    batch * inSize * F32,
    batch * outSize * F32,
    (inSize + 1) * U32,
    capacity * U32,
    U32,
    inSize * outSize * F32,
    seedStep ? inSize * outSize * F32 : F32,
    SEED_HYPER_BYTES,
  ],
  unreadBindings: ({ seedStep }) => (seedStep ? [] : STEP_BINDINGS),
};

/**
 * The geometries of each kernel that test/gpu/sparse-training.test.ts checks against the
 * references, and so the only ones a tuning may pick: the descriptor's own first (the fastest on
 * the software adapters), one that leaves partial blocks on the tests' shapes, and one shaped for
 * a GPU's wide subgroups (more invocations, fewer samples each).
 */
export const SPARSE_TRAINING_VARIANTS = {
  forward: [SPARSE_TRAIN_FORWARD, { ...SPARSE_TRAIN_FORWARD, geometry: { WG: 32, ROWS: 3 } }, { ...SPARSE_TRAIN_FORWARD, geometry: { WG: 64, ROWS: 2 } }],
  inputGrad: [SPARSE_TRAIN_INPUT_GRAD, { ...SPARSE_TRAIN_INPUT_GRAD, geometry: { WG: 32, ROWS: 3 } }, { ...SPARSE_TRAIN_INPUT_GRAD, geometry: { WG: 64, ROWS: 2 } }],
  weightGrad: [SPARSE_TRAIN_WEIGHT_GRAD, { ...SPARSE_TRAIN_WEIGHT_GRAD, geometry: { WG: 32 } }, { ...SPARSE_TRAIN_WEIGHT_GRAD, geometry: { WG: 256 } }],
} as const;

/** The three kernels of one pruned layer, in the geometry the tuning picks. */
export interface SparseTrainingKernels {
  /** Absent where the layer's forward pass runs its own program (sparse_unrolled's training form). */
  forward?: Kernel;
  /** Absent for the first layer, whose input gradient is never needed. */
  inputGrad?: Kernel;
  weightGrad: Kernel;
  /** Rows of the batch one input-gradient workgroup covers (for the indirect dispatch). */
  inputGradRows: number;
}

export async function sparseTrainingKernels(ctx: GpuContext, shape: SparseTrainingShape, { withForward, withInputGrad }: { withForward: boolean; withInputGrad: boolean }): Promise<SparseTrainingKernels> {
  integersFrom(1, `sparse training[${shapeLabel(shape)}]`, { batch: shape.batch });
  integersFrom(0, `sparse training[${shapeLabel(shape)}]`, { inSize: shape.inSize, outSize: shape.outSize, capacity: shape.capacity });
  const [forward, inputGrad, weightGrad] = [
    tunedVariant(ctx.tuning, SPARSE_TRAINING_VARIANTS.forward),
    tunedVariant(ctx.tuning, SPARSE_TRAINING_VARIANTS.inputGrad),
    tunedVariant(ctx.tuning, SPARSE_TRAINING_VARIANTS.weightGrad),
  ];
  const [f, i, w] = await Promise.all([
    withForward ? compileKernel(ctx, forward, shape) : undefined,
    withInputGrad ? compileKernel(ctx, inputGrad, shape) : undefined,
    compileKernel(ctx, weightGrad, shape),
  ]);
  return { ...(f ? { forward: f } : {}), ...(i ? { inputGrad: i } : {}), weightGrad: w, inputGradRows: rowTile(inputGrad.geometry) };
}
