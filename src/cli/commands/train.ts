import { rm } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { checkShiftable } from '../../data/augment';
import { DESKEW_METADATA, deskewDataset } from '../../data/deskew';
import { dropSamples, takeSamples, type Dataset } from '../../data/dataset';
import { CpuTrainer } from '../../cpu/trainer';
import { adapterName, type GpuContext } from '../../gpu/device';
import { GpuTrainer } from '../../gpu/trainer';
import type { Recipe } from '../../train/recipe';
import { KernelError } from '../../gpu/program';
import { biasCount, cloneNetwork, initNetwork, keptParameters, keptTotal, totalWeights, validateSizes, type Network } from '../../model/network';
import { checkWritable, readModelFile, writeFileAtomic } from '../../node/files';
import { loadMnist } from '../../node/mnist';
import type { PruneSchedule } from '../../prune/schedule';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../../train/checkpoint';
import { runTraining, type EpochReport, type TrainingResult } from '../../train/run';
import { epochRates, isAdam, optimizerOf, scheduleOf, usesMomentum } from '../../train/optimizer';
import type { TrainerFactory } from '../../train/compact-training';
import { meanLoss, type TrainConfig } from '../../train/trainer';
import { softTargets } from '../../train/distill';
import { loadTeacher, type LoadedTeacher } from '../teacher';
import { UserError } from '../../util/errors';
import { selectBackend } from '../gpu';
import { checkDataFits, evaluateCpu, evaluateGpu, type TestResult } from '../evaluate';
import { deferInterrupts, Interrupted } from '../interrupt';
import { Progress, type CommandIo } from '../io';
import { grouped, percent } from '../../util/format';
import { loadModel, saveModel } from '../model-io';
import { seedTextRefusal, type BackendChoice, type TrainCommand } from '../parse';

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
      return (
        `gradual (cubic) from epoch ${s.start + 1} to ${s.end + 1} every ${s.every}: ${s.scope} sparsity ${s.initialSparsity} → ${s.sparsity}` +
        (s.regrow ? `; regrowth ${s.regrow.fraction} → 0 (cosine) to epoch ${s.regrow.end + 1}` : '')
      );
  }
}

function trainConfig(recipe: Recipe): TrainConfig {
  const distill = recipe.distill ? { distill: { weight: recipe.distill.weight, temperature: recipe.distill.temperature } } : {};
  return { batchSize: recipe.batchSize, confidence: recipe.confidence, updateRule: optimizerOf(recipe), ...distill };
}

/** e.g. `adam, lr 0.001, β1 0.9, β2 0.999, ε 1e-8, weight decay 0, cosine schedule, warm-up 2 epochs`. */
export function describeOptimizer(recipe: Recipe): string {
  const { kind, weightDecay, beta1, beta2, eps } = optimizerOf(recipe);
  const schedule = scheduleOf(recipe);
  const parts = [
    kind === 'seed' ? 'seed (batch-sum momentum)' : kind,
    `lr ${recipe.learningRate}`,
    ...(usesMomentum(kind) ? [`momentum ${recipe.momentum}`] : []),
    ...(isAdam(kind) ? [`β1 ${beta1}, β2 ${beta2}, ε ${eps}`] : []),
    ...(kind === 'seed' ? [] : [`weight decay ${weightDecay}${kind === 'adamw' ? ' (decoupled)' : ''}`]),
    schedule === 'seed-decay' ? `×${recipe.factor} per epoch` : `${schedule} schedule`,
    ...(recipe.warmup ? [`warm-up ${recipe.warmup} epochs`] : []),
  ];
  return parts.join(', ');
}

/** The seed's table row. */
export function epochRow(r: EpochReport): string {
  return `Epoch = ${String(r.epoch + 1).padStart(3)} | Weights = ${percent(r.keptWeights, r.totalWeights).padStart(6)}% | ` +
    `Accuracy = ${percent(r.correct, r.samples).padStart(6)}% | Time = ${r.elapsed.toFixed(3)}s`;
}


