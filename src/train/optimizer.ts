/**
 * Update rules and learning-rate schedules. The seed's rule is the default; the others are the
 * usual ones on the mean gradient of a batch:
 *
 *   seed      v += Σ_batch a·δ;  w += lr·v;  v *= momentum            (δ = onehot − p: a batch SUM)
 *   sgd       g = ∇ + wd·w;  w −= lr·g                                  (∇ = the batch MEAN of the loss gradient)
 *   momentum  g = ∇ + wd·w;  b = μ·b + g;  w −= lr·b                    (PyTorch's SGD with momentum)
 *   adam      g = ∇ + wd·w;  m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²;
 *             w −= lr·m̂ / (√v̂ + ε),  m̂ = m/(1−β1ᵗ), v̂ = v/(1−β2ᵗ), t = updates so far
 *   adamw     as adam with g = ∇, and the decay decoupled: w −= lr·wd·w before the step
 *
 * Schedules set an epoch's learning rate (and the seed's and momentum's momentum): `seed-decay`
 * multiplies both by the recipe's factor after every epoch in float32 (the seed's arithmetic);
 * `constant` keeps them; `cosine` takes lr from its full value down along half a cosine over the
 * epochs after the warm-up. A warm-up of N epochs runs epoch k (1-based) at lr·k/(N+1) first.
 */
import type { Recipe } from './recipe';

export const OPTIMIZERS = ['seed', 'sgd', 'momentum', 'adam', 'adamw'] as const;
export type OptimizerKind = (typeof OPTIMIZERS)[number];

export const LR_SCHEDULES = ['seed-decay', 'constant', 'cosine'] as const;
export type LrSchedule = (typeof LR_SCHEDULES)[number];

/** What an update needs beyond the epoch's lr and momentum; fixed for a run. */
export interface OptimizerSettings {
  kind: OptimizerKind;
  /** sgd, momentum, adam: L2, added to the gradient; adamw: decoupled. Unused by the seed's rule. */
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
}

/** Adam's usual constants (Kingma & Ba). */
export const ADAM_DEFAULTS = Object.freeze({ beta1: 0.9, beta2: 0.999, eps: 1e-8 });

export const SEED_OPTIMIZER: Readonly<OptimizerSettings> = Object.freeze({ kind: 'seed' as const, weightDecay: 0, ...ADAM_DEFAULTS });

/**
 * Learning rate and momentum of each rule when none is given (the seed's: its recipe). sgd's and
 * momentum's suit the seed's batch of 800 on MNIST (README, "Optimizers"); Adam's is the usual one.
 */
export const OPTIMIZER_DEFAULTS: Readonly<Record<Exclude<OptimizerKind, 'seed'>, { learningRate: number; momentum: number }>> = Object.freeze({
  sgd: { learningRate: 0.5, momentum: 0 },
  momentum: { learningRate: 0.2, momentum: 0.9 },
  adam: { learningRate: 0.001, momentum: 0 },
  adamw: { learningRate: 0.001, momentum: 0 },
});

/** Whether the rule has a momentum that `--momentum` sets (Adam's is β1). */
export function usesMomentum(kind: OptimizerKind): boolean {
  return kind === 'seed' || kind === 'momentum';
}

export function isAdam(kind: OptimizerKind): boolean {
  return kind === 'adam' || kind === 'adamw';
}

/** The recipe's update rule; a recipe written before rules were options has the seed's. */
export function optimizerOf(recipe: Recipe): OptimizerSettings {
  return {
    kind: recipe.optimizer ?? 'seed',
    weightDecay: recipe.weightDecay ?? 0,
    beta1: recipe.beta1 ?? ADAM_DEFAULTS.beta1,
    beta2: recipe.beta2 ?? ADAM_DEFAULTS.beta2,
    eps: recipe.eps ?? ADAM_DEFAULTS.eps,
  };
}

/** The schedule a rule gets when none is named: the seed's decay for the seed's rule, else cosine. */
export function defaultSchedule(kind: OptimizerKind): LrSchedule {
  return kind === 'seed' ? 'seed-decay' : 'cosine';
}

export function scheduleOf(recipe: Recipe): LrSchedule {
  return recipe.lrSchedule ?? defaultSchedule(recipe.optimizer ?? 'seed');
}

export interface EpochRates {
  learningRate: number;
  momentum: number;
}

/** The learning rate and momentum of epoch `epoch` (0-based) of `recipe`. */
export function epochRates(recipe: Recipe, epoch: number): EpochRates {
  const warmup = recipe.warmup ?? 0;
  const base = recipe.learningRate;
  if (epoch < warmup) return { learningRate: (base * (epoch + 1)) / (warmup + 1), momentum: recipe.momentum };
  const since = epoch - warmup;
  switch (scheduleOf(recipe)) {
    case 'seed-decay': {
      // Multiplied once per epoch, rounded to float32 each time, as the seed does: epoch 0 is the recipe's value itself.
      let learningRate = base;
      let momentum = recipe.momentum;
      for (let e = 0; e < since; e++) {
        learningRate = Math.fround(learningRate * recipe.factor);
        momentum = Math.fround(momentum * recipe.factor);
      }
      return { learningRate, momentum };
    }
    case 'constant':
      return { learningRate: base, momentum: recipe.momentum };
    case 'cosine':
      return { learningRate: base * 0.5 * (1 + Math.cos((Math.PI * since) / (recipe.epochs - warmup))), momentum: recipe.momentum };
  }
}

/** Why the optimizer fields of a recipe read from a file cannot train, or null. */
export function optimizerProblem(recipe: Recipe): string | null {
  if (recipe.optimizer !== undefined && !OPTIMIZERS.includes(recipe.optimizer)) return `optimizer ${JSON.stringify(recipe.optimizer)} is not one of ${OPTIMIZERS.join(', ')}`;
  if (recipe.lrSchedule !== undefined && !LR_SCHEDULES.includes(recipe.lrSchedule)) return `lrSchedule ${JSON.stringify(recipe.lrSchedule)} is not one of ${LR_SCHEDULES.join(', ')}`;
  const { weightDecay, beta1, beta2, eps } = optimizerOf(recipe);
  if (!(weightDecay >= 0 && Number.isFinite(weightDecay))) return `weightDecay is ${JSON.stringify(recipe.weightDecay)}, not a number ≥ 0`;
  for (const [key, value] of [['beta1', beta1], ['beta2', beta2]] as const) {
    if (!(value >= 0 && value < 1)) return `${key} is ${JSON.stringify(recipe[key])}, not in [0, 1)`;
  }
  if (!(eps > 0 && Number.isFinite(eps))) return `eps is ${JSON.stringify(recipe.eps)}, not a positive number`;
  const warmup = recipe.warmup ?? 0;
  if (!Number.isSafeInteger(warmup) || warmup < 0 || warmup >= recipe.epochs) return `warmup is ${JSON.stringify(recipe.warmup)}, not a whole number of epochs below ${recipe.epochs}`;
  return null;
}
