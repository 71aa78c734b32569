import { keptTotal } from '../../model/network';
import type { CommandIo } from '../io';
import { loadModel, saveModel } from '../model-io';
import type { ConvertCommand } from '../parse';
import { withoutReserved } from './prune';

export async function runConvert(cmd: ConvertCommand, io: CommandIo): Promise<void> {
  const { net, format: from, metadata } = await loadModel(cmd.model);
  const to = await saveModel(cmd.out, net, withoutReserved(metadata), cmd.layout);
  const weights = keptTotal(net);
  if (cmd.json) io.out(JSON.stringify({ model: cmd.model, out: cmd.out, from, to, sizes: net.sizes, weights }));
  else io.out(`${cmd.model} (${from}) → ${cmd.out} (${to}${to === 'safetensors' ? `, ${cmd.layout} layout` : ''}): ${net.sizes.join('-')}, ${weights} weights`);
}
