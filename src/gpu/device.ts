/**
 * One GPUDevice per process, from whatever `GPU` the platform provides: `navigator.gpu` in a
 * browser, Dawn's Node bindings in Node (see `src/node/dawn.ts`). This module imports nothing
 * platform-specific, so the trainer runs unchanged in both places.
 */

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
  /** Set once the device is lost; every later GPU call fails with this message. */
  lostReason: string | null;
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
  /** Reported when the device is lost or raises an uncaptured error. */
  onError?: (message: string) => void;
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
        maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      },
    });
  } catch (err) {
    throw new GpuUnavailableError(`the adapter refused to create a device: ${(err as Error).message}`);
  }
  const context: GpuContext = { device, adapter: describeAdapter(adapter), lostReason: null };
  const report = options.onError ?? ((m: string) => console.error(m));
  void device.lost.then((info) => {
    if (info.reason === 'destroyed') return;
    context.lostReason = `GPU device lost: ${info.message || info.reason}`;
    report(context.lostReason);
  });
  device.addEventListener('uncapturederror', (event) => {
    report(`GPU error: ${(event as GPUUncapturedErrorEvent).error.message}`);
  });
  return context;
}
