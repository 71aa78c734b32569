/**
 * `train --teacher FILE` as train parses it (flags, recipe-file keys, help, refusals), then
 * through the bundled CLI on a generated IDX set (3 classes of 4×5 pixels) on the JS reference: a
 * teacher trained first, a student distilled from it (the recipe, the summary and the JSON say
 * so, and the weights differ from the undistilled run's), `--recipe MODEL` reruns it bit for bit,
 * an interrupted run resumes only with its teacher, and the teacher's refusals.
 */
import { execFile } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseArgs } from '../../src/cli/parse';
import { loadTeacher } from '../../src/cli/teacher';
import { CpuTrainer } from '../../src/cpu/trainer';
import { encodeModel } from '../../src/format/model-file';
import { initNetwork } from '../../src/model/network';
import { loadMnist } from '../../src/node/mnist';
import { encodeCheckpoint, recipeProblem } from '../../src/train/checkpoint';
import { optimizerOf } from '../../src/train/optimizer';
import { runTraining } from '../../src/train/run';
import { SEED_RECIPE } from '../../src/train/recipe';
import { runCli, toyDataFolder, trainRecipe, type CliOutcome } from '../helpers/cli';

let dir = '';

const webgpuPrune = (...args: string[]): Promise<CliOutcome> => runCli(dir, args);

const RUN = ['train', '--data', 'toy', '--backend', 'cpu', '--batch-size', '30', '--lr', '0.002', '--schedule', 'none'];
const STUDENT = [...RUN, '--epochs', '4', '--sizes', '20,4,3'];

beforeAll(async () => {
  await promisify(execFile)(process.execPath, ['scripts/build.mjs']);
  dir = toyDataFolder('webgpu-prune-distill-');
  const teacher = await runCli(dir, [...RUN, '--sizes', '20,16,3', '--epochs', '6', '--shuffle', '--out', 'teacher.safetensors']);
  if (teacher.code !== 0) throw new Error(teacher.stderr);
}, 120_000);

/** The one line a refused command prints. */
function refusal(args: string[], recipe?: Record<string, unknown>): string {
  const result = parseArgs(args, recipe ? { file: 'r.json', options: recipe } : undefined);
  if (result.kind !== 'exit' || result.code === 0) throw new Error(`not refused: ${args.join(' ')}`);
  return result.output;
}

describe('the distillation options', () => {
  it('are absent from the seed recipe, set by the flags or a recipe file, with the defaults α 0.5 and T 4', () => {
    expect(trainRecipe(parseArgs(['train']))).toEqual(SEED_RECIPE);
    expect(trainRecipe(parseArgs(['train', '--teacher', 't.safetensors'])).distill).toEqual({ teacher: 't.safetensors', weight: 0.5, temperature: 4 });
    expect(trainRecipe(parseArgs(['train', '--teacher', 't.txt', '--distill-weight', '0.9', '--temperature', '2'])).distill).toEqual({ teacher: 't.txt', weight: 0.9, temperature: 2 });
    const fromFile = parseArgs(['train', '--temperature', '8'], { file: 'r.json', options: { teacher: 'd.onnx', 'distill-weight': 0 } });
    expect(trainRecipe(fromFile).distill).toEqual({ teacher: 'd.onnx', weight: 0, temperature: 8 });
  });

  it('are refused in one line when out of range or without --teacher (a recipe read back too), cannot change on --resume, and have their help text', () => {
    expect(refusal(['train', '--teacher', 't', '--distill-weight', '1.5'])).toContain('--distill-weight must be in [0, 1], got 1.5');
    expect(refusal(['train', '--teacher', 't', '--distill-weight', '-0.1'])).toContain('--distill-weight must be in [0, 1], got -0.1');
    expect(refusal(['train', '--teacher', 't', '--temperature', '0'])).toContain('--temperature must be a finite number > 0, got 0');
    expect(refusal(['train', '--distill-weight', '0.3'])).toContain('--distill-weight goes with --teacher FILE');
    expect(refusal(['train', '--temperature', '3'], { epochs: 2 })).toContain('--temperature goes with --teacher FILE');
    expect(refusal(['train', '--resume', 'x.ckpt', '--teacher', 't'])).toContain('--teacher cannot change when resuming');
    expect(recipeProblem({ ...SEED_RECIPE, distill: { teacher: '', weight: 0.5, temperature: 4 } })).toBe('distill does not name its teacher file');
    expect(recipeProblem({ ...SEED_RECIPE, distill: { teacher: 't', weight: 2, temperature: 4 } })).toBe('distill: the distillation weight must be in [0, 1], got 2');
    expect(recipeProblem({ ...SEED_RECIPE, distill: { teacher: 't', weight: 0.5, temperature: 4 } })).toBeNull();
    const help = parseArgs(['train', '--help']);
    const text = help.kind === 'exit' ? help.output.replace(/\s+/g, ' ') : '';
    expect(text).toContain('--teacher Knowledge distillation: a trained network file');
    expect(text).toContain("--distill-weight With --teacher: α in [0, 1], the soft term's share of the output gradient");
    expect(text).toContain("--temperature With --teacher: T > 0, the temperature of the teacher's and the network's softened softmax");
  });
});

