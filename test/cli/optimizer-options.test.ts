/** train's update-rule and schedule flags: what reaches the recipe, and mistakes in one line. */
import { describe, expect, it } from 'vitest';
import { parseArgs, trainOptions } from '../../src/cli/parse';
import type { Recipe } from '../../src/train/recipe';

function recipe(argv: string[]): Recipe {
  const result = parseArgs(['train', ...argv]);
  if (result.kind !== 'command' || result.command.name !== 'train') throw new Error(`expected train, got ${JSON.stringify(result)}`);
  return result.command.recipe;
}

function failure(argv: string[]): string {
  const result = parseArgs(['train', ...argv]);
  if (result.kind !== 'exit' || result.code === 0) throw new Error(`expected a usage error for ${argv.join(' ')}`);
  const [line, hint] = result.output.split('\n');
  expect(hint).toBe("Run 'webgpu-prune train --help' for usage.");
  return line!.replace(/^webgpu-prune: /, '');
}

describe('train --optimizer and --lr-schedule', () => {
  it('the seed rule with its schedule adds nothing to the recipe', () => {
    const r = recipe([]);
    for (const key of ['optimizer', 'weightDecay', 'beta1', 'beta2', 'eps', 'lrSchedule', 'warmup']) expect(r).not.toHaveProperty(key);
    expect(r).toMatchObject({ learningRate: 0.0005, momentum: 0.67, factor: 0.99 });
    expect(recipe(['--lr-schedule', 'cosine', '--warmup', '3'])).toMatchObject({ lrSchedule: 'cosine', warmup: 3 });
  });

  it("each rule gets its own defaults: lr, momentum, Adam's constants, a cosine schedule", () => {
    expect(recipe(['--optimizer', 'adam'])).toMatchObject({ optimizer: 'adam', learningRate: 0.001, momentum: 0, weightDecay: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8, lrSchedule: 'cosine' });
    expect(recipe(['--optimizer', 'momentum'])).toMatchObject({ optimizer: 'momentum', learningRate: 0.2, momentum: 0.9, lrSchedule: 'cosine' });
    const sgd = recipe(['--optimizer', 'sgd', '--lr', '0.2', '--weight-decay', '5e-4', '--lr-schedule', 'constant']);
    expect(sgd).toMatchObject({ optimizer: 'sgd', learningRate: 0.2, weightDecay: 5e-4, lrSchedule: 'constant' });
    expect(sgd).not.toHaveProperty('beta1');
    expect(recipe(['--optimizer', 'adamw', '--beta1', '0.8', '--beta2', '0.99', '--eps', '1e-6', '--weight-decay', '0.01', '--warmup', '2'])).toMatchObject({
      optimizer: 'adamw', beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.01, warmup: 2,
    });
    expect(recipe(['--optimizer', 'momentum', '--lr-schedule', 'seed-decay', '--factor', '0.95'])).toMatchObject({ lrSchedule: 'seed-decay', factor: 0.95 });
  });

  it('options that do not fit the rule or schedule, and values out of range, are one line', () => {
    for (const [argv, message] of [
      [['--optimizer', 'adam', '--momentum', '0.9'], /^--momentum does not apply to --optimizer adam \(its momentum is --beta1\)$/],
      [['--optimizer', 'sgd', '--momentum', '0.9'], /^--momentum does not apply to --optimizer sgd/],
      [['--beta1', '0.9'], /^--beta1 needs --optimizer adam or adamw$/],
      [['--optimizer', 'momentum', '--eps', '1e-6'], /^--eps needs --optimizer adam or adamw$/],
      [['--weight-decay', '0.01'], /^--weight-decay needs --optimizer sgd, momentum, adam or adamw$/],
      [['--optimizer', 'adam', '--factor', '0.9'], /^--factor needs --lr-schedule seed-decay \(it is cosine\)$/],
      [['--optimizer', 'adam', '--beta1', '1'], /^--beta1 must be a fraction in \[0, 1\), got 1$/],
      [['--optimizer', 'adam', '--beta2', '-0.1'], /^--beta2 must be a fraction in \[0, 1\), got -0.1$/],
      [['--optimizer', 'adam', '--eps', '0'], /^--eps must be a positive number, got 0$/],
      [['--optimizer', 'sgd', '--weight-decay', '-1'], /^--weight-decay must be a number ≥ 0, got -1$/],
      [['--warmup', '50'], /^--warmup must be a whole number of epochs from 0 to 49, got 50$/],
      [['--optimizer', 'rmsprop'], /^--optimizer must be one of .*seed.*adamw.*, got "rmsprop"$/],
      [['--lr-schedule', 'step'], /^--lr-schedule must be one of .*cosine.*, got "step"$/],
      [['--resume', 'run.ckpt', '--optimizer', 'adam'], /^--optimizer cannot change when resuming/],
    ] as const) {
      expect(failure([...argv]), argv.join(' ')).toMatch(message);
    }
  });

  it('every new option has --help text', () => {
    for (const name of ['optimizer', 'weight-decay', 'beta1', 'beta2', 'eps', 'lr-schedule', 'warmup'] as const) {
      expect(trainOptions[name].describe.length, name).toBeGreaterThan(20);
    }
    const help = parseArgs(['train', '--help']);
    expect(help.kind === 'exit' && help.output).toMatch(/--lr-schedule/);
  });
});
