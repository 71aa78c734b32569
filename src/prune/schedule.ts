/**
 * When and how much to prune during training.
 * - `once`: the seed's schedule, one pass after epoch `epoch` (0-based, the seed uses EPOCHS/2),
 *   either by threshold (w² < t) or to a target sparsity.
 * - `gradual`: Zhu & Gupta (2017), "To prune, or not to prune": after each epoch t in
 *   [start, start + n·every] the target sparsity is s_t = s_f + (s_i − s_f)(1 − (t − start)/(n·every))³,
 *   so pruning is fast while the network has redundant weights and slows as it approaches s_f.
 *   The mask then holds through every later update (fine-tuning keeps it).
 */
export type PruneSchedule =
  | { kind: 'none' }
  | { kind: 'once'; epoch: number; threshold: number }
  | { kind: 'once-sparsity'; epoch: number; sparsity: number }
  | { kind: 'gradual'; start: number; end: number; every: number; initialSparsity: number; finalSparsity: number };

/** The sparsity a gradual schedule asks for after epoch `epoch`, or null when it does not prune then. */
export function gradualTarget(s: Extract<PruneSchedule, { kind: 'gradual' }>, epoch: number): number | null {
  if (epoch < s.start || epoch > s.end) return null;
  if ((epoch - s.start) % s.every !== 0) return null;
  const span = s.end - s.start;
  const progress = span === 0 ? 1 : (epoch - s.start) / span;
  return s.finalSparsity + (s.initialSparsity - s.finalSparsity) * (1 - progress) ** 3;
}
