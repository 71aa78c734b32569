import { describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors } from '../../src/format/safetensors';
import { applyMasks, initNetwork, type Network } from '../../src/model/network';
import { UserError } from '../../src/util/errors';
import { withAllocationLimit } from '../fuzz/allocation';
import { prunedNetwork, randomBiasedNetwork } from '../helpers/fixtures';

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** The file split the way Python's safetensors reads it. */
function splitFile(bytes: Uint8Array): { headerLength: number; header: Record<string, unknown>; data: Uint8Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<string, unknown>;
  return { headerLength, header, data: bytes.subarray(8 + headerLength) };
}

function buildFile(header: Record<string, unknown>, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const bytes = new Uint8Array(8 + json.length + data.length);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
  bytes.set(json, 8);
  bytes.set(data, 8 + json.length);
  return bytes;
}

function expectSameNetwork(actual: Network, expected: Network): void {
  expect(actual.sizes).toEqual(expected.sizes);
  actual.weights.forEach((w, l) => {
    expect(w).toEqual(expected.weights[l]);
    expect(actual.masks[l]).toEqual(expected.masks[l]);
  });
  expect(actual.biases).toEqual(expected.biases);
}

function messageOf(bytes: Uint8Array): string {
  try {
    decodeSafetensors(bytes, 'net.safetensors');
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).not.toContain('\n');
    return (error as Error).message;
  }
  throw new Error('expected a UserError');
}

/** A small valid CSR file, its header edited by `edit`. */
function editedFile(edit: (header: Record<string, HeaderEntry | Record<string, string>>, data: Uint8Array) => Uint8Array | void): Uint8Array {
  const net = prunedNetwork([6, 5, 3], 3, 0.05);
  const { header, data } = splitFile(encodeSafetensors(net, { layout: 'csr' }));
  const copy = data.slice();
  const replaced = edit(header as Record<string, HeaderEntry | Record<string, string>>, copy);
  return buildFile(header, replaced ?? copy);
}

describe('safetensors round trip', () => {
  it('dense, every weight kept: no mask tensor', () => {
    const net = initNetwork([784, 100, 100, 10], 1);
    const bytes = encodeSafetensors(net, { layout: 'auto' });
    const { header } = splitFile(bytes);
    expect(Object.keys(header).sort()).toEqual(['__metadata__', 'layers.0.weight', 'layers.1.weight', 'layers.2.weight']);
    const { net: back, metadata } = decodeSafetensors(bytes, 'a');
    expectSameNetwork(back, net);
    expect(back.biases).toBeUndefined();
    expect(metadata).toEqual({ format: 'webgpu-prune', sizes: '784,100,100,10' });
  });

  it('dense with pruned weights stores the mask', () => {
    const net = prunedNetwork([784, 100, 100, 10], 2, 0.01);
    const bytes = encodeSafetensors(net, { layout: 'dense', metadata: { recipe: '{"epochs":50}', sparsity: '0.907' } });
    const { header } = splitFile(bytes);
    expect(header['layers.1.mask']).toMatchObject({ dtype: 'U8', shape: [100, 100] });
    const { net: back, metadata } = decodeSafetensors(bytes, 'a');
    expectSameNetwork(back, net);
    expect(metadata).toEqual({ format: 'webgpu-prune', sizes: '784,100,100,10', recipe: '{"epochs":50}', sparsity: '0.907' });
  });

  it('CSR by output neuron', () => {
    const net = prunedNetwork([784, 100, 100, 10], 3, 0.01);
    const bytes = encodeSafetensors(net, { layout: 'csr' });
    const { header } = splitFile(bytes);
    expect(header['layers.0.indptr']).toMatchObject({ dtype: 'I32', shape: [101] });
    expect(header['layers.0.weight']).toBeUndefined();
    expectSameNetwork(decodeSafetensors(bytes, 'a').net, net);
  });

  it('auto picks CSR per layer when under half the weights are kept', () => {
    const net = initNetwork([4, 4, 2], 5);
    net.masks[0]!.fill(0, 0, 9);
    applyMasks(net);
    const { header } = splitFile(encodeSafetensors(net));
    expect(Object.keys(header).sort()).toEqual([
      '__metadata__',
      'layers.0.indices',
      'layers.0.indptr',
      'layers.0.values',
      'layers.1.weight',
    ]);
    expectSameNetwork(decodeSafetensors(encodeSafetensors(net), 'a').net, net);
  });

  it('refuses to let metadata override the format keys', () => {
    expect(() => encodeSafetensors(initNetwork([2, 2], 1), { metadata: { sizes: '1,1' } })).toThrow(/reserved/);
  });
});

