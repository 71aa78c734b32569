/**
 * float32 ↔ text exactly as .NET Core 3.0+ does it with the invariant culture, so that files
 * we write are byte-identical to the seed's (`float.ToString()`, `float.Parse`).
 */

/**
 * `float.ToString()` of .NET Core 3.0+: the shortest decimal that parses back to the same
 * float32, laid out by the "G" format. "G" switches to scientific notation when the decimal
 * point would sit more than 3 places left of the first digit (0.0001 → `0.0001`, 0.00001 →
 * `1E-05`) or further right than max(digit count, 9) places (.NET's `SinglePrecision`), so
 * 1e8 → `100000000` and 1e9 → `1E+09`. Negative zero keeps its sign (`-0`).
 */
export function formatDotNetFloat(value: number): string {
  const x = Math.fround(value);
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  const sign = x < 0 || Object.is(x, -0) ? '-' : '';
  if (x === 0) return `${sign}0`;
  const { digits, scale } = shortestDigits(Math.abs(x));
  return sign + layoutGeneral(digits, scale);
}

/**
 * Parses a float the way .NET's `float.Parse` with the invariant culture accepts it (optional
 * sign, digits with an optional `.` part, optional exponent, surrounding white space) and rounds
 * it to float32. Returns undefined when the text is not a number.
 */
export function parseDotNetFloat(text: string): number | undefined {
  const trimmed = text.trim();
  if (!DECIMAL.test(trimmed)) return SPECIAL_VALUES.get(trimmed);
  return Math.fround(Number(trimmed));
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

const SPECIAL_VALUES = new Map<string, number>([
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['+Infinity', Infinity],
  ['-Infinity', -Infinity],
  ['∞', Infinity],
  ['-∞', -Infinity],
]);

/**
 * The shortest significant digits (no trailing zeros) of a positive finite float32 and the
 * position of the decimal point: value = 0.d1d2…dn × 10^scale. Of the shortest decimals that
 * round-trip, the one nearest the value wins, and an exact tie goes to the even last digit, as
 * in .NET's Dragon4.
 */
function shortestDigits(x: number): { digits: string; scale: number } {
  for (let precision = 1; precision <= 9; precision++) {
    const [mantissa, exponentText] = x.toExponential(precision - 1).split('e') as [string, string];
    const rounded = BigInt(mantissa.replace('.', ''));
    const exponent = Number(exponentText) - (precision - 1);
    // The neighbours of the rounded candidate matter at a power of two, where the round-trip
    // interval is narrower below the value than above it, and on exact ties, which
    // `toExponential` breaks upwards.
    const roundTrips = [rounded - 1n, rounded, rounded + 1n].filter(
      (candidate) => candidate > 0n && Math.fround(Number(`${candidate}e${exponent}`)) === x,
    );
    let best = roundTrips[0];
    if (roundTrips.length > 1) {
      let bestDistance = scaledDistance(x, best!, exponent);
      for (const candidate of roundTrips.slice(1)) {
        const distance = scaledDistance(x, candidate, exponent);
        if (distance < bestDistance || (distance === bestDistance && candidate % 2n === 0n)) {
          best = candidate;
          bestDistance = distance;
        }
      }
    }
    if (best !== undefined) {
      const text = best.toString();
      return { digits: text.replace(/0+$/, ''), scale: exponent + text.length };
    }
  }
  throw new Error(`no 9-digit decimal round-trips ${x}`);
}

/**
 * |x − candidate × 10^exponent| times a positive factor that depends only on x and exponent,
 * so distances of candidates with the same exponent compare exactly.
 */
function scaledDistance(x: number, candidate: bigint, exponent: number): bigint {
  const bits = new Uint32Array(new Float32Array([x]).buffer)[0]!;
  const biasedExponent = (bits >>> 23) & 0xff;
  const fraction = BigInt(bits & 0x7fffff);
  const significand = biasedExponent === 0 ? fraction : fraction | 0x800000n;
  const binaryExponent = (biasedExponent === 0 ? 1 : biasedExponent) - 150;
  const twos = Math.max(0, -binaryExponent);
  const tens = Math.max(0, -exponent);
  const scaledX = significand * 2n ** BigInt(binaryExponent + twos) * 10n ** BigInt(tens);
  const scaledCandidate = candidate * 10n ** BigInt(exponent + tens) * 2n ** BigInt(twos);
  const difference = scaledX - scaledCandidate;
  return difference < 0n ? -difference : difference;
}

function layoutGeneral(digits: string, scale: number): string {
  const maxIntegerDigits = Math.max(digits.length, 9);
  if (scale > maxIntegerDigits || scale < -3) {
    const fraction = digits.length > 1 ? `.${digits.slice(1)}` : '';
    const exponent = scale - 1;
    const exponentDigits = String(Math.abs(exponent)).padStart(2, '0');
    return `${digits[0]}${fraction}E${exponent < 0 ? '-' : '+'}${exponentDigits}`;
  }
  if (scale <= 0) return `0.${'0'.repeat(-scale)}${digits}`;
  if (scale >= digits.length) return digits + '0'.repeat(scale - digits.length);
  return `${digits.slice(0, scale)}.${digits.slice(scale)}`;
}
