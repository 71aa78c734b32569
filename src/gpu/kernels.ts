/**
 * The training kernels: one program per `shaders/*.wgsl` entry point, compiled once per shape
 * (shapes are override constants), bound once, and recorded into the caller's compute pass.
 * Each kernel has a plain-loop reference in `src/cpu/ops.ts`.
 */
import matmulSource from '../../shaders/matmul.wgsl';
import matmulSubgroupSource from '../../shaders/matmul_subgroup.wgsl';
import softmaxGradSource from '../../shaders/softmax_grad.wgsl';
import updateSource from '../../shaders/update.wgsl';
import { ceilDiv } from '../util/math';
import type { GpuContext } from './device';
import { bindBuffers, getPipeline, KernelError, withErrorScope, type KernelProgram } from './program';

/** What the matmul does with each finished element of C (see shaders/matmul.wgsl). */
export const EPILOGUES = {
  /** c = acc */
  none: 0,
  /** c = max(acc, 0): ReLU on a hidden layer's output */
  relu: 1,
  /** c = acc·[aux > 0]: the ReLU derivative, aux = the layer's activations */
  reluGrad: 2,
  /** c = (c + acc)·aux: velocity += weight gradient, aux = the 0/1 mask */
  accumulateVelocity: 3,
} as const;
export type Epilogue = keyof typeof EPILOGUES;

/** C[m,n] = op(A)·op(B): A is [m,k] or, with transA, stored [k,m]; B is [k,n] or, with transB, [n,k]. */
export interface MatmulSpec {
  m: number;
  k: number;
  n: number;
  transA?: boolean;
  transB?: boolean;
  epilogue?: Epilogue;
}

/** 1 naive, 2 workgroup-tiled (portable), 3 subgroup-shuffle (needs `subgroups`), 4 few rows (portable). */
export type MatmulVersion = 1 | 2 | 3 | 4;

/** A compiled kernel for one shape: its pipeline, dispatch size and the bytes each binding needs. */
export interface Kernel {
  /** e.g. `matmul_v2[800x784x100 A·Bᵀ relu]`: labels and error messages. */
  name: string;
  pipeline: GPUComputePipeline;
  workgroups: [number, number, number];
  /** Least size in bytes of each binding, in binding order. */
  bindingBytes: number[];
}

/** A kernel with its resources bound: one `dispatchWorkgroups` when recorded. */
export interface Dispatch {
  kernel: Kernel;
  bindGroup: GPUBindGroup;
}

const F32 = 4;

/** Subgroup size the v3 kernel can be built for on this device, or 0 when it cannot. */
export function subgroupSize(ctx: GpuContext): number {
  const { subgroupMinSize, subgroupMaxSize } = ctx.adapter;
  if (!ctx.device.features.has('subgroups')) return 0;
  if (subgroupMinSize !== subgroupMaxSize || subgroupMinSize < 4 || subgroupMinSize > 64) return 0;
  return subgroupMinSize;
}

/** The fastest matmul this device runs on full tiles: the subgroup kernel where it can be built, else tiled. */
export function defaultMatmulVersion(ctx: GpuContext): MatmulVersion {
  return subgroupSize(ctx) > 0 ? 3 : 2;
}

/**
 * Most rows of C for which the few-rows kernel v4 beats the full-tile kernel that would run
 * instead. v3 and v2 compute 128 rows per workgroup whatever M is, so their time is flat below
 * that while v4's grows with M. Measured on lavapipe (BENCHMARKS.md, "Small batches",
 * 2026-11-24), round-robin, K×N = 4096², 1024², 784×100, 100×100, 100×10: v4 ahead of v3 up to
 * M = 24 (2× at M = 16, 10–20× at M = 1), level at 32, behind from 48; ahead of the tiled v2 up
 * to M = 64 (1.4–3.5×), behind on 1024² from M = 96.
 */
export const FEW_ROWS_MAX_M: Record<2 | 3, number> = { 3: 24, 2: 64 };

