/**
 * Kernel descriptors and the one path every dispatch takes:
 *
 *   descriptor + shape  --compileKernel-->  Kernel (pipeline, workgroups, binding sizes)
 *                       --bindKernel----->  Dispatch (bindings checked against the sizes)
 *                       --recordDispatches-> a compute pass
 *
 * A descriptor is everything about one kernel that does not depend on the device: its WGSL
 * program, its geometry (workgroup size, tile, rows per workgroup, …), and for a shape the
 * workgroups it dispatches and the bytes each binding must have. The geometry reaches the WGSL as
 * `override` constants of the same names, which the shaders declare with no default: the numbers
 * are written here only, and whatever reads them (the dispatch size, the cost model, a tuner)
 * reads the same ones. A variant with another geometry is `{ ...descriptor, geometry }`.
 */
import { createBuffer, STORAGE_OR_UNIFORM } from './buffers';
import type { GpuContext } from './device';
import { bindBuffers, getPipeline, KernelError, withErrorScope } from './program';

export type Grid = [number, number, number];

/** A kernel's work split, by the names of the WGSL `override`s that receive it. */
export type Geometry = Readonly<Record<string, number>>;

export interface KernelDescriptor<Shape, G extends Geometry = Geometry> {
  /** The kernel, e.g. `matmul_v3`: labels, error messages, the pipeline cache. */
  readonly name: string;
  /** WGSL source (one of `shaders/*.wgsl`, or generated from one for an input, see `programId`). */
  readonly source: string;
  /** For a program generated per input (sparse_unrolled: per layer): tells it apart from the others of its name in the pipeline cache. */
  readonly programId?: string;
  readonly entryPoint?: string;
  readonly geometry: G;
  /** The shape for labels, e.g. `800x784x100 A·Bᵀ relu`. */
  describe(shape: Shape): string;
  /** Override constants that fix the shape (M, N, K, …), for kernels compiled per shape. */
  shapeConstants?(shape: Shape): Record<string, number>;
  /** Workgroups of one dispatch. */
  workgroups(shape: Shape, geometry: G): Grid;
  /** Least size in bytes of each binding, in binding order. */
  bindingBytes(shape: Shape): number[];
  /**
   * Bindings the shader never reads for this shape (the matmul's bias without one): a caller may
   * leave them off the end of its list, and `bindKernel` binds a small placeholder buffer there.
   */
  unreadBindings?(shape: Shape): readonly number[];
}

/**
 * A kernel whose work the cost model can price: its output is a matrix (rows × columns: samples
 * × outputs in inference) computed in blocks that cost the same however much of them is inside
 * the matrix.
 */
export interface CostedDescriptor<Shape, G extends Geometry = Geometry> extends KernelDescriptor<Shape, G> {
  /** Rows × columns of the output whose work is done together, padding included. */
  costBlock(geometry: G): readonly [number, number];
}

/** A descriptor compiled for one shape: its pipeline, dispatch size and the bytes each binding needs. */
export interface Kernel {
  /** e.g. `matmul_v2[800x784x100 A·Bᵀ relu]`: labels and error messages. */
  name: string;
  pipeline: GPUComputePipeline;
  workgroups: Grid;
  /** Least size in bytes of each binding, in binding order. */
  bindingBytes: number[];
  /** Bindings this shape never reads, which a caller may leave off the end (`KernelDescriptor.unreadBindings`). */
  unreadBindings: readonly number[];
}

/**
 * A kernel with its resources bound: one `dispatchWorkgroups` when recorded, or with `indirect`
 * one `dispatchWorkgroupsIndirect` whose workgroup counts a kernel wrote on the GPU (at most
 * `kernel.workgroups`, which is what the limits were checked against).
 */
export interface Dispatch {
  kernel: Kernel;
  /** The kernel and what it was bound to, e.g. `matmul_v3[800x784x100 A·B relu] layer 0 forward, batch 3`. */
  label: string;
  bindGroup: GPUBindGroup;
  indirect?: { buffer: GPUBuffer; offset: number };
}

function checkWorkgroups(ctx: GpuContext, name: string, workgroups: Grid): void {
  const max = ctx.device.limits.maxComputeWorkgroupsPerDimension;
  if (workgroups.some((w) => w > max)) {
    throw new KernelError(`kernel ${name}: ${workgroups.join('×')} workgroups pass the limit of ${max} per dimension`);
  }
}