describe('safetensors layout as Python reads it', () => {
  it('has a space-padded header, aligned contiguous tensors and little-endian data', () => {
    const net = prunedNetwork([7, 5, 3], 9, 0.05);
    for (const layout of ['dense', 'csr'] as const) {
      const bytes = encodeSafetensors(net, { layout });
      const { headerLength, header, data } = splitFile(bytes);
      expect(headerLength % 8).toBe(0);
      const headerText = new TextDecoder().decode(bytes.subarray(8, 8 + headerLength));
      expect(headerText.startsWith('{')).toBe(true);
      expect(headerText).toMatch(/^[^\n]*\} *$/);

      const tensors = Object.entries(header)
        .filter(([name]) => name !== '__metadata__')
        .map(([name, entry]) => ({ name, ...(entry as HeaderEntry) }))
        .sort((a, b) => a.data_offsets[0] - b.data_offsets[0]);
      let offset = 0;
      for (const t of tensors) {
        expect(['F32', 'I32', 'U8']).toContain(t.dtype);
        const itemBytes = t.dtype === 'U8' ? 1 : 4;
        expect(t.data_offsets[0]).toBe(offset);
        expect(t.data_offsets[0] % itemBytes).toBe(0);
        expect(t.data_offsets[1] - t.data_offsets[0]).toBe(t.shape.reduce((a, b) => a * b, 1) * itemBytes);
        offset = t.data_offsets[1];
      }
      expect(offset).toBe(data.length);

      const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
      if (layout === 'dense') {
        const weight = header['layers.0.weight'] as HeaderEntry;
        expect(weight.shape).toEqual([7, 5]);
        expect(view.getFloat32(weight.data_offsets[0] + 4 * 6, true)).toBe(net.weights[0]![6]);
        const mask = header['layers.0.mask'] as HeaderEntry;
        expect(Array.from(data.subarray(mask.data_offsets[0], mask.data_offsets[1]))).toEqual(Array.from(net.masks[0]!));
      } else {
        const indptr = header['layers.1.indptr'] as HeaderEntry;
        expect(indptr.shape).toEqual([4]);
        expect(view.getInt32(indptr.data_offsets[0], true)).toBe(0);
        const indices = header['layers.1.indices'] as HeaderEntry;
        const kept = net.masks[1]!.reduce((a, b) => a + b, 0);
        expect(indices.shape).toEqual([kept]);
        expect(view.getInt32(indptr.data_offsets[0] + 4 * 3, true)).toBe(kept);
      }
      expect(header['__metadata__']).toEqual({ format: 'webgpu-prune', sizes: '7,5,3' });
    }
  });
});

