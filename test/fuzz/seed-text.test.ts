/**
 * The seed's text reader on mutated files: sizes lines, fields, whole lines, line endings and
 * raw bytes. Every input is read as the CLI reads it (`detectAndParseModel`): a valid network
 * that writes and reads back the same, or one `UserError` line.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { formatSeedText } from '../../src/format/seed-text';
import { initNetwork } from '../../src/model/network';
import { prunedNetwork } from '../helpers/fixtures';
import {
  applyByteMutation,
  byteMutation,
  edgeInteger,
  EDGE_INTEGERS,
  checkNetworkFile,
  FUZZ_RUNS,
  fuzz,
  type ByteMutation,
} from './mutate';

const BASES = [
  formatSeedText(prunedNetwork([6, 5, 3], 3, 0.05)),
  formatSeedText(prunedNetwork([4, 3, 3, 2], 5, 0.02), { lineEnding: '\n' }),
  formatSeedText(prunedNetwork([3, 2, 1], 1, 1)),
  formatSeedText(initNetwork([2, 3], 9)),
];

type TextMutation =
  | { kind: 'sizes'; sizes: number[] }
  | { kind: 'line'; line: number; fields: string[] }
  | { kind: 'field'; line: number; field: number; text: string }
  | { kind: 'drop'; line: number }
  | { kind: 'duplicate'; line: number }
  | { kind: 'swap'; a: number; b: number }
  | { kind: 'endings'; eol: string }
  | { kind: 'bom' };

const FIELD_TEXTS = [
  '0', '-0', '+3', ' 3 ', '3.0', '0x10', '1E+38', '3.4028235E+38', '3.5E+38', '1E-46', 'NaN', 'Infinity', '-Infinity', '', '-', '.',
  'e5', '1e', '９', '\x1b[2J', '\u202e', '99999999999999999999999', ...EDGE_INTEGERS.map(String),
];

const fieldText = (): fc.Arbitrary<string> =>
  fc.oneof(fc.constantFrom(...FIELD_TEXTS), edgeInteger().map(String), fc.double().map(String), fc.string({ maxLength: 6 }));

const textMutation = (): fc.Arbitrary<TextMutation> =>
  fc.oneof(
    fc.record({ kind: fc.constant('sizes' as const), sizes: fc.array(edgeInteger(), { minLength: 1, maxLength: 5 }) }),
    fc.record({ kind: fc.constant('line' as const), line: fc.nat(), fields: fc.array(fieldText(), { maxLength: 4 }) }),
    fc.record({ kind: fc.constant('field' as const), line: fc.nat(), field: fc.nat(), text: fieldText() }),
    fc.record({ kind: fc.constant('drop' as const), line: fc.nat() }),
    fc.record({ kind: fc.constant('duplicate' as const), line: fc.nat() }),
    fc.record({ kind: fc.constant('swap' as const), a: fc.nat(), b: fc.nat() }),
    fc.record({ kind: fc.constant('endings' as const), eol: fc.constantFrom('\r\n', '\n', '\r', '\n\n', ' ') }),
    fc.record({ kind: fc.constant('bom' as const) }),
  );

function applyTextMutation(text: string, m: TextMutation): string {
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const lines = text.split(eol);
  const at = (n: number) => n % lines.length;
  switch (m.kind) {
    case 'sizes':
      lines[0] = m.sizes.join(',');
      break;
    case 'line':
      lines[at(m.line)] = m.fields.join(',');
      break;
    case 'field': {
      const fields = lines[at(m.line)]!.split(',');
      fields[m.field % fields.length] = m.text;
      lines[at(m.line)] = fields.join(',');
      break;
    }
    case 'drop':
      lines.splice(at(m.line), 1);
      break;
    case 'duplicate':
      lines.splice(at(m.line), 0, lines[at(m.line)]!);
      break;
    case 'swap': {
      const [a, b] = [at(m.a), at(m.b)];
      [lines[a], lines[b]] = [lines[b]!, lines[a]!];
      break;
    }
    case 'endings':
      return lines.join(m.eol);
    case 'bom':
      return `\uFEFF${text}`;
  }
  return lines.join(eol);
}

function mutated(base: string, textMutations: TextMutation[], byteMutations: ByteMutation[]): Uint8Array {
  const text = textMutations.reduce(applyTextMutation, base);
  return byteMutations.reduce(applyByteMutation, new TextEncoder().encode(text));
}

/** Inputs the fuzzer found failing, as it printed them: base, text mutations, byte mutations. */
const REGRESSIONS: [string, number, TextMutation[], ByteMutation[]][] = [
  ['a NUL byte in the sizes line, quoted raw in the message', 0, [], [{ kind: 'set', at: 1, value: 0 }]],
  ['an escape sequence in a weight, quoted raw in the message', 0, [{ kind: 'line', line: 12, fields: ['\x1b[2J'] }], []],
  ['a size of 2^53 - 1 on the last layer, allocated before any check', 3, [{ kind: 'field', line: 0, field: 1128438717, text: '9007199254740991' }], []],
  ['2e9 outputs from a file of a few bytes', 3, [{ kind: 'sizes', sizes: [2, 2_000_000_000] }], []],
];

describe('seed text reader, fuzzed', () => {
  it.each(REGRESSIONS)('regression: %s', (_, base, textMutations, byteMutations) => {
    checkNetworkFile(mutated(BASES[base]!, textMutations, byteMutations), 'fuzz.txt');
  });

  it(`reads ${FUZZ_RUNS} mutated files into valid networks or one UserError line, within the allocation bound`, () => {
    const inputs = fc.tuple(fc.integer({ min: 0, max: BASES.length - 1 }), fc.array(textMutation(), { maxLength: 4 }), fc.array(byteMutation(), { maxLength: 2 }));
    fuzz(inputs, ([base, textMutations, byteMutations]) => checkNetworkFile(mutated(BASES[base]!, textMutations, byteMutations), 'fuzz.txt'));
  });
});
