/**
 * The safetensors reader on mutated files, in our layout and PyTorch's: header length, dtypes,
 * shapes, data offsets, metadata sizes and input sizes, tensor names, CSR arrays, the features a
 * compact network reads, biases (ours and PyTorch's) and values, and raw bytes. Every input is read as
 * the CLI reads it (`detectAndParseModel`): a valid network that writes and reads back the
 * same, or one `UserError` line.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { encodeSafetensors } from '../../src/format/safetensors';
import { initNetwork, type Network } from '../../src/model/network';
import { selectInputs } from '../../src/prune/structured';
import { prunedNetwork, randomBiasedNetwork } from '../helpers/fixtures';
import {
  applyByteMutation,
  byteMutation,
  concat,
  edgeInteger,
  checkNetworkFile,
  FUZZ_RUNS,
  fuzz,
  type ByteMutation,
} from './mutate';

const withVelocities = initNetwork([3, 2], 4);
const BASES = [
  encodeSafetensors(prunedNetwork([6, 5, 3], 3, 0.05), { layout: 'csr' }),
  encodeSafetensors(prunedNetwork([6, 5, 3], 3, 0.05), { layout: 'dense' }),
  encodeSafetensors(prunedNetwork([8, 6, 4], 2, 0.02), { layout: 'auto', metadata: { note: 'a' } }),
  encodeSafetensors(prunedNetwork([3, 2, 2], 1, 1), { layout: 'csr' }),
  encodeSafetensors(initNetwork([4, 3, 2], 1)),
  encodeSafetensors(withVelocities, {
    trainingTensors: [{ name: 'train.velocities.0', dtype: 'F32', shape: [3, 2], data: withVelocities.weights[0]!.map((w) => w / 2) }],
  }),
  encodeSafetensors(prunedNetwork([6, 5, 3], 3, 0.05), { layout: 'torch' }),
  encodeSafetensors(initNetwork([4, 3, 2, 2], 1), { layout: 'torch', metadata: { note: 'a' } }),
  torchWithZeroBiases(prunedNetwork([5, 4, 3], 2, 0.02)),
  // Compact networks: `inputs.indices` names the features the first layer reads.
  encodeSafetensors(selectInputs(prunedNetwork([9, 5, 3], 3, 0.05), Int32Array.of(0, 2, 3, 7)), { layout: 'csr' }),
  encodeSafetensors(selectInputs(initNetwork([6, 3, 2], 2), Int32Array.of(1, 5)), { layout: 'dense', metadata: { note: 'a' } }),
  // Networks with biases: `layers.{l}.bias` beside dense and CSR layers, `{2l}.bias` in the torch layout.
  encodeSafetensors(randomBiasedNetwork([6, 5, 3], 5, 0.4), { layout: 'csr' }),
  encodeSafetensors(randomBiasedNetwork([5, 4, 3, 2], 6, 0.7), { layout: 'dense' }),
  encodeSafetensors(randomBiasedNetwork([6, 5, 3], 7, 0.5), { layout: 'torch' }),
  encodeSafetensors({ net: randomBiasedNetwork([3, 4, 2], 8, 0.6), inputIndices: Int32Array.of(0, 4, 6), inputSize: 7 }, { layout: 'auto' }),
];

/** As PyTorch saves an nn.Sequential whose biases are all zero: `N.bias` beside each `N.weight`, no metadata. */
function torchWithZeroBiases(net: Network): Uint8Array {
  const parts = split(encodeSafetensors(net, { layout: 'torch' }));
  delete parts.header['__metadata__'];
  let offset = parts.data.length;
  for (let l = 0; l + 1 < net.sizes.length; l++) {
    const out = net.sizes[l + 1]!;
    parts.header[`${2 * l}.bias`] = { dtype: 'F32', shape: [out], data_offsets: [offset, offset + 4 * out] };
    offset += 4 * out;
  }
  return join({ header: parts.header, data: concat(parts.data, new Uint8Array(offset - parts.data.length)) });
}

interface Parts {
  header: Record<string, Record<string, unknown>>;
  data: Uint8Array;
  /** Overrides the header length written in the first 8 bytes. */
  headerLength?: bigint;
}

function split(bytes: Uint8Array): Parts {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))) as Parts['header'];
  return { header, data: bytes.slice(8 + length) };
}

