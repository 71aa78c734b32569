/**
 * The seeded generator of .NET's `System.Random(int seed)`: Knuth's subtractive generator as in
 * .NET Framework's reference source (kept by .NET Core for seeded instances). The seed recipe
 * draws its initial weights from `new Random(1337).NextDouble()`, so using the same generator
 * reproduces the seed's starting network exactly.
 */
export interface DotNetRandomState {
  seedArray: number[];
  inext: number;
  inextp: number;
}

export class DotNetRandom {
  private static readonly MBIG = 2147483647;
  private static readonly MSEED = 161803398;
  private readonly seedArray = new Int32Array(56);
  private inext = 0;
  private inextp = 21;

  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < -2147483648 || seed > 2147483647) {
      throw new RangeError(`seed must be a 32-bit integer, got ${seed}`);
    }
    const MBIG = DotNetRandom.MBIG;
    const a = this.seedArray;
    const subtraction = seed === -2147483648 ? MBIG : Math.abs(seed);
    let mj = DotNetRandom.MSEED - subtraction;
    a[55] = mj;
    let mk = 1;
    for (let i = 1; i < 55; i++) {
      const ii = (21 * i) % 55;
      a[ii] = mk;
      mk = mj - mk;
      if (mk < 0) mk += MBIG;
      mj = a[ii]!;
    }
    for (let k = 1; k < 5; k++) {
      for (let i = 1; i < 56; i++) {
        a[i] = a[i]! - a[1 + ((i + 30) % 55)]!;
        if (a[i]! < 0) a[i] = a[i]! + MBIG;
      }
    }
  }

  /** A uniform integer in [0, 2^31 − 1). */
  nextInt(): number {
    const MBIG = DotNetRandom.MBIG;
    const a = this.seedArray;
    if (++this.inext >= 56) this.inext = 1;
    if (++this.inextp >= 56) this.inextp = 1;
    let value = a[this.inext]! - a[this.inextp]!;
    if (value === MBIG) value--;
    if (value < 0) value += MBIG;
    a[this.inext] = value;
    return value;
  }

  /** Everything that determines the rest of the sequence, for checkpoints. */
  getState(): DotNetRandomState {
    return { seedArray: Array.from(this.seedArray), inext: this.inext, inextp: this.inextp };
  }

  /** Continues the sequence of the generator whose `getState()` gave `state`. */
  static fromState(state: DotNetRandomState): DotNetRandom {
    const { seedArray, inext, inextp } = state;
    const isIndex = (i: unknown): boolean => Number.isInteger(i) && (i as number) >= 0 && (i as number) < 56;
    if (!Array.isArray(seedArray) || seedArray.length !== 56 || !seedArray.every((v) => Number.isInteger(v) && (v | 0) === v)) {
      throw new RangeError('generator state: seedArray must hold 56 32-bit integers');
    }
    if (!isIndex(inext) || !isIndex(inextp)) throw new RangeError('generator state: inext and inextp must be integers in [0, 56)');
    const rng = new DotNetRandom(0);
    rng.seedArray.set(seedArray);
    rng.inext = inext;
    rng.inextp = inextp;
    return rng;
  }

  /** A uniform double in [0, 1), as `Random.NextDouble()`. */
  nextDouble(): number {
    return this.nextInt() * (1 / DotNetRandom.MBIG);
  }
}
