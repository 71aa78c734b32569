import { takeSamples, type Dataset } from '../../data/dataset';
import { CpuTrainer } from '../../cpu/trainer';
import { adapterName, type GpuContext } from '../../gpu/device';
import { GpuTrainer } from '../../gpu/trainer';
import type { Recipe } from '../../train/recipe';
import { initNetwork, totalWeights, type Network } from '../../model/network';
import { loadMnist } from '../../node/mnist';
import type { PruneSchedule } from '../../prune/schedule';
import { runTraining, type EpochReport } from '../../train/run';
import type { Trainer } from '../../train/trainer';
import { UserError } from '../../util/errors';
import { selectBackend } from '../gpu';
import { checkDataFits, evaluateCpu, evaluateGpu } from '../evaluate';
import { Progress, type CommandIo } from '../io';
import { grouped, percent } from '../../util/format';
import { saveModel } from '../model-io';
import type { TrainCommand } from '../parse';

/** Below this fraction of weights kept, the test pass uses the sparse kernel. */
const SPARSE_BELOW = 0.5;

export function describeSchedule(s: PruneSchedule): string {
  switch (s.kind) {
    case 'none':
      return 'none';
    case 'once':
      return `once after epoch ${s.epoch + 1}: drop w² < ${s.threshold}`;
    case 'once-sparsity':
      return `once after epoch ${s.epoch + 1}: drop the smallest weights to ${s.scope} sparsity ${s.sparsity}`;
    case 'gradual':
      return `gradual (cubic) from epoch ${s.start + 1} to ${s.end + 1} every ${s.every}: ${s.scope} sparsity ${s.initialSparsity} → ${s.sparsity}`;
  }
}

/** The seed's table row. */
export function epochRow(r: EpochReport): string {
  return `Epoch = ${String(r.epoch + 1).padStart(3)} | Weights = ${percent(r.keptWeights, r.totalWeights).padStart(6)}% | ` +
    `Accuracy = ${percent(r.correct, r.samples).padStart(6)}% | Time = ${r.elapsed.toFixed(3)}s`;
}


export async function runTrain(cmd: TrainCommand, io: CommandIo): Promise<void> {
  const { recipe } = cmd;
  const human = cmd.json ? () => {} : io.out;
  const data = await loadMnist({ dir: cmd.data });
  const train = cmd.limit ? takeSamples(data.train, cmd.limit) : data.train;
  checkDataFits(recipe.sizes, train, `--sizes ${recipe.sizes.join(',')}`);
  if (recipe.batchSize > train.count) throw new UserError(`--batch-size ${recipe.batchSize} is larger than the ${train.count} training samples`);

  const gpu = await selectBackend(cmd.backend, cmd, io);
  const net = initNetwork(recipe.sizes, recipe.seed);
  const config = { batchSize: recipe.batchSize, confidence: recipe.confidence };
  const verification = gpu && cmd.verify ? await verifyAgainstReference(gpu, net, train, recipe) : null;
  const trainer: Trainer = gpu ? await GpuTrainer.create(gpu, net, train, config) : new CpuTrainer(net, train, config);
  const backend = gpu ? `gpu (WebGPU on ${adapterName(gpu.adapter)})` : 'cpu (JS reference)';

  const total = totalWeights(recipe.sizes);
  human(`Network    ${recipe.sizes.join('-')}, ${grouped(total)} weights, init seed ${recipe.seed}`);
  human(`Recipe     ${recipe.epochs} epochs, batch ${recipe.batchSize}, lr ${recipe.learningRate}, momentum ${recipe.momentum}, ` +
    `factor ${recipe.factor}, confidence ${recipe.confidence}${recipe.shuffle ? ', shuffled' : ''}`);
  human(`Pruning    ${describeSchedule(recipe.prune)}`);
  human(`Backend    ${backend}`);
  human(`Data       ${train.source}: ${grouped(train.count)} training, ${grouped(data.test.count)} test samples`);
  if (verification) human(`Verify     ${describeVerification(verification)}`);
  human('');

  const progress = new Progress(io, 'epoch', recipe.epochs);
  const result = await runTraining(trainer, recipe, train.count, {
    onEpoch(r) {
      progress.update(r.epoch + 1, `train ${percent(r.correct, r.samples)}%, weights ${percent(r.keptWeights, r.totalWeights)}%, ${r.elapsed.toFixed(1)}s`);
      if (r.pruned) {
        progress.finish();
        human(`Pruned after epoch ${r.epoch + 1} (${r.pruned.rule}): ${grouped(r.keptWeights)} of ${grouped(r.totalWeights)} weights kept`);
      }
      if ((r.epoch + 1) % 5 === 0 || r.epoch + 1 === recipe.epochs) {
        progress.finish();
        human(epochRow(r));
      }
    },
  });
  progress.finish();
  trainer.dispose();

  const kept = result.epochs[result.epochs.length - 1]!.keptWeights;
  // A pruned network is tested the way it is meant to run: through the sparse kernel.
  const sparse = kept < SPARSE_BELOW * total;
  const test = gpu ? await evaluateGpu(gpu, result.net, data.test, sparse) : evaluateCpu(result.net, data.test);
  human('');
  human(`Test Accuracy = ${percent(test.correct, test.total).padStart(6)}% | Time = ${test.seconds.toFixed(3)}s`);
  human(`Test samples/s = ${grouped(test.samplesPerSec)} (${test.kernel})`);

  const metadata = {
    recipe: JSON.stringify(recipe),
    testAccuracy: percent(test.correct, test.total),
    keptWeights: String(kept),
    totalWeights: String(total),
  };
  const format = await saveModel(cmd.out, result.net, metadata);
  human(`Saved ${cmd.out} (${format})`);

  if (cmd.json) {
    io.out(JSON.stringify({
      backend: gpu ? 'gpu' : 'cpu',
      adapter: gpu?.adapter ?? null,
      verify: verification,
      recipe,
      trainingSeconds: result.seconds,
      epochs: result.epochs.map((r) => ({
        epoch: r.epoch + 1,
        trainAccuracy: (100 * r.correct) / r.samples,
        backpropagated: r.backpropagated,
        keptWeights: r.keptWeights,
        seconds: r.elapsed,
        pruned: r.pruned ? r.pruned.rule : null,
      })),
      test: { accuracy: (100 * test.correct) / test.total, correct: test.correct, total: test.total, samplesPerSec: test.samplesPerSec, kernel: test.kernel },
      weights: kept,
      totalWeights: total,
      out: cmd.out,
      format,
    }));
  }
}