function join({ header, data, headerLength }: Parts): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, headerLength ?? BigInt(json.length), true);
  return concat(prefix, json, data);
}

type HeaderMutation =
  | { kind: 'headerLength'; value: bigint }
  | { kind: 'dtype'; tensor: number; value: unknown }
  | { kind: 'shape'; tensor: number; value: unknown }
  | { kind: 'dim'; tensor: number; dim: number; value: number }
  | { kind: 'offset'; tensor: number; end: boolean; delta: number }
  | { kind: 'offsets'; tensor: number; value: unknown }
  | { kind: 'metadata'; key: string; value: unknown }
  | { kind: 'drop'; tensor: number }
  | { kind: 'rename'; tensor: number; name: string }
  | { kind: 'int32'; tensor: number; element: number; value: number }
  | { kind: 'float32'; tensor: number; element: number; value: number };

const TENSOR_NAMES = [
  'layers.0.weight', 'layers.0.mask', 'layers.0.indptr', 'layers.0.indices', 'layers.0.values', 'layers.1.weight', 'layers.1.indptr',
  'layers.2.weight', 'layers.-1.weight', 'layers.0.bias', 'layers.1.bias', 'layers.2.bias', 'train.x', 'inputs.indices', 'inputs.x', '0.weight', '0.bias', '1.weight', '2.weight', '2.bias', '4.weight', '02.weight',
  '3.running_mean', '__metadata__', '__proto__', 'constructor', 'layers.0.weight\n\x1b[2J',
];

const sizesText = (): fc.Arbitrary<string> =>
  fc.oneof(fc.array(edgeInteger(), { minLength: 0, maxLength: 5 }).map((s) => s.join(',')), fc.string({ maxLength: 8 }));

const headerMutation = (): fc.Arbitrary<HeaderMutation> =>
  fc.oneof(
    fc.record({
      kind: fc.constant('headerLength' as const),
      value: fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.integer({ min: 0, max: 2000 }).map(BigInt)),
    }),
    fc.record({ kind: fc.constant('dtype' as const), tensor: fc.nat(), value: fc.constantFrom('F32', 'I32', 'U8', 'F16', 'F64', 'f32', 7, null) }),
    fc.record({
      kind: fc.constant('shape' as const),
      tensor: fc.nat(),
      value: fc.oneof(fc.array(edgeInteger(), { maxLength: 4 }), fc.constantFrom(null, 3, '3', [1.5], [[2]])),
    }),
    fc.record({ kind: fc.constant('dim' as const), tensor: fc.nat(), dim: fc.nat(), value: edgeInteger() }),
    fc.record({ kind: fc.constant('offset' as const), tensor: fc.nat(), end: fc.boolean(), delta: fc.integer({ min: -9, max: 9 }) }),
    fc.record({
      kind: fc.constant('offsets' as const),
      tensor: fc.nat(),
      value: fc.oneof(fc.tuple(edgeInteger(), edgeInteger()), fc.constantFrom(null, [0], [0, 4, 8], ['0', '4'], [0.5, 4])),
    }),
    fc.record({
      kind: fc.constant('metadata' as const),
      key: fc.constantFrom('sizes', 'format', 'inputSize', 'note', '__proto__', 'k\x1b'),
      value: fc.oneof(sizesText(), fc.constantFrom(5, null, {}, ['784']) as fc.Arbitrary<unknown>),
    }),
    fc.record({ kind: fc.constant('drop' as const), tensor: fc.nat() }),
    fc.record({ kind: fc.constant('rename' as const), tensor: fc.nat(), name: fc.constantFrom(...TENSOR_NAMES) }),
    fc.record({ kind: fc.constant('int32' as const), tensor: fc.nat(), element: fc.nat(), value: edgeInteger() }),
    fc.record({
      kind: fc.constant('float32' as const),
      tensor: fc.nat(),
      element: fc.nat(),
      value: fc.constantFrom(NaN, Infinity, -Infinity, -0, 3.4e38, 1e-45),
    }),
  );