export async function runTrain(cmd: TrainCommand, io: CommandIo): Promise<void> {
  const resumed = cmd.resume ? decodeCheckpoint(await readModelFile(cmd.resume), basename(cmd.resume)) : null;
  const out = resumed && !cmd.outGiven ? runString(resumed, 'out') ?? cmd.out : cmd.out;
  const checkpointFile = cmd.checkpoint === null ? null : cmd.checkpoint ?? cmd.resume ?? `${out}.ckpt`;
  await checkWritable(out, '--out');
  if (checkpointFile !== null) {
    await checkWritable(checkpointFile, '--checkpoint');
    if (resolve(checkpointFile) === resolve(out)) throw new UserError(`--checkpoint and --out are the same file (${out})`);
  }
  const human = cmd.json ? () => {} : io.out;
  const dataDir = cmd.data ?? (resumed ? runString(resumed, 'data') : undefined);
  const files = await loadMnist({ dir: dataDir });
  const recipe = resumed?.recipe ?? (cmd.sizesGiven ? cmd.recipe : sizedForData(cmd.recipe, files.train));
  const unsavable = resumed ? seedTextRefusal(recipe, out) : null;
  if (unsavable) throw new UserError(unsavable);
  const limit = resumed ? resumedLimit(resumed, cmd.limit) : cmd.limit;
  if (limit !== undefined && limit > files.train.count) throw new UserError(`--limit ${limit} is more than the ${grouped(files.train.count)} training samples of ${files.train.source}`);
  const chosen = limit ? takeSamples(files.train, limit) : files.train;
  // Only the samples the run uses are deskewed.
  const limited = recipe.deskew ? deskewDataset(chosen, '--deskew') : chosen;
  const testSet = recipe.deskew ? deskewDataset(files.test, '--deskew') : files.test;
  const val = resumed ? resumedVal(resumed, cmd.val) : cmd.val;
  if (val !== undefined && val > limited.count - recipe.batchSize) {
    throw new UserError(`--val ${val} leaves less than one batch (${recipe.batchSize}) of the ${limited.count} training samples to train on`);
  }
  const keep = resumed ? resumedKeep(resumed, cmd) : cmd.keep;
  if (keep === 'best' && val === undefined) throw new UserError(`--keep best needs --val N, and ${cmd.resume} holds out no validation samples`);
  const train = val === undefined ? limited : takeSamples(limited, limited.count - val);
  const validation = val === undefined ? null : dropSamples(limited, limited.count - val);
  checkDataFits(recipe.sizes, train, `--sizes ${recipe.sizes.join(',')}`);
  checkShiftable(train, recipe.shift ?? 0);
  if (recipe.batchSize > train.count) throw new UserError(`--batch-size ${recipe.batchSize} is larger than the ${train.count} training samples`);
  if (resumed && resumed.run['samples'] !== train.count) {
    throw new UserError(`${cmd.resume} was trained on ${resumed.run['samples']} samples, ${train.source} has ${train.count}: resume with the same --data`);
  }

  const backendChoice = resumed && !cmd.backendGiven ? resumedBackend(resumed) ?? cmd.backend : cmd.backend;
  const gpu = await selectBackend(backendChoice, cmd, io);
  // A resumed run reads its teacher where it was when the run started, from any folder.
  const teacherFile = recipe.distill ? ((resumed && runString(resumed, 'teacher')) ?? recipe.distill.teacher) : null;
  const teacher = teacherFile ? await loadTeacher(teacherFile, train, recipe.deskew ?? false, gpu, cmd.resume) : null;
  const net = resumed?.net ?? initNetwork(recipe.sizes, recipe.seed, recipe.bias);
  const biases = biasCount(net);
  /** `; parameters (kept weights + biases) N` for a network with biases, as compression is counted then. */
  const parameters = (keptWeights: number): string => (biases > 0 ? `; parameters (kept weights + biases) ${grouped(keptWeights + biases)}` : '');
  const config = trainConfig(recipe);
  const verification = gpu && cmd.verify ? await verifyAgainstReference(gpu, net, train, recipe, teacher) : null;
  const makeTrainer: TrainerFactory = async (start, data, optimizer, options) =>
    gpu ? await GpuTrainer.create(gpu, start, data, config, optimizer, options) : new CpuTrainer(start, data, config, optimizer);
  const trainer = await makeTrainer(net, train, resumed ?? undefined);
  const backend = gpu ? `gpu (WebGPU on ${adapterName(gpu.adapter)})` : 'cpu (JS reference)';
  const batches = Math.floor(train.count / recipe.batchSize);

  const total = totalWeights(recipe.sizes);
  human(`Network    ${recipe.sizes.join('-')}, ${grouped(total)} weights${biases > 0 ? ` and ${grouped(biases)} biases` : ''}, init seed ${recipe.seed}`);
  human(`Recipe     ${recipe.epochs} epochs, batch ${recipe.batchSize}, confidence ${recipe.confidence}${recipe.shuffle ? ', shuffled' : ''}${recipe.deskew ? ', images deskewed' : ''}${recipe.shift ? `, images shifted by up to ${recipe.shift} px` : ''}`);
  human(`Optimizer  ${describeOptimizer(recipe)}`);
  human(`Pruning    ${describeSchedule(recipe.prune)}`);
  if (recipe.distill && teacher) {
    const { teacher: file, weight, temperature } = recipe.distill;
    human(`Teacher    ${file} (${teacher.sizes.join('-')}): distillation weight ${weight}, temperature ${temperature}`);
  }
  human(`Backend    ${backend}`);
  human(`Data       ${train.source}: ${grouped(train.count)} training, ${validation ? `${grouped(validation.count)} validation (held out), ` : ''}${grouped(testSet.count)} test samples`);
  human(`Checkpoint ${checkpointFile ?? 'none (--no-checkpoint)'}`);
  if (resumed) human(`Resumed    ${cmd.resume} at ${position(resumed.epoch, resumed.batch, recipe.epochs, batches)}`);
  if (verification) human(`Verify     ${describeVerification(verification)}`);
  human('');
  for (const r of resumed?.reports ?? []) if (isTableRow(r, recipe.epochs)) human(epochRow(r));

  const progress = new Progress(io, 'epoch', recipe.epochs);
  // A pruned network runs as it is meant to: through the sparse kernel.
  const evaluateOn = (model: Network, samples: Dataset): Promise<TestResult> | TestResult =>
    gpu ? evaluateGpu(gpu, model, samples, { sparse: keptTotal(model) < SPARSE_BELOW * total }) : evaluateCpu(model, samples);
  /** Per finished epoch (0-based), its network on the held-out samples; kept in the checkpoint's run. */
  const validations: (Validation | null)[] = resumed ? resumedValidations(resumed, cmd.resume!) : [];
  let bestEpoch = bestEpochOf(validations);
  // With --keep best, the best network so far is also kept beside the checkpoint, so that a
  // resumed run still has the one of the epochs before it.
  const bestFile = keep === 'best' && checkpointFile !== null ? `${checkpointFile}.best` : null;
  /** What every network file of the run says of the images it reads. */
  const reads = recipe.deskew ? DESKEW_METADATA : {};
  let bestNet: Network | null = null;
  if (keep === 'best' && bestEpoch !== null) {
    const file = `${cmd.resume}.best`;
    let loaded: Network;
    try {
      loaded = (await loadModel(file)).net;
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      throw new UserError(`${err.message}: it holds the best network of epochs 1–${resumed!.epoch} of this --keep best run`);
    }
    if (loaded.sizes.join('-') !== recipe.sizes.join('-')) throw new UserError(`${file} is a ${loaded.sizes.join('-')} network, not the ${recipe.sizes.join('-')} of this run's best epoch`);
    bestNet = loaded;
    if (bestFile !== null && resolve(bestFile) !== resolve(file)) await saveModel(bestFile, loaded, { ...reads, keptEpoch: String(bestEpoch + 1) });
  }
  const interrupts = deferInterrupts();
  let saved: Checkpoint | null = resumed;
  /** The sizes trained at the end, when training went on with the smaller network. */
  let trainedSizes: number[] | null = null;
  const resumeHint = (): string => (checkpointFile && saved ? `; resume with: webgpu-prune train --resume ${checkpointFile}` : '');
  let result: TrainingResult;
  try {
    result = await runTraining(
      trainer,
      recipe,
      train.count,
      {
        onEpoch(r) {
          progress.update(r.epoch + 1, `train ${percent(r.correct, r.samples)}%, loss ${meanLoss(r)?.toFixed(4) ?? '–'}, weights ${percent(r.keptWeights, r.totalWeights)}%, ${r.elapsed.toFixed(1)}s`);
          if (r.pruned) {
            progress.finish();
            const moved = r.pruned.moved ? grouped(r.pruned.moved.reduce((a, b) => a + b, 0)) : null;
            const removed = r.pruned.removed.some((n) => n > 0);
            human(
              moved !== null && !removed
                ? `Regrew after epoch ${r.epoch + 1} (${r.pruned.rule}): ${moved} of ${grouped(r.keptWeights)} kept weights moved`
                : `Pruned after epoch ${r.epoch + 1} (${r.pruned.rule}): ${grouped(r.keptWeights)} of ${grouped(r.totalWeights)} weights kept${parameters(r.keptWeights)}${moved === null ? '' : `, ${moved} moved`}`,
            );
          }
          if (isTableRow(r, recipe.epochs)) {
            progress.finish();
            human(epochRow(r));
          }
        },
        onCompact(sizes, epoch) {
          trainedSizes = sizes;
          progress.finish();
          human(`Compacted  from epoch ${epoch + 1}: training ${sizes.join('-')}, the neurons and inputs that still feed the output (--no-compact-training: the full shape)`);
        },
        async onCheckpoint(checkpoint) {
          if (validation) {
            const epoch = checkpoint.epoch - 1;
            const v = await evaluateOn(checkpoint.net, validation);
            validations[epoch] = { accuracy: (100 * v.correct) / v.total, correct: v.correct, loss: v.loss };
            if (bestEpoch === null || v.correct > validations[bestEpoch]!.correct) {
              bestEpoch = epoch;
              if (keep === 'best') {
                bestNet = cloneNetwork(checkpoint.net);
                // Before the checkpoint that counts this epoch in: it never names a best network not on disk.
                if (bestFile !== null) await saveModel(bestFile, bestNet, { ...reads, keptEpoch: String(epoch + 1) });
              }
            }
            progress.update(epoch + 1, `validation ${percent(v.correct, v.total)}%, loss ${v.loss.toFixed(4)} (best: epoch ${bestEpoch + 1})`);
          }
          if (checkpointFile === null) return;
          await writeFileAtomic(checkpointFile, encodeCheckpoint(checkpoint));
          saved = checkpoint;
        },
      },
      {
        resume: resumed ?? undefined,
        shouldStop: () => interrupts.requested !== null,
        // Paths absolute, so that the run resumes from any folder; `validations` grows as the
        // epochs end, and each checkpoint writes what it holds then.
        run: {
          data: dataDir === undefined ? null : resolve(dataDir),
          limit: limit ?? null,
          val: val ?? null,
          samples: train.count,
          out: resolve(out),
          backend: backendChoice,
          teacher: teacherFile === null ? null : resolve(teacherFile),
          keep,
          validations,
        },
        trainers: { train, makeTrainer },
        fullShape: !cmd.compactTraining,
        train,
        teacher: teacher ?? undefined,
      },
    );
  } catch (err) {
    // A GPU failure mid-run: the last epoch's checkpoint is intact.
    if (err instanceof KernelError) throw new KernelError(`${err.message}${resumeHint()}`);
    throw err;
  } finally {
    progress.finish();
    interrupts.release();
    trainer.dispose();
    teacher?.dispose();
  }

  if (result.status === 'interrupted') {
    const { checkpoint } = result;
    if (checkpointFile !== null) await writeFileAtomic(checkpointFile, encodeCheckpoint(checkpoint));
    const where = position(checkpoint.epoch, checkpoint.batch, recipe.epochs, batches);
    throw new Interrupted(
      checkpointFile === null ? `interrupted at ${where}; nothing saved (--no-checkpoint)` : `interrupted at ${where}; resume with: webgpu-prune train --resume ${checkpointFile}`,
      interrupts.requested ?? 'SIGINT',
    );
  }
  if (result.status === 'diverged') {
    const { lastGood } = result;
    if (checkpointFile !== null) await writeFileAtomic(checkpointFile, encodeCheckpoint(lastGood));
    const kept = checkpointFile === null ? 'nothing saved (--no-checkpoint)' : `the state after epoch ${lastGood.epoch} is in ${checkpointFile}`;
    throw new UserError(`training diverged in epoch ${result.epoch + 1}/${recipe.epochs}: ${result.reason}; lower --lr or --factor (${kept})`);
  }

  const keptEpoch = keep === 'best' && bestEpoch !== null && bestNet ? { epoch: bestEpoch, net: bestNet } : { epoch: recipe.epochs - 1, net: result.net };
  const final = keptEpoch.net;
  const kept = keptTotal(final);
  const metadata: Record<string, string> = { ...reads, recipe: JSON.stringify(recipe), keptWeights: String(kept), totalWeights: String(total) };
  if (validation) metadata['keptEpoch'] = String(keptEpoch.epoch + 1);
  // Saved before the test pass, so that nothing after training can lose the network.
  let format: Awaited<ReturnType<typeof saveModel>>;
  try {
    format = await saveModel(out, final, metadata);
  } catch (err) {
    // The last checkpoint holds the trained state: resuming it only saves the network.
    if (err instanceof UserError && checkpointFile !== null && saved) throw new UserError(`${err.message}; the trained network is in ${checkpointFile}: save it with webgpu-prune train --resume ${checkpointFile} --out FILE`);
    throw err;
  }
  let test: TestResult;
  try {
    test = await evaluateOn(final, testSet);
  } catch (err) {
    if (err instanceof UserError || err instanceof KernelError) throw new UserError(`testing the trained network: ${err.message} (the network is saved in ${out})`);
    throw err;
  }
  human('');
  for (const [epoch, v] of validations.entries()) {
    if (v && (isTableRow(result.epochs[epoch]!, recipe.epochs) || epoch === bestEpoch)) {
      human(`Validation epoch ${String(epoch + 1).padStart(3)}: accuracy ${v.accuracy.toFixed(2).padStart(6)}%, loss ${v.loss.toFixed(4)}${epoch === bestEpoch ? ' (best)' : ''}`);
    }
  }
  if (validation) human(`Kept       epoch ${keptEpoch.epoch + 1}'s network (--keep ${keep})`);
  human(`Test Accuracy = ${percent(test.correct, test.total).padStart(6)}% | Time = ${test.seconds.toFixed(3)}s`);
  human(`Test samples/s = ${grouped(test.samplesPerSec)} (${test.kernel})`);
  await saveModel(out, final, { ...metadata, testAccuracy: percent(test.correct, test.total) });
  if (biases > 0) human(`Parameters ${grouped(kept + biases)}: ${grouped(kept)} of ${grouped(total)} weights kept + ${grouped(biases)} biases`);
  human(`Saved ${out} (${format})`);
  if (checkpointFile !== null) await rm(checkpointFile, { force: true });
  if (bestFile !== null) await rm(bestFile, { force: true });

  if (cmd.json) {
    io.out(JSON.stringify({
      backend: gpu ? 'gpu' : 'cpu',
      adapter: gpu?.adapter ?? null,
      verify: verification,
      recipe,
      resumedFrom: cmd.resume ?? null,
      teacher: recipe.distill && teacher ? { file: recipe.distill.teacher, sizes: teacher.sizes, weight: recipe.distill.weight, temperature: recipe.distill.temperature } : null,
      trainingSeconds: result.seconds,
      trainedSizes,
      epochs: result.epochs.map((r) => ({
        epoch: r.epoch + 1,
        trainAccuracy: (100 * r.correct) / r.samples,
        loss: meanLoss(r),
        validation: validations[r.epoch] ?? null,
        learningRate: r.learningRate,
        backpropagated: r.backpropagated,
        keptWeights: r.keptWeights,
        seconds: r.elapsed,
        pruned: r.pruned ? r.pruned.rule : null,
        ...(r.pruned?.moved ? { moved: r.pruned.moved } : {}),
      })),
      keptEpoch: keptEpoch.epoch + 1,
      test: { accuracy: (100 * test.correct) / test.total, correct: test.correct, total: test.total, loss: test.loss, samplesPerSec: test.samplesPerSec, kernel: test.kernel },
      weights: kept,
      totalWeights: total,
      ...(biases > 0 ? { biases, parameters: keptParameters(final) } : {}),
      out,
      format,
    }));
  }
}

