/** Test-set evaluation shared by `train` and `eval`: on the JS reference or on the GPU. */
import { countCorrect, predictAll } from '../cpu/forward';
import type { Dataset } from '../data/dataset';
import type { GpuContext } from '../gpu/device';
import { createDenseInference, createHybridInference } from '../gpu/sparse-inference';
import type { Network } from '../model/network';
import { compactNetwork } from '../prune/structured';
import { UserError } from '../util/errors';

export function checkDataFits(sizes: readonly number[], data: Dataset, what: string): void {
  if (sizes[0] !== data.features) throw new UserError(`${what} takes ${sizes[0]} inputs but ${data.source} has ${data.features} values per sample`);
  if (sizes[sizes.length - 1] !== data.classes) {
    throw new UserError(`${what} has ${sizes[sizes.length - 1]} outputs but ${data.source} has ${data.classes} classes`);
  }
}

export interface TestResult {
  /** What ran: `js-reference` or the GPU engine's name. */
  kernel: string;
  correct: number;
  total: number;
  seconds: number;
  samplesPerSec: number;
}

export function evaluateCpu(net: Network, test: Dataset): TestResult {
  const start = performance.now();
  const predictions = predictAll(net, test);
  const seconds = (performance.now() - start) / 1000;
  return { correct: countCorrect(predictions, test.labels), total: test.count, seconds, samplesPerSec: test.count / seconds, kernel: 'js-reference' };
}

/**
 * Test accuracy on the GPU. Dense: the training matmul over the masked weights. Sparse: the
 * structured step first drops every neuron that cannot reach the output, then each layer runs
 * as CSR, or on the matmul where a layer is dense enough for that to be cheaper. One untimed
 * sample first warms the buffers, so the timing covers the test set alone.
 */
export async function evaluateGpu(ctx: GpuContext, net: Network, test: Dataset, sparse: boolean): Promise<TestResult> {
  const maxBatch = test.count;
  const engine = sparse
    ? await createHybridInference(ctx, compactNetwork(net).compact, { maxBatch })
    : await createDenseInference(ctx, net, { maxBatch });
  try {
    await engine.infer(test.inputs.subarray(0, test.features), 1);
    const start = performance.now();
    const { predictions } = await engine.infer(test.inputs, test.count);
    const seconds = (performance.now() - start) / 1000;
    return { correct: countCorrect(predictions, test.labels), total: test.count, seconds, samplesPerSec: test.count / seconds, kernel: engine.name };
  } finally {
    engine.dispose();
  }
}
