/**
 * ONNX Runtime Web's WebGPU execution provider running our ONNX export of a network: the second
 * peer of the browser app's race, on the same adapter. Loaded with a dynamic import only when a
 * race runs (the runtime is about 27 MB of WebAssembly).
 *
 * The input batch stays on the GPU (a buffer on ONNX Runtime's own device, bound as a tensor), as
 * our engines' does; a timed run ends by reading the logits back (batch × classes floats), as
 * ONNX Runtime returns its outputs.
 */
import { encodeOnnx, ONNX_INPUT } from '../format/onnx';
import type { Network } from '../model/network';
import { timeRuns } from './timing';

type Ort = typeof import('onnxruntime-web/webgpu');
type OrtSession = import('onnxruntime-web/webgpu').InferenceSession;

export class OrtWebInference {
  private constructor(
    private readonly ort: Ort,
    private readonly session: OrtSession,
    private readonly device: GPUDevice,
    private readonly features: number,
    readonly version: string,
  ) {}

  static async create(net: Network): Promise<OrtWebInference> {
    const ort = await import('onnxruntime-web/webgpu');
    // Threads need cross-origin isolation, which a plain static host does not give; the work runs on the GPU.
    ort.env.wasm.numThreads = 1;
    const session = await ort.InferenceSession.create(encodeOnnx(net), { executionProviders: ['webgpu'] });
    const device = (await ort.env.webgpu.device) as GPUDevice;
    return new OrtWebInference(ort, session, device, net.sizes[0]!, ort.env.versions.web ?? '');
  }

  /** Milliseconds of each of `repeats` timed runs on `batch` samples of `inputs` (`[batch, features]`), after two warm-up runs. */
  async time(inputs: Float32Array, batch: number, repeats: number): Promise<number[]> {
    const { ort, session, device, features } = this;
    const bytes = batch * features * 4;
    const buffer = device.createBuffer({ label: 'onnx runtime input', size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });
    device.queue.writeBuffer(buffer, 0, inputs.subarray(0, batch * features) as Float32Array<ArrayBuffer>);
    const input = ort.Tensor.fromGpuBuffer(buffer, { dataType: 'float32', dims: [batch, features] });
    const run = async (): Promise<void> => {
      const outputs = await session.run({ [ONNX_INPUT]: input });
      for (const output of Object.values(outputs)) {
        await output.getData();
        output.dispose();
      }
    };
    try {
      return await timeRuns(run, repeats);
    } finally {
      input.dispose();
      buffer.destroy();
    }
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