/** The recipe with its first and last layer sizes set to the data's inputs per sample and classes. */
function sizedForData(recipe: Recipe, data: Dataset): Recipe {
  const sizes = [data.features, ...recipe.sizes.slice(1, -1), data.classes];
  if (sizes.join(',') === recipe.sizes.join(',')) return recipe;
  try {
    validateSizes(sizes);
  } catch (err) {
    throw new UserError(`${data.source}: ${(err as Error).message} (give --sizes)`);
  }
  return { ...recipe, sizes };
}

/** Every 5th epoch and the last make the seed's table. */
function isTableRow(r: EpochReport, epochs: number): boolean {
  return (r.epoch + 1) % 5 === 0 || r.epoch + 1 === epochs;
}

/** `epoch 7/50, batch 12/75`, or `epoch 7/50` at an epoch's start (1-based for people). */
function position(epoch: number, batch: number, epochs: number, batches: number): string {
  if (epoch >= epochs) return 'the end of training (the network still to save)';
  return batch === 0 ? `the start of epoch ${epoch + 1}/${epochs}` : `epoch ${epoch + 1}/${epochs}, batch ${batch}/${batches}`;
}

function runString(c: Checkpoint, key: string): string | undefined {
  const v = c.run[key];
  return typeof v === 'string' ? v : undefined;
}

