/**
 * One GPUDevice per process, from whatever `GPU` the platform provides: `navigator.gpu` in a
 * browser, Dawn's Node bindings in Node (see `src/node/dawn.ts`). This module imports nothing
 * platform-specific, so the trainer runs unchanged in both places.
 */
import { DeviceLostError, KernelError } from './program';
import { DEFAULT_TUNING, type Tuning } from './tuning';

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  features: string[];
  /** Lanes per subgroup (0 where the platform does not say); kernels built for one size need min = max. */
  subgroupMinSize: number;
  subgroupMaxSize: number;
  limits: {
    maxStorageBufferBindingSize: number;
    maxBufferSize: number;
    maxComputeWorkgroupStorageSize: number;
    maxComputeInvocationsPerWorkgroup: number;
    maxComputeWorkgroupSizeX: number;
    maxComputeWorkgroupsPerDimension: number;
  };
}

export interface GpuContext {
  device: GPUDevice;
  adapter: AdapterDescription;
  /** The driver's reason, one line, once the device is lost; every later GPU call fails with a DeviceLostError. */
  lostReason: string | null;
  /**
   * The kernel choices every choice point reads (matmul and CSR versions, their geometry, the
   * cost model): DEFAULT_TUNING, or what `tune` measured on this adapter (src/gpu/tune.ts).
   */
  tuning: Tuning;
}

/** A user-facing failure to get a GPU (no adapter, device creation refused). */
export class GpuUnavailableError extends Error {
  override name = 'GpuUnavailableError';
}

export function describeAdapter(adapter: GPUAdapter): AdapterDescription {
  const info = adapter.info;
  const l = adapter.limits;
  const fallback = (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter;
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    isFallbackAdapter: fallback ?? (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false,
    features: [...adapter.features].map(String).sort(),
    subgroupMinSize: info.subgroupMinSize ?? 0,
    subgroupMaxSize: info.subgroupMaxSize ?? 0,
    limits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    },
  };
}

/** A multi-line driver message as one line. */
function oneLine(text: string): string {
  return text.split('\n').map((line) => line.trim()).filter(Boolean).join('; ').replace(/:;/g, ':');
}

/** A one-line name for an adapter, for tables and logs. */
export function adapterName(a: AdapterDescription): string {
  const parts = [a.description || a.device || a.architecture || 'unknown adapter', a.vendor && `(${a.vendor})`];
  if (a.isFallbackAdapter) parts.push('[software]');
  return parts.filter(Boolean).join(' ');
}

export interface DeviceOptions {
  powerPreference?: GPUPowerPreference;
  /** Reported when the device raises an uncaptured error. */
  onError?: (message: string) => void;
  /**
   * Reported when the device is lost, unless it was destroyed on purpose (default: `onError`).
   * The GPU work running then fails with a DeviceLostError that names it, so a caller that
   * reports that error can pass a no-op here and say it once.
   */
  onLost?: (message: string) => void;
}

/**
 * Requests an adapter and a device with the adapter's full storage limits (the defaults are
 * smaller than what the trainer needs for the whole training set) and `subgroups` when offered.
 */
export async function acquireDevice(gpu: GPU, options: DeviceOptions = {}): Promise<GpuContext> {
  // Dawn rejects, rather than answering null, when its adapter filter matches nothing.
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' }).catch((err: Error) => {
    throw new GpuUnavailableError(`no matching WebGPU adapter: ${oneLine(err.message)}`);
  });
  if (!adapter) throw new GpuUnavailableError('no WebGPU adapter found');
  const l = adapter.limits;
  const requiredFeatures: GPUFeatureName[] = [];
  if (adapter.features.has('subgroups')) requiredFeatures.push('subgroups' as GPUFeatureName);
  if (adapter.features.has('timestamp-query')) requiredFeatures.push('timestamp-query');
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({
      label: 'webgpu-prune',
      requiredFeatures,
      requiredLimits: {
        maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
        maxBufferSize: l.maxBufferSize,
        maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
        maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
        maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
        maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      },
    });
  } catch (err) {
    throw new GpuUnavailableError(`the adapter refused to create a device: ${(err as Error).message}`);
  }
  const context: GpuContext = { device, adapter: describeAdapter(adapter), lostReason: null, tuning: DEFAULT_TUNING };
  const report = options.onError ?? ((m: string) => console.error(m));
  void device.lost.then((info) => {
    context.lostReason = oneLine(info.message) || info.reason;
    if (info.reason !== 'destroyed') (options.onLost ?? report)(`GPU device lost: ${context.lostReason}`);
  });
  device.addEventListener('uncapturederror', (event) => {
    report(`GPU error: ${(event as GPUUncapturedErrorEvent).error.message}`);
  });
  return context;
}

/** Throws a DeviceLostError naming `work` when the device is lost. */
export function throwIfLost(ctx: GpuContext, work: string): void {
  if (ctx.lostReason !== null) throw new DeviceLostError(work, ctx.lostReason);
}

/** How long a failed GPU call waits for the device's `lost` promise, which may settle after the call. */
const LOSS_SETTLE_MS = 100;

/**
 * Runs `body` (GPU calls for `work`, a label evaluated when it fails) and, when it fails or
 * finishes on a lost device, throws a DeviceLostError naming the work instead of the bare
 * AbortError that GPU promises reject with once the device is gone.
 */
export async function detectDeviceLoss<T>(ctx: GpuContext, work: () => string, body: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await body();
  } catch (err) {
    if (err instanceof KernelError) throw err;
    if (ctx.lostReason === null) await Promise.race([ctx.device.lost, new Promise((resolve) => setTimeout(resolve, LOSS_SETTLE_MS))]);
    throwIfLost(ctx, work());
    throw err;
  }
  throwIfLost(ctx, work());
  return result;
}
