/**
 * Training checkpoints: everything a run needs to go on exactly where it stopped, in one
 * safetensors file that our reader validates like any network file (so `info` and `eval` read a
 * checkpoint too). The network (weights and masks) is stored as in a model file, dense; the
 * optimizer state as `train.velocities.{l}` (the seed's velocities, momentum's buffers, Adam's m;
 * zeros for sgd) and, for Adam, `train.second_moments.{l}`, F32 [in, out]; with biases (stored as
 * in a model file, `layers.{l}.bias`) their state as `train.bias_velocities.{l}` and, for Adam,
 * `train.bias_second_moments.{l}`, F32 [out]; the rest (recipe,
 * position, learning rate and momentum, Adam's step count, the shuffle generator, the per-epoch
 * table so far) as JSON in `__metadata__.checkpoint`. Floats go through JSON as shortest round-trip text, so a resumed
 * run continues from bit-identical values.
 */
import { isShift, SHIFT_RANGE } from '../data/augment';
import { DESKEW_METADATA } from '../data/deskew';
import { decodeSafetensors, encodeSafetensors, TRAINING_TENSOR_PREFIX } from '../format/safetensors';
import { DotNetRandom, type DotNetRandomState } from '../model/dotnet-random';
import type { Network } from '../model/network';
import { UserError } from '../util/errors';
import { distillationProblem } from './distill';
import { isAdam, optimizerOf, optimizerProblem } from './optimizer';
import type { Recipe } from './recipe';
import type { EpochResult, OptimizerState } from './trainer';
import type { EpochReport } from './run';

const CHECKPOINT_VERSION = 1;

export interface Checkpoint extends OptimizerState {
  recipe: Recipe;
  net: Network;
  /** 0-based epoch in progress, or the next one to run when `batch` is 0. */
  epoch: number;
  /** First batch of `epoch` still to train (0 at an epoch boundary). */
  batch: number;
  learningRate: number;
  momentum: number;
  /** The shuffle generator's state before `epoch`'s order was drawn. */
  rng: DotNetRandomState;
  /** What the batches of `epoch` before `batch` counted. */
  partial: EpochResult;
  /** The finished epochs. */
  reports: EpochReport[];
  /** Seconds of training so far. */
  elapsedSeconds: number;
  /** What the run was started with beyond the recipe (data, output file), as JSON values: the caller's to fill and check. */
  run: Record<string, unknown>;
}

/** The `__metadata__` key of the training state: what makes a safetensors file a checkpoint. */
export const CHECKPOINT_METADATA_KEY = 'checkpoint';
const velocityName = (l: number): string => `${TRAINING_TENSOR_PREFIX}velocities.${l}`;
const secondMomentName = (l: number): string => `${TRAINING_TENSOR_PREFIX}second_moments.${l}`;
const biasVelocityName = (l: number): string => `${TRAINING_TENSOR_PREFIX}bias_velocities.${l}`;
const biasSecondMomentName = (l: number): string => `${TRAINING_TENSOR_PREFIX}bias_second_moments.${l}`;

export function encodeCheckpoint(c: Checkpoint): Uint8Array {
  const { net, velocities, secondMoments, biasVelocities, biasSecondMoments, ...progress } = c;
  const state = { version: CHECKPOINT_VERSION, ...progress };
  const tensors = (name: (l: number) => string, arrays: Float32Array[] = [], shape = (l: number) => [net.sizes[l]!, net.sizes[l + 1]!]) =>
    arrays.map((data, l) => ({ name: name(l), dtype: 'F32' as const, shape: shape(l), data }));
  const outputs = (l: number) => [net.sizes[l + 1]!];
  return encodeSafetensors(net, {
    layout: 'dense',
    // Opened as a network (eval, convert, --teacher), the checkpoint reads the images its run trains on.
    metadata: { ...(c.recipe.deskew ? DESKEW_METADATA : {}), [CHECKPOINT_METADATA_KEY]: JSON.stringify(state) },
    trainingTensors: [
      ...tensors(velocityName, velocities),
      ...tensors(secondMomentName, secondMoments),
      ...(net.biases ? [...tensors(biasVelocityName, biasVelocities, outputs), ...tensors(biasSecondMomentName, biasSecondMoments, outputs)] : []),
    ],
  });
}

