import { keptTotal } from '../../model/network';
import type { CommandIo } from '../io';
import { loadModel, saveModel } from '../model-io';
import type { ConvertCommand } from '../parse';
import { withoutReserved } from './prune';

export async function runConvert(cmd: ConvertCommand, io: CommandIo): Promise<void> {
  const { net, format: from, layout: fromLayout, metadata } = await loadModel(cmd.model);
  const to = await saveModel(cmd.out, net, withoutReserved(metadata), { layout: cmd.layout, softmax: cmd.softmax });
  const weights = keptTotal(net);
  // Each option of the format written, and only those.
  const layout = to === 'safetensors' ? cmd.layout : undefined;
  const output = to === 'onnx' ? (cmd.softmax ? 'probabilities' : 'logits') : undefined;
  if (cmd.json) {
    io.out(JSON.stringify({ model: cmd.model, out: cmd.out, from, fromLayout, to, layout, output, sizes: net.sizes, weights }));
    return;
  }
  const fromText = fromLayout === 'torch' ? `${from}, torch layout` : from;
  const toText = [to, layout && `${layout} layout`, output && `${output} out`].filter(Boolean).join(', ');
  io.out(`${cmd.model} (${fromText}) → ${cmd.out} (${toText}): ${net.sizes.join('-')}, ${weights} weights`);
}
