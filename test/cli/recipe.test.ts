/**
 * `train --recipe`: JSON recipe files keyed like the flags, flags overriding them, the recipe in a
 * saved network's metadata, and the recipe files shipped in scripts/recipes/, each of which must
 * give exactly the recipe of the flags the README lists for it.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseArgs, type RecipeOptions, type TrainCommand } from '../../src/cli/parse';
import { parseCommandLine, readRecipeFile, recipeOptions } from '../../src/cli/recipe-file';
import { encodeModel } from '../../src/format/model-file';
import { initNetwork } from '../../src/model/network';
import { SEED_RECIPE, type Recipe } from '../../src/train/recipe';
import { SHIPPED_RECIPES } from '../../src/train/shipped-recipes';
import { temporaryFolder } from '../helpers/temporary-folder';

const dir = temporaryFolder('webgpu-prune-recipe-');

function trainCommand(argv: string[], recipe?: RecipeOptions): TrainCommand {
  const parsed = parseArgs(argv, recipe);
  if (parsed.kind !== 'command' || parsed.command.name !== 'train') throw new Error(`not a train command: ${JSON.stringify(parsed)}`);
  return parsed.command;
}

/** The one line a mistake gets (the second is where to read the usage). */
function mistake(argv: string[], recipe?: RecipeOptions): string {
  const parsed = parseArgs(argv, recipe);
  if (parsed.kind !== 'exit' || parsed.code === 0) throw new Error(`not a mistake: ${JSON.stringify(parsed)}`);
  return parsed.output.split('\n')[0]!;
}

function jsonFile(name: string, value: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(value));
  return path;
}

async function viaFile(argv: string[]): Promise<TrainCommand> {
  const parsed = await parseCommandLine(argv);
  if (parsed.kind !== 'command' || parsed.command.name !== 'train') throw new Error(`not a train command: ${JSON.stringify(parsed)}`);
  return parsed.command;
}

describe('train --recipe FILE.json', () => {
  it('takes every key as its flag, and the command line wins over the file', async () => {
    const file = jsonFile('gradual.json', {
      sizes: '784,64,32,10',
      epochs: 12,
      'batch-size': 100,
      lr: 0.002,
      schedule: 'gradual',
      'layer-sparsity': [0.9, 0.8, 0.5],
      'prune-start': 2,
      'prune-end': 8,
      shuffle: true,
      limit: 3000,
      out: 'from-recipe.safetensors',
    });
    const fromFile = await viaFile(['train', '--recipe', file]);
    expect(fromFile.recipe).toEqual({
      ...SEED_RECIPE,
      sizes: [784, 64, 32, 10],
      epochs: 12,
      batchSize: 100,
      learningRate: 0.002,
      shuffle: true,
      prune: { kind: 'gradual', start: 1, end: 7, every: 1, initialSparsity: 0, sparsity: [0.9, 0.8, 0.5], scope: 'layer' },
    });
    expect([fromFile.limit, fromFile.out, fromFile.sizesGiven]).toEqual([3000, 'from-recipe.safetensors', true]);

    const overridden = await viaFile(['train', '--recipe', file, '--epochs', '20', '--prune-end=15', '--no-shuffle', '--out', 'mine.safetensors']);
    expect(overridden.recipe).toMatchObject({ epochs: 20, shuffle: false, learningRate: 0.002 });
    expect(overridden.recipe.prune).toMatchObject({ kind: 'gradual', start: 1, end: 14 });
    expect(overridden.out).toBe('mine.safetensors');
  });

  it('checks the file like flags: unknown keys, wrong types and bad values get one line naming the file', async () => {
    const recipe = (options: Record<string, unknown>): RecipeOptions => ({ file: 'r.json', options });
    expect(mistake(['train'], recipe({ epoch: 5 }))).toBe(
      'webgpu-prune: r.json: unknown key "epoch": keys are train options named like the flags (e.g. "epochs", "layer-sparsity")',
    );
    expect(mistake(['train'], recipe({ recipe: 'other.json' }))).toMatch(/^webgpu-prune: r\.json: unknown key "recipe"/);
    expect(mistake(['train'], recipe({ epochs: '50' }))).toBe('webgpu-prune: r.json: "epochs" must be a number, got "50"');
    expect(mistake(['train'], recipe({ shuffle: 1 }))).toBe('webgpu-prune: r.json: "shuffle" must be true or false, got 1');
    expect(mistake(['train'], recipe({ schedule: 'sometimes' }))).toBe('webgpu-prune: r.json: "schedule" must be one of once, gradual, none, got "sometimes"');
    expect(mistake(['train'], recipe({ sizes: [784, '100', 10] }))).toBe('webgpu-prune: r.json: "sizes" must be a string, got [784,"100",10]');
    expect(mistake(['train'], recipe({ epochs: 0 }))).toBe('webgpu-prune: --epochs must be a positive integer, got 0; --epochs comes from r.json');
    // A value the command line makes impossible says where it came from; one given there does not.
    const regrowing = recipe({ schedule: 'gradual', 'prune-end': 20, regrow: 0.1, 'regrow-end': 40 });
    expect(mistake(['train', '--schedule', 'once'], regrowing)).toBe('webgpu-prune: --regrow needs --schedule gradual; --regrow comes from r.json');
    expect(mistake(['train', '--epochs', '30'], regrowing)).toBe('webgpu-prune: --regrow-end must be an epoch from 1 to 30, got 40; --regrow-end comes from r.json');
    expect(mistake(['train', '--regrow-end', '10'], regrowing)).toBe('webgpu-prune: --regrow-end (10) comes before --prune-end (20)');
    expect(mistake(['train', '--resume', 'x.ckpt', '--recipe', 'r.json'], recipe({}))).toMatch(/--recipe cannot go with --resume/);

    const notJson = join(dir, 'broken.json');
    writeFileSync(notJson, '{"epochs": 5,');
    const broken = await parseCommandLine(['train', '--recipe', notJson]);
    expect(broken).toMatchObject({ kind: 'exit', code: 1 });
    expect(broken.kind === 'exit' && broken.output).toMatch(new RegExp(`^webgpu-prune: ${notJson}: not a JSON recipe nor a saved network \\(.*\\)$`));
    const list = await parseCommandLine(['train', '--recipe', jsonFile('list.json', [1, 2])]);
    expect(list.kind === 'exit' && list.output).toMatch(/a recipe is a JSON object of train options/);
  });

  it('sizes come from --sizes or the recipe; otherwise the data sets the first and last', () => {
    expect(trainCommand(['train']).sizesGiven).toBe(false);
    expect(trainCommand(['train', '--sizes', '784,10']).sizesGiven).toBe(true);
    expect(trainCommand(['train'], { file: 'r.json', options: { sizes: '20,8,3' } }).sizesGiven).toBe(true);
    expect(trainCommand(['train'], { file: 'r.json', options: { epochs: 3 } }).sizesGiven).toBe(false);
  });
});

