/**
 * Checkpoints and resume on the JS reference: a run stopped anywhere (mid-epoch, at an epoch
 * boundary, around the pruning epoch, shuffled; with the seed's rule or Adam's, whose moments and
 * step count the checkpoint carries) and resumed from its checkpoint file ends bit-identical to
 * the run that was never stopped.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { takeSamples, type Dataset } from '../../src/data/dataset';
import { encodeSafetensors } from '../../src/format/safetensors';
import { initNetwork } from '../../src/model/network';
import { loadMnist } from '../../src/node/mnist';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../../src/train/checkpoint';
import type { Recipe } from '../../src/train/recipe';
import { runTraining, type TrainingResult } from '../../src/train/run';
import { UserError } from '../../src/util/errors';
import { ADAM_FIELDS, cpuTrainerAt, epochTable, finished, SMALL_SEED_RECIPE } from '../helpers/training-runs';

let train: Dataset;

beforeAll(async () => {
  train = takeSamples((await loadMnist()).train, 1_000);
});

const BASE = SMALL_SEED_RECIPE;

/** Adam with L2 decay, a warm-up epoch then a cosine schedule, shuffled, pruned gradually. */
const ADAM: Recipe = {
  ...BASE,
  ...ADAM_FIELDS,
  warmup: 1,
  shuffle: true,
  prune: { kind: 'gradual', start: 1, end: 2, every: 1, initialSparsity: 0.3, sparsity: 0.7, scope: 'layer' },
};

const start = (recipe: Recipe, from?: Checkpoint) => cpuTrainerAt(recipe, train, from);

/** Stops after `calls` questions of shouldStop (one per batch, one per epoch boundary). */
function stopAfter(calls: number): () => boolean {
  let asked = 0;
  return () => ++asked > calls;
}

/** Through the file format, as the CLI does. */
function roundTrip(c: Checkpoint): Checkpoint {
  return decodeCheckpoint(encodeCheckpoint(c), 'run.ckpt');
}

function expectSameRun(a: Extract<TrainingResult, { status: 'finished' }>, b: Extract<TrainingResult, { status: 'finished' }>): void {
  a.net.weights.forEach((w, l) => expect(Buffer.from(b.net.weights[l]!.buffer).equals(Buffer.from(w.buffer)), `layer ${l} weights bit-identical`).toBe(true));
  a.net.masks.forEach((m, l) => expect(b.net.masks[l]).toEqual(m));
  expect(epochTable(b)).toEqual(epochTable(a));
}

describe('resume from a checkpoint (JS reference)', () => {
  for (const { label, recipe, stops } of [
    { label: 'file order, once-pruned', recipe: BASE, stops: [3, 11, 17, 25] },
    { label: 'shuffled, once-pruned', recipe: { ...BASE, shuffle: true }, stops: [14, 23] },
    {
      label: 'shuffled, gradual',
      recipe: { ...BASE, shuffle: true, prune: { kind: 'gradual', start: 0, end: 2, every: 1, initialSparsity: 0, sparsity: 0.8, scope: 'global' } } as Recipe,
      stops: [10, 27],
    },
    { label: 'adam with L2 decay, warm-up and cosine, gradual', recipe: ADAM, stops: [7, 16, 30] },
    {
      label: 'shuffled, gradual with regrowth past its end',
      recipe: { ...BASE, shuffle: true, prune: { kind: 'gradual', start: 0, end: 1, every: 1, initialSparsity: 0, sparsity: 0.8, scope: 'layer', regrow: { fraction: 0.3, end: 3 } } } as Recipe,
      stops: [12, 25, 36],
    },
    { label: 'adamw, seed-decay, once-pruned', recipe: { ...ADAM, optimizer: 'adamw', weightDecay: 0.01, lrSchedule: 'seed-decay', warmup: 0, prune: BASE.prune } as Recipe, stops: [12, 25] },
  ]) {
    it(`${label}: stopped after ${stops.join(', ')} batch questions and resumed, equals the run never stopped`, async () => {
      const whole = finished(await runTraining(start(recipe), recipe, train.count, {}, { train }));
      for (const stop of stops) {
        const first = await runTraining(start(recipe), recipe, train.count, {}, { shouldStop: stopAfter(stop), train });
        expect(first.status).toBe('interrupted');
        if (first.status !== 'interrupted') continue;
        const checkpoint = roundTrip(first.checkpoint);
        const rest = finished(await runTraining(start(recipe, checkpoint), recipe, train.count, {}, { resume: checkpoint, train }));
        expectSameRun(whole, rest);
      }
    });
  }

  it('stops at an epoch boundary with a checkpoint of the next epoch, and every epoch hands out a checkpoint', async () => {
    const seen: Checkpoint[] = [];
    // One question per batch (10 an epoch), then one at the boundary: the 11th comes after epoch 1.
    const result = await runTraining(start(BASE), BASE, train.count, { onCheckpoint: (c) => void seen.push(c) }, { shouldStop: stopAfter(10) });
    expect(result.status).toBe('interrupted');
    if (result.status !== 'interrupted') return;
    expect([result.checkpoint.epoch, result.checkpoint.batch]).toEqual([1, 0]);
    expect(seen.map((c) => c.epoch)).toEqual([1]);
    expect(result.checkpoint.reports).toHaveLength(1);
  });

  it('a finished checkpoint resumes to the same network without training', async () => {
    const seen: Checkpoint[] = [];
    const whole = finished(await runTraining(start(BASE), BASE, train.count, { onCheckpoint: (c) => void seen.push(c) }));
    const last = roundTrip(seen.at(-1)!);
    expect(last.epoch).toBe(BASE.epochs);
    expectSameRun(whole, finished(await runTraining(start(BASE, last), BASE, train.count, {}, { resume: last })));
  });
});

