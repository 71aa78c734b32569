/**
 * Training the pruned network as the smaller one (src/train/compact-training.ts) on the JS
 * reference: after the pruning pass the trainers run on fewer neurons and inputs, and the run
 * stays bit-identical to the full-shape run — the epoch table, the expanded weights (the removed
 * ones that keep moving under the seed's momentum or Adam's moments included), the optimizer
 * state, and a run resumed from a checkpoint written after the compaction.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { CpuTrainer } from '../../src/cpu/trainer';
import { takeSamples, type Dataset } from '../../src/data/dataset';
import { applyMasks, initNetwork, type Network } from '../../src/model/network';
import { loadMnist } from '../../src/node/mnist';
import { pruneToSparsity } from '../../src/prune/unstructured';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../../src/train/checkpoint';
import { CompactTrainer, smallerTraining, type CompactTraining } from '../../src/train/compact-training';
import { optimizerOf } from '../../src/train/optimizer';
import type { Recipe } from '../../src/train/recipe';
import { runTraining } from '../../src/train/run';
import { ADAM_FIELDS, cpuTrainerAt, epochTable as table, finished, SMALL_SEED_RECIPE, trainConfig } from '../helpers/training-runs';

let train: Dataset;

beforeAll(async () => {
  train = takeSamples((await loadMnist()).train, 1_000);
});

/** Layer 0 pruned hard enough that hidden neurons lose all their inputs but keep outputs that still move. */
const SEED_SMALL: Recipe = { ...SMALL_SEED_RECIPE, prune: { kind: 'once-sparsity', epoch: 1, sparsity: [0.995, 0.2, 0], scope: 'layer' } };

const ADAM: Recipe = { ...SEED_SMALL, ...ADAM_FIELDS, shuffle: true };

const start = (recipe: Recipe, from?: Checkpoint) => cpuTrainerAt(recipe, train, from);

/** A CPU trainer factory that records the sizes it was asked for. */
function compactOn(recipe: Recipe, made: number[][]): CompactTraining {
  return {
    train,
    makeTrainer: async (net, data, startState) => {
      made.push(net.sizes);
      return new CpuTrainer(net, data, trainConfig(recipe), startState);
    },
  };
}

const bytes = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function expectSameArrays(a: Float32Array[], b: Float32Array[], what: string): void {
  expect(b.length).toBe(a.length);
  a.forEach((x, l) => expect(bytes(b[l]!).equals(bytes(x)), `${what} of layer ${l} bit-identical`).toBe(true));
}

function expectSameNetwork(a: Network, b: Network): void {
  expect(b.sizes).toEqual(a.sizes);
  expectSameArrays(a.weights, b.weights, 'weights');
  a.masks.forEach((m, l) => expect(b.masks[l]).toEqual(m));
}

/** Weights that are kept (mask 1) but outside the compact network, and moved after `from`. */
function movedRemovedWeights(from: Network, to: Network, removedHidden: Set<number>): number {
  let moved = 0;
  const out = from.sizes[2]!;
  for (const j of removedHidden) {
    for (let o = 0; o < out; o++) {
      const k = j * out + o;
      if (from.masks[1]![k] === 1 && to.weights[1]![k] !== from.weights[1]![k]) moved++;
    }
  }
  return moved;
}