function resumedBackend(c: Checkpoint): BackendChoice | undefined {
  const saved = runString(c, 'backend');
  return saved === 'auto' || saved === 'gpu' || saved === 'cpu' ? saved : undefined;
}

/** Validation figures of one epoch's network. */
interface Validation {
  /** Percent. */
  accuracy: number;
  correct: number;
  /** Mean cross-entropy (nats). */
  loss: number;
}

/** The epoch (0-based) with the best validation accuracy, the earliest on a tie; null before the first. */
function bestEpochOf(validations: readonly (Validation | null | undefined)[]): number | null {
  let best: number | null = null;
  for (const [epoch, v] of validations.entries()) if (v && (best === null || v.correct > validations[best]!.correct)) best = epoch;
  return best;
}

/** The validation figures of the epochs a checkpoint's run finished (none in a checkpoint from before they were kept). */
function resumedValidations(c: Checkpoint, file: string): (Validation | null)[] {
  const saved = c.run['validations'];
  if (saved === undefined) return [];
  const isValidation = (v: unknown): v is Validation => {
    const o = v as Record<string, unknown> | null;
    return typeof o === 'object' && o !== null && Number.isSafeInteger(o['correct']) && [o['accuracy'], o['loss']].every((x) => typeof x === 'number');
  };
  if (!Array.isArray(saved) || saved.length > c.epoch || !saved.every((v) => v === null || isValidation(v))) {
    throw new UserError(`${file}: checkpoint "run.validations" is not the validation figures of its finished epochs`);
  }
  return saved as (Validation | null)[];
}