describe('checkpoint file', () => {
  for (const recipe of [BASE, ADAM]) {
    it(`keeps every field bit for bit (${recipe.optimizer ?? 'seed'})`, async () => {
      const result = await runTraining(start(recipe), recipe, train.count, {}, { shouldStop: stopAfter(24), run: { data: null, samples: 1000, out: 'x.safetensors' } });
      if (result.status !== 'interrupted') throw new Error('expected a stop');
      const back = roundTrip(result.checkpoint);
      const arrays = (c: Checkpoint) => [...c.velocities, ...c.secondMoments].map((v) => Array.from(v));
      expect(back.recipe).toEqual(result.checkpoint.recipe);
      expect(back.secondMoments).toHaveLength(recipe.optimizer === 'adam' ? recipe.sizes.length - 1 : 0);
      expect(arrays(back)).toEqual(arrays(result.checkpoint));
      expect(back.steps).toBe(22);
      expect({ ...back, net: null, velocities: null, secondMoments: null }).toEqual({ ...result.checkpoint, net: null, velocities: null, secondMoments: null });
    });
  }

  it('Adam: pruned weights keep both moments at exactly 0, live ones move', async () => {
    const result = await runTraining(start(ADAM), ADAM, train.count, {}, { shouldStop: stopAfter(30) });
    if (result.status !== 'interrupted') throw new Error('expected a stop');
    const { net, velocities, secondMoments } = result.checkpoint;
    let pruned = 0;
    net.masks.forEach((mask, l) => {
      for (let k = 0; k < mask.length; k++) {
        const state = [net.weights[l]![k], velocities[l]![k], secondMoments[l]![k]];
        if (mask[k]) continue;
        pruned++;
        if (!state.every((x) => Object.is(x, 0))) throw new Error(`layer ${l} pruned weight ${k} has state ${state.join(', ')}`);
      }
    });
    expect(pruned).toBeGreaterThan(0);
    expect(secondMoments.some((v) => v.some((x) => x > 0))).toBe(true);
  });

  it('refuses a network file, a damaged state and a wrong version with one line', () => {
    const net = initNetwork(BASE.sizes, 1);
    expect(() => decodeCheckpoint(encodeSafetensors(net), 'model.safetensors')).toThrow(/model\.safetensors: not a training checkpoint/);
    const damaged = (edit: (state: Record<string, unknown>) => void): Uint8Array => {
      const state = JSON.parse(JSON.stringify({ version: 1, recipe: BASE, epoch: 0, batch: 0, learningRate: 0.1, momentum: 0.5, rng: { seedArray: Array(56).fill(0), inext: 0, inextp: 21 }, partial: { correct: 0, samples: 0, backpropagated: 0, nonFinite: 0 }, reports: [], elapsedSeconds: 0, run: {} }));
      edit(state);
      return encodeSafetensors(net, {
        metadata: { checkpoint: JSON.stringify(state) },
        trainingTensors: net.weights.map((w, l) => ({ name: `train.velocities.${l}`, dtype: 'F32' as const, shape: [BASE.sizes[l]!, BASE.sizes[l + 1]!], data: new Float32Array(w.length) })),
      });
    };
    expect(decodeCheckpoint(damaged(() => {}), 'ok.ckpt').epoch).toBe(0);
    for (const [edit, message] of [
      [(s: Record<string, unknown>) => (s.version = 2), /version 2/],
      [(s: Record<string, unknown>) => (s.epoch = 99), /"epoch" is 99/],
      [(s: Record<string, unknown>) => (s.learningRate = 'fast'), /"learningRate"/],
      [(s: Record<string, unknown>) => ((s.recipe as Recipe).sizes = [784, 10]), /sizes 784,10 are not the network's/],
      [(s: Record<string, unknown>) => ((s.rng as { seedArray: number[] }).seedArray = [1]), /shuffle generator state/],
      [(s: Record<string, unknown>) => (s.reports = [{}]), /1 epoch reports for 0 finished epochs/],
      [(s: Record<string, unknown>) => (s.steps = -1), /"steps" is -1/],
      [(s: Record<string, unknown>) => ((s.recipe as Recipe).optimizer = 'adam'), /tensor train\.second_moments\.0 is missing/],
      [(s: Record<string, unknown>) => ((s.recipe as Record<string, unknown>).optimizer = 'rmsprop'), /optimizer "rmsprop" is not one of/],
      [(s: Record<string, unknown>) => ((s.recipe as Recipe).beta2 = 1), /beta2 is 1, not in \[0, 1\)/],
    ] as const) {
      let error: unknown;
      try {
        decodeCheckpoint(damaged(edit), 'bad.ckpt');
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(UserError);
      expect((error as Error).message).toMatch(/^bad\.ckpt: /);
      expect((error as Error).message).toMatch(message);
    }
  });
});
