/**
 * The learning-rate schedules, and the reference update rules (src/cpu/optimizers.ts) on steps
 * small enough to work out by hand.
 */
import { describe, expect, it } from 'vitest';
import { optimizerStep, type StepConstants } from '../../src/cpu/optimizers';
import { epochRates, optimizerProblem } from '../../src/train/optimizer';
import { SEED_RECIPE, type Recipe } from '../../src/train/recipe';

describe('epochRates', () => {
  it('seed-decay (the default) multiplies lr and momentum by the factor once per epoch in float32, from the recipe values', () => {
    const rates = [0, 1, 2, 3].map((e) => epochRates(SEED_RECIPE, e));
    expect(rates[0]).toEqual({ learningRate: 0.0005, momentum: 0.67 });
    const f = Math.fround;
    expect(rates[3]).toEqual({
      learningRate: f(f(f(0.0005 * 0.99) * 0.99) * 0.99),
      momentum: f(f(f(0.67 * 0.99) * 0.99) * 0.99),
    });
  });

  it('constant keeps lr and momentum; cosine falls from lr along half a cosine after the warm-up, which ramps up linearly', () => {
    const recipe: Recipe = { ...SEED_RECIPE, optimizer: 'momentum', learningRate: 0.1, momentum: 0.9, epochs: 6 };
    expect(epochRates({ ...recipe, lrSchedule: 'constant' }, 5)).toEqual({ learningRate: 0.1, momentum: 0.9 });
    const cosine = { ...recipe, lrSchedule: 'cosine' as const, warmup: 2 };
    const lr = [0, 1, 2, 3, 4, 5].map((e) => epochRates(cosine, e).learningRate);
    expect(lr[0]).toBeCloseTo(0.1 / 3, 15);
    expect(lr[1]).toBeCloseTo(0.2 / 3, 15);
    // The four epochs after the warm-up: cos(0), cos(π/4), cos(π/2), cos(3π/4).
    expect(lr.slice(2)).toEqual([0.1, 0.05 * (1 + Math.SQRT1_2), 0.05, 0.05 * (1 - Math.SQRT1_2)].map((v) => expect.closeTo(v, 15)));
    expect(epochRates(cosine, 4).momentum).toBe(0.9);
    // A rule other than the seed's defaults to cosine.
    expect(epochRates(recipe, 3).learningRate).toBeCloseTo(0.05, 15);
  });

  it('a recipe file with a bad rule or constant is refused', () => {
    expect(optimizerProblem(SEED_RECIPE)).toBeNull();
    expect(optimizerProblem({ ...SEED_RECIPE, warmup: 50 })).toMatch(/warmup is 50/);
    expect(optimizerProblem({ ...SEED_RECIPE, eps: 0 })).toMatch(/eps is 0/);
    expect(optimizerProblem({ ...SEED_RECIPE, lrSchedule: 'step' as never })).toMatch(/lrSchedule "step"/);
  });
});

describe('optimizerStep (reference update rules)', () => {
  const constants: StepConstants = { lr: 0.1, momentum: 0.5, weightDecay: 0.2, beta1: 0.9, beta2: 0.999, eps: 1e-8, batch: 4, step: 1 };
  /** Two live weights and a pruned one; the sums give mean loss gradients −1 and +0.5. */
  const layer = () => ({
    w: Float32Array.of(1, -2, 0),
    gradientSum: Float32Array.of(4, -2, 7),
    mask: Uint8Array.of(1, 1, 0),
    first: Float32Array.of(0.5, 0, 0),
    second: Float32Array.of(0, 0, 0),
  });

  it('sgd: w −= lr·(∇ + wd·w), and the gradient sums are consumed', () => {
    const l = layer();
    optimizerStep('sgd', l, constants);
    expect(Array.from(l.w)).toEqual([1 - 0.1 * (-1 + 0.2), -2 - 0.1 * (0.5 - 0.4), 0].map(Math.fround));
    expect(Array.from(l.gradientSum)).toEqual([0, 0, 0]);
  });

  it('momentum: b = μ·b + ∇ + wd·w, w −= lr·b', () => {
    const l = layer();
    optimizerStep('momentum', l, constants);
    const b = [0.5 * 0.5 + (-1 + 0.2), 0.5 - 0.4];
    expect(Array.from(l.first)).toEqual([...b, 0].map(Math.fround));
    expect(Array.from(l.w)).toEqual([1 - 0.1 * b[0]!, -2 - 0.1 * b[1]!, 0].map(Math.fround));
  });

  it("adam's first step moves each weight by lr against the sign of its gradient; adamw decays first", () => {
    const adam = { ...layer(), first: new Float32Array(3) };
    optimizerStep('adam', adam, { ...constants, weightDecay: 0 });
    expect(adam.w[0]).toBeCloseTo(1.1, 6);
    expect(adam.w[1]).toBeCloseTo(-2.1, 6);
    expect(Array.from(adam.second)).toEqual([0.001 * 1, 0.001 * 0.25, 0].map(Math.fround));
    const adamw = { ...layer(), first: new Float32Array(3) };
    optimizerStep('adamw', adamw, constants);
    expect(adamw.w[0]).toBeCloseTo(1 * (1 - 0.02) + 0.1, 6);
    expect(adamw.w[1]).toBeCloseTo(-2 * (1 - 0.02) - 0.1, 6);
  });

  it('a pruned weight and all its state end exactly 0, whatever was there', () => {
    for (const kind of ['sgd', 'momentum', 'adam', 'adamw'] as const) {
      const l = { ...layer(), w: Float32Array.of(1, -2, NaN), first: Float32Array.of(0, 0, NaN), second: Float32Array.of(0, 0, NaN) };
      optimizerStep(kind, l, constants);
      const pruned = [l.w[2], l.gradientSum[2], ...(kind === 'sgd' ? [] : [l.first[2]]), ...(kind.startsWith('adam') ? [l.second[2]] : [])];
      expect(pruned, kind).toEqual(pruned.map(() => 0));
    }
  });
});
