/** Test-set evaluation shared by `train` and `eval`: on the JS reference or on the GPU. */
import { countCorrect, inferAll, type Inference } from '../cpu/forward';
import { crossEntropy } from '../cpu/ops';
import type { Dataset } from '../data/dataset';
import type { GpuContext } from '../gpu/device';
import { createDenseInference } from '../gpu/dense-inference';
import { createHybridInference } from '../gpu/hybrid-inference';
import type { Network } from '../model/network';
import { asCompact, compactNetwork, gatherInputs, type CompactNetwork } from '../prune/structured';
import { UserError } from '../util/errors';
import { grouped } from '../util/format';

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
  /** Mean cross-entropy over the samples (nats). */
  loss: number;
  seconds: number;
  samplesPerSec: number;
}

/**
 * The result of running every test sample. A network with finite weights can still overflow
 * float32 in its activations; its NaN or infinite logits predict class 0 everywhere, which would
 * be scored as if it were a (bad) prediction, so that is an error instead.
 */
function testResult(test: Dataset, inference: Inference, seconds: number, kernel: string): TestResult {
  if (inference.nonFinite > 0) {
    throw new UserError(`the network's outputs are not finite for ${grouped(inference.nonFinite)} of ${grouped(test.count)} test samples (its activations overflow float32)`);
  }
  const classes = inference.logits.length / test.count;
  let lossSum = 0;
  for (let s = 0; s < test.count; s++) lossSum += crossEntropy(inference.logits, s * classes, classes, test.labels[s]!);
  return { correct: countCorrect(inference.predictions, test.labels), total: test.count, loss: test.count > 0 ? lossSum / test.count : 0, seconds, samplesPerSec: test.count / seconds, kernel };
}

/** On the JS reference; a compact network reads its features of each test sample. */
export function evaluateCpu(model: Network | CompactNetwork, test: Dataset): TestResult {
  const { net, inputIndices } = asCompact(model);
  const start = performance.now();
  const inputs = gatherInputs(test.inputs, test.count, test.features, inputIndices);
  const inference = inferAll(net, { ...test, inputs, features: net.sizes[0]! });
  return testResult(test, inference, (performance.now() - start) / 1000, 'js-reference');
}

/**
 * Test accuracy on the GPU. Dense: the training matmul over the masked weights. Sparse: the
 * structured step first drops every neuron that cannot reach the output, then each layer runs
 * as CSR, or on the matmul where a layer is dense enough for that to be cheaper, or written into
 * a program of its own where that is cheaper still (unless `unrolled` is false). One untimed
 * sample first warms the buffers; on the hybrid engine, an untimed pass over the whole set
 * instead, as the programs a batch of its size runs are compiled on their first use (seconds on a
 * software adapter), so the timing covers the test set alone.
 */
export async function evaluateGpu(
  ctx: GpuContext,
  model: Network | CompactNetwork,
  test: Dataset,
  engineChoice: { sparse: boolean; unrolled?: boolean },
): Promise<TestResult> {
  const maxBatch = test.count;
  const engine = engineChoice.sparse
    ? await createHybridInference(ctx, compactNetwork(model).compact, { maxBatch, unrolled: engineChoice.unrolled })
    : await createDenseInference(ctx, model, { maxBatch });
  try {
    await (engineChoice.sparse ? engine.infer(test.inputs, test.count) : engine.infer(test.inputs.subarray(0, test.features), 1));
    const start = performance.now();
    const inference = await engine.infer(test.inputs, test.count);
    return testResult(test, inference, (performance.now() - start) / 1000, engine.name);
  } finally {
    engine.dispose();
  }
}
