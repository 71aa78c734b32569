import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { detectAndParseModel, detectModelFormat, encodeModel, outputFormatForName } from '../../src/format/model-file';
import { applyMasks, initNetwork, type Network } from '../../src/model/network';
import { readModelFile, writeFileAtomic } from '../../src/node/files';
import { UserError } from '../../src/util/errors';
import { randomBiasedNetwork } from '../helpers/fixtures';
import { temporaryFolder } from '../helpers/temporary-folder';

function prunedNetwork(): Network {
  const net = initNetwork([20, 8, 4], 11);
  net.weights.forEach((w, l) => {
    for (let k = 0; k < w.length; k++) if (w[k]! * w[k]! < 0.05) net.masks[l]![k] = 0;
  });
  applyMasks(net);
  return net;
}

function expectSameNetwork(actual: Network, expected: Network): void {
  expect(actual.sizes).toEqual(expected.sizes);
  actual.weights.forEach((w, l) => {
    expect(w).toEqual(expected.weights[l]);
    expect(actual.masks[l]).toEqual(expected.masks[l]);
  });
}

describe('detectAndParseModel', () => {
  it('recognises safetensors from the content', () => {
    const net = prunedNetwork();
    const bytes = encodeModel(net, 'safetensors', { layout: 'csr', metadata: { recipe: 'classic' } });
    expect(detectModelFormat(bytes)).toBe('safetensors');
    const parsed = detectAndParseModel(bytes, 'model.txt');
    expect(parsed.format).toBe('safetensors');
    expect(parsed.metadata['recipe']).toBe('classic');
    expectSameNetwork(parsed.net, net);
  });

  it('recognises the seed text format from the content', () => {
    const net = prunedNetwork();
    const bytes = encodeModel(net, 'seed-text');
    expect(new TextDecoder().decode(bytes).startsWith('20,8,4\r\n')).toBe(true);
    expect(detectModelFormat(bytes)).toBe('seed-text');
    const parsed = detectAndParseModel(bytes, 'model.safetensors');
    expect(parsed).toMatchObject({ format: 'seed-text', metadata: {} });
    expectSameNetwork(parsed.net, net);
    const lf = encodeModel(net, 'seed-text', { lineEnding: '\n' });
    expect(new TextDecoder().decode(lf)).not.toContain('\r');
    expectSameNetwork(detectAndParseModel(lf, 'lf.txt').net, net);
  });

  it('names a file of neither format', () => {
    expect(() => detectAndParseModel(new TextEncoder().encode('hello'), 'x.bin')).toThrow(UserError);
    expect(() => detectAndParseModel(new Uint8Array(), 'x.bin')).toThrow(/^x\.bin: not a network file: neither safetensors/);
    expect(() => detectAndParseModel(Uint8Array.from([0x31, 0xff, 0xfe]), 'x.txt')).toThrow(
      "x.txt: looks like the seed's text format but is not valid UTF-8 text",
    );
  });

  it('reads the torch layout as safetensors and says so', () => {
    const net = prunedNetwork();
    const parsed = detectAndParseModel(encodeModel(net, 'safetensors', { layout: 'torch' }), 'torch.safetensors');
    expect(parsed).toMatchObject({ format: 'safetensors', layout: 'torch' });
    expectSameNetwork(parsed.net, net);
    expect(detectAndParseModel(encodeModel(net, 'safetensors'), 'ours.safetensors').layout).toBe('webgpu-prune');
  });

  it('refuses an ONNX file by name: it is written, not read', () => {
    const onnx = encodeModel(prunedNetwork(), 'onnx');
    expect(detectModelFormat(onnx)).toBeUndefined();
    expect(() => detectAndParseModel(onnx, 'm.onnx')).toThrow(/^m\.onnx: looks like an ONNX model; ONNX is written \(convert --out model\.onnx\), not read/);
  });

  it('picks the format to write from the extension', () => {
    expect(['a.txt', 'b.TXT', 'c.onnx', 'd.ONNX', 'e.safetensors', 'f', 'g.onnx.bak'].map(outputFormatForName)).toEqual([
      'seed-text', 'seed-text', 'onnx', 'onnx', 'safetensors', 'safetensors', 'safetensors',
    ]);
  });

  it('passes format errors through with the file name', () => {
    expect(() => detectAndParseModel(new TextEncoder().encode('3,2\r\n0\r\n'), 'bad.txt')).toThrow(/^bad\.txt line /);
  });
});