describe('recipes as flags', () => {
  const commandLines = [
    [],
    ['--schedule', 'none', '--sizes', '20,7,3', '--seed', '-5', '--confidence', '1.5'],
    ['--prune-epoch', '4', '--threshold', '0.003', '--epochs', '9'],
    ['--sparsity', '0.8', '--scope', 'layer', '--factor', '1'],
    ['--layer-sparsity', '0.5,0.4,0.1', '--prune-epoch', '2'],
    ['--schedule', 'gradual', '--final-sparsity', '0.97', '--initial-sparsity', '0.1', '--prune-every', '3', '--scope', 'global'],
    ['--schedule', 'gradual', '--layer-sparsity', '0.956,0.925,0.73', '--prune-start', '3', '--prune-end', '25', '--shuffle'],
    ['--schedule', 'gradual', '--layer-sparsity', '0.99,0.98,0.9', '--prune-end', '25', '--regrow', '0.1', '--regrow-end', '45'],
    ['--schedule', 'gradual', '--final-sparsity', '0.9', '--prune-score', 'lookahead', '--regrow', '0.2'],
    ['--sparsity', '0.8', '--prune-score', 'lookahead'],
    ['--optimizer', 'adam', '--lr', '0.001', '--beta2', '0.99', '--warmup', '2'],
    ['--optimizer', 'adamw', '--weight-decay', '0.01', '--lr-schedule', 'constant'],
    ['--optimizer', 'sgd', '--lr-schedule', 'seed-decay', '--factor', '0.97'],
    ['--optimizer', 'momentum', '--momentum', '0.8', '--lr-schedule', 'cosine'],
    ['--lr-schedule', 'cosine', '--momentum', '0.5'],
  ];
  for (const flags of commandLines) {
    it(`give back the recipe of: train ${flags.join(' ')}`, () => {
      const recipe = trainCommand(['train', ...flags]).recipe;
      expect(trainCommand(['train'], { file: 'saved', options: recipeOptions(recipe) }).recipe).toEqual(recipe);
    });
  }
});

