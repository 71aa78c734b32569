/**
 * A training run from named options: the form's fields and the page's URL parameters carry the
 * same names as the CLI's `train` flags (`epochs`, `batch-size`, `lr`, `schedule`,
 * `layer-sparsity`, …), so a run reads the same everywhere. The presets are the shipped recipes.
 */
import { isShift, SHIFT_RANGE } from '../data/augment';
import { validateSizes } from '../model/network';
import type { PruneSchedule, SparsityTarget } from '../prune/schedule';
import type { SparsityScope } from '../prune/unstructured';
import { ADAM_DEFAULTS, defaultSchedule, isAdam, OPTIMIZER_DEFAULTS, usesMomentum, type LrSchedule, type OptimizerKind } from '../train/optimizer';
import { SEED_RECIPE, type Recipe } from '../train/recipe';
import { SHIPPED_RECIPES } from '../train/shipped-recipes';
import { UserError } from '../util/errors';
import type { TrainRequest } from './protocol';

export interface Preset {
  name: string;
  label: string;
  /** Option values over the seed's defaults. */
  values: Record<string, string>;
}

/** The shipped recipes (scripts/recipes/), their options as the form's text. */
export const PRESETS: readonly Preset[] = SHIPPED_RECIPES.map(({ name, summary, options }) => ({
  name,
  label: `${name}: ${summary}`,
  values: Object.fromEntries(Object.entries(options).map(([key, value]) => [key, String(value)])),
}));

/** Every option with its default (empty: unset, the recipe derives it). */
export const OPTION_DEFAULTS: Readonly<Record<string, string>> = {
  sizes: SEED_RECIPE.sizes.join(','),
  epochs: String(SEED_RECIPE.epochs),
  'batch-size': String(SEED_RECIPE.batchSize),
  optimizer: 'seed',
  lr: '',
  momentum: '',
  'weight-decay': '',
  beta1: '',
  beta2: '',
  eps: '',
  'lr-schedule': '',
  warmup: '0',
  factor: '',
  confidence: String(SEED_RECIPE.confidence),
  seed: String(SEED_RECIPE.seed),
  shuffle: 'false',
  bias: 'false',
  shift: '0',
  deskew: 'false',
  schedule: 'once',
  'prune-epoch': '',
  threshold: '',
  sparsity: '',
  'initial-sparsity': '0',
  'final-sparsity': '0.95',
  'layer-sparsity': '',
  scope: 'global',
  'prune-score': 'magnitude',
  'prune-start': '',
  'prune-end': '',
  'prune-every': '1',
  regrow: '0',
  'regrow-end': '',
  limit: '',
  test: '',
};

/** The values of a preset, every option filled. */
export function presetValues(name: string): Record<string, string> {
  const preset = PRESETS.find((p) => p.name === name);
  if (!preset) throw new UserError(`preset=${name}: expected one of ${PRESETS.map((p) => p.name).join(', ')}`);
  return { ...OPTION_DEFAULTS, ...preset.values };
}

type Get = (name: string) => string;

function number(get: Get, name: string, check: (v: number) => boolean, expected: string): number {
  const text = get(name).trim();
  const v = Number(text);
  if (text === '' || !Number.isFinite(v) || !check(v)) throw new UserError(`${name} must be ${expected}, got "${text}"`);
  return v;
}

/** As on the CLI: no shift is no `shift` at all. */
const shiftOf = (shift: number): Pick<Recipe, 'shift'> => (shift > 0 ? { shift } : {});
const positiveInteger = (get: Get, name: string): number => number(get, name, (v) => Number.isInteger(v) && v >= 1, 'a whole number ≥ 1');
const positive = (get: Get, name: string): number => number(get, name, (v) => v > 0, 'a number > 0');
const fraction = (get: Get, name: string): number => number(get, name, (v) => v >= 0 && v < 1, 'a fraction in [0, 1)');
const optional = <T>(get: Get, name: string, read: (get: Get, name: string) => T): T | undefined => (get(name).trim() === '' ? undefined : read(get, name));

