import { keptWeights, totalWeights } from '../../model/network';
import { grouped, percent, type CommandIo } from '../io';
import { loadModel } from '../model-io';
import type { InfoCommand } from '../parse';

export async function runInfo(cmd: InfoCommand, io: CommandIo): Promise<void> {
  const { net, format, metadata } = await loadModel(cmd.model);
  const layers = net.masks.map((mask, l) => {
    const inSize = net.sizes[l]!;
    const outSize = net.sizes[l + 1]!;
    const kept = keptWeights(mask);
    return {
      layer: l,
      in: inSize,
      out: outSize,
      weights: kept,
      total: inSize * outSize,
      // f32 values; CSR adds an i32 index per weight and an i32 row pointer per output (+1).
      denseBytes: 4 * inSize * outSize,
      csrBytes: 8 * kept + 4 * (outSize + 1),
    };
  });
  const kept = layers.reduce((n, l) => n + l.weights, 0);
  const total = totalWeights(net.sizes);
  if (cmd.json) {
    io.out(JSON.stringify({ model: cmd.model, format, sizes: net.sizes, weights: kept, totalWeights: total, layers, metadata }));
    return;
  }
  io.out(`${cmd.model}: ${format}, ${net.sizes.join('-')}, ${grouped(kept)} of ${grouped(total)} weights kept (${percent(kept, total)}%)`);
  io.out('layer      in ×    out        kept weights   dense bytes     CSR bytes');
  for (const l of layers) {
    io.out(`${String(l.layer).padStart(5)} ${String(l.in).padStart(7)} × ${String(l.out).padEnd(6)} ${grouped(l.weights).padStart(9)} ${`(${percent(l.weights, l.total)}%)`.padStart(9)} ` +
      `${grouped(l.denseBytes).padStart(13)} ${grouped(l.csrBytes).padStart(13)}`);
  }
  for (const [key, value] of Object.entries(metadata ?? {})) io.out(`${key}: ${value}`);
}