/** The checkpoint's --keep (runs from before it was kept: last); a different one on the command line is a mistake. */
function resumedKeep(c: Checkpoint, cmd: TrainCommand): 'last' | 'best' {
  const saved = c.run['keep'] === 'best' ? 'best' : 'last';
  if (cmd.keepGiven && cmd.keep !== saved) throw new UserError(`--keep ${cmd.keep} cannot change when resuming: the run keeps the ${saved} epoch's network`);
  return saved;
}

function resumedVal(c: Checkpoint, given: number | undefined): number | undefined {
  const saved = typeof c.run['val'] === 'number' ? c.run['val'] : undefined;
  if (given !== undefined && given !== saved) throw new UserError(`--val ${given} cannot change when resuming: the run holds out ${saved ?? 'no'} samples`);
  return saved;
}

function resumedLimit(c: Checkpoint, given: number | undefined): number | undefined {
  const saved = typeof c.run['limit'] === 'number' ? c.run['limit'] : undefined;
  if (given !== undefined && given !== saved) throw new UserError(`--limit ${given} cannot change when resuming: the run trains on ${saved ?? 'all'} samples`);
  return saved;
}

export interface Verification {
  batches: number;
  batchSize: number;
  /** Largest |w_gpu − w_js| over all layers' weights (and biases) after the batches, and its layer. */
  worstAbsDiff: number;
  worstLayer: number;
  /** Largest |w_gpu − w_js| / max|w_js| of a layer's weights or biases. */
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
export async function verifyAgainstReference(gpu: GpuContext, net: Network, train: Dataset, recipe: Recipe, teacher: LoadedTeacher | null): Promise<Verification> {
  const batches = Math.min(VERIFY_BATCHES, Math.floor(train.count / recipe.batchSize));
  const subset = takeSamples(train, batches * recipe.batchSize);
  const config = trainConfig(recipe);
  const { learningRate, momentum } = epochRates(recipe, 0);
  // With distillation both train on the teacher's soft targets of the first batches' (unshifted) images.
  const distill = recipe.distill && teacher ? softTargets(await teacher.logits(subset.inputs, subset.count), subset.count, subset.classes, recipe.distill.temperature) : undefined;
  const gpuTrainer = await GpuTrainer.create(gpu, net, subset, config);
  const reference = new CpuTrainer(net, subset, config);
  const gpuEpoch = await gpuTrainer.trainEpoch(null, learningRate, momentum, { softTargets: distill });
  const refEpoch = await reference.trainEpoch(null, learningRate, momentum, { softTargets: distill });
  const [a, b] = [(await gpuTrainer.state()).net, (await reference.state()).net];
  gpuTrainer.dispose();
  let worstAbsDiff = 0;
  let worstLayer = 0;
  let worstRelDiff = 0;
  // A layer's biases are compared like one more array of its weights.
  const compared = [...a.weights.map((w, l) => ({ w, ref: b.weights[l]!, l })), ...(a.biases ?? []).map((w, l) => ({ w, ref: b.biases![l]!, l }))];
  compared.forEach(({ w, ref, l }) => {
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



