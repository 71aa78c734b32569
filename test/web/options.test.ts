/**
 * The page's run options read like the CLI's train flags: each preset gives the recipe its
 * shipped recipe file gives `webgpu-prune train`, URL-style values override, and bad values get
 * one line naming the option.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../src/cli/parse';
import { PRESETS, presetValues, trainRequest } from '../../src/web/options';

function cliRecipe(file: string): unknown {
  const options = JSON.parse(readFileSync(new URL(`../../scripts/recipes/${file}`, import.meta.url), 'utf8')) as Record<string, unknown>;
  const result = parseArgs(['train', '--recipe', file], { file, options });
  if (result.kind !== 'command' || result.command.name !== 'train') throw new Error(`train --recipe ${file} did not parse`);
  return result.command.recipe;
}

describe('browser run options', () => {
  it.each(PRESETS.map((p) => p.name))('preset %s is the recipe its shipped recipe file gives the CLI', (name) => {
    expect(trainRequest(presetValues(name)).recipe).toEqual(cliRecipe(`${name}.json`));
  });

  it.each([
    [{ optimizer: 'adam', lr: '0.002', 'weight-decay': '0.0001', warmup: '2', epochs: '10' }],
    [{ optimizer: 'adamw', beta1: '0.8', beta2: '0.99', eps: '1e-7', 'lr-schedule': 'constant' }],
    [{ optimizer: 'momentum', momentum: '0.8', 'lr-schedule': 'seed-decay', factor: '0.98' }],
    [{ optimizer: 'sgd', 'batch-size': '100', 'lr-schedule': 'cosine' }],
    [{ 'lr-schedule': 'constant', momentum: '0.5' }],
    [{ factor: '0.97', lr: '0.001', schedule: 'gradual', 'final-sparsity': '0.9' }],
    [{ schedule: 'gradual', 'prune-end': '20', regrow: '0.1', 'regrow-end': '40' }],
    [{ schedule: 'gradual', regrow: '0.2' }],
    [{ schedule: 'gradual', 'layer-sparsity': '0.99,0.98,0.9', 'prune-score': 'lookahead', regrow: '0.2' }],
    [{ sparsity: '0.9', 'prune-score': 'lookahead' }],
    [{ schedule: 'gradual', 'prune-score': 'magnitude' }],
    [{ bias: 'true', optimizer: 'adam' }],
    [{ bias: 'false' }],
    [{ deskew: 'true', shift: '1' }],
    [{ deskew: 'false' }],
  ])('%j gives the recipe the same train flags give the CLI', (values: Record<string, string>) => {
    const flags = Object.entries(values).flatMap(([name, value]) => [`--${name}`, value]);
    const result = parseArgs(['train', ...flags]);
    if (result.kind !== 'command' || result.command.name !== 'train') throw new Error(`train ${flags.join(' ')} did not parse`);
    expect(trainRequest(values).recipe).toEqual(result.command.recipe);
  });

  it('reads only the fields the update rule uses, as the page shows only those', () => {
    expect(trainRequest({ optimizer: 'adam', momentum: '0.5', factor: '0.9' }).recipe).toEqual(trainRequest({ optimizer: 'adam' }).recipe);
  });

  it('takes options named like the flags over the defaults', () => {
    const request = trainRequest({ epochs: '3', 'batch-size': '100', limit: '2000', test: '500', schedule: 'once', sparsity: '0.9', 'prune-epoch': '2' });
    expect(request.limit).toBe(2000);
    expect(request.testLimit).toBe(500);
    expect(request.recipe).toMatchObject({ epochs: 3, batchSize: 100, prune: { kind: 'once-sparsity', epoch: 1, sparsity: 0.9, scope: 'global' } });
  });

  it.each([
    [{ epochs: '0' }, 'epochs must be a whole number ≥ 1, got "0"'],
    [{ lr: 'fast' }, 'lr must be a number > 0, got "fast"'],
    [{ sizes: '784,100,9' }, 'sizes must start with 784 (28×28 pixels) and end with 10 (digits), got 784,100,9'],
    [{ 'layer-sparsity': '0.9,0.9' }, 'layer-sparsity needs 3 values (one per layer), got 2'],
    [{ schedule: 'gradual', 'prune-start': '9', 'prune-end': '4', epochs: '10' }, 'prune-end (4) comes before prune-start (9)'],
    [{ limit: '100' }, 'limit 100 is smaller than one batch (batch-size 800)'],
    [{ optimizer: 'rmsprop' }, 'optimizer must be one of seed, sgd, momentum, adam, adamw, got "rmsprop"'],
    [{ optimizer: 'adam', beta2: '1' }, 'beta2 must be a fraction in (0, 1), got "1"'],
    [{ warmup: '50' }, 'warmup must be a whole number of epochs from 0 to 49, got "50"'],
    [{ schedule: 'gradual', regrow: '1' }, 'regrow must be a fraction in [0, 1), got "1"'],
    [{ schedule: 'gradual', 'prune-score': 'taylor' }, 'prune-score must be magnitude or lookahead, got "taylor"'],
    [{ schedule: 'gradual', 'prune-end': '20', regrow: '0.1', 'regrow-end': '10' }, 'regrow-end (10) comes before prune-end (20)'],
  ])('refuses %j in one line', (values, message) => {
    expect(() => trainRequest(values)).toThrow(message);
  });
});
