/**
 * When and how much to prune during training.
 * - `once`: the seed's schedule, one pass after epoch `epoch` (0-based, the seed uses EPOCHS/2),
 *   either by threshold (w² < t) or to a target sparsity.
 * - `gradual`: Zhu & Gupta (2017), "To prune, or not to prune": after each epoch t in
 *   [start, start + n·every] the target sparsity is s_t = s_f + (s_i − s_f)(1 − (t − start)/(n·every))³,
 *   so pruning is fast while the network has redundant weights and slows as it approaches s_f.
 *   The mask then holds through every later update (fine-tuning keeps it), unless the schedule
 *   regrows (`regrow`, src/prune/regrow.ts): then each pass also moves a share of every layer's
 *   kept weights to where the gradient is largest, and the passes go on at the final sparsity,
 *   moving weights only, until `regrow.end`.
 */
import type { PruneScore, SparsityScope } from './unstructured';

/**
 * A sparsity target: one fraction, ranked across the network (`global`) or within each layer
 * (`layer`), or one fraction per layer (a per-layer policy, e.g. a denser output layer).
 */
export interface SparsityTarget {
  sparsity: number | number[];
  scope: SparsityScope;
  /** What the passes rank (and regrowth drops) by (absent: magnitude, as recipes written before it was an option). */
  score?: PruneScore;
}

/** Regrowth in a gradual schedule (RigL-style, src/prune/regrow.ts). */
export interface Regrowth {
  /** The share of each layer's kept weights that the first pass moves; it falls along half a cosine to 0 at `end`. */
  fraction: number;
  /** The last epoch (0-based, at or after the schedule's end) with a pass; the passes after the schedule's end keep its final sparsity. */
  end: number;
}

export type GradualSchedule = { kind: 'gradual'; start: number; end: number; every: number; initialSparsity: number; regrow?: Regrowth } & SparsityTarget;

export type PruneSchedule =
  | { kind: 'none' }
  | { kind: 'once'; epoch: number; threshold: number }
  | ({ kind: 'once-sparsity'; epoch: number } & SparsityTarget)
  | GradualSchedule;

/**
 * The sparsity a gradual schedule asks for after epoch `epoch` (per layer when the schedule has
 * a per-layer policy), or null when it has no pass then. A regrowing schedule's passes after its
 * end ask for the final sparsity.
 */
export function gradualTarget(s: GradualSchedule, epoch: number): number | number[] | null {
  if (epoch < s.start || epoch > (s.regrow?.end ?? s.end)) return null;
  // Every `every` epochs from the start, and at the end whatever the step: the final sparsity is reached there.
  if ((epoch - s.start) % s.every !== 0 && epoch !== s.end) return null;
  const span = s.end - s.start;
  const remaining = (1 - (span === 0 ? 1 : Math.min(1, (epoch - s.start) / span))) ** 3;
  const at = (final: number): number => final + (Math.min(s.initialSparsity, final) - final) * remaining;
  return typeof s.sparsity === 'number' ? at(s.sparsity) : s.sparsity.map(at);
}

/** The share of each layer's kept weights that the pass after epoch `epoch` moves: 0 without regrowth. */
export function regrowthFraction(s: GradualSchedule, epoch: number): number {
  if (!s.regrow || gradualTarget(s, epoch) === null) return 0;
  const span = s.regrow.end - s.start;
  return span === 0 ? 0 : (s.regrow.fraction * (1 + Math.cos((Math.PI * (epoch - s.start)) / span))) / 2;
}
