import { biasCount, keptTotal } from '../../model/network';
import { checkWritable } from '../../node/files';
import type { CommandIo } from '../io';
import { grouped, printable } from '../../util/format';
import { loadModel, saveModel } from '../model-io';
import type { ConvertCommand } from '../parse';
import { carriedMetadata } from './prune';

export async function runConvert(cmd: ConvertCommand, io: CommandIo): Promise<void> {
  await checkWritable(cmd.out, '--out');
  const model = await loadModel(cmd.model);
  const { net, format: from, layout: fromLayout, metadata } = model;
  // The same network in another format: its test accuracy still holds.
  const to = await saveModel(cmd.out, model, carriedMetadata(metadata), { layout: cmd.layout, softmax: cmd.softmax });
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
  io.out(`${printable(cmd.model)} (${fromText}) → ${printable(cmd.out)} (${toText}): ${sizes.join('-')}, ${grouped(weights)} weights${net.biases ? ` + ${grouped(biases)} biases` : ''}`);
}