describe('training the pruned network as the smaller one (JS reference)', () => {
  for (const recipe of [SEED_SMALL, ADAM, { ...ADAM, optimizer: 'momentum', learningRate: 0.05, momentum: 0.9 } as Recipe, { ...ADAM, optimizer: 'adamw', weightDecay: 0.01 } as Recipe]) {
    it(`${optimizerOf(recipe).kind}: the table, the expanded network and the optimizer state equal the full-shape run's`, async () => {
      const fullCheckpoints: Checkpoint[] = [];
      const full = finished(await runTraining(start(recipe), recipe, train.count, { onCheckpoint: (c) => void fullCheckpoints.push(c) }));
      const made: number[][] = [];
      const compactCheckpoints: Checkpoint[] = [];
      const compact = finished(
        await runTraining(start(recipe), recipe, train.count, { onCheckpoint: (c) => void compactCheckpoints.push(c) }, { trainers: compactOn(recipe, made) }),
      );

      expect(made).toHaveLength(1);
      const [inputs, hidden1, hidden2, outputs] = made[0]!;
      expect(inputs).toBeLessThan(784);
      expect(hidden1).toBeLessThan(24);
      expect(hidden2).toBeLessThanOrEqual(16);
      expect(outputs).toBe(10);

      expect(table(compact)).toEqual(table(full));
      expectSameNetwork(full.net, compact.net);
      const last = (c: Checkpoint[]) => c.at(-1)!;
      expectSameArrays(last(fullCheckpoints).velocities, last(compactCheckpoints).velocities, 'velocities');
      expectSameArrays(last(fullCheckpoints).secondMoments, last(compactCheckpoints).secondMoments, 'second moments');
      expect(last(compactCheckpoints).steps).toBe(last(fullCheckpoints).steps);

      // The removed hidden neurons' outgoing weights kept moving after the pruning pass: the replay was needed.
      const afterPrune = fullCheckpoints[recipe.prune.kind === 'once-sparsity' ? recipe.prune.epoch : 0]!.net;
      const removed = new Set<number>();
      for (let j = 0; j < 24; j++) if (afterPrune.masks[0]!.every((m, k) => m === 0 || k % 24 !== j)) removed.add(j);
      expect(removed.size).toBeGreaterThan(0);
      expect(movedRemovedWeights(afterPrune, full.net, removed)).toBeGreaterThan(0);
    });
  }

  it('with gradual pruning, the smaller network is made once, after the last pruning pass', async () => {
    const recipe: Recipe = { ...ADAM, epochs: 5, prune: { kind: 'gradual', start: 1, end: 3, every: 1, initialSparsity: 0.5, sparsity: 0.95, scope: 'layer' } };
    const full = finished(await runTraining(start(recipe), recipe, train.count));
    const made: number[][] = [];
    const compactedAt: number[] = [];
    const compact = finished(await runTraining(start(recipe), recipe, train.count, { onCompact: (_sizes, epoch) => void compactedAt.push(epoch) }, { trainers: compactOn(recipe, made) }));
    expect(made).toHaveLength(1);
    expect(compactedAt).toEqual([4]);
    expect(table(compact)).toEqual(table(full));
    expectSameNetwork(full.net, compact.net);
  });

  it("with fullShape, a pass that changes a layer's kernels makes the full-shape trainer again, and no smaller one", async () => {
    // A trainer whose kernels a pruning pass outdates, as the GPU trainer's are past the sparse-training crossover.
    class Outdated extends CpuTrainer {
      kernelsOutdated(): boolean {
        return true;
      }
    }
    const made: number[][] = [];
    const trainers: CompactTraining = {
      train,
      makeTrainer: async (net, data, startState) => {
        made.push(net.sizes);
        return new Outdated(net, data, trainConfig(SEED_SMALL), startState);
      },
    };
    const compactedAt: number[] = [];
    const first = new Outdated(initNetwork(SEED_SMALL.sizes, SEED_SMALL.seed), train, trainConfig(SEED_SMALL));
    const full = finished(await runTraining(first, SEED_SMALL, train.count, { onCompact: (_sizes, epoch) => void compactedAt.push(epoch) }, { trainers, fullShape: true }));
    expect(compactedAt).toEqual([]);
    expect(made).toEqual([SEED_SMALL.sizes]);
    expect(table(full)).toEqual(table(finished(await runTraining(start(SEED_SMALL), SEED_SMALL, train.count))));
  });

  it('a pruning pass after the last epoch leaves nothing to train the smaller network for: none is made', async () => {
    const recipe: Recipe = { ...SEED_SMALL, prune: { ...SEED_SMALL.prune, epoch: SEED_SMALL.epochs - 1 } as Recipe['prune'] };
    const made: number[][] = [];
    const compactedAt: number[] = [];
    const run = finished(await runTraining(start(recipe), recipe, train.count, { onCompact: (_sizes, epoch) => void compactedAt.push(epoch) }, { trainers: compactOn(recipe, made) }));
    expect(run.epochs.at(-1)!.pruned).toBeTruthy();
    expect([made, compactedAt]).toEqual([[], []]);
  });

  it('a pruning pass on the smaller network (setMasks) compacts again from the full state', async () => {
    const recipe = ADAM;
    const fullTrainer = start(recipe);
    await fullTrainer.trainEpoch(null, 0.003, 0, {});
    const pruned = await fullTrainer.state();
    pruneToSparsity(pruned.net, [0.995, 0.2, 0], 'layer');
    await fullTrainer.setMasks(pruned.net.masks);
    const made: number[][] = [];
    const compacted = (await CompactTrainer.start(await fullTrainer.state(), recipe, compactOn(recipe, made)))!;
    try {
      const further = await fullTrainer.state();
      pruneToSparsity(further.net, [0.998, 0.6, 0.3], 'layer');
      for (const trainer of [fullTrainer, compacted]) {
        await trainer.trainEpoch(null, 0.003, 0, {});
        await trainer.setMasks(further.net.masks);
        await trainer.trainEpoch(null, 0.002, 0, {});
      }
      expect(made).toHaveLength(2);
      expect(made[1]![1]).toBeLessThan(made[0]![1]!);
      const [a, b] = [await fullTrainer.state(), await compacted.state()];
      expectSameNetwork(a.net, b.net);
      expectSameArrays(a.velocities, b.velocities, 'first moments');
      expectSameArrays(a.secondMoments, b.secondMoments, 'second moments');
    } finally {
      compacted.dispose();
    }
  });

  for (const recipe of [SEED_SMALL, ADAM]) {
    it(`${optimizerOf(recipe).kind}: a run stopped after the compaction resumes from its checkpoint to the full-shape run's end`, async () => {
      const whole = finished(await runTraining(start(recipe), recipe, train.count));
      let asked = 0;
      // 10 batches per epoch and one question at each boundary: the 30th question is in epoch 3, after the pruning pass.
      const stopAt = 30;
      const made: number[][] = [];
      const first = await runTraining(start(recipe), recipe, train.count, {}, { shouldStop: () => ++asked > stopAt, trainers: compactOn(recipe, made) });
      if (first.status !== 'interrupted') throw new Error(`expected an interrupted run, got ${first.status}`);
      expect(made).toHaveLength(1);
      expect(first.checkpoint.epoch).toBe(2);
      expect(first.checkpoint.batch).toBeGreaterThan(0);
      const checkpoint = decodeCheckpoint(encodeCheckpoint(first.checkpoint), 'run.ckpt');
      expect(checkpoint.net.sizes).toEqual(recipe.sizes);
      const resumedMade: number[][] = [];
      const rest = finished(await runTraining(start(recipe, checkpoint), recipe, train.count, {}, { resume: checkpoint, trainers: compactOn(recipe, resumedMade) }));
      expect(resumedMade).toEqual(made);
      expect(table(rest)).toEqual(table(whole));
      expectSameNetwork(whole.net, rest.net);
    });
  }
});

