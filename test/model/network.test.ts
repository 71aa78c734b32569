import { describe, expect, it } from 'vitest';
import { DotNetRandom } from '../../src/model/dotnet-random';
import { initNetwork, keptPerLayer, totalWeights } from '../../src/model/network';

describe('DotNetRandom', () => {
  it('produces the first outputs of .NET System.Random(seed).Next()', () => {
    // Widely quoted values of `new Random(0).Next()` and `new Random(1).Next()` on .NET.
    expect(new DotNetRandom(0).nextInt()).toBe(1559595546);
    expect(new DotNetRandom(1).nextInt()).toBe(534011718);
  });

  it('treats negative seeds by absolute value and rejects non-integers', () => {
    const a = new DotNetRandom(-7);
    const b = new DotNetRandom(7);
    expect([a.nextInt(), a.nextInt()]).toEqual([b.nextInt(), b.nextInt()]);
    expect(() => new DotNetRandom(1.5)).toThrow(/32-bit integer/);
  });

  it('nextDouble stays in [0, 1)', () => {
    const r = new DotNetRandom(1337);
    for (let i = 0; i < 10_000; i++) {
      const x = r.nextDouble();
      expect(x >= 0 && x < 1).toBe(true);
    }
  });
});

describe('initNetwork', () => {
  it('draws uniform weights in [-sd/2, sd/2) with sd = sqrt(6 / (in + out)), all kept', () => {
    const net = initNetwork([784, 100, 100, 10], 1337);
    expect(totalWeights(net.sizes)).toBe(89_400);
    expect(keptPerLayer(net)).toEqual([78_400, 10_000, 1_000]);
    net.weights.forEach((w, l) => {
      const half = Math.sqrt(6 / (net.sizes[l]! + net.sizes[l + 1]!)) / 2;
      let min = Infinity;
      let max = -Infinity;
      for (const x of w) {
        min = Math.min(min, x);
        max = Math.max(max, x);
      }
      expect(min).toBeGreaterThanOrEqual(-half - 1e-7);
      expect(max).toBeLessThan(half);
      expect(max - min).toBeGreaterThan(1.9 * half);
    });
  });

  it('is the seed generator in row-major [in, out] order', () => {
    const net = initNetwork([3, 2, 2], 42);
    const rng = new DotNetRandom(42);
    const sd0 = Math.fround(Math.sqrt(Math.fround(6 / 5)));
    const first = Math.fround(Math.fround(Math.fround(rng.nextDouble()) * sd0) - Math.fround(sd0 * 0.5));
    expect(net.weights[0]![0]).toBe(first);
    expect(initNetwork([3, 2, 2], 42).weights).toEqual(net.weights);
    expect(initNetwork([3, 2, 2], 43).weights[0]).not.toEqual(net.weights[0]);
  });
});