describe('networks with biases', () => {
  it('are written and read back in both safetensors layouts', () => {
    const net = randomBiasedNetwork([9, 6, 3], 31, 0.5);
    for (const layout of ['auto', 'torch'] as const) {
      const back = detectAndParseModel(encodeModel(net, 'safetensors', { layout }), 'b.safetensors');
      expect(back.net.biases).toEqual(net.biases);
      expect(back.net.weights).toEqual(net.weights);
    }
  });

  it("are refused by the seed's text format in one line, a compact network's too", () => {
    const net = randomBiasedNetwork([9, 6, 3], 32, 0.5);
    const compact = { net: randomBiasedNetwork([4, 6, 3], 33, 0.5), inputIndices: Int32Array.of(0, 2, 5, 8), inputSize: 9 };
    for (const model of [net, compact]) {
      let error: unknown;
      try {
        encodeModel(model, 'seed-text');
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(UserError);
      expect((error as Error).message).toBe("the network has biases, which the seed's text format cannot hold; save as .safetensors");
    }
    // Without biases it is written as ever.
    expect(() => encodeModel({ ...net, biases: undefined }, 'seed-text')).not.toThrow();
  });
});

describe('model files on disk', () => {
  it('writes atomically and reads back', async () => {
    const dir = temporaryFolder('model-file-test-');
    const path = join(dir, 'net.safetensors');
    const net = prunedNetwork();
    await writeFileAtomic(path, encodeModel(net, 'safetensors'));
    await writeFileAtomic(path, encodeModel(net, 'safetensors', { layout: 'dense' }));
    expect(readdirSync(dir)).toEqual(['net.safetensors']);
    const parsed = detectAndParseModel(await readModelFile(path), path);
    expectSameNetwork(parsed.net, net);
    await writeFileAtomic(join(dir, 'note.txt'), 'text');
    expect(readFileSync(join(dir, 'note.txt'), 'utf8')).toBe('text');
  });

  it('leaves no temporary file when the rename fails', async () => {
    const dir = temporaryFolder('model-file-test-');
    const target = join(dir, 'taken');
    mkdirSync(target);
    writeFileSync(join(target, 'inside'), 'x');
    await expect(writeFileAtomic(target, new Uint8Array([1]))).rejects.toThrow(UserError);
    expect(readdirSync(dir)).toEqual(['taken']);
  });

  it('reports a folder that does not exist', async () => {
    const path = join(temporaryFolder('model-file-test-'), 'missing', 'net.safetensors');
    await expect(writeFileAtomic(path, new Uint8Array([1]))).rejects.toThrow(`cannot write ${path}: no such file`);
    expect(existsSync(join(path, '..'))).toBe(false);
  });

  it('reports a missing model file', async () => {
    const path = join(temporaryFolder('model-file-test-'), 'nope.safetensors');
    await expect(readModelFile(path)).rejects.toThrow(new UserError(`cannot read ${path}: no such file`));
    await expect(readModelFile(temporaryFolder('model-file-test-'))).rejects.toThrow(/: it is a folder$/);
  });

  it('refuses devices and named pipes before reading (/dev/zero never ends, a FIFO blocks)', async () => {
    if (process.platform === 'win32') return;
    await expect(readModelFile('/dev/zero')).rejects.toThrow(new UserError('cannot read /dev/zero: it is a device, not a regular file'));
    const fifo = join(temporaryFolder('model-file-test-'), 'net.safetensors');
    execFileSync('mkfifo', [fifo]);
    await expect(readModelFile(fifo)).rejects.toThrow(new UserError(`cannot read ${fifo}: it is a named pipe (FIFO), not a regular file`));
  }, 10_000);
});
