/**
 * `--data DIR` with an IDX classification set that is not MNIST (3 classes of 4×5 images, in
 * EMNIST-style gzipped files), through the bundled CLI as a user runs it: the network's ends follow
 * the data, a network that does not fit is one line, `eval` scores what `train` scored, a saved
 * network's recipe reruns bit for bit, and the GPU trains what the JS reference trains.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { detectAndParseModel } from '../../src/format/model-file';
import { formatSeedText } from '../../src/format/seed-text';
import { initNetwork, type Network } from '../../src/model/network';
import { expectGpuTrainsAsReference, runCli, type CliOutcome } from '../helpers/cli';
import { idxClassificationSet } from '../helpers/fixtures';
import { testGpu } from '../helpers/gpu';
import { temporaryFolder } from '../helpers/temporary-folder';

const gpu = await testGpu();
let dir = '';
let data = '';

const webgpuPrune = (...args: string[]): Promise<CliOutcome> => runCli(dir, args);

function savedNetwork(name: string): Network {
  return detectAndParseModel(readFileSync(join(dir, name)), name).net;
}

/** 20 batches of 30 per epoch; no pruning, so GPU and JS runs can be compared weight by weight. */
const QUICK = ['--data', 'toy', '--epochs', '4', '--batch-size', '30', '--lr', '0.002', '--schedule', 'none', '--json'];

beforeAll(async () => {
  await promisify(execFile)(process.execPath, ['scripts/build.mjs']);
  dir = temporaryFolder('webgpu-prune-idx-');
  data = join(dir, 'toy');
  const train = idxClassificationSet(600, 4, 5, 3, 1);
  const test = idxClassificationSet(150, 4, 5, 3, 2);
  await promisify(execFile)('mkdir', [data]);
  writeFileSync(join(data, 'toy-train-images-idx3-ubyte.gz'), gzipSync(train.images));
  writeFileSync(join(data, 'toy-train-labels-idx1-ubyte.gz'), gzipSync(train.labels));
  writeFileSync(join(data, 'toy-test-images-idx3-ubyte.gz'), gzipSync(test.images));
  writeFileSync(join(data, 'toy-test-labels-idx1-ubyte.gz'), gzipSync(test.labels));
  writeFileSync(join(dir, 'mnist-sized.txt'), formatSeedText(initNetwork([784, 100, 100, 10], 1337)));
}, 120_000);