/** The matmul version for one shape on this device: v4 for few rows, else `defaultMatmulVersion`. */
export function matmulVersionFor(ctx: GpuContext, spec: MatmulSpec): MatmulVersion {
  const fullTile = subgroupSize(ctx) > 0 ? 3 : 2;
  return spec.m <= FEW_ROWS_MAX_M[fullTile] ? 4 : fullTile;
}

function checkWorkgroups(ctx: GpuContext, name: string, workgroups: [number, number, number]): void {
  const max = ctx.adapter.limits.maxComputeWorkgroupsPerDimension;
  if (workgroups.some((w) => w > max)) {
    throw new KernelError(`kernel ${name}: ${workgroups.join('×')} workgroups pass the limit of ${max} per dimension`);
  }
}

function integersFrom(least: 0 | 1, name: string, values: Record<string, number>): void {
  for (const [key, value] of Object.entries(values)) {
    if (!Number.isInteger(value) || value < least) {
      throw new KernelError(`kernel ${name}: ${key} = ${value} is not a ${least === 1 ? 'positive' : 'non-negative'} integer`);
    }
  }
}

async function compileKernel(
  ctx: GpuContext,
  program: KernelProgram,
  name: string,
  workgroups: [number, number, number],
  bindingBytes: number[],
): Promise<Kernel> {
  checkWorkgroups(ctx, name, workgroups);
  const pipeline = await getPipeline(ctx, program);
  return { name, pipeline, workgroups, bindingBytes };
}

/** Rows × columns of C per workgroup of the kernels in shaders/matmul.wgsl. */
const MATMUL_TILES: Record<1 | 2 | 4, [number, number]> = { 1: [8, 8], 2: [128, 128], 4: [4, 256] };

/** v3 tile: ROWS · WG rows × COLS columns per workgroup (shaders/matmul_subgroup.wgsl). */
const V3_ROWS = 2;
const V3_COLS = 32;
const V3_WG = 64;

/** A version, or `auto`: `matmulVersionFor` picks one for the shape. */
export type MatmulChoice = MatmulVersion | 'auto';

/** For tables: `matmul_v3`, or for `auto` the versions it picks between, e.g. `matmul_auto(v4|v3)`. */
export function matmulChoiceName(ctx: GpuContext, choice: MatmulChoice): string {
  return choice === 'auto' ? `matmul_auto(v4|v${defaultMatmulVersion(ctx)})` : `matmul_v${choice}`;
}

export function matmulKernel(ctx: GpuContext, spec: MatmulSpec, choice: MatmulChoice = 'auto'): Promise<Kernel> {
  const version = choice === 'auto' ? matmulVersionFor(ctx, spec) : choice;
  const { m, k, n } = spec;
  const transA = spec.transA ?? false;
  const transB = spec.transB ?? false;
  const epilogue = spec.epilogue ?? 'none';
  const form = `${transA ? 'Aᵀ' : 'A'}·${transB ? 'Bᵀ' : 'B'}`;
  const name = `matmul_v${version}[${m}x${k}x${n} ${form}${epilogue === 'none' ? '' : ` ${epilogue}`}]`;
  // A layer that pruning emptied is a valid shape: no inputs (k = 0) or no neurons (m or n = 0).
  integersFrom(0, name, { m, k, n });
  const constants: Record<string, number> = {
    M: m,
    N: n,
    K: k,
    TRANS_A: Number(transA),
    TRANS_B: Number(transB),
    EPILOGUE: EPILOGUES[epilogue],
  };
  let program: KernelProgram;
  let workgroups: [number, number, number];
  if (version === 3) {
    const sg = subgroupSize(ctx);
    if (sg === 0) throw new KernelError(`kernel ${name}: this device has no fixed-size subgroups`);
    program = { name: 'matmul_v3', source: matmulSubgroupSource, entryPoint: 'matmul_v3', constants: { ...constants, SG: sg, WG: V3_WG } };
    workgroups = [ceilDiv(n, V3_COLS), ceilDiv(m, V3_ROWS * V3_WG), 1];
  } else {
    const [tileRows, tileCols] = MATMUL_TILES[version];
    program = { name: `matmul_v${version}`, source: matmulSource, entryPoint: `matmul_v${version}`, constants };
    workgroups = [ceilDiv(n, tileCols), ceilDiv(m, tileRows), 1];
  }
  return compileKernel(ctx, program, name, workgroups, [m * k * F32, k * n * F32, m * n * F32, epilogue === 'reluGrad' || epilogue === 'accumulateVelocity' ? m * n * F32 : F32]);
}

