import { UserError } from '../../util/errors';
import { keptPerLayer, keptTotal, totalWeights } from '../../model/network';
import { compactNetwork, type StructuredReport } from '../../prune/structured';
import { pruneByThreshold, pruneToSparsity } from '../../prune/unstructured';
import { type CommandIo } from '../io';
import { grouped, percent } from '../../util/format';
import { loadModel, saveModel } from '../model-io';
import type { PruneCommand } from '../parse';

export async function runPrune(cmd: PruneCommand, io: CommandIo): Promise<void> {
  const { net, metadata } = await loadModel(cmd.model);
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
    pruneToSparsity(net, cmd.layerSparsity);
    rule = `layer sparsity ${cmd.layerSparsity.join(',')}`;
  } else if (cmd.sparsity !== undefined) {
    pruneToSparsity(net, cmd.sparsity, cmd.scope);
    rule = `${cmd.scope} sparsity ${cmd.sparsity}`;
  }
  let result = net;
  let structured: StructuredReport | null = null;
  if (cmd.structured) {
    // Input features stay (a saved network reads whole images); hidden neurons go.
    const { compact, report } = compactNetwork(net, {
      dropInputs: false,
      keepHidden: cmd.keepNeurons === undefined ? undefined : { fraction: cmd.keepNeurons },
    });
    const empty = compact.net.sizes.findIndex((n) => n === 0);
    if (empty > 0) {
      throw new UserError(`${cmd.model}: after pruning no neuron of hidden layer ${empty} can reach the output; ` +
        'the network no longer depends on its input (prune less)');
    }
    result = compact.net;
    structured = report;
    rule = [rule, `structured${cmd.keepNeurons === undefined ? '' : ` keep ${cmd.keepNeurons} of hidden neurons`}`].filter(Boolean).join(' + ');
  }
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
  const format = await saveModel(cmd.out, result, {
    ...withoutReserved(metadata),
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
      weightsBefore: totalBefore,
      weights: kept,
      totalWeights: total,
      layers,
      removedNeurons: structured?.neurons.map((n) => ({ layer: n.layer, removed: Array.from(n.removed) })) ?? null,
    }));
    return;
  }
  io.out(`${cmd.model} → ${cmd.out} (${format}), ${rule}`);
  io.out(`network ${sizesBefore.join('-')} → ${result.sizes.join('-')}; weights ${grouped(totalBefore)} → ${grouped(kept)} (${percent(kept, total)}% of ${grouped(total)})`);
  for (const l of layers) {
    io.out(`  layer ${l.layer}: ${l.inBefore}×${l.outBefore} → ${l.in}×${l.out}, weights ${grouped(l.weightsBefore)} → ${grouped(l.weights)}`);
  }
  for (const n of structured?.neurons ?? []) {
    if (n.removed.length > 0) io.out(`  removed ${n.removed.length} ${n.role} neurons of layer ${n.layer}${n.removedAsWeakest ? ` (${n.removedAsWeakest} as weakest)` : ''}`);
  }
}

/** The format owns `format` and `sizes`; a converted or pruned file gets fresh ones. */
export function withoutReserved(metadata: Record<string, string>): Record<string, string> {
  const { format: _format, sizes: _sizes, ...rest } = metadata;
  return rest;
}
