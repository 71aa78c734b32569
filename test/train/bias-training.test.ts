/**
 * Training with biases on the JS reference, around the training loop: a run stopped anywhere and
 * resumed from its checkpoint file ends bit-identical (biases and their optimizer state included),
 * and training the pruned network as the smaller one gives the full-shape run bit for bit, where
 * the smaller network keeps the neurons without inputs (their bias still learns) and drops only
 * those without outputs (whose biases replay their zero-gradient update).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { CpuTrainer } from '../../src/cpu/trainer';
import { takeSamples, type Dataset } from '../../src/data/dataset';
import { loadMnist } from '../../src/node/mnist';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../../src/train/checkpoint';
import type { CompactTraining } from '../../src/train/compact-training';
import { optimizerOf } from '../../src/train/optimizer';
import type { Recipe } from '../../src/train/recipe';
import { runTraining, type TrainingResult } from '../../src/train/run';
import { ADAM_FIELDS, cpuTrainerAt, epochTable, finished, SMALL_SEED_RECIPE, trainConfig } from '../helpers/training-runs';

let train: Dataset;

beforeAll(async () => {
  train = takeSamples((await loadMnist()).train, 1_000);
});

/** 784-24-16-10 with biases; layer 1 pruned so hard that hidden neurons of both sides lose all their outputs or inputs. */
const SEED_BIASED: Recipe = { ...SMALL_SEED_RECIPE, bias: true, prune: { kind: 'once-sparsity', epoch: 1, sparsity: [0.99, 0.93, 0], scope: 'layer' } };
const ADAM_BIASED: Recipe = { ...SEED_BIASED, ...ADAM_FIELDS, shuffle: true };
const RECIPES = [SEED_BIASED, ADAM_BIASED, { ...ADAM_BIASED, optimizer: 'adamw', weightDecay: 0.01 } as Recipe, { ...ADAM_BIASED, optimizer: 'momentum', learningRate: 0.05, momentum: 0.9 } as Recipe];

const start = (recipe: Recipe, from?: Checkpoint) => cpuTrainerAt(recipe, train, from);

const bytes = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function expectSameArrays(a: Float32Array[] | undefined, b: Float32Array[] | undefined, what: string): void {
  expect(a, what).toBeDefined();
  expect(b!.length, what).toBe(a!.length);
  a!.forEach((x, l) => expect(bytes(b![l]!).equals(bytes(x)), `${what} of layer ${l} bit-identical`).toBe(true));
}

function expectSameRun(a: Extract<TrainingResult, { status: 'finished' }>, b: Extract<TrainingResult, { status: 'finished' }>): void {
  expectSameArrays(a.net.weights, b.net.weights, 'weights');
  expectSameArrays(a.net.biases, b.net.biases, 'biases');
  a.net.masks.forEach((m, l) => expect(b.net.masks[l]).toEqual(m));
  expect(epochTable(b)).toEqual(epochTable(a));
}

/** Hidden neurons of layer 1 (24) without a kept outgoing weight, and of layer 2 (16) without a kept incoming one. */
function deadEnds(masks: Uint8Array[]): { noOutputs: number[]; noInputs: number[] } {
  const noOutputs = [...Array(24).keys()].filter((j) => masks[1]!.subarray(j * 16, (j + 1) * 16).every((m) => m === 0));
  const noInputs = [...Array(16).keys()].filter((o) => [...Array(24).keys()].every((j) => masks[1]![j * 16 + o] === 0));
  return { noOutputs, noInputs };
}