describe('smallerTraining', () => {
  const sizes = [5, 3, 2];
  /** A 5-3-2 state whose masks drop input 1 entirely and every weight into hidden neuron 2. */
  function prunedState() {
    const net = initNetwork(sizes, 7);
    net.masks[0]!.forEach((_, k) => (net.masks[0]![k] = Math.floor(k / 3) === 1 || k % 3 === 2 ? 0 : 1));
    const velocities = net.weights.map((w) => w.map((_, k) => 0.01 * (k + 1)));
    applyMasks(net, velocities);
    return { net, velocities, secondMoments: [], steps: 4 };
  }
  const data: Dataset = { source: 'test', count: 2, features: 5, classes: 2, inputs: Float32Array.from({ length: 10 }, (_, i) => i + 1), labels: Uint8Array.of(0, 1) };

  it('gathers the kept neurons, their optimizer state and the kept input features', () => {
    const state = prunedState();
    const smaller = smallerTraining(state, data)!;
    expect(smaller.net.sizes).toEqual([4, 2, 2]);
    // Inputs 0, 2, 3, 4 of each sample.
    expect([...smaller.train.inputs]).toEqual([1, 3, 4, 5, 6, 8, 9, 10]);
    expect(smaller.train.features).toBe(4);
    // Layer 0's block: rows 0, 2, 3, 4 and columns 0, 1 of the full [5, 3] layer.
    const block = (full: Float32Array) => [0, 2, 3, 4].flatMap((r) => [full[r * 3]!, full[r * 3 + 1]!]);
    expect([...smaller.net.weights[0]!]).toEqual(block(state.net.weights[0]!));
    expect([...smaller.start.velocities![0]!]).toEqual(block(state.velocities[0]!));
    expect(smaller.start.steps).toBe(4);
    // Layer 1 keeps hidden neurons 0 and 1: rows 0 and 1 of the full [3, 2] layer.
    expect([...smaller.net.weights[1]!]).toEqual([...state.net.weights[1]!.subarray(0, 4)]);
  });

  it('is null when the structured step removes nothing', () => {
    const net = initNetwork(sizes, 7);
    expect(smallerTraining({ net, velocities: net.weights.map((w) => new Float32Array(w.length)), secondMoments: [], steps: 0 }, data)).toBeNull();
  });
});