describe('train --teacher on the JS reference (3 classes of 4×5 pixels)', () => {
  it('distills, says so, records the teacher, and --recipe MODEL reruns it bit for bit', async () => {
    const distilled = await webgpuPrune(...STUDENT, '--teacher', 'teacher.safetensors', '--distill-weight', '0.7', '--temperature', '3', '--json', '--out', 'student.safetensors');
    expect(distilled.code, distilled.stderr).toBe(0);
    const plain = await webgpuPrune(...STUDENT, '--json', '--out', 'plain.safetensors');
    expect(plain.code, plain.stderr).toBe(0);
    const [d, p] = [JSON.parse(distilled.stdout), JSON.parse(plain.stdout)];
    expect(d.recipe.distill).toEqual({ teacher: 'teacher.safetensors', weight: 0.7, temperature: 3 });
    expect(d.teacher).toEqual({ file: 'teacher.safetensors', sizes: [20, 16, 3], weight: 0.7, temperature: 3 });
    expect(p.teacher).toBeNull();
    expect('distill' in p.recipe).toBe(false);
    // The same samples are backpropagated in the first epoch (same start, same confidence rule), the weights move differently.
    expect(d.epochs[0].backpropagated).toBe(p.epochs[0].backpropagated);
    expect(readFileSync(join(dir, 'student.safetensors')).equals(readFileSync(join(dir, 'plain.safetensors')))).toBe(false);

    const rerun = await webgpuPrune('train', '--data', 'toy', '--backend', 'cpu', '--recipe', 'student.safetensors', '--out', 'rerun.safetensors');
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stdout).toContain('Teacher    teacher.safetensors (20-16-3): distillation weight 0.7, temperature 3');
    expect(readFileSync(join(dir, 'rerun.safetensors')).equals(readFileSync(join(dir, 'student.safetensors')))).toBe(true);
  });

  it('resumes a checkpoint with its teacher to the network of the run never stopped, and refuses in one line when the teacher is gone', async () => {
    const args = [...STUDENT, '--teacher', 'teacher.safetensors', '--shift', '1'];
    const whole = await webgpuPrune(...args, '--out', 'whole.safetensors');
    expect(whole.code, whole.stderr).toBe(0);
    // The same run stopped after 2 of its 4 epochs, in process, its checkpoint written as train writes one.
    const recipe = trainRecipe(parseArgs(args));
    const data = await loadMnist({ dir: join(dir, 'toy') });
    const teacher = await loadTeacher(join(dir, 'teacher.safetensors'), data.train, false, null);
    const config = { batchSize: recipe.batchSize, confidence: recipe.confidence, updateRule: optimizerOf(recipe), distill: recipe.distill };
    const trainer = new CpuTrainer(initNetwork(recipe.sizes, recipe.seed), data.train, config);
    let epochs = 0;
    const run = { data: 'toy', limit: null, val: null, samples: data.train.count, out: 'resumed.safetensors', backend: 'cpu' };
    const result = await runTraining(trainer, recipe, data.train.count, { onEpoch: () => epochs++ }, { shouldStop: () => epochs >= 2, run, train: data.train, teacher });
    if (result.status !== 'interrupted') throw new Error(`the run was not stopped: ${result.status}`);
    expect(result.checkpoint.epoch).toBe(2);
    writeFileSync(join(dir, 'run.ckpt'), encodeCheckpoint(result.checkpoint));

    renameSync(join(dir, 'teacher.safetensors'), join(dir, 'away.safetensors'));
    const gone = await webgpuPrune('train', '--resume', 'run.ckpt');
    renameSync(join(dir, 'away.safetensors'), join(dir, 'teacher.safetensors'));
    expect(gone.code).not.toBe(0);
    expect(gone.stderr.trim().split('\n')).toHaveLength(1);
    expect(gone.stderr).toContain('run.ckpt distills from the teacher teacher.safetensors, which is needed again to resume: cannot read teacher.safetensors');

    const resumed = await webgpuPrune('train', '--resume', 'run.ckpt');
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(readFileSync(join(dir, 'resumed.safetensors')).equals(readFileSync(join(dir, 'whole.safetensors')))).toBe(true);
  });

  it('refuses a missing teacher and one whose inputs or classes are not the data\'s, in one line', async () => {
    const missing = await webgpuPrune(...STUDENT, '--teacher', 'nowhere.safetensors', '--out', 'x.safetensors');
    expect(missing.code).not.toBe(0);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toContain('cannot read nowhere.safetensors');

    for (const [sizes, problem] of [
      [[21, 5, 3], '--teacher wrong.safetensors takes 21 inputs but'],
      [[20, 5, 4], '--teacher wrong.safetensors has 4 outputs but'],
    ] as const) {
      writeFileSync(join(dir, 'wrong.safetensors'), encodeModel(initNetwork(sizes, 1), 'safetensors'));
      const wrong = await webgpuPrune(...STUDENT, '--teacher', 'wrong.safetensors', '--out', 'x.safetensors');
      expect(wrong.code).not.toBe(0);
      expect(wrong.stderr.trim().split('\n')).toHaveLength(1);
      expect(wrong.stderr).toContain(problem);
    }
  });
});
