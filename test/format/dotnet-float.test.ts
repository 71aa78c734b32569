import { describe, expect, it } from 'vitest';
import { formatDotNetFloat, parseDotNetFloat } from '../../src/format/dotnet-float';

describe('formatDotNetFloat matches .NET Core 3.0+ float.ToString() (invariant culture)', () => {
  const table: [number, string][] = [
    [0.1, '0.1'],
    [-0.123456789, '-0.12345679'],
    [1e-5, '1E-05'],
    [3.4028235e38, '3.4028235E+38'],
    [1.17549435e-38, '1.1754944E-38'],
    [1.4e-45, '1E-45'],
    [0.0001, '0.0001'],
    [0.00012345, '0.00012345'],
    [9.99999e-5, '9.99999E-05'],
    [123.456, '123.456'],
    [0, '0'],
    [-0, '-0'],
    [1, '1'],
    [-60, '-60'],
    [100, '100'],
    [1 / 3, '0.33333334'],
    [16777216, '16777216'],
    [1e8, '100000000'],
    [123456789, '123456790'],
    [1e9, '1E+09'],
    [1.5e10, '1.5E+10'],
    // Values from the seed's saved weights file (figures/weights_file.png).
    [0.14491808, '0.14491808'],
    [-0.2170713, '-0.2170713'],
    [0.0037288102, '0.0037288102'],
    // Exact ties between two shortest candidates go to the even digit.
    [2 ** -12, '0.00024414062'],
    [224.453125, '224.45312'],
  ];
  it.each(table)('%s → %s', (value, text) => {
    expect(formatDotNetFloat(value)).toBe(text);
  });

  it('round-trips every float it prints', () => {
    const bits = new Uint32Array(1);
    const float = new Float32Array(bits.buffer);
    let state = 1;
    for (let k = 0; k < 20000; k++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      bits[0] = state;
      if (!Number.isFinite(float[0]!)) continue;
      expect(Object.is(parseDotNetFloat(formatDotNetFloat(float[0]!)), float[0]!)).toBe(true);
    }
  });
});

describe('parseDotNetFloat', () => {
  it('accepts what float.Parse accepts and rounds to float32', () => {
    expect(parseDotNetFloat('0.1')).toBe(Math.fround(0.1));
    expect(parseDotNetFloat(' -1E-05 ')).toBe(Math.fround(-1e-5));
    expect(parseDotNetFloat('+.5')).toBe(0.5);
    expect(parseDotNetFloat('3.')).toBe(3);
    expect(Object.is(parseDotNetFloat('-0'), -0)).toBe(true);
    expect(parseDotNetFloat('1e50')).toBe(Infinity);
    expect(parseDotNetFloat('NaN')).toBeNaN();
  });

  it('rejects what is not a number', () => {
    for (const text of ['', 'abc', '1,5', '0x10', '1e', '--1', '.']) expect(parseDotNetFloat(text)).toBeUndefined();
  });
});