describe('safetensors validation', () => {
  it('rejects a file too short or with a header length past the end', () => {
    expect(messageOf(new Uint8Array(5))).toBe('net.safetensors: 5 bytes, too short for a safetensors file');
    const bytes = encodeSafetensors(initNetwork([2, 2], 1));
    new DataView(bytes.buffer).setBigUint64(0, 1n << 40n, true);
    expect(messageOf(bytes)).toBe(
      `net.safetensors: safetensors header length ${1n << 40n} is larger than the ${bytes.length - 8} bytes after it`,
    );
  });

  it('rejects a header that is not JSON or has no usable metadata', () => {
    const text = new TextEncoder().encode('{"a": ');
    const bytes = new Uint8Array(8 + text.length);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(text.length), true);
    bytes.set(text, 8);
    expect(messageOf(bytes)).toMatch(/^net\.safetensors: safetensors header is not valid JSON \(/);
    expect(messageOf(buildFile({}, new Uint8Array()))).toBe(
      'net.safetensors: safetensors header has no __metadata__ and no tensor named like 0.weight; it is neither a webgpu-prune network nor an nn.Sequential state dict',
    );
    expect(messageOf(buildFile({ __metadata__: { format: 'x' } }, new Uint8Array()))).toBe(
      'net.safetensors: __metadata__ has no "sizes" entry; it is not a webgpu-prune network',
    );
    expect(messageOf(buildFile({ __metadata__: { sizes: 784 } }, new Uint8Array()))).toBe(
      'net.safetensors: __metadata__ entry "sizes" is not a string',
    );
    expect(messageOf(buildFile({ __metadata__: { sizes: '784,x' } }, new Uint8Array()))).toBe(
      'net.safetensors: __metadata__ sizes "784,x" is not a list like 784,100,100,10',
    );
  });

  it('checks the metadata sizes against the tensors and the file size before allocating', () => {
    const kilobyte = 1024;
    const withSizes = (sizes: string) =>
      editedFile((h) => {
        h['__metadata__'] = { format: 'webgpu-prune', sizes };
      });
    const [huge, mismatched] = [withSizes('4000000000,5,3'), withSizes('6,5,100000')];
    expect(withAllocationLimit(kilobyte, () => messageOf(huge)).value).toBe(
      'net.safetensors: __metadata__ sizes "4000000000,5,3": layer sizes 4000000000-5-3 make 20,000,000,015 weights, ' +
        'more than the limit of 100,000,000',
    );
    // 500,030 weights may come from any file, but the tensors are those of 6-5-3.
    expect(withAllocationLimit(kilobyte, () => messageOf(mismatched)).value).toBe(
      'net.safetensors: tensor layers.1.indptr has shape [4], expected [100001] for sizes 6,5,100000',
    );
    // A CSR layer with no weights stores 4 bytes per output, whatever its input count.
    const emptyInputs = buildFile(
      {
        __metadata__: { format: 'webgpu-prune', sizes: '3000000,1' },
        'layers.0.indptr': { dtype: 'I32', shape: [2], data_offsets: [0, 8] },
        'layers.0.indices': { dtype: 'I32', shape: [0], data_offsets: [8, 8] },
        'layers.0.values': { dtype: 'F32', shape: [0], data_offsets: [8, 8] },
      },
      new Uint8Array(8),
    );
    expect(withAllocationLimit(kilobyte, () => messageOf(emptyInputs)).value).toMatch(
      /^net\.safetensors: __metadata__ sizes "3000000,1": layer sizes 3000000-1 make 3,000,000 weights, more than a \d+-byte file can describe/,
    );
  });

  it('escapes control characters of names and metadata it quotes', () => {
    const evil = 'x\n\x1b[31m';
    expect(messageOf(buildFile({ __metadata__: { sizes: '2,2' }, [evil]: { dtype: 'F16', shape: [0], data_offsets: [0, 0] } }, new Uint8Array()))).toBe(
      'net.safetensors: tensor x\\n\\x1b[31m has dtype "F16"; expected F32, I32 or U8',
    );
    expect(messageOf(buildFile({ __metadata__: { sizes: `2,${evil}` } }, new Uint8Array()))).toBe(
      'net.safetensors: __metadata__ sizes "2,x\\n\\x1b[31m" is not a list like 784,100,100,10',
    );
  });

  it('rejects a wrong dtype or shape', () => {
    expect(messageOf(editedFile((h) => void ((h['layers.0.values'] as HeaderEntry).dtype = 'F16')))).toBe(
      'net.safetensors: tensor layers.0.values has dtype "F16"; expected F32, I32 or U8',
    );
    expect(messageOf(editedFile((h) => void ((h['layers.0.values'] as HeaderEntry).dtype = 'I32')))).toBe(
      'net.safetensors: tensor layers.0.values has dtype I32, expected F32',
    );
    const dense = encodeSafetensors(initNetwork([4, 3], 1), { layout: 'dense' });
    const { header, data } = splitFile(dense);
    (header['layers.0.weight'] as HeaderEntry).shape = [3, 4];
    expect(messageOf(buildFile(header, data))).toBe(
      'net.safetensors: tensor layers.0.weight has shape [3, 4], expected [4, 3] for sizes 4,3',
    );
    (header['layers.0.weight'] as HeaderEntry).shape = [4, 4];
    expect(messageOf(buildFile(header, data))).toBe(
      'net.safetensors: tensor layers.0.weight: F32 shape [4, 4] needs 64 bytes, data_offsets hold 48',
    );
  });

  it('rejects offsets out of range, overlapping, with gaps or trailing bytes', () => {
    expect(
      messageOf(editedFile((h, data) => void ((h['layers.0.values'] as HeaderEntry).data_offsets = [data.length, data.length + 8]))),
    ).toMatch(/^net\.safetensors: tensor layers\.0\.values: data_offsets \[\d+, \d+\] lie outside the \d+ data bytes$/);
    expect(
      messageOf(
        editedFile((h) => {
          const indptr = h['layers.0.indptr'] as HeaderEntry;
          const indices = h['layers.0.indices'] as HeaderEntry;
          const size = indices.data_offsets[1] - indices.data_offsets[0];
          indices.data_offsets = [indptr.data_offsets[0], indptr.data_offsets[0] + size];
        }),
      ),
    ).toMatch(/overlaps tensor/);
    expect(messageOf(editedFile((_, data) => Uint8Array.from([...data, 1, 2, 3])))).toBe(
      'net.safetensors: 3 trailing bytes after the last tensor',
    );
    expect(
      messageOf(
        editedFile((h, data) => {
          for (const [name, entry] of Object.entries(h)) {
            if (name === '__metadata__') continue;
            const tensor = entry as HeaderEntry;
            tensor.data_offsets = [tensor.data_offsets[0] + 4, tensor.data_offsets[1] + 4];
          }
          return Uint8Array.from([0, 0, 0, 0, ...data]);
        }),
      ),
    ).toMatch(/^net\.safetensors: 4 unused data bytes before tensor /);
  });

  it('rejects a broken CSR structure', () => {
    const setInt = (h: Record<string, unknown>, data: Uint8Array, name: string, index: number, value: number) => {
      const at = (h[name] as HeaderEntry).data_offsets[0] + 4 * index;
      new DataView(data.buffer).setInt32(at, value, true);
    };
    expect(messageOf(editedFile((h, data) => setInt(h, data, 'layers.1.indptr', 1, 1000)))).toMatch(
      /^net\.safetensors: layer 1 CSR tensors layers\.1\.indptr\/layers\.1\.indices: indptr decreases at row 1: 1000 then \d+$/,
    );
    expect(messageOf(editedFile((h, data) => setInt(h, data, 'layers.0.indices', 0, 6)))).toBe(
      'net.safetensors: layer 0 CSR tensors layers.0.indptr/layers.0.indices: row 0 has input index 6, outside 0..5',
    );
    expect(
      messageOf(
        editedFile((h, data) => {
          const view = new DataView(data.buffer);
          const indptr = (h['layers.0.indptr'] as HeaderEntry).data_offsets[0];
          const row = [0, 1, 2, 3, 4].find((o) => view.getInt32(indptr + 4 * (o + 1), true) - view.getInt32(indptr + 4 * o, true) >= 2)!;
          const first = view.getInt32(indptr + 4 * row, true);
          const indices = (h['layers.0.indices'] as HeaderEntry).data_offsets[0];
          view.setInt32(indices + 4 * (first + 1), view.getInt32(indices + 4 * first, true), true);
        }),
      ),
    ).toMatch(/^net\.safetensors: layer 0 CSR tensors layers\.0\.indptr\/layers\.0\.indices: row \d lists input \d twice$/);
  });

  it('rejects missing, mixed and unexpected tensors', () => {
    expect(messageOf(editedFile((h) => void delete h['layers.1.values']))).toMatch(/data bytes before tensor|trailing bytes/);
    const net = initNetwork([3, 2, 2], 1);
    const { header, data } = splitFile(encodeSafetensors(net, { layout: 'dense' }));
    const w1 = header['layers.1.weight'];
    delete header['layers.1.weight'];
    header['layers.1.values'] = w1;
    (header['layers.1.values'] as HeaderEntry).shape = [4];
    expect(messageOf(buildFile(header, data))).toBe('net.safetensors: layer 1 is CSR but layers.1.indptr is missing');
    header['layers.1.weight'] = header['layers.1.values'];
    delete header['layers.1.values'];
    (header['layers.1.weight'] as HeaderEntry).shape = [2, 2];
    header['__metadata__'] = { sizes: '3,2' };
    expect(messageOf(buildFile(header, data))).toBe('net.safetensors: unexpected tensor layers.1.weight for sizes 3,2');
    header['__metadata__'] = { sizes: '3,2,2,2' };
    expect(messageOf(buildFile(header, data))).toBe(
      'net.safetensors: layer 2 has no weights: expected layers.2.weight or layers.2.indptr, layers.2.indices, layers.2.values',
    );
  });

  it('rejects a layer stored both ways', () => {
    const dense = splitFile(encodeSafetensors(initNetwork([2, 2], 1), { layout: 'dense' }));
    const csr = splitFile(encodeSafetensors(initNetwork([2, 2], 1), { layout: 'csr' }));
    const header: Record<string, unknown> = { ...csr.header };
    const shift = csr.data.length;
    const weight = dense.header['layers.0.weight'] as HeaderEntry;
    header['layers.0.weight'] = { ...weight, data_offsets: [weight.data_offsets[0] + shift, weight.data_offsets[1] + shift] };
    expect(messageOf(buildFile(header, Uint8Array.from([...csr.data, ...dense.data])))).toBe(
      'net.safetensors: layer 0 has both layers.0.weight and layers.0.indptr',
    );
  });

  it('rejects non-finite values and a mask that is not 0/1', () => {
    const net = prunedNetwork([4, 3], 1, 0.05);
    const { header, data } = splitFile(encodeSafetensors(net, { layout: 'dense' }));
    const view = new DataView(data.buffer, data.byteOffset);
    view.setFloat32((header['layers.0.weight'] as HeaderEntry).data_offsets[0] + 8, NaN, true);
    expect(messageOf(buildFile(header, data))).toBe('net.safetensors: tensor layers.0.weight has non-finite value NaN at element 2');
    view.setFloat32((header['layers.0.weight'] as HeaderEntry).data_offsets[0] + 8, 0, true);
    data[(header['layers.0.mask'] as HeaderEntry).data_offsets[0] + 1] = 2;
    expect(messageOf(buildFile(header, data))).toBe(
      'net.safetensors: tensor layers.0.mask has value 2 at element 1; a mask holds 0 or 1',
    );
  });
});

