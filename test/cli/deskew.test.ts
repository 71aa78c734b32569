/**
 * `--deskew` as train parses it (flag, recipe-file key, help, refusals), then through the bundled
 * CLI on a generated IDX set (3 classes of 4×5 pixels): the file says the network reads deskewed
 * images, and eval, prune, convert and `--recipe MODEL` keep to it; so does a checkpoint, and a
 * resumed run goes on on deskewed images; a teacher must read the images as the run does; and the
 * GPU trains on the deskewed images as the JS reference does.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseArgs } from '../../src/cli/parse';
import { countCorrect, inferAll } from '../../src/cpu/forward';
import { CpuTrainer } from '../../src/cpu/trainer';
import { deskewDataset } from '../../src/data/deskew';
import { detectAndParseModel } from '../../src/format/model-file';
import { initNetwork } from '../../src/model/network';
import { loadMnist, loadTestSet } from '../../src/node/mnist';
import { encodeCheckpoint } from '../../src/train/checkpoint';
import { optimizerOf } from '../../src/train/optimizer';
import { SEED_RECIPE } from '../../src/train/recipe';
import { runTraining } from '../../src/train/run';
import { expectGpuTrainsAsReference, runCli, toyDataFolder, trainRecipe, type CliOutcome } from '../helpers/cli';
import { testGpu } from '../helpers/gpu';

const gpu = await testGpu();
let dir = '';

const webgpuPrune = (...args: string[]): Promise<CliOutcome> => runCli(dir, args);

const RUN = ['train', '--data', 'toy', '--sizes', '20,12,3', '--epochs', '4', '--batch-size', '30', '--lr', '0.002', '--schedule', 'none', '--json'];

function saved(name: string): ReturnType<typeof detectAndParseModel> {
  return detectAndParseModel(readFileSync(join(dir, name)), name);
}

beforeAll(async () => {
  await promisify(execFile)(process.execPath, ['scripts/build.mjs']);
  dir = toyDataFolder('webgpu-prune-deskew-');
}, 120_000);

describe('the --deskew option', () => {
  it('is absent from the seed recipe, set by the flag or a recipe file, and has its help text', () => {
    expect(trainRecipe(parseArgs(['train']))).toEqual(SEED_RECIPE);
    expect(trainRecipe(parseArgs(['train', '--deskew'])).deskew).toBe(true);
    expect(trainRecipe(parseArgs(['train'], { file: 'r.json', options: { deskew: true } })).deskew).toBe(true);
    expect('deskew' in trainRecipe(parseArgs(['train', '--no-deskew'], { file: 'r.json', options: { deskew: true } }))).toBe(false);
    const help = parseArgs(['train', '--help']);
    expect(help.kind === 'exit' ? help.output.replace(/\s+/g, ' ') : '').toContain('--deskew Straighten and centre every image, training and test, before the network sees it');
  });

  it('is refused with the seed text format, which cannot say so, before training', () => {
    expect(parseArgs(['train', '--deskew', '--out', 'm.txt'])).toMatchObject({
      kind: 'exit',
      code: 2,
      output: expect.stringContaining("--deskew: the network will read deskewed images, which the seed's text format (--out m.txt) cannot say; save as .safetensors"),
    });
  });
});

describe('train --deskew on the JS reference (3 classes of 4×5 pixels)', () => {
  it('records the deskewing, and eval, prune and convert read the images as the network was trained to', async () => {
    const trained = await webgpuPrune(...RUN, '--backend', 'cpu', '--deskew', '--out', 'd.safetensors');
    expect(trained.code, trained.stderr).toBe(0);
    const result = JSON.parse(trained.stdout);
    expect(result.recipe.deskew).toBe(true);
    const model = saved('d.safetensors');
    expect(model.metadata['preprocess']).toBe('deskew');

    // The JS reference's count on the deskewed test images, computed here.
    const test = await loadTestSet({ dir: join(dir, 'toy') }, { count: 3, from: 'the test' });
    const expected = countCorrect(inferAll(model.net, deskewDataset(test, 'the test')).predictions, test.labels);
    expect(result.test.correct).toBe(expected);
    const evaluated = await webgpuPrune('eval', 'd.safetensors', '--data', 'toy', '--backend', 'cpu', '--json');
    expect(evaluated.code, evaluated.stderr).toBe(0);
    expect(JSON.parse(evaluated.stdout)).toMatchObject({ deskewed: true, correct: expected });
    const human = await webgpuPrune('eval', 'd.safetensors', '--data', 'toy', '--backend', 'cpu');
    expect(human.stdout).toContain(', deskewed images,');

    const pruned = await webgpuPrune('prune', 'd.safetensors', '--structured', '--sparsity', '0.5', '--out', 'p.safetensors');
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(saved('p.safetensors').metadata['preprocess']).toBe('deskew');
    const onnx = await webgpuPrune('convert', 'd.safetensors', '--out', 'd.onnx');
    expect(onnx.code, onnx.stderr).toBe(0);
    expect(readFileSync(join(dir, 'd.onnx')).includes('preprocess')).toBe(true);
    const text = await webgpuPrune('convert', 'd.safetensors', '--out', 'd.txt');
    expect(text.code).toBe(1);
    expect(text.stderr).toBe(`webgpu-prune: the network reads images preprocessed by "deskew", which the seed's text format cannot record; save as .safetensors\n`);

    const rerun = await webgpuPrune('train', '--data', 'toy', '--backend', 'cpu', '--recipe', 'd.safetensors', '--out', 'rerun.safetensors');
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stdout).toContain('images deskewed');
    expect(readFileSync(join(dir, 'rerun.safetensors')).equals(readFileSync(join(dir, 'd.safetensors')))).toBe(true);
  });

  it('checkpoints as a network that reads deskewed images, and a resumed run goes on on them', async () => {
    const args = [...RUN, '--backend', 'cpu', '--deskew', '--shuffle'];
    const whole = await webgpuPrune(...args, '--out', 'whole.safetensors');
    expect(whole.code, whole.stderr).toBe(0);
    // The same run stopped after 2 of its 4 epochs, in process, its checkpoint written as train writes one.
    const recipe = trainRecipe(parseArgs(args));
    const train = deskewDataset((await loadMnist({ dir: join(dir, 'toy') })).train, '--deskew');
    const trainer = new CpuTrainer(initNetwork(recipe.sizes, recipe.seed), train, { batchSize: recipe.batchSize, confidence: recipe.confidence, updateRule: optimizerOf(recipe) });
    let epochs = 0;
    const run = { data: 'toy', limit: null, val: null, samples: train.count, out: 'resumed.safetensors', backend: 'cpu' };
    const result = await runTraining(trainer, recipe, train.count, { onEpoch: () => epochs++ }, { shouldStop: () => epochs >= 2, run, train });
    if (result.status !== 'interrupted') throw new Error(`the run was not stopped: ${result.status}`);
    writeFileSync(join(dir, 'run.ckpt'), encodeCheckpoint(result.checkpoint));

    // Opened as a network, the checkpoint reads deskewed images.
    const evaluated = await webgpuPrune('eval', 'run.ckpt', '--data', 'toy', '--backend', 'cpu', '--json');
    expect(evaluated.code, evaluated.stderr).toBe(0);
    expect(JSON.parse(evaluated.stdout).deskewed).toBe(true);
    expect((await webgpuPrune('convert', 'run.ckpt', '--out', 'from-checkpoint.safetensors')).code).toBe(0);
    expect(saved('from-checkpoint.safetensors').metadata['preprocess']).toBe('deskew');

    // A seed-text --out is refused before training, as it is for a fresh run.
    const toText = await webgpuPrune('train', '--resume', 'run.ckpt', '--out', 'resumed.txt');
    expect(toText.code).toBe(1);
    expect(toText.stderr).toBe("webgpu-prune: --deskew: the network will read deskewed images, which the seed's text format (--out resumed.txt) cannot say; save as .safetensors\n");
    expect(existsSync(join(dir, 'resumed.txt'))).toBe(false);

    const resumed = await webgpuPrune('train', '--resume', 'run.ckpt');
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(readFileSync(join(dir, 'resumed.safetensors')).equals(readFileSync(join(dir, 'whole.safetensors')))).toBe(true);
  });

  it('takes a teacher only if it reads the images as the run does', async () => {
    const plain = await webgpuPrune(...RUN, '--backend', 'cpu', '--out', 'plain.safetensors');
    expect(plain.code, plain.stderr).toBe(0);
    expect(JSON.parse(plain.stdout).recipe.deskew).toBeUndefined();
    expect(saved('plain.safetensors').metadata['preprocess']).toBeUndefined();
    const deskewed = await webgpuPrune(...RUN, '--backend', 'cpu', '--deskew', '--out', 'teacher.safetensors');
    expect(deskewed.code, deskewed.stderr).toBe(0);

    const withPlain = await webgpuPrune(...RUN, '--backend', 'cpu', '--deskew', '--teacher', 'plain.safetensors');
    expect(withPlain.code).toBe(1);
    expect(withPlain.stderr).toBe('webgpu-prune: --teacher plain.safetensors was trained on images as they are, and this run deskews them (--deskew): train the teacher with --deskew too\n');
    const withDeskewed = await webgpuPrune(...RUN, '--backend', 'cpu', '--teacher', 'teacher.safetensors');
    expect(withDeskewed.code).toBe(1);
    expect(withDeskewed.stderr).toBe('webgpu-prune: --teacher teacher.safetensors reads deskewed images: add --deskew, or pick a teacher trained without it\n');
    const distilled = await webgpuPrune(...RUN, '--backend', 'cpu', '--deskew', '--teacher', 'teacher.safetensors', '--out', 'student.safetensors');
    expect(distilled.code, distilled.stderr).toBe(0);
  });
});

describe.skipIf(!gpu.context)(`train --deskew on the GPU ${gpu.label}`, () => {
  it('trains on the deskewed images as the JS reference does', async () => {
    const [onGpu, onCpu] = [
      await webgpuPrune(...RUN, '--backend', 'gpu', '--deskew', '--out', 'gpu.safetensors'),
      await webgpuPrune(...RUN, '--backend', 'cpu', '--deskew', '--out', 'reference.safetensors'),
    ];
    const gpuModel = saved('gpu.safetensors');
    expect(gpuModel.metadata['preprocess']).toBe('deskew');
    expectGpuTrainsAsReference(onGpu, onCpu, gpuModel.net, saved('reference.safetensors').net);
    const evaluated = JSON.parse((await webgpuPrune('eval', 'gpu.safetensors', '--data', 'toy', '--backend', 'gpu', '--json')).stdout);
    expect(evaluated).toMatchObject({ deskewed: true, correct: JSON.parse(onGpu.stdout).test.correct });
  });
});
