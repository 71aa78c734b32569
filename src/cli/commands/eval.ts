import { biasCount, keptParameters, keptTotal, totalWeights } from '../../model/network';
import { deskewDataset, readsDeskewed } from '../../data/deskew';
import { loadTestSet } from '../../node/mnist';
import { UserError } from '../../util/errors';
import { selectBackend } from '../gpu';
import type { CommandIo } from '../io';
import { grouped, percent, printable } from '../../util/format';
import { loadModel, sizesBeforePruning } from '../model-io';
import type { EvalCommand } from '../parse';
import { checkDataFits, evaluateCpu, evaluateGpu } from '../evaluate';


export async function runEval(cmd: EvalCommand, io: CommandIo): Promise<void> {
  const model = await loadModel(cmd.model);
  const { net, format, inputIndices, inputSize } = model;
  const outputs = net.sizes[net.sizes.length - 1]!;
  const images = await loadTestSet({ dir: cmd.data }, { count: outputs, from: printable(cmd.model) });
  const deskewed = readsDeskewed(model.metadata, printable(cmd.model));
  const test = deskewed ? deskewDataset(images, `${printable(cmd.model)} (reads deskewed images)`) : images;
  checkDataFits([inputSize, ...net.sizes.slice(1)], test, cmd.model);
  const gpu = await selectBackend(cmd.backend, cmd, io);
  if (cmd.sparse && !gpu) throw new UserError('--sparse runs the GPU sparse kernel, and no WebGPU adapter is available');
  const result = gpu ? await evaluateGpu(gpu, model, test, { sparse: cmd.sparse, unrolled: cmd.unrolled }) : evaluateCpu(model, test);
  const weights = keptTotal(net);
  // Against the network before structured pruning, as `info` and the training table count.
  const total = totalWeights(sizesBeforePruning(model));
  const backend = gpu ? 'gpu' : 'cpu';
  if (cmd.json) {
    io.out(JSON.stringify({
      model: cmd.model,
      format,
      backend,
      kernel: result.kernel,
      adapter: gpu?.adapter ?? null,
      accuracy: Number(percent(result.correct, result.total)),
      correct: result.correct,
      total: result.total,
      inputs: net.sizes[0],
      inputSize,
      deskewed,
      weights,
      totalWeights: total,
      ...(net.biases ? { biases: biasCount(net), parameters: keptParameters(net) } : {}),
      samplesPerSec: result.samplesPerSec,
    }));
    return;
  }
  const reads = (inputIndices ? ` (${net.sizes[0]} of ${inputSize} inputs)` : '') + (deskewed ? ', deskewed images' : '');
  const parameters = net.biases ? `; parameters (kept weights + biases) ${grouped(keptParameters(net))}` : '';
  io.out(`${printable(cmd.model)}: ${net.sizes.join('-')}${reads}, ${grouped(weights)} of ${grouped(total)} weights (${percent(weights, total)}%)${parameters}, ${format}`);
  io.out(`Test Accuracy = ${percent(result.correct, result.total).padStart(6)}% (${grouped(result.correct)}/${grouped(result.total)}) | ` +
    `Time = ${result.seconds.toFixed(3)}s | ${grouped(result.samplesPerSec)} samples/s on ${backend} (${result.kernel})`);
}