/** Reads a checkpoint, with one-line errors naming the file and what is wrong. */
export function decodeCheckpoint(bytes: Uint8Array, fileName: string): Checkpoint {
  const fail = (problem: string): never => {
    throw new UserError(`${fileName}: ${problem}`);
  };
  const { net, metadata, trainingTensors } = decodeSafetensors(bytes, fileName);
  const text = metadata[CHECKPOINT_METADATA_KEY];
  if (text === undefined) fail('not a training checkpoint (a network file has no training state to resume)');
  let state: Record<string, unknown> = {};
  try {
    state = JSON.parse(text!) as Record<string, unknown>;
  } catch (error) {
    fail(`checkpoint metadata is not valid JSON (${(error as Error).message})`);
  }
  if (typeof state !== 'object' || state === null) fail('checkpoint metadata is not a JSON object');
  if (state['version'] !== CHECKPOINT_VERSION) fail(`checkpoint version ${JSON.stringify(state['version'])} is not ${CHECKPOINT_VERSION}, the one this version reads`);

  const recipe = state['recipe'] as Recipe;
  const problem = recipeProblem(recipe, net.sizes) ?? optimizerProblem(recipe);
  if (problem) fail(`checkpoint recipe: ${problem}`);
  if ((recipe.bias ?? false) !== (net.biases !== undefined)) fail(`checkpoint recipe ${recipe.bias ? 'has' : 'has no'} biases, its network ${net.biases ? 'has' : 'has none'}`);
  const count = (key: string, max = Number.MAX_SAFE_INTEGER): number => {
    const v = state[key];
    if (!Number.isSafeInteger(v) || (v as number) < 0 || (v as number) > max) fail(`checkpoint "${key}" is ${JSON.stringify(v)}, not an integer in [0, ${max}]`);
    return v as number;
  };
  const finite = (key: string): number => {
    const v = state[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) fail(`checkpoint "${key}" is ${JSON.stringify(v)}, not a finite number`);
    return v as number;
  };
  const epoch = count('epoch', recipe.epochs);
  const batch = count('batch');
  const partial = state['partial'] as EpochResult;
  if (typeof partial !== 'object' || partial === null || !['correct', 'samples', 'backpropagated', 'nonFinite'].every((k) => Number.isSafeInteger((partial as unknown as Record<string, unknown>)[k]))) {
    fail('checkpoint "partial" is not the counts of an epoch in progress');
  }
  // Checkpoints written before the loss was counted have none: the epoch's loss starts there.
  partial.lossSum ??= 0;
  if (typeof partial.lossSum !== 'number' || !Number.isFinite(partial.lossSum)) fail('checkpoint "partial" has a loss sum that is not a finite number');
  const reports = state['reports'] as EpochReport[];
  if (!Array.isArray(reports) || reports.length !== epoch) fail(`checkpoint has ${Array.isArray(reports) ? reports.length : 'no'} epoch reports for ${epoch} finished epochs`);
  const run = state['run'];
  if (typeof run !== 'object' || run === null) fail('checkpoint "run" is not a JSON object');

  try {
    DotNetRandom.fromState(state['rng'] as DotNetRandomState);
  } catch (error) {
    fail(`checkpoint shuffle ${(error as Error).message}`);
  }

  const expected = new Set<string>();
  /** Per layer the tensor `name(l)` in the shape of `like[l]` (weights or biases). */
  const layerTensors = (name: (l: number) => string, like: Float32Array[]): Float32Array[] =>
    like.map((w, l) => {
      const v = trainingTensors.get(name(l));
      const shape = like === net.weights ? `[${net.sizes[l]}, ${net.sizes[l + 1]}]` : `[${net.sizes[l + 1]}]`;
      if (!(v instanceof Float32Array) || v.length !== w.length) fail(`tensor ${name(l)} is missing or not F32 ${shape}`);
      expected.add(name(l));
      return v as Float32Array;
    });
  const adam = isAdam(optimizerOf(recipe).kind);
  const velocities = layerTensors(velocityName, net.weights);
  const secondMoments = adam ? layerTensors(secondMomentName, net.weights) : [];
  const biasState = net.biases
    ? { biasVelocities: layerTensors(biasVelocityName, net.biases), biasSecondMoments: adam ? layerTensors(biasSecondMomentName, net.biases) : [] }
    : {};
  const extra = [...trainingTensors.keys()].find((name) => !expected.has(name));
  if (extra) fail(`unexpected tensor ${extra} in a checkpoint`);

  return {
    recipe,
    net,
    velocities,
    secondMoments,
    ...biasState,
    // Checkpoints of the seed's rule written before steps were counted have none; it only matters to Adam.
    steps: state['steps'] === undefined ? 0 : count('steps'),
    epoch,
    batch,
    learningRate: finite('learningRate'),
    momentum: finite('momentum'),
    rng: state['rng'] as DotNetRandomState,
    partial,
    reports,
    elapsedSeconds: finite('elapsedSeconds'),
    run: run as Checkpoint['run'],
  };
}

/** Why a recipe read from a file cannot drive training (of a network of `sizes`, when given), or null. */
export function recipeProblem(recipe: Recipe, sizes?: readonly number[]): string | null {
  if (typeof recipe !== 'object' || recipe === null) return 'missing';
  if (!Array.isArray(recipe.sizes)) return `sizes ${JSON.stringify(recipe.sizes)} is not a list of layer sizes`;
  if (sizes && recipe.sizes.join(',') !== sizes.join(',')) return `sizes ${String(recipe.sizes)} are not the network's ${sizes.join(',')}`;
  for (const key of ['epochs', 'batchSize'] as const) {
    if (!Number.isSafeInteger(recipe[key]) || recipe[key] < 1) return `${key} is ${JSON.stringify(recipe[key])}, not a positive integer`;
  }
  for (const key of ['learningRate', 'momentum', 'factor', 'confidence'] as const) {
    if (typeof recipe[key] !== 'number' || !Number.isFinite(recipe[key])) return `${key} is ${JSON.stringify(recipe[key])}, not a finite number`;
  }
  if (!Number.isInteger(recipe.seed) || (recipe.seed | 0) !== recipe.seed) return `seed is ${JSON.stringify(recipe.seed)}, not a 32-bit integer`;
  if (typeof recipe.shuffle !== 'boolean') return 'shuffle is not true or false';
  if (recipe.bias !== undefined && typeof recipe.bias !== 'boolean') return 'bias is not true or false';
  if (recipe.shift !== undefined && !isShift(recipe.shift)) return `shift is ${JSON.stringify(recipe.shift)}, not ${SHIFT_RANGE}`;
  if (recipe.deskew !== undefined && typeof recipe.deskew !== 'boolean') return 'deskew is not true or false';
  if (recipe.distill !== undefined) {
    const d = recipe.distill;
    if (typeof d !== 'object' || d === null || typeof d.teacher !== 'string' || d.teacher === '') return 'distill does not name its teacher file';
    const problem = distillationProblem(d);
    if (problem) return `distill: ${problem}`;
  }
  if (typeof recipe.prune !== 'object' || recipe.prune === null || !['none', 'once', 'once-sparsity', 'gradual'].includes(recipe.prune.kind)) {
    return 'prune is not a pruning schedule';
  }
  return null;
}