describe('train and eval --data with 3 classes of 20 pixels (JS reference)', () => {
  it('sizes the network 20-100-100-3 from the data, learns it, and eval scores the same', async () => {
    const trained = await webgpuPrune('train', ...QUICK, '--backend', 'cpu', '--out', 'cpu.safetensors');
    expect(trained.code, trained.stderr).toBe(0);
    const result = JSON.parse(trained.stdout);
    expect(result.recipe.sizes).toEqual([20, 100, 100, 3]);
    expect(result.totalWeights).toBe(20 * 100 + 100 * 100 + 100 * 3);
    expect(result.test.total).toBe(150);
    // Chance is a third; the classes are far apart.
    expect(result.test.accuracy).toBeGreaterThan(90);
    const evaluated = JSON.parse((await webgpuPrune('eval', 'cpu.safetensors', '--data', 'toy', '--backend', 'cpu', '--json')).stdout);
    expect(evaluated.correct).toBe(result.test.correct);
  });

  it('eval needs only the test files; a test label past the network\'s outputs is one line', async () => {
    const trained = await webgpuPrune('train', ...QUICK, '--backend', 'cpu', '--out', 'only-test.safetensors');
    expect(trained.code, trained.stderr).toBe(0);
    await promisify(execFile)('mkdir', [join(dir, 'test-only')]);
    writeFileSync(join(dir, 'test-only', 't10k-images-idx3-ubyte'), idxClassificationSet(150, 4, 5, 3, 2).images);
    writeFileSync(join(dir, 'test-only', 't10k-labels-idx1-ubyte'), idxClassificationSet(150, 4, 5, 3, 2).labels);
    const evaluated = await webgpuPrune('eval', 'only-test.safetensors', '--data', 'test-only', '--backend', 'cpu', '--json');
    expect(evaluated.code, evaluated.stderr).toBe(0);
    expect(JSON.parse(evaluated.stdout).correct).toBe(JSON.parse(trained.stdout).test.correct);

    const fourClasses = idxClassificationSet(150, 4, 5, 4, 3);
    await promisify(execFile)('mkdir', [join(dir, 'four')]);
    writeFileSync(join(dir, 'four', 't10k-images-idx3-ubyte'), fourClasses.images);
    writeFileSync(join(dir, 'four', 't10k-labels-idx1-ubyte'), fourClasses.labels);
    const tooMany = await webgpuPrune('eval', 'only-test.safetensors', '--data', 'four', '--backend', 'cpu');
    expect(tooMany.code).toBe(1);
    expect(tooMany.stderr).toBe(`webgpu-prune: ${join('four', 't10k-labels-idx1-ubyte')}: label 3 of sample 3 is not one of the 3 classes of only-test.safetensors (0-2)\n`);
    await promisify(execFile)('mkdir', [join(dir, 'train-only')]);
    writeFileSync(join(dir, 'train-only', 'train-images-idx3-ubyte'), fourClasses.images);
    writeFileSync(join(dir, 'train-only', 'train-labels-idx1-ubyte'), fourClasses.labels);
    const trainOnly = await webgpuPrune('eval', 'only-test.safetensors', '--data', 'train-only', '--backend', 'cpu');
    expect(trainOnly.code).toBe(1);
    expect(trainOnly.stderr).toMatch(/^webgpu-prune: no test images file in train-only: looked for t10k-images-idx3-ubyte or test-images-idx3-ubyte /);
  });

  it('a network that does not fit the data is one line', async () => {
    const wrongClasses = await webgpuPrune('train', ...QUICK, '--backend', 'cpu', '--sizes', '20,16,10');
    expect(wrongClasses.code).toBe(1);
    expect(wrongClasses.stderr).toBe(`webgpu-prune: --sizes 20,16,10 has 10 outputs but ${join('toy', 'toy-train-images-idx3-ubyte.gz')} has 3 classes\n`);
    const wrongInputs = await webgpuPrune('eval', 'mnist-sized.txt', '--data', 'toy', '--backend', 'cpu');
    expect(wrongInputs.code).toBe(1);
    expect(wrongInputs.stderr).toBe(`webgpu-prune: mnist-sized.txt takes 784 inputs but ${join('toy', 'toy-test-images-idx3-ubyte.gz')} has 20 values per sample\n`);
  });

  it('--recipe MODEL reruns the saved recipe bit for bit; a flag overrides it', async () => {
    const first = await webgpuPrune('train', '--data', 'toy', '--backend', 'cpu', '--epochs', '3', '--batch-size', '50', '--lr', '0.002',
      '--schedule', 'gradual', '--layer-sparsity', '0.8,0.6,0.2', '--prune-start', '1', '--prune-end', '2', '--shuffle', '--out', 'first.safetensors');
    expect(first.code, first.stderr).toBe(0);
    const rerun = await webgpuPrune('train', '--data', 'toy', '--backend', 'cpu', '--recipe', 'first.safetensors', '--out', 'rerun.safetensors');
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(readFileSync(join(dir, 'rerun.safetensors')).equals(readFileSync(join(dir, 'first.safetensors')))).toBe(true);
    const longer = await webgpuPrune('train', '--data', 'toy', '--backend', 'cpu', '--recipe', 'first.safetensors', '--epochs', '4', '--json', '--out', 'longer.safetensors');
    expect(JSON.parse(longer.stdout).recipe).toMatchObject({ sizes: [20, 100, 100, 3], epochs: 4, shuffle: true, prune: { sparsity: [0.8, 0.6, 0.2] } });
  });
});

describe.skipIf(!gpu.context)(`train --data with 3 classes of 20 pixels on the GPU ${gpu.label}`, () => {
  it('trains the weights the JS reference trains', async () => {
    const [onGpu, onCpu] = [
      await webgpuPrune('train', ...QUICK, '--backend', 'gpu', '--out', 'gpu.safetensors'),
      await webgpuPrune('train', ...QUICK, '--backend', 'cpu', '--out', 'reference.safetensors'),
    ];
    const gpuNet = savedNetwork('gpu.safetensors');
    expect(gpuNet.sizes).toEqual([20, 100, 100, 3]);
    expectGpuTrainsAsReference(onGpu, onCpu, gpuNet, savedNetwork('reference.safetensors'));
  });
});