function applyHeaderMutation(parts: Parts, m: HeaderMutation): Parts {
  if (m.kind === 'headerLength') return { ...parts, headerLength: m.value };
  const header = structuredClone(parts.header);
  if (m.kind === 'metadata') {
    const metadata = (header['__metadata__'] ??= {});
    Object.defineProperty(metadata, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
    return { ...parts, header };
  }
  const names = Object.keys(header).filter((n) => n !== '__metadata__').sort();
  if (names.length === 0) return parts;
  const name = names[m.tensor % names.length]!;
  const entry = header[name]!;
  const offsets = entry['data_offsets'];
  const validOffsets = Array.isArray(offsets) && offsets.length === 2 && offsets.every(Number.isSafeInteger) ? (offsets as number[]) : undefined;
  const data = parts.data.slice();
  const view = new DataView(data.buffer);
  /** Byte position of element `element` (modulo the tensor's size) of a 4-byte tensor, or undefined if it has none. */
  const at = (element: number) => {
    if (!validOffsets || validOffsets[0]! < 0 || validOffsets[1]! > data.length) return undefined;
    const count = Math.floor((validOffsets[1]! - validOffsets[0]!) / 4);
    return count > 0 ? validOffsets[0]! + 4 * (element % count) : undefined;
  };
  switch (m.kind) {
    case 'dtype':
      entry['dtype'] = m.value;
      break;
    case 'shape':
      entry['shape'] = m.value;
      break;
    case 'dim': {
      const shape = entry['shape'];
      if (Array.isArray(shape) && shape.length > 0) shape[m.dim % shape.length] = m.value;
      break;
    }
    case 'offset':
      if (validOffsets) validOffsets[m.end ? 1 : 0]! += m.delta;
      break;
    case 'offsets':
      entry['data_offsets'] = m.value;
      break;
    case 'drop':
      delete header[name];
      break;
    case 'rename':
      delete header[name];
      Object.defineProperty(header, m.name, { value: entry, enumerable: true, writable: true, configurable: true });
      break;
    case 'int32': {
      const byte = at(m.element);
      if (byte !== undefined) view.setInt32(byte, m.value, true);
      break;
    }
    case 'float32': {
      const byte = at(m.element);
      if (byte !== undefined) view.setFloat32(byte, m.value, true);
      break;
    }
  }
  return { ...parts, header, data };
}

function mutated(base: Uint8Array, headerMutations: HeaderMutation[], byteMutations: ByteMutation[]): Uint8Array {
  const bytes = headerMutations.length === 0 ? base : join(headerMutations.reduce(applyHeaderMutation, split(base)));
  return byteMutations.reduce(applyByteMutation, bytes);
}

/** Inputs the fuzzer found failing, as it printed them: base, header mutations, byte mutations. */
const REGRESSIONS: [string, number, HeaderMutation[], ByteMutation[]][] = [
  ['metadata sizes of 1e8 weights for a 6-5-3 file, allocated before the shapes were checked', 0, [{ kind: 'metadata', key: 'sizes', value: '100000000,1' }], []],
  ['metadata sizes 39,65535 for a 6-5-3 file', 0, [{ kind: 'metadata', key: 'sizes', value: '39,65535' }], []],
  ['a metadata key with an escape character, quoted raw', 0, [{ kind: 'metadata', key: 'k\x1b', value: 5 }], []],
  [
    'a tensor name with a newline and an escape sequence, quoted raw',
    0,
    [{ kind: 'rename', tensor: 347774802, name: 'layers.0.weight\n\x1b[2J' }, { kind: 'dim', tensor: 1811689748, dim: 0, value: 0 }],
    [],
  ],
  ['a NUL byte in the header, quoted raw by the JSON error', 1, [], [{ kind: 'set', at: 215029638, value: 0 }]],
];

describe('safetensors reader, fuzzed', () => {
  it.each(REGRESSIONS)('regression: %s', (_, base, headerMutations, byteMutations) => {
    checkNetworkFile(mutated(BASES[base]!, headerMutations, byteMutations), 'fuzz.safetensors');
  });

  it(`reads ${FUZZ_RUNS} mutated files into valid networks or one UserError line, within the allocation bound`, () => {
    const inputs = fc.tuple(fc.integer({ min: 0, max: BASES.length - 1 }), fc.array(headerMutation(), { maxLength: 3 }), fc.array(byteMutation(), { maxLength: 2 }));
    fuzz(inputs, ([base, headerMutations, byteMutations]) => checkNetworkFile(mutated(BASES[base]!, headerMutations, byteMutations), 'fuzz.safetensors'));
  });
});
