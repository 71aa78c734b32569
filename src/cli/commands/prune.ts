import { UserError } from '../../util/errors';
import { biasCount, keptParameters, keptPerLayer, keptTotal, totalWeights } from '../../model/network';
import { RESERVED_METADATA_KEYS } from '../../format/safetensors';
import { checkWritable } from '../../node/files';
import { outputFormatForName } from '../../format/model-file';
import { asCompact, checkHiddenLayersKept, compactNetwork, expandInputs, selectInputs, type CompactNetwork, type StructuredReport } from '../../prune/structured';
import { pruneByThreshold, pruneToSparsity, sparsityRule } from '../../prune/unstructured';
import { CHECKPOINT_METADATA_KEY } from '../../train/checkpoint';
import { type CommandIo } from '../io';
import { grouped, percent, printable } from '../../util/format';
import { loadModel, saveModel } from '../model-io';
import type { PruneCommand } from '../parse';

export async function runPrune(cmd: PruneCommand, io: CommandIo): Promise<void> {
  await checkWritable(cmd.out, '--out');
  const model = await loadModel(cmd.model);
  const { metadata } = model;
  // The rules see whole samples: the features a compact file does not read have only pruned weights.
  const net = expandInputs(model);
  const sizesBefore = [...net.sizes];
  const keptBefore = keptPerLayer(net);
  const totalBefore = keptTotal(net);
  let rule = '';
  if (cmd.threshold !== undefined) {
    pruneByThreshold(net, cmd.threshold);
    rule = `w² < ${cmd.threshold}`;
  } else if (cmd.layerSparsity) {
    if (cmd.layerSparsity.length !== net.weights.length) {
      throw new UserError(`--layer-sparsity needs ${net.weights.length} values for ${cmd.model}, got ${cmd.layerSparsity.length}`);
    }
    pruneToSparsity(net, cmd.layerSparsity, 'layer', cmd.score);
    rule = sparsityRule(cmd.layerSparsity.join(','), 'layer', cmd.score);
  } else if (cmd.sparsity !== undefined) {
    pruneToSparsity(net, cmd.sparsity, cmd.scope, cmd.score);
    rule = sparsityRule(String(cmd.sparsity), cmd.scope, cmd.score);
  }
  // Without the structured step a compact file keeps reading the features it read.
  let compacted: CompactNetwork = selectInputs(net, model.inputIndices);
  let structured: StructuredReport | null = null;
  if (cmd.structured) {
    // Hidden neurons and the input features that feed nothing go; the file lists the features kept.
    const { compact, report } = compactNetwork(net, {
      keepHidden: cmd.keepNeurons === undefined ? undefined : { fraction: cmd.keepNeurons },
    });
    checkHiddenLayersKept(compact.net.sizes, cmd.model);
    compacted = compact;
    structured = report;
    rule = [rule, `structured${cmd.keepNeurons === undefined ? '' : ` keep ${cmd.keepNeurons} of hidden neurons`}`].filter(Boolean).join(' + ');
  }
  // The seed's text has no place for the features read: it gets the network of whole samples.
  if (outputFormatForName(cmd.out) === 'seed-text') compacted = asCompact(expandInputs(compacted));
  const result = compacted.net;
  const keptAfter = keptPerLayer(result);
  const layers = keptAfter.map((kept, l) => ({
    layer: l,
    inBefore: sizesBefore[l]!,
    outBefore: sizesBefore[l + 1]!,
    in: result.sizes[l]!,
    out: result.sizes[l + 1]!,
    weightsBefore: keptBefore[l]!,
    weights: kept,
  }));
  const total = totalWeights(sizesBefore);
  const kept = keptTotal(result);
  const format = await saveModel(cmd.out, compacted, {
    // The network is not the one that was tested.
    ...carriedMetadata(metadata, ['testAccuracy']),
    pruned: rule,
    keptWeights: String(kept),
    originalSizes: sizesBefore.join(','),
  });
  if (cmd.json) {
    io.out(JSON.stringify({
      model: cmd.model,
      out: cmd.out,
      format,
      rule,
      sizesBefore,
      sizes: result.sizes,
      inputs: result.sizes[0],
      inputSize: compacted.inputSize,
      weightsBefore: totalBefore,
      weights: kept,
      totalWeights: total,
      ...(result.biases ? { biases: biasCount(result), parameters: keptParameters(result) } : {}),
      layers,
      removedNeurons: structured?.neurons.map((n) => ({ layer: n.layer, removed: Array.from(n.removed) })) ?? null,
    }));
    return;
  }
  io.out(`${printable(cmd.model)} → ${printable(cmd.out)} (${format}), ${rule}`);
  const reads = compacted.inputIndices ? ` (reads ${result.sizes[0]} of ${compacted.inputSize} inputs)` : '';
  const parameters = result.biases ? `; parameters (kept weights + biases) ${grouped(keptParameters(result))}` : '';
  io.out(`network ${sizesBefore.join('-')} → ${result.sizes.join('-')}${reads}; weights ${grouped(totalBefore)} → ${grouped(kept)} (${percent(kept, total)}% of ${grouped(total)})${parameters}`);
  for (const l of layers) {
    io.out(`  layer ${l.layer}: ${l.inBefore}×${l.outBefore} → ${l.in}×${l.out}, weights ${grouped(l.weightsBefore)} → ${grouped(l.weights)}`);
  }
  for (const n of structured?.neurons ?? []) {
    if (n.removed.length > 0) io.out(`  removed ${n.removed.length} ${n.role} neurons of layer ${n.layer}${n.removedAsWeakest ? ` (${n.removedAsWeakest} as weakest)` : ''}`);
  }
}

/**
 * What a converted or pruned file keeps of its source's metadata (the recipe, how it was trained
 * and pruned). Not the keys the format owns (`format`, `sizes`, `inputSize`): it writes fresh ones.
 * Not a checkpoint's training state, whose tensors the file does not get: `train --resume` must
 * find that the file is no checkpoint, not a checkpoint with missing tensors. `stale` names what
 * else no longer holds for the file written.
 */
export function carriedMetadata(metadata: Record<string, string>, stale: readonly string[] = []): Record<string, string> {
  const dropped = [...RESERVED_METADATA_KEYS, CHECKPOINT_METADATA_KEY, ...stale];
  return Object.fromEntries(Object.entries(metadata).filter(([key]) => !dropped.includes(key)));
}
