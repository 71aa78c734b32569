/**
 * Kernel programs and their pipelines. One `KernelProgram` describes one WGSL entry point with
 * its override constants; pipelines are built once per (program, constants) key and cached.
 * Every GPU object is labelled with the kernel's name, and compilation or validation errors
 * name the kernel they came from.
 */
import type { GpuContext } from './device';

export interface KernelProgram {
  /** Kernel name, used as label and cache key, e.g. `matmul_v2`. */
  name: string;
  /** WGSL source (one of `shaders/*.wgsl`). */
  source: string;
  entryPoint?: string;
  /** Values for the shader's `override` declarations. */
  constants?: Record<string, number>;
}

export class KernelError extends Error {
  override name = 'KernelError';
}

/**
 * The GPU device was lost (a driver reset, the GPU removed, the device destroyed) while `work`
 * ran, e.g. `train batches 8–15`: everything on the device is gone, nothing more can run on it.
 */
export class DeviceLostError extends KernelError {
  override name = 'DeviceLostError';

  constructor(
    /** The kernel or the submitted work that was running, as its label names it. */
    readonly work: string,
    /** The driver's reason, one line. */
    readonly reason: string,
  ) {
    super(`the GPU device was lost during ${work}: ${reason}`);
  }
}

const caches = new WeakMap<GPUDevice, Map<string, Promise<GPUComputePipeline>>>();
const modules = new WeakMap<GPUDevice, Map<string, GPUShaderModule>>();

function programKey(p: KernelProgram): string {
  const constants = Object.entries(p.constants ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return `${p.name}:${p.entryPoint ?? 'main'}:${constants}`;
}

function shaderModule(device: GPUDevice, p: KernelProgram): GPUShaderModule {
  let byName = modules.get(device);
  if (!byName) modules.set(device, (byName = new Map()));
  let module = byName.get(p.source);
  if (!module) {
    module = device.createShaderModule({ label: p.name, code: p.source });
    byName.set(p.source, module);
  }
  return module;
}

/** The compute pipeline of a program, compiled on first use and cached per device. */
export function getPipeline(ctx: GpuContext, p: KernelProgram): Promise<GPUComputePipeline> {
  const { device } = ctx;
  let cache = caches.get(device);
  if (!cache) caches.set(device, (cache = new Map()));
  const key = programKey(p);
  let pipeline = cache.get(key);
  if (!pipeline) {
    pipeline = compile(device, p);
    cache.set(key, pipeline);
    pipeline.catch(() => cache.delete(key));
  }
  return pipeline;
}

async function compile(device: GPUDevice, p: KernelProgram): Promise<GPUComputePipeline> {
  const module = shaderModule(device, p);
  try {
    return await device.createComputePipelineAsync({
      label: programKey(p),
      layout: 'auto',
      compute: { module, entryPoint: p.entryPoint ?? 'main', constants: p.constants },
    });
  } catch (err) {
    // The compiler's messages are asked for only once compilation failed: in a Chrome worker
    // `getCompilationInfo()` on a module that compiles can stay pending for good.
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length > 0) {
      const text = errors.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join('; ');
      throw new KernelError(`kernel ${p.name}: WGSL compilation failed: ${text}`);
    }
    throw new KernelError(`kernel ${p.name}: pipeline creation failed: ${(err as Error).message}`);
  }
}

/**
 * Runs `work` (and waits for it) inside validation and out-of-memory error scopes; a GPU error
 * there is thrown as a KernelError that starts with `what` (e.g. `kernel matmul_v3[…]`).
 */
export async function withErrorScope<T>(device: GPUDevice, what: string, work: () => T | Promise<T>): Promise<T> {
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  const popBoth = async (): Promise<GPUError | null> => {
    const validation = await device.popErrorScope();
    const oom = await device.popErrorScope();
    return validation ?? oom;
  };
  let result: T;
  try {
    result = await work();
  } catch (err) {
    // A scope left pushed would swallow the device's later errors and pair later pops wrongly.
    // The error thrown is what the caller must see, whatever the pops give (a lost device's).
    await popBoth().catch(() => null);
    throw err;
  }
  const error = await popBoth();
  if (error) throw new KernelError(`${what}: ${error.message}`);
  return result;
}

/**
 * A bind group for a pipeline's group 0, bound in binding order: a whole buffer, or a window of
 * one (`{ buffer, offset, size }`, offset a multiple of `minStorageBufferOffsetAlignment`).
 */
export function bindBuffers(
  device: GPUDevice,
  pipeline: GPUComputePipeline,
  label: string,
  buffers: readonly (GPUBuffer | GPUBufferBinding)[],
): GPUBindGroup {
  return device.createBindGroup({
    label,
    layout: pipeline.getBindGroupLayout(0),
    entries: buffers.map((b, binding) => ({ binding, resource: 'buffer' in b ? b : { buffer: b } })),
  });
}
