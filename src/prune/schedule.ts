/**
 * When and how much to prune during training.
 * - `once`: the seed's schedule, one pass after epoch `epoch` (0-based, the seed uses EPOCHS/2),
 *   either by threshold (w² < t) or to a target sparsity.
 * - `gradual`: Zhu & Gupta (2017), "To prune, or not to prune": after each epoch t in
 *   [start, start + n·every] the target sparsity is s_t = s_f + (s_i − s_f)(1 − (t − start)/(n·every))³,
 *   so pruning is fast while the network has redundant weights and slows as it approaches s_f.
 *   The mask then holds through every later update (fine-tuning keeps it).
 */
import type { SparsityScope } from './unstructured';

/**
 * A sparsity target: one fraction, ranked across the network (`global`) or within each layer
 * (`layer`), or one fraction per layer (a per-layer policy, e.g. a denser output layer).
 */
export interface SparsityTarget {
  sparsity: number | number[];
  scope: SparsityScope;
}

export type PruneSchedule =
  | { kind: 'none' }
  | { kind: 'once'; epoch: number; threshold: number }
  | ({ kind: 'once-sparsity'; epoch: number } & SparsityTarget)
  | ({ kind: 'gradual'; start: number; end: number; every: number; initialSparsity: number } & SparsityTarget);

/**
 * The sparsity a gradual schedule asks for after epoch `epoch` (per layer when the schedule has
 * a per-layer policy), or null when it does not prune then.
 */
export function gradualTarget(s: Extract<PruneSchedule, { kind: 'gradual' }>, epoch: number): number | number[] | null {
  if (epoch < s.start || epoch > s.end) return null;
  if ((epoch - s.start) % s.every !== 0) return null;
  const span = s.end - s.start;
  const remaining = (1 - (span === 0 ? 1 : (epoch - s.start) / span)) ** 3;
  const at = (final: number): number => final + (Math.min(s.initialSparsity, final) - final) * remaining;
  return typeof s.sparsity === 'number' ? at(s.sparsity) : s.sparsity.map(at);
}