function list(get: Get, name: string, count: number, check: (v: number) => boolean, expected: string): number[] {
  const text = get(name).trim();
  const values = text.split(',').map((s) => Number(s.trim()));
  if (values.some((v) => !Number.isFinite(v) || !check(v))) throw new UserError(`${name} must be comma-separated ${expected}, got "${text}"`);
  if (count > 0 && values.length !== count) throw new UserError(`${name} needs ${count} values (one per layer), got ${values.length}`);
  return values;
}

/** A checkbox or URL flag: true, on or 1. */
function checked(get: Get, name: string): boolean {
  return ['true', 'on', '1'].includes(get(name));
}

const OPTIMIZERS: readonly OptimizerKind[] = ['seed', 'sgd', 'momentum', 'adam', 'adamw'];
const LR_SCHEDULES: readonly LrSchedule[] = ['seed-decay', 'constant', 'cosine'];

function choice<T extends string>(get: Get, name: string, choices: readonly T[]): T {
  const value = get(name).trim();
  if (!(choices as readonly string[]).includes(value)) throw new UserError(`${name} must be one of ${choices.join(', ')}, got "${value}"`);
  return value as T;
}

/**
 * The update rule and its schedule, as `train`'s flags give them: an empty field takes the rule's
 * default, and a field the rule has no use for (momentum for Adam, β for SGD) is not read, as the
 * page hides it.
 */
function updateRule(get: Get, epochs: number): Pick<Recipe, 'learningRate' | 'momentum' | 'factor' | 'optimizer' | 'weightDecay' | 'beta1' | 'beta2' | 'eps' | 'lrSchedule' | 'warmup'> {
  const optimizer = choice(get, 'optimizer', OPTIMIZERS);
  const schedule = get('lr-schedule').trim() === '' ? defaultSchedule(optimizer) : choice(get, 'lr-schedule', LR_SCHEDULES);
  const defaults = optimizer === 'seed' ? SEED_RECIPE : OPTIMIZER_DEFAULTS[optimizer];
  const fields: ReturnType<typeof updateRule> = {
    learningRate: optional(get, 'lr', positive) ?? defaults.learningRate,
    momentum: (usesMomentum(optimizer) ? optional(get, 'momentum', fraction) : undefined) ?? defaults.momentum,
    factor: (schedule === 'seed-decay' ? optional(get, 'factor', positive) : undefined) ?? SEED_RECIPE.factor,
  };
  if (optimizer !== 'seed') {
    const weightDecay = optional(get, 'weight-decay', (g, n) => number(g, n, (v) => v >= 0, 'a number ≥ 0')) ?? 0;
    Object.assign(fields, { optimizer, weightDecay, lrSchedule: schedule });
  } else if (schedule !== 'seed-decay') {
    fields.lrSchedule = schedule;
  }
  if (isAdam(optimizer)) {
    const open = (g: Get, n: string): number => number(g, n, (v) => v > 0 && v < 1, 'a fraction in (0, 1)');
    fields.beta1 = optional(get, 'beta1', open) ?? ADAM_DEFAULTS.beta1;
    fields.beta2 = optional(get, 'beta2', open) ?? ADAM_DEFAULTS.beta2;
    fields.eps = optional(get, 'eps', positive) ?? ADAM_DEFAULTS.eps;
  }
  const warmup = number(get, 'warmup', (v) => Number.isInteger(v) && v >= 0 && v < epochs, `a whole number of epochs from 0 to ${epochs - 1}`);
  if (warmup > 0) fields.warmup = warmup;
  return fields;
}

/** 1-based epoch option → 0-based epoch. */
function epochOption(get: Get, name: string, epochs: number, fallback: number): number {
  const v = optional(get, name, positiveInteger) ?? fallback;
  if (v > epochs) throw new UserError(`${name} must be an epoch from 1 to ${epochs}, got ${v}`);
  return v - 1;
}

