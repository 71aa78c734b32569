/** info and convert on networks with biases: the counts they report and the round trips between safetensors, the torch layout and ONNX. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { beforeAll, describe, expect, it } from 'vitest';
import { runConvert } from '../../src/cli/commands/convert';
import { runInfo } from '../../src/cli/commands/info';
import type { CommandIo } from '../../src/cli/io';
import { loadModel } from '../../src/cli/model-io';
import { parseArgs } from '../../src/cli/parse';
import { encodeSafetensors } from '../../src/format/safetensors';
import { keptTotal } from '../../src/model/network';
import { UserError } from '../../src/util/errors';
import { prunedNetwork, randomBiasedNetwork } from '../helpers/fixtures';
import { temporaryFolder } from '../helpers/temporary-folder';

let dir = '';
const net = randomBiasedNetwork([12, 8, 6, 4], 51, 0.4);
const biasTotal = 8 + 6 + 4;

beforeAll(() => {
  dir = temporaryFolder('bias-files-test-');
  writeFileSync(join(dir, 'biased.safetensors'), encodeSafetensors(net));
  writeFileSync(join(dir, 'plain.safetensors'), encodeSafetensors(prunedNetwork([12, 8, 4], 3, 0.05)));
});

function capture(): { io: CommandIo; lines: string[] } {
  const lines: string[] = [];
  return { io: { out: (text) => lines.push(text), err: () => {}, interactive: false }, lines };
}

async function info(file: string, json: boolean): Promise<string[]> {
  const { io, lines } = capture();
  await runInfo({ name: 'info', model: join(dir, file), json }, io);
  return lines;
}

async function convert(from: string, to: string, layout: 'auto' | 'torch' = 'auto', json = false): Promise<string> {
  const { io, lines } = capture();
  await runConvert({ name: 'convert', model: join(dir, from), out: join(dir, to), layout, softmax: false, json }, io);
  return lines.join('\n');
}

describe('info', () => {
  it('reports the biases and counts the parameters as kept weights plus biases', async () => {
    const kept = keptTotal(net);
    const json = JSON.parse((await info('biased.safetensors', true))[0]!);
    expect(json).toMatchObject({ weights: kept, biases: biasTotal, parameters: kept + biasTotal });
    expect(await info('biased.safetensors', false)).toContain(`biases: yes (${biasTotal}); parameters (kept weights + biases): ${kept + biasTotal}`);
  });

  it('says nothing of biases for a network without them; --json has 0 and the kept weights as parameters', async () => {
    const json = JSON.parse((await info('plain.safetensors', true))[0]!);
    expect(json.biases).toBe(0);
    expect(json.parameters).toBe(json.weights);
    expect((await info('plain.safetensors', false)).join('\n')).not.toMatch(/biases/);
  });
});

describe('convert', () => {
  it('carries the biases from safetensors to the torch layout and back, and into ONNX', async () => {
    expect(await convert('biased.safetensors', 'torch.safetensors', 'torch')).toMatch(new RegExp(`: 12-8-6-4, ${keptTotal(net)} weights \\+ ${biasTotal} biases$`));
    const torch = await loadModel(join(dir, 'torch.safetensors'));
    expect(torch.layout).toBe('torch');
    expect(torch.net.biases).toEqual(net.biases);
    expect(JSON.parse(await convert('torch.safetensors', 'back.safetensors', 'auto', true))).toMatchObject({ weights: keptTotal(net), biases: biasTotal });
    const back = await loadModel(join(dir, 'back.safetensors'));
    expect(back.net.biases).toEqual(net.biases);
    expect(back.net.weights).toEqual(net.weights);
    expect(back.net.masks).toEqual(net.masks);

    await convert('torch.safetensors', 'biased.onnx');
    const graph = onnxProto.onnx.ModelProto.decode(readFileSync(join(dir, 'biased.onnx'))).graph!;
    const bias = graph.initializer!.find((t) => t.name === 'layers.1.bias')!;
    const raw = bias.rawData!;
    expect(Float32Array.from({ length: 6 }, (_, o) => new DataView(raw.buffer, raw.byteOffset).getFloat32(4 * o, true))).toEqual(net.biases![1]);
  });

  it("refuses to write the seed's text format for a network with biases", async () => {
    await expect(convert('biased.safetensors', 'biased.txt')).rejects.toThrow(
      new UserError("the network has biases, which the seed's text format cannot hold; save as .safetensors"),
    );
  });
});

describe('train --bias', () => {
  it("refuses --out in the seed's text format before training, in one line", () => {
    const result = parseArgs(['train', '--bias', '--out', 'lenet.txt']);
    expect(result).toMatchObject({ kind: 'exit' });
    if (result.kind !== 'exit') return;
    expect(result.code).not.toBe(0);
    expect(result.output.split('\n')[0]).toBe("webgpu-prune: --bias: the network will have biases, which the seed's text format (--out lenet.txt) cannot hold; save as .safetensors");
    expect(parseArgs(['train', '--bias', '--out', 'lenet.safetensors'])).toMatchObject({ kind: 'command' });
  });
});
