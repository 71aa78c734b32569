import { biasCount, keptTotal } from '../../model/network';
import type { CommandIo } from '../io';
import { loadModel, saveModel } from '../model-io';
import type { ConvertCommand } from '../parse';
import { withoutReserved } from './prune';

export async function runConvert(cmd: ConvertCommand, io: CommandIo): Promise<void> {
  const model = await loadModel(cmd.model);
  const { net, format: from, layout: fromLayout, metadata } = model;
  const to = await saveModel(cmd.out, model, withoutReserved(metadata), { layout: cmd.layout, softmax: cmd.softmax });
  const weights = keptTotal(net);
  const biases = biasCount(net);
  // Each option of the format written, and only those.
  const layout = to === 'safetensors' ? cmd.layout : undefined;
  // The seed's text and the torch layout take the network of whole samples; the others keep the compact one.
  const sizes = to === 'seed-text' || layout === 'torch' ? [model.inputSize, ...net.sizes.slice(1)] : net.sizes;
  const output = to === 'onnx' ? (cmd.softmax ? 'probabilities' : 'logits') : undefined;
  if (cmd.json) {
    io.out(JSON.stringify({ model: cmd.model, out: cmd.out, from, fromLayout, to, layout, output, sizes, weights, biases }));
    return;
  }
  const fromText = fromLayout === 'torch' ? `${from}, torch layout` : from;
  const toText = [to, layout && `${layout} layout`, output && `${output} out`].filter(Boolean).join(', ');
  io.out(`${cmd.model} (${fromText}) → ${cmd.out} (${toText}): ${sizes.join('-')}, ${weights} weights${net.biases ? ` + ${biases} biases` : ''}`);
}