function schedule(get: Get, epochs: number, layers: number): PruneSchedule {
  const kind = get('schedule');
  const layerSparsity = optional(get, 'layer-sparsity', (g, n) => list(g, n, layers, (v) => v >= 0 && v < 1, 'fractions in [0, 1)'));
  const scope: SparsityScope = get('scope') === 'layer' || layerSparsity ? 'layer' : 'global';
  const score = get('prune-score');
  if (score !== 'magnitude' && score !== 'lookahead') throw new UserError(`prune-score must be magnitude or lookahead, got "${score}"`);
  // The default magnitude adds nothing, so that such recipes stay as they were (as on the command line).
  const ranking: Omit<SparsityTarget, 'sparsity'> = score === 'magnitude' ? { scope } : { scope, score };
  if (kind === 'none') return { kind };
  if (kind === 'once') {
    const epoch = epochOption(get, 'prune-epoch', epochs, Math.floor(epochs / 2) + 1);
    const sparsity = layerSparsity ?? optional(get, 'sparsity', fraction);
    if (sparsity !== undefined) return { kind: 'once-sparsity', epoch, sparsity, ...ranking };
    return { kind, epoch, threshold: optional(get, 'threshold', (g, n) => number(g, n, (v) => v >= 0, 'a number ≥ 0')) ?? 0.01 };
  }
  if (kind !== 'gradual') throw new UserError(`schedule must be once, gradual or none, got "${kind}"`);
  const start = epochOption(get, 'prune-start', epochs, Math.max(1, Math.round(epochs * 0.1)));
  const end = epochOption(get, 'prune-end', epochs, Math.max(1, Math.round(epochs * 0.6)));
  if (end < start) throw new UserError(`prune-end (${end + 1}) comes before prune-start (${start + 1})`);
  const initialSparsity = fraction(get, 'initial-sparsity');
  const sparsity = layerSparsity ?? fraction(get, 'final-sparsity');
  const gradual: PruneSchedule = { kind, start, end, every: positiveInteger(get, 'prune-every'), initialSparsity, sparsity, ...ranking };
  const regrow = fraction(get, 'regrow');
  if (regrow === 0) return gradual;
  const regrowEnd = epochOption(get, 'regrow-end', epochs, end + 1);
  if (regrowEnd < end) throw new UserError(`regrow-end (${regrowEnd + 1}) comes before prune-end (${end + 1})`);
  return { ...gradual, regrow: { fraction: regrow, end: regrowEnd } };
}

/**
 * The run that `values` describe (missing options take their defaults), checked with one-line
 * messages naming the option.
 */
export function trainRequest(values: Readonly<Record<string, string | undefined>>): TrainRequest {
  const get: Get = (name) => values[name] ?? OPTION_DEFAULTS[name] ?? '';
  const sizes = list(get, 'sizes', 0, (v) => Number.isInteger(v) && v >= 1, 'whole numbers');
  try {
    validateSizes(sizes);
  } catch (err) {
    throw new UserError(`sizes: ${(err as Error).message}`);
  }
  if (sizes[0] !== 784 || sizes.at(-1) !== 10) throw new UserError(`sizes must start with 784 (28×28 pixels) and end with 10 (digits), got ${sizes.join(',')}`);
  const epochs = positiveInteger(get, 'epochs');
  const recipe: Recipe = {
    sizes,
    epochs,
    batchSize: positiveInteger(get, 'batch-size'),
    confidence: positive(get, 'confidence'),
    seed: number(get, 'seed', (v) => Number.isInteger(v) && Math.abs(v) < 2 ** 31, 'a 32-bit whole number'),
    shuffle: checked(get, 'shuffle'),
    prune: schedule(get, epochs, sizes.length - 1),
    ...updateRule(get, epochs),
    // As on the CLI: the seed's recipe has no `bias` at all.
    ...(checked(get, 'bias') ? { bias: true } : {}),
    ...shiftOf(number(get, 'shift', isShift, SHIFT_RANGE)),
    ...(checked(get, 'deskew') ? { deskew: true } : {}),
  };
  const limit = optional(get, 'limit', positiveInteger) ?? null;
  if (limit !== null && limit < recipe.batchSize) throw new UserError(`limit ${limit} is smaller than one batch (batch-size ${recipe.batchSize})`);
  return { recipe, limit, testLimit: optional(get, 'test', positiveInteger) ?? null };
}