describe('safetensors with biases', () => {
  it('writes layers.{l}.bias F32 [out] beside dense and CSR layers and reads every value back', () => {
    const net = randomBiasedNetwork([7, 6, 5, 3], 11, 0.4);
    for (const layout of ['dense', 'csr', 'auto'] as const) {
      const bytes = encodeSafetensors(net, { layout });
      const { header, data } = splitFile(bytes);
      expect(header).toMatchObject({
        'layers.0.bias': { dtype: 'F32', shape: [6] },
        'layers.1.bias': { dtype: 'F32', shape: [5] },
        'layers.2.bias': { dtype: 'F32', shape: [3] },
      });
      const bias = header['layers.1.bias'] as HeaderEntry;
      expect(new DataView(data.buffer, data.byteOffset).getFloat32(bias.data_offsets[0] + 4 * 4, true)).toBe(net.biases![1]![4]);
      const back = decodeSafetensors(bytes, 'a').net;
      expectSameNetwork(back, net);
      // Ours → ours: the same bytes.
      expect(encodeSafetensors(back, { layout })).toEqual(bytes);
    }
  });

  it('keeps the biases of a compact network that reads some of the features, in our layout and the torch one', () => {
    const net = randomBiasedNetwork([4, 5, 2], 12, 0.6);
    const compact = { net, inputIndices: Int32Array.of(1, 3, 6, 8), inputSize: 9 };
    const back = decodeSafetensors(encodeSafetensors(compact, { layout: 'csr' }), 'a');
    expect([back.inputIndices, back.inputSize]).toEqual([compact.inputIndices, 9]);
    expectSameNetwork(back.net, net);
    // The torch layout takes the network expanded back to whole samples, biases and all.
    const torch = decodeSafetensors(encodeSafetensors(compact, { layout: 'torch' }), 'a');
    expect(torch.net.sizes).toEqual([9, 5, 2]);
    expect(torch.net.biases).toEqual(net.biases);
  });

  it('refuses bad bias tensors in one line naming the tensor', () => {
    const bytes = encodeSafetensors(randomBiasedNetwork([4, 3, 2], 13, 0.5), { layout: 'dense' });
    const edited = (edit: (header: Record<string, HeaderEntry>, data: Uint8Array) => Uint8Array | void): Uint8Array => {
      const { header, data } = splitFile(bytes);
      const copy = data.slice();
      return buildFile(header, edit(header as Record<string, HeaderEntry>, copy) ?? copy);
    };
    expect(messageOf(edited((h) => void (h['layers.1.bias']!.dtype = 'I32')))).toBe('net.safetensors: tensor layers.1.bias has dtype I32, expected F32');
    expect(messageOf(edited((h) => void (h['layers.1.bias']!.dtype = 'U8')))).toBe(
      'net.safetensors: tensor layers.1.bias: U8 shape [2] needs 2 bytes, data_offsets hold 8',
    );
    expect(messageOf(edited((h) => void (h['layers.0.bias']!.shape = [1, 3])))).toBe(
      'net.safetensors: tensor layers.0.bias has shape [1, 3], expected [3] for sizes 4,3,2',
    );
    // Layer 0's bias read as layer 1's: 3 values where 2 belong.
    expect(
      messageOf(
        edited((h) => {
          const swapped = h['layers.0.bias']!;
          h['layers.0.bias'] = h['layers.1.bias']!;
          h['layers.1.bias'] = swapped;
        }),
      ),
    ).toBe('net.safetensors: tensor layers.0.bias has shape [2], expected [3] for sizes 4,3,2');
    expect(
      messageOf(
        edited((h, data) => {
          new DataView(data.buffer).setFloat32(h['layers.1.bias']!.data_offsets[0] + 4, Infinity, true);
        }),
      ),
    ).toBe('net.safetensors: tensor layers.1.bias has non-finite value Infinity at element 1');
    expect(
      messageOf(
        edited((h, data) => {
          const bias = h['layers.0.bias']!;
          delete h['layers.0.bias'];
          const size = bias.data_offsets[1] - bias.data_offsets[0];
          for (const entry of Object.values(h)) {
            if (entry.data_offsets && entry.data_offsets[0] >= bias.data_offsets[1]) entry.data_offsets = [entry.data_offsets[0] - size, entry.data_offsets[1] - size];
          }
          return Uint8Array.from([...data.subarray(0, bias.data_offsets[0]), ...data.subarray(bias.data_offsets[1])]);
        }),
      ),
    ).toBe('net.safetensors: layer 0 has no layers.0.bias but layer 1 has layers.1.bias; a network has a bias for every layer or for none');
    expect(
      messageOf(
        edited((h) => {
          h['layers.2.bias'] = h['layers.1.bias']!;
          delete h['layers.1.bias'];
        }),
      ),
    ).toMatch(/^net\.safetensors: layer 1 has no layers\.1\.bias but layer 0 has layers\.0\.bias; /);
  });
});

