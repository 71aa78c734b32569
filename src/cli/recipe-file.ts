/**
 * `train --recipe FILE`: a JSON object of train options keyed like the flags, or a network that
 * `train` saved, whose metadata holds the recipe it was trained with, or the name of a shipped
 * recipe (src/train/shipped-recipes.ts) where no file has that name. The file is read here,
 * before the pure `parseArgs` merges it under the command line's flags.
 */
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { detectAndParseModel, detectModelFormat } from '../format/model-file';
import { readModelFile } from '../node/files';
import { recipeProblem } from '../train/checkpoint';
import { SHIPPED_RECIPE_NAMES, shippedRecipe } from '../train/shipped-recipes';
import { defaultSchedule, usesMomentum } from '../train/optimizer';
import type { SparsityTarget } from '../prune/schedule';
import type { Recipe } from '../train/recipe';
import { UserError } from '../util/errors';
import { printable } from '../util/format';
import { parseArgs, recipeFileArgument, type ParseResult, type RecipeOptions } from './parse';

/** `parseArgs`, after reading the `--recipe` file a train command line names. */
export async function parseCommandLine(argv: readonly string[]): Promise<ParseResult> {
  const file = recipeFileArgument(argv);
  if (file === undefined) return parseArgs(argv);
  try {
    return parseArgs(argv, await readRecipeFile(file));
  } catch (err) {
    if (err instanceof UserError) return { kind: 'exit', code: 1, output: `webgpu-prune: ${printable(err.message)}` };
    throw err;
  }
}

/** The train options in a recipe file: a JSON object as it stands, or a saved network's recipe as flags; or a shipped recipe's. */
export async function readRecipeFile(file: string): Promise<RecipeOptions> {
  const shipped = shippedRecipe(file);
  if (shipped && !existsSync(file)) return { file: `${file} (shipped recipe)`, options: { ...shipped.options } };
  const bytes = await readModelFile(file).catch((error: unknown) => {
    if (error instanceof UserError && !existsSync(file)) {
      throw new UserError(`${error.message}, nor is it a shipped recipe (${SHIPPED_RECIPE_NAMES})`);
    }
    throw error;
  });
  // Text opening with { or [ is tried as JSON first: a safetensors file may open with "{" too (a header length of 123 + 256k).
  const first = bytes.find((b) => !JSON_SPACE.includes(b));
  const json = bytes.length <= MAX_RECIPE_JSON_BYTES && (first === 0x7b || first === 0x5b) ? jsonValue(bytes) : undefined;
  if (json && 'value' in json) return { file, options: recipeObject(json.value, file) };
  if (detectModelFormat(bytes) === undefined) throw new UserError(`${file}: not a JSON recipe nor a saved network${json ? ` (${json.error})` : ''}`);
  const { metadata } = detectAndParseModel(bytes, basename(file));
  if (metadata['recipe'] === undefined) throw new UserError(`${file} holds no recipe (only networks saved by train have one)`);
  let recipe: Recipe;
  try {
    recipe = JSON.parse(metadata['recipe']) as Recipe;
  } catch (error) {
    throw new UserError(`${file}: its recipe is not valid JSON (${(error as Error).message})`);
  }
  const problem = recipeProblem(recipe);
  if (problem) throw new UserError(`${file}: its recipe cannot be rerun: ${problem}`);
  const stored = { file, options: recipeOptions(recipe) };
  // The flags must give back exactly the recipe the network was trained with.
  const rerun = parseArgs(['train'], stored);
  if (rerun.kind === 'exit') throw new UserError(rerun.output.split('\n')[0]!.replace(/^webgpu-prune: /, ''));
  const command = rerun.command;
  if (command.name !== 'train') throw new Error('a train command line parsed as another command');
  const differing = Object.keys({ ...recipe, ...command.recipe }).filter(
    (key) => !isDeepStrictEqual(recipe[key as keyof Recipe], command.recipe[key as keyof Recipe]),
  );
  if (differing.length > 0) throw new UserError(`${file}: its recipe cannot be rerun: train has no options for its ${differing.join(', ')}`);
  return stored;
}

/** Recipes are a few hundred bytes; anything larger is a network. */
const MAX_RECIPE_JSON_BYTES = 1 << 20;

/** Space, tab, line feed, carriage return. */
const JSON_SPACE = [0x20, 0x09, 0x0a, 0x0d];

function jsonValue(bytes: Uint8Array): { value: unknown } | { error: string } {
  try {
    return { value: JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

function recipeObject(value: unknown, file: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new UserError(`${file}: a recipe is a JSON object of train options, e.g. {"epochs": 50, "shuffle": true}`);
  }
  return value as Record<string, unknown>;
}

/**
 * The train options that give `recipe` (epochs 1-based, as on the command line); --momentum and
 * --factor only where its update rule and learning-rate schedule take them.
 */
export function recipeOptions(recipe: Recipe): Record<string, unknown> {
  const options: Record<string, unknown> = {
    sizes: recipe.sizes.join(','),
    epochs: recipe.epochs,
    'batch-size': recipe.batchSize,
    lr: recipe.learningRate,
    confidence: recipe.confidence,
    seed: recipe.seed,
    shuffle: recipe.shuffle,
  };
  const optimizer = recipe.optimizer ?? 'seed';
  if (usesMomentum(optimizer)) options['momentum'] = recipe.momentum;
  if ((recipe.lrSchedule ?? defaultSchedule(optimizer)) === 'seed-decay') options['factor'] = recipe.factor;
  const optional = {
    optimizer: recipe.optimizer,
    'weight-decay': recipe.weightDecay,
    beta1: recipe.beta1,
    beta2: recipe.beta2,
    eps: recipe.eps,
    'lr-schedule': recipe.lrSchedule,
    warmup: recipe.warmup,
    bias: recipe.bias,
    shift: recipe.shift,
    deskew: recipe.deskew,
  };
  for (const [key, value] of Object.entries(optional)) if (value !== undefined) options[key] = value;
  if (recipe.distill) Object.assign(options, { teacher: recipe.distill.teacher, 'distill-weight': recipe.distill.weight, temperature: recipe.distill.temperature });
  const prune = recipe.prune;
  const target = (sparsityKey: string, { sparsity, scope, score }: SparsityTarget): Record<string, unknown> => ({
    ...(typeof sparsity === 'number' ? { [sparsityKey]: sparsity, scope } : { 'layer-sparsity': sparsity.join(',') }),
    ...(score ? { 'prune-score': score } : {}),
  });
  switch (prune.kind) {
    case 'none':
      return { ...options, schedule: 'none' };
    case 'once':
      return { ...options, schedule: 'once', 'prune-epoch': prune.epoch + 1, threshold: prune.threshold };
    case 'once-sparsity':
      return { ...options, schedule: 'once', 'prune-epoch': prune.epoch + 1, ...target('sparsity', prune) };
    case 'gradual':
      return {
        ...options,
        schedule: 'gradual',
        'prune-start': prune.start + 1,
        'prune-end': prune.end + 1,
        'prune-every': prune.every,
        'initial-sparsity': prune.initialSparsity,
        ...target('final-sparsity', prune),
        ...(prune.regrow ? { regrow: prune.regrow.fraction, 'regrow-end': prune.regrow.end + 1 } : {}),
      };
  }
}