/** Counters of softmax_grad, in buffer order: correct, backpropagated, nonFinite. */
export const SOFTMAX_COUNTERS = 3;

/** Per sample: argmax, softmax, onehot − p where p[target] < confidence, counters (shaders/softmax_grad.wgsl). */
export function softmaxGradKernel(ctx: GpuContext, batch: number, classes: number, confidence: number): Promise<Kernel> {
  const name = `softmax_grad[${batch}x${classes}]`;
  integersFrom(1, name, { batch, classes });
  const program = { name: 'softmax_grad', source: softmaxGradSource, entryPoint: 'softmax_grad', constants: { BATCH: batch, CLASSES: classes, CONFIDENCE: confidence } };
  return compileKernel(ctx, program, name, [ceilDiv(batch, 64), 1, 1], [batch * classes * F32, batch * 4, batch * classes * F32, SOFTMAX_COUNTERS * 4]);
}

/** Masked momentum step for one layer of `count` weights (shaders/update.wgsl). */
export function updateKernel(ctx: GpuContext, count: number): Promise<Kernel> {
  const name = `update[${count}]`;
  integersFrom(1, name, { count });
  const program = { name: 'update', source: updateSource, entryPoint: 'update', constants: { COUNT: count } };
  return compileKernel(ctx, program, name, [ceilDiv(count, 64), 1, 1], [count * F32, count * F32, count * F32, 2 * F32]);
}

/** Bytes a binding covers: its window, or the rest of its buffer. */
function bindingSize(b: GPUBuffer | GPUBufferBinding): number {
  if (!('buffer' in b)) return b.size;
  return b.size ?? b.buffer.size - (b.offset ?? 0);
}

/** Binds resources to a kernel, checking every binding is large enough for the kernel's shape. */
export function bindKernel(ctx: GpuContext, kernel: Kernel, label: string, bindings: readonly (GPUBuffer | GPUBufferBinding)[]): Dispatch {
  if (bindings.length !== kernel.bindingBytes.length) {
    throw new KernelError(`kernel ${kernel.name}: ${bindings.length} bindings given, it takes ${kernel.bindingBytes.length}`);
  }
  bindings.forEach((b, i) => {
    const size = bindingSize(b);
    if (size < kernel.bindingBytes[i]!) {
      throw new KernelError(`kernel ${kernel.name}: binding ${i} (${label}) has ${size} bytes, the shape needs ${kernel.bindingBytes[i]}`);
    }
  });
  return { kernel, bindGroup: bindBuffers(ctx.device, kernel.pipeline, `${kernel.name} ${label}`, bindings) };
}

/** Records one dispatch; a grid with no workgroups (a zero-sized shape) has nothing to compute and is left out. */
export function recordDispatch(pass: GPUComputePassEncoder, pipeline: GPUComputePipeline, bindGroup: GPUBindGroup, workgroups: readonly [number, number, number]): void {
  if (workgroups.includes(0)) return;
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(...workgroups);
}

/** Records dispatches into a compute pass, in order (each sees the writes of the previous ones). */
export function recordDispatches(pass: GPUComputePassEncoder, dispatches: readonly Dispatch[]): void {
  for (const { kernel, bindGroup } of dispatches) recordDispatch(pass, kernel.pipeline, bindGroup, kernel.workgroups);
}

/** Runs dispatches in one pass and submits them; validation errors name the kernels. */
export function submitDispatches(ctx: GpuContext, label: string, dispatches: readonly Dispatch[]): Promise<void> {
  const kernels = dispatches.map((d) => d.kernel.name).join(', ');
  return withErrorScope(ctx.device, kernels, () => {
    const encoder = ctx.device.createCommandEncoder({ label });
    const pass = encoder.beginComputePass({ label });
    recordDispatches(pass, dispatches);
    pass.end();
    ctx.device.queue.submit([encoder.finish()]);
  });
}