/** A PyTorch-layout file as `safetensors.torch.save_file` writes it: tensors sorted by name, `{"format": "pt"}` or no metadata. */
function torchFile(tensors: { name: string; shape: number[]; values: ArrayLike<number>; dtype?: string }[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  const data = new Uint8Array(tensors.reduce((n, t) => n + 4 * t.values.length, 0));
  const view = new DataView(data.buffer);
  let offset = 0;
  for (const t of [...tensors].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    header[t.name] = { dtype: t.dtype ?? 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * t.values.length] };
    for (let k = 0; k < t.values.length; k++) view.setFloat32(offset + 4 * k, t.values[k]!, true);
    offset += 4 * t.values.length;
  }
  return buildFile(header, data);
}

/** Layer l's weights as torch stores them, [out, in]. */
function byOutput(net: Network, l: number): Float32Array {
  const [inSize, outSize] = [net.sizes[l]!, net.sizes[l + 1]!];
  return Float32Array.from({ length: inSize * outSize }, (_, k) => net.weights[l]![(k % inSize) * outSize + Math.floor(k / inSize)]!);
}

function decoded(bytes: Uint8Array): ReturnType<typeof decodeSafetensors> {
  return decodeSafetensors(bytes, 'model.safetensors');
}

describe('safetensors in the torch layout', () => {
  it('writes nn.Sequential names, [out, in] weights and no masks; reads back exactly', () => {
    const net = prunedNetwork([7, 5, 4, 3], 4, 0.05);
    const bytes = encodeSafetensors(net, { layout: 'torch', metadata: { recipe: 'r' } });
    const { header } = splitFile(bytes);
    expect(header).toMatchObject({
      __metadata__: { format: 'pt', recipe: 'r' },
      '0.weight': { dtype: 'F32', shape: [5, 7] },
      '2.weight': { dtype: 'F32', shape: [4, 5] },
      '4.weight': { dtype: 'F32', shape: [3, 4] },
    });
    expect(Object.keys(header)).toHaveLength(4);
    expect(decoded(bytes)).toMatchObject({ layout: 'torch', metadata: { format: 'pt', recipe: 'r' } });
    expectSameNetwork(decoded(bytes).net, net);
    // Ours → torch → ours: the same bytes as the original in our layout.
    expect(encodeSafetensors(decoded(bytes).net)).toEqual(encodeSafetensors(net));
  });

  it('numbers more than ten Linear layers as nn.Sequential does', () => {
    const net = prunedNetwork([3, 4, 5, 4, 3, 4, 5, 4, 3, 4, 5, 4, 2], 6, 0.02);
    const bytes = encodeSafetensors(net, { layout: 'torch' });
    expect(Object.keys(splitFile(bytes).header).filter((n) => n !== '__metadata__').sort((a, b) => parseInt(a) - parseInt(b))).toEqual(
      Array.from({ length: 12 }, (_, l) => `${2 * l}.weight`),
    );
    expectSameNetwork(decoded(bytes).net, net);
  });

  it("reads PyTorch's own file: sizes from the shapes, its biases (zeros too), zeros as pruned weights, with or without metadata", () => {
    const net = prunedNetwork([6, 4, 3], 2, 0.05);
    const tensors = [
      { name: '0.weight', shape: [4, 6], values: byOutput(net, 0) },
      { name: '0.bias', shape: [4], values: [0, 0, 0, -0] },
      { name: '2.weight', shape: [3, 4], values: byOutput(net, 1) },
      { name: '2.bias', shape: [3], values: [0, 0, 0] },
    ];
    for (const metadata of [undefined, { format: 'pt' }]) {
      const parsed = decoded(torchFile(tensors, metadata));
      expect(parsed.layout).toBe('torch');
      expect(parsed.metadata).toEqual(metadata ?? {});
      expectSameNetwork(parsed.net, { ...net, biases: [Float32Array.of(0, 0, 0, -0), new Float32Array(3)] });
    }
    // Without bias tensors (every Linear made with bias=False): a network without biases.
    expect(decoded(torchFile(tensors.filter((t) => t.name.endsWith('.weight')))).net.biases).toBeUndefined();
  });

  it('writes {2l}.bias for a network with biases and reads it back exactly; a Linear with bias=False reads as zero biases', () => {
    const net = randomBiasedNetwork([7, 5, 4, 3], 21, 0.5);
    const bytes = encodeSafetensors(net, { layout: 'torch' });
    const { header } = splitFile(bytes);
    expect(header).toMatchObject({
      '0.bias': { dtype: 'F32', shape: [5] },
      '2.bias': { dtype: 'F32', shape: [4] },
      '4.bias': { dtype: 'F32', shape: [3] },
    });
    expect(Object.keys(header)).toHaveLength(7);
    expectSameNetwork(decoded(bytes).net, net);
    // torch → ours → torch: the same bytes.
    expect(encodeSafetensors(decodeSafetensors(encodeSafetensors(decoded(bytes).net, { layout: 'csr' }), 'a').net, { layout: 'torch' })).toEqual(bytes);

    const tensors = [0, 1, 2].map((l) => ({ name: `${2 * l}.weight`, shape: [net.sizes[l + 1]!, net.sizes[l]!], values: byOutput(net, l) }));
    const withoutMiddle = decoded(torchFile([...tensors, { name: '0.bias', shape: [5], values: net.biases![0]! }, { name: '4.bias', shape: [3], values: net.biases![2]! }]));
    expectSameNetwork(withoutMiddle.net, { ...net, biases: [net.biases![0]!, new Float32Array(4), net.biases![2]!] });
  });

  it('refuses a bias of the wrong dtype, shape or with a non-finite value in one line', () => {
    const weight = { name: '0.weight', shape: [2, 3], values: [1, 2, 3, 4, 5, 6] };
    expect(messageOf(torchFile([weight, { name: '0.bias', shape: [2], values: [0, NaN] }]))).toBe(
      'net.safetensors: tensor 0.bias has non-finite value NaN at element 1',
    );
    expect(messageOf(torchFile([weight, { name: '0.bias', shape: [2], values: [0, 1], dtype: 'I32' }]))).toBe(
      'net.safetensors: tensor 0.bias has dtype I32, expected F32',
    );
    expect(messageOf(torchFile([weight, { name: '0.bias', shape: [1, 2], values: [0, 1] }]))).toBe(
      'net.safetensors: tensor 0.bias has shape [1, 2], expected [2] (0.weight has 2 outputs)',
    );
  });

  it('refuses malformed files in one line: broken chain, transposed, missing index, wrong dtype or shape, stray tensors', () => {
    const w = (name: string, shape: number[], dtype?: string) => ({ name, shape, values: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.5), dtype });
    expect(messageOf(torchFile([w('0.weight', [4, 6]), w('2.weight', [3, 5])]))).toBe(
      'net.safetensors: tensor 2.weight [3, 5] takes 5 inputs but 0.weight [4, 6] gives 4 outputs; the layers do not chain',
    );
    expect(messageOf(torchFile([w('0.weight', [6, 4]), w('2.weight', [4, 5]), w('4.weight', [5, 3])]))).toBe(
      'net.safetensors: tensor 2.weight [4, 5] takes 5 inputs but 0.weight [6, 4] gives 6 outputs; ' +
        'the weights look transposed: the torch layout stores [out, in]',
    );
    expect(messageOf(torchFile([w('0.weight', [4, 6]), w('4.weight', [3, 4])]))).toBe(
      'net.safetensors: 2.weight is missing: the torch layout numbers the Linear layers 0, 2, 4, … (a ReLU between each two), this file has 0.weight, 4.weight',
    );
    expect(messageOf(torchFile([w('1.weight', [4, 6])]))).toMatch(/^net\.safetensors: 0\.weight is missing: .*this file has 1\.weight$/);
    expect(messageOf(torchFile([w('0.weight', [4, 6]), w('2.bias', [3])]))).toBe('net.safetensors: 2.bias has no 2.weight');
    expect(messageOf(torchFile([w('0.weight', [4, 6], 'I32')]))).toBe('net.safetensors: tensor 0.weight has dtype I32, expected F32');
    expect(messageOf(torchFile([w('0.weight', [24])]))).toBe('net.safetensors: tensor 0.weight has shape [24], expected [out, in]');
    expect(messageOf(torchFile([w('0.weight', [4, 6]), { ...w('0.bias', [6]), values: new Float32Array(6) }]))).toBe(
      'net.safetensors: tensor 0.bias has shape [6], expected [4] (0.weight has 4 outputs)',
    );
    expect(messageOf(torchFile([w('0.weight', [4, 6]), w('1.running_mean', [4])]))).toBe(
      'net.safetensors: unexpected tensor 1.running_mean: the torch layout holds the weights and biases of nn.Sequential(Linear, ReLU, Linear, …) only',
    );
    expect(messageOf(torchFile([w('0.weight', [0, 6])]))).toBe(
      'net.safetensors: the weight shapes make layer sizes 6,0: layer sizes must be positive integers, got 6-0',
    );
    expect(messageOf(torchFile([w('0.weight', [4, 6])], { sizes: '6,5' }))).toBe(
      'net.safetensors: __metadata__ sizes "6,5" do not match the weight shapes, which make 6,4',
    );
    expect(messageOf(torchFile([{ ...w('0.weight', [1, 2]), values: [1, NaN] }]))).toBe(
      'net.safetensors: tensor 0.weight has non-finite value NaN at element 1',
    );
  });

  it('checks the sizes the shapes declare before allocating', () => {
    // An empty tensor needs no data bytes whatever its other dimension says.
    const huge = torchFile([{ name: '0.weight', shape: [0, 4_000_000_000], values: [] }]);
    expect(withAllocationLimit(1024, () => messageOf(huge)).value).toMatch(/^net\.safetensors: the weight shapes make layer sizes 4000000000,0: /);
  });
});