export interface Verification {
  batches: number;
  batchSize: number;
  /** Largest |w_gpu − w_js| over all layers after the batches, and its layer. */
  worstAbsDiff: number;
  worstLayer: number;
  /** Largest |w_gpu − w_js| / max|w_js| of a layer. */
  worstRelDiff: number;
  /** Training-pass correct counts of both backends (equal when the GPU computes what the reference does). */
  correctGpu: number;
  correctReference: number;
}

const VERIFY_BATCHES = 4;

/**
 * Trains the first batches of the recipe on both backends from the same initial weights and
 * compares the resulting weights; the real run then starts afresh from the same init.
 */
export async function verifyAgainstReference(gpu: GpuContext, net: Network, train: Dataset, recipe: Recipe): Promise<Verification> {
  const batches = Math.min(VERIFY_BATCHES, Math.floor(train.count / recipe.batchSize));
  const subset = takeSamples(train, batches * recipe.batchSize);
  const config = { batchSize: recipe.batchSize, confidence: recipe.confidence };
  const gpuTrainer = await GpuTrainer.create(gpu, net, subset, config);
  const reference = new CpuTrainer(net, subset, config);
  const gpuEpoch = await gpuTrainer.trainEpoch(null, recipe.learningRate, recipe.momentum);
  const refEpoch = await reference.trainEpoch(null, recipe.learningRate, recipe.momentum);
  const [a, b] = [(await gpuTrainer.state()).net, (await reference.state()).net];
  gpuTrainer.dispose();
  let worstAbsDiff = 0;
  let worstLayer = 0;
  let worstRelDiff = 0;
  a.weights.forEach((w, l) => {
    const ref = b.weights[l]!;
    let layerMax = 0;
    let scale = 0;
    for (let k = 0; k < w.length; k++) {
      layerMax = Math.max(layerMax, Math.abs(w[k]! - ref[k]!));
      scale = Math.max(scale, Math.abs(ref[k]!));
    }
    if (layerMax > worstAbsDiff) [worstAbsDiff, worstLayer] = [layerMax, l];
    worstRelDiff = Math.max(worstRelDiff, scale === 0 ? 0 : layerMax / scale);
  });
  return { batches, batchSize: recipe.batchSize, worstAbsDiff, worstLayer, worstRelDiff, correctGpu: gpuEpoch.correct, correctReference: refEpoch.correct };
}

export function describeVerification(v: Verification): string {
  return `${v.batches} batches of ${v.batchSize} on the GPU vs the JS reference: worst |Δw| ${v.worstAbsDiff.toExponential(2)} ` +
    `(layer ${v.worstLayer}, ${v.worstRelDiff.toExponential(2)} of the layer's largest weight); ` +
    `correct in training ${v.correctGpu} vs ${v.correctReference}`;
}