describe('train --recipe MODEL: the recipe a saved network was trained with', () => {
  const recipe = trainCommand(['train', '--sizes', '20,16,3', '--epochs', '7', '--schedule', 'gradual', '--layer-sparsity', '0.5,0.2', '--shuffle']).recipe;
  const model = (name: string, metadata: Record<string, string>): string => {
    const path = join(dir, name);
    writeFileSync(path, encodeModel(initNetwork([20, 16, 3], 1), 'safetensors', { metadata }));
    return path;
  };

  it('reruns it, with flags still overriding', async () => {
    const file = model('trained.safetensors', { recipe: JSON.stringify(recipe), keptWeights: '100' });
    expect((await viaFile(['train', '--recipe', file])).recipe).toEqual(recipe);
    expect((await viaFile(['train', '--recipe', file, '--epochs', '9'])).recipe).toEqual({ ...recipe, epochs: 9 });
    expect((await readRecipeFile(file)).options).toMatchObject({ sizes: '20,16,3', 'layer-sparsity': '0.5,0.2', 'prune-end': 4 });
  });

  it('refuses a network with no recipe, or one the flags cannot give back', async () => {
    const bare = model('bare.safetensors', {});
    expect(await parseCommandLine(['train', '--recipe', bare])).toEqual({
      kind: 'exit',
      code: 1,
      output: `webgpu-prune: ${bare} holds no recipe (only networks saved by train have one)`,
    });
    const future = model('future.safetensors', { recipe: JSON.stringify({ ...recipe, dropout: 0.5 }) });
    const refused = await parseCommandLine(['train', '--recipe', future]);
    expect(refused).toEqual({ kind: 'exit', code: 1, output: `webgpu-prune: ${future}: its recipe cannot be rerun: train has no options for its dropout` });
    const broken = model('broken.safetensors', { recipe: JSON.stringify({ ...recipe, epochs: 'many' }) });
    expect(await parseCommandLine(['train', '--recipe', broken])).toMatchObject({
      output: `webgpu-prune: ${broken}: its recipe cannot be rerun: epochs is "many", not a positive integer`,
    });
  });
});

describe('the recipes in scripts/recipes/', () => {
  // The README lists each by name and file beside the flags it stands for: | `x` | `scripts/recipes/x.json` | `train --flags` |
  const readme = readFileSync('README.md', 'utf8');
  const listed = [...readme.matchAll(/^\| `[\w-]+` \| `(scripts\/recipes\/[\w-]+\.json)` \| `train((?: [^`]*)?)` \|/gm)].map(([, file, flags]) => ({
    file: file!,
    flags: flags!.trim().split(/\s+/).filter(Boolean),
  }));

  it('are all listed in the README, and only they', () => {
    const shipped = readdirSync('scripts/recipes').map((name) => `scripts/recipes/${name}`).sort();
    expect(listed.map((r) => r.file).sort()).toEqual(shipped);
    expect(shipped).toContain('scripts/recipes/seed.json');
  });

  for (const { file, flags } of listed) {
    it(`${file} is exactly: train ${flags.join(' ')}`, async () => {
      const fromFile = await viaFile(['train', '--recipe', file]);
      const fromFlags = trainCommand(['train', ...flags]);
      expect(fromFile.recipe).toEqual(fromFlags.recipe);
      expect(fromFile.sizesGiven).toBe(fromFlags.sizesGiven);
    });
  }

  it('the seed recipe is the default', async () => {
    expect((await viaFile(['train', '--recipe', 'scripts/recipes/seed.json'])).recipe).toEqual<Recipe>(SEED_RECIPE);
  });

  it('ship by name, each the same as its file', async () => {
    const files = readdirSync('scripts/recipes').map((name) => name.replace(/\.json$/, '')).sort();
    expect(SHIPPED_RECIPES.map((r) => r.name).sort()).toEqual(files);
    for (const { name } of SHIPPED_RECIPES) {
      const byName = await viaFile(['train', '--recipe', name]);
      const byFile = await viaFile(['train', '--recipe', `scripts/recipes/${name}.json`]);
      expect(byName.recipe, name).toEqual(byFile.recipe);
      expect(byName.sizesGiven, name).toBe(byFile.sizesGiven);
    }
  });

  it('an empty --recipe is named as such', async () => {
    const result = await parseCommandLine(['train', '--recipe']);
    if (result.kind !== 'exit') throw new Error('an empty --recipe parsed');
    expect(result.output).toMatch(/^webgpu-prune: --recipe needs a value\n/);
  });

  it('a name that is neither a file nor a shipped recipe gets one line that lists what ships', async () => {
    const result = await parseCommandLine(['train', '--recipe', 'three-percent']);
    if (result.kind !== 'exit') throw new Error('three-percent parsed');
    expect(result.code).toBe(1);
    expect(result.output).toBe(`webgpu-prune: cannot read three-percent: no such file, nor is it a shipped recipe (${SHIPPED_RECIPES.map((r) => r.name).join(', ')})`);
  });
});
