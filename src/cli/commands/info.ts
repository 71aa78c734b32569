import { biasCount, keptParameters, keptWeights, totalWeights } from '../../model/network';
import { type CommandIo } from '../io';
import { grouped, percent, printable } from '../../util/format';
import { loadModel, sizesBeforePruning } from '../model-io';
import type { InfoCommand } from '../parse';

export async function runInfo(cmd: InfoCommand, io: CommandIo): Promise<void> {
  const model = await loadModel(cmd.model);
  const { net, format, metadata, inputIndices, inputSize } = model;
  const sizesBefore = sizesBeforePruning(model);
  const layers = net.masks.map((mask, l) => {
    const inSize = net.sizes[l]!;
    const outSize = net.sizes[l + 1]!;
    const kept = keptWeights(mask);
    return {
      layer: l,
      inBefore: sizesBefore[l]!,
      outBefore: sizesBefore[l + 1]!,
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
  const total = totalWeights(sizesBefore);
  // A compact network's first layer reads `inputs` of the `inputSize` features of a sample.
  const inputs = net.sizes[0]!;
  // Compression counts the biases too (they are never pruned).
  const biases = biasCount(net);
  const parameters = keptParameters(net);
  if (cmd.json) {
    io.out(JSON.stringify({ model: cmd.model, format, sizes: net.sizes, sizesBefore, inputs, inputSize, weights: kept, totalWeights: total, biases, parameters, layers, metadata }));
    return;
  }
  // By value: `originalSizes` is read into an array of its own even where nothing was removed.
  const [shapeBefore, shapeAfter] = [sizesBefore.join('-'), net.sizes.join('-')];
  const shape = shapeBefore === shapeAfter ? shapeAfter : `${shapeBefore} → ${shapeAfter}`;
  const reads = inputIndices ? `, ${inputs} (of ${inputSize}) inputs` : '';
  io.out(`${printable(cmd.model)}: ${format}, ${shape}${reads}, ${grouped(kept)} of ${grouped(total)} weights kept (${percent(kept, total)}%)`);
  io.out('layer   shape before → after        kept weights   dense bytes     CSR bytes');
  for (const l of layers) {
    const shapes = `${l.inBefore}×${l.outBefore} → ${l.in}×${l.out}`;
    io.out(`${String(l.layer).padStart(5)}   ${shapes.padEnd(22)} ${grouped(l.weights).padStart(9)} ${`(${percent(l.weights, l.inBefore * l.outBefore)}%)`.padStart(9)} ` +
      `${grouped(l.denseBytes).padStart(13)} ${grouped(l.csrBytes).padStart(13)}`);
  }
  if (net.biases) io.out(`biases: yes (${grouped(biases)}); parameters (kept weights + biases): ${grouped(parameters)}`);
  for (const [key, value] of Object.entries(metadata)) io.out(`${printable(key)}: ${printable(value)}`);
}