/** The pipeline of `descriptor` for `shape` (compiled once per device and constants), and its dispatch size. */
export async function compileKernel<Shape, G extends Geometry>(ctx: GpuContext, descriptor: KernelDescriptor<Shape, G>, shape: Shape): Promise<Kernel> {
  const name = `${descriptor.name}[${descriptor.describe(shape)}]`;
  const workgroups = descriptor.workgroups(shape, descriptor.geometry);
  checkWorkgroups(ctx, name, workgroups);
  const pipeline = await getPipeline(ctx, {
    name: descriptor.programId ? `${descriptor.name}#${descriptor.programId}` : descriptor.name,
    source: descriptor.source,
    entryPoint: descriptor.entryPoint,
    constants: { ...descriptor.shapeConstants?.(shape), ...descriptor.geometry },
  });
  return { name, pipeline, workgroups, bindingBytes: descriptor.bindingBytes(shape), unreadBindings: descriptor.unreadBindings?.(shape) ?? [] };
}

/** Bytes a binding covers: its window, or the rest of its buffer. */
function bindingSize(b: GPUBuffer | GPUBufferBinding): number {
  if (!('buffer' in b)) return b.size;
  return b.size ?? b.buffer.size - (b.offset ?? 0);
}

const placeholders = new WeakMap<GPUDevice, GPUBuffer[]>();

/**
 * A small buffer per device and binding number that stands in for that binding wherever a shape
 * does not read it. One per binding number, so that a bind group never holds the same buffer
 * twice, which a read_write binding would not allow.
 */
function placeholderBuffer(ctx: GpuContext, binding: number): GPUBuffer {
  let found = placeholders.get(ctx.device);
  if (!found) placeholders.set(ctx.device, (found = []));
  return (found[binding] ??= createBuffer(ctx, `unread binding ${binding}`, 16, STORAGE_OR_UNIFORM));
}

/**
 * Binds resources to a kernel, checking every binding is large enough for the kernel's shape.
 * Bindings the shape does not read (`Kernel.unreadBindings`) may be left off the end of the list.
 */
export function bindKernel(ctx: GpuContext, kernel: Kernel, label: string, given: readonly (GPUBuffer | GPUBufferBinding)[]): Dispatch {
  const total = kernel.bindingBytes.length;
  const leftOff = Array.from({ length: Math.max(0, total - given.length) }, (_, i) => given.length + i);
  if (given.length > total || leftOff.some((i) => !kernel.unreadBindings.includes(i))) {
    throw new KernelError(`kernel ${kernel.name}: ${given.length} bindings given, it takes ${total}`);
  }
  const bindings = [...given, ...leftOff.map((binding) => placeholderBuffer(ctx, binding))];
  bindings.forEach((b, i) => {
    const size = bindingSize(b);
    if (size < kernel.bindingBytes[i]!) {
      throw new KernelError(`kernel ${kernel.name}: binding ${i} (${label}) has ${size} bytes, the shape needs ${kernel.bindingBytes[i]}`);
    }
  });
  const named = `${kernel.name} ${label}`;
  return { kernel, label: named, bindGroup: bindBuffers(ctx.device, kernel.pipeline, named, bindings) };
}

/**
 * Records dispatches into a compute pass, in order (each sees the writes of the previous ones).
 * A grid with no workgroups (a zero-sized shape) has nothing to compute and is left out; so is an
 * indirect dispatch whose largest grid has none.
 */
export function recordDispatches(pass: GPUComputePassEncoder, dispatches: readonly Dispatch[]): void {
  for (const { kernel, bindGroup, indirect } of dispatches) {
    if (kernel.workgroups.includes(0)) continue;
    pass.setPipeline(kernel.pipeline);
    pass.setBindGroup(0, bindGroup);
    if (indirect) pass.dispatchWorkgroupsIndirect(indirect.buffer, indirect.offset);
    else pass.dispatchWorkgroups(...kernel.workgroups);
  }
}

/** Records dispatches in one pass of a new command encoder and submits it. */
export function encodeAndSubmit(ctx: GpuContext, label: string, dispatches: readonly Dispatch[]): void {
  const encoder = ctx.device.createCommandEncoder({ label });
  const pass = encoder.beginComputePass({ label });
  recordDispatches(pass, dispatches);
  pass.end();
  ctx.device.queue.submit([encoder.finish()]);
}

/** Runs dispatches in one pass and submits them; validation errors name the kernels. */
export function submitDispatches(ctx: GpuContext, label: string, dispatches: readonly Dispatch[]): Promise<void> {
  const kernels = dispatches.map((d) => d.kernel.name).join(', ');
  return withErrorScope(ctx.device, `kernel ${kernels}`, () => encodeAndSubmit(ctx, label, dispatches));
}
