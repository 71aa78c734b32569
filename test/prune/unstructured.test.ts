import { describe, expect, it } from 'vitest';
import { keptPerLayer, zeroNetwork } from '../../src/model/network';
import { gradualTarget } from '../../src/prune/schedule';
import { pruneByThreshold, pruneToSparsity, sparsityOf } from '../../src/prune/unstructured';

function network() {
  const net = zeroNetwork([3, 2, 2]);
  net.weights[0]!.set([0.05, -0.2, 0.3, -0.01, 0.5, 0.09]);
  net.weights[1]!.set([-0.7, 0.02, 0.15, -0.4]);
  return net;
}

describe('pruneByThreshold', () => {
  it('drops w² < t (the seed rule), zeroes the weight, and never revives', () => {
    const net = network();
    const result = pruneByThreshold(net, 0.01); // |w| < 0.1
    expect(result.removed).toEqual([3, 1]);
    expect(result.kept).toEqual([3, 3]);
    expect([...net.masks[0]!]).toEqual([0, 1, 1, 0, 1, 0]);
    expect([...net.weights[0]!].map((x) => Math.fround(x))).toEqual([0, Math.fround(-0.2), Math.fround(0.3), 0, Math.fround(0.5), 0]);
    net.weights[0]![0] = 5; // a pruned slot that somehow got a value is still pruned
    expect(pruneByThreshold(net, 0.01).removed).toEqual([0, 0]);
    expect(net.masks[0]![0]).toBe(0);
  });
});

describe('pruneToSparsity', () => {
  it('global: keeps the largest |w| across layers', () => {
    const net = network();
    pruneToSparsity(net, 0.5);
    expect(keptPerLayer(net)).toEqual([3, 2]); // 0.7, 0.5, 0.4, 0.3, 0.2 kept
    expect(sparsityOf(net)).toBe(0.5);
    expect(net.masks[1]![0]).toBe(1);
    expect(net.masks[0]![1]).toBe(1);
  });

  it('per layer and with a per-layer policy', () => {
    const a = network();
    pruneToSparsity(a, 0.5, 'layer');
    expect(keptPerLayer(a)).toEqual([3, 2]);
    const b = network();
    pruneToSparsity(b, [2 / 3, 0]);
    expect(keptPerLayer(b)).toEqual([2, 4]);
    expect([...b.masks[0]!]).toEqual([0, 0, 1, 0, 1, 0]);
    expect(() => pruneToSparsity(network(), [0.5])).toThrow(/one sparsity per layer/);
    expect(() => pruneToSparsity(network(), 1.5)).toThrow(/\[0, 1\]/);
  });

  it('counts already-pruned weights toward the target', () => {
    const net = network();
    pruneByThreshold(net, 0.01); // 4 of 10 gone
    pruneToSparsity(net, 0.5);
    expect(sparsityOf(net)).toBe(0.5);
  });
});

describe('gradual schedule (Zhu & Gupta)', () => {
  it('follows s_f + (s_i − s_f)(1 − progress)³ between start and end', () => {
    const s = { kind: 'gradual' as const, start: 2, end: 12, every: 2, initialSparsity: 0, sparsity: 0.9, scope: 'global' as const };
    expect(gradualTarget(s, 1)).toBeNull();
    expect(gradualTarget(s, 3)).toBeNull();
    expect(gradualTarget(s, 2)).toBe(0);
    expect(gradualTarget(s, 7)).toBeNull();
    expect(gradualTarget(s, 8)).toBeCloseTo(0.9 - 0.9 * 0.4 ** 3, 12);
    expect(gradualTarget(s, 12)).toBe(0.9);
    expect(gradualTarget(s, 13)).toBeNull();
  });

  it('reaches the final sparsity at the end when the steps do not land on it', () => {
    const s = { kind: 'gradual' as const, start: 2, end: 10, every: 3, initialSparsity: 0, sparsity: 0.95, scope: 'global' as const };
    expect([2, 5, 8, 10].map((e) => gradualTarget(s, e) !== null)).toEqual([true, true, true, true]);
    expect([3, 9, 11].map((e) => gradualTarget(s, e))).toEqual([null, null, null]);
    expect(gradualTarget(s, 10)).toBe(0.95);
  });

  it('a per-layer policy follows the same curve in every layer', () => {
    const s = { kind: 'gradual' as const, start: 0, end: 10, every: 1, initialSparsity: 0, sparsity: [0.96, 0.9, 0.5], scope: 'layer' as const };
    expect(gradualTarget(s, 0)).toEqual([0, 0, 0]);
    const mid = gradualTarget(s, 5) as number[];
    [0.96, 0.9, 0.5].forEach((f, l) => expect(mid[l]).toBeCloseTo(f * (1 - 0.5 ** 3), 12));
    expect(gradualTarget(s, 10)).toEqual([0.96, 0.9, 0.5]);
  });
});
