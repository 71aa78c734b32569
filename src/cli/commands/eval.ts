import { keptWeights, totalWeights } from '../../model/network';
import { loadMnist } from '../../node/mnist';
import { checkDataFits, evaluateCpu } from './train';
import { percent, grouped, type CommandIo } from '../io';
import { loadModel } from '../model-io';
import type { EvalCommand } from '../parse';

export async function runEval(cmd: EvalCommand, io: CommandIo): Promise<void> {
  const { net, format } = await loadModel(cmd.model);
  const data = await loadMnist({ dir: cmd.data });
  checkDataFits(net.sizes, data.test, cmd.model);
  const result = evaluateCpu(net, data.test);
  const weights = net.masks.reduce((n, m) => n + keptWeights(m), 0);
  const total = totalWeights(net.sizes);
  if (cmd.json) {
    io.out(JSON.stringify({
      model: cmd.model,
      format,
      backend: 'cpu',
      accuracy: Number(percent(result.correct, result.total)),
      correct: result.correct,
      total: result.total,
      weights,
      totalWeights: total,
      samplesPerSec: result.samplesPerSec,
    }));
    return;
  }
  io.out(`${cmd.model}: ${net.sizes.join('-')}, ${grouped(weights)} of ${grouped(total)} weights (${percent(weights, total)}%), ${format}`);
  io.out(`Test Accuracy = ${percent(result.correct, result.total).padStart(6)}% (${grouped(result.correct)}/${grouped(result.total)}) | ` +
    `Time = ${result.seconds.toFixed(3)}s | ${grouped(result.samplesPerSec)} samples/s on cpu`);
}