describe('resume with biases (JS reference)', () => {
  for (const recipe of RECIPES.slice(0, 2)) {
    it(`${optimizerOf(recipe).kind}: stopped mid-epoch and at the pruning epoch, resumed from the file, equals the run never stopped`, async () => {
      const whole = finished(await runTraining(start(recipe), recipe, train.count));
      for (const stop of [7, 16, 30]) {
        let asked = 0;
        const first = await runTraining(start(recipe), recipe, train.count, {}, { shouldStop: () => ++asked > stop });
        if (first.status !== 'interrupted') throw new Error(`expected an interrupted run, got ${first.status}`);
        const checkpoint = decodeCheckpoint(encodeCheckpoint(first.checkpoint), 'run.ckpt');
        expectSameArrays(first.checkpoint.net.biases, checkpoint.net.biases, 'checkpoint biases');
        expectSameArrays(first.checkpoint.biasVelocities, checkpoint.biasVelocities, 'checkpoint bias velocities');
        expect(checkpoint.biasSecondMoments).toHaveLength(recipe.optimizer === 'adam' ? 3 : 0);
        if (recipe.optimizer === 'adam') expectSameArrays(first.checkpoint.biasSecondMoments, checkpoint.biasSecondMoments, 'checkpoint bias second moments');
        expectSameRun(whole, finished(await runTraining(start(recipe, checkpoint), recipe, train.count, {}, { resume: checkpoint })));
      }
    });
  }

  it('a checkpoint whose network lost its biases is refused in one line', async () => {
    let asked = 0;
    const first = await runTraining(start(SEED_BIASED), SEED_BIASED, train.count, {}, { shouldStop: () => ++asked > 3 });
    if (first.status !== 'interrupted') throw new Error('expected an interrupted run');
    const { biases: _biases, ...unbiased } = first.checkpoint.net;
    const { biasVelocities: _v, biasSecondMoments: _m, ...rest } = first.checkpoint;
    expect(() => decodeCheckpoint(encodeCheckpoint({ ...rest, net: unbiased }), 'run.ckpt')).toThrow('run.ckpt: checkpoint recipe has biases, its network has none');
  });
});

describe('training the pruned biased network as the smaller one (JS reference)', () => {
  for (const recipe of RECIPES) {
    it(`${optimizerOf(recipe).kind}: the table, the expanded network, its biases and their optimizer state equal the full-shape run's`, async () => {
      const fullCheckpoints: Checkpoint[] = [];
      const full = finished(await runTraining(start(recipe), recipe, train.count, { onCheckpoint: (c) => void fullCheckpoints.push(c) }));
      const made: number[][] = [];
      const compactCheckpoints: Checkpoint[] = [];
      const setup: CompactTraining = {
        train,
        makeTrainer: async (net, data, startState) => {
          made.push(net.sizes);
          return new CpuTrainer(net, data, trainConfig(recipe), startState);
        },
      };
      const compact = finished(await runTraining(start(recipe), recipe, train.count, { onCheckpoint: (c) => void compactCheckpoints.push(c) }, { trainers: setup }));

      const afterPrune = fullCheckpoints[1]!.net;
      const { noOutputs, noInputs } = deadEnds(afterPrune.masks);
      expect(noOutputs.length).toBeGreaterThan(0);
      expect(noInputs.length).toBeGreaterThan(0);
      // Layer 1 loses exactly its neurons without outputs; layer 2 keeps every neuron, those without inputs too.
      expect(made).toHaveLength(1);
      expect(made[0]!.slice(1)).toEqual([24 - noOutputs.length, 16, 10]);

      expectSameRun(full, compact);
      const last = (c: Checkpoint[]) => c.at(-1)!;
      expectSameArrays(last(fullCheckpoints).velocities, last(compactCheckpoints).velocities, 'velocities');
      expectSameArrays(last(fullCheckpoints).biasVelocities, last(compactCheckpoints).biasVelocities, 'bias velocities');
      if (last(fullCheckpoints).biasSecondMoments!.length > 0) {
        expectSameArrays(last(fullCheckpoints).biasSecondMoments, last(compactCheckpoints).biasSecondMoments, 'bias second moments');
      }
      // The removed neurons' biases kept moving in the full run (the replay was needed), and the
      // kept neurons without inputs trained their biases.
      expect(noOutputs.some((j) => full.net.biases![0]![j] !== afterPrune.biases![0]![j])).toBe(true);
      expect(noInputs.some((o) => full.net.biases![1]![o] !== afterPrune.biases![1]![o])).toBe(true);
    });
  }
});
