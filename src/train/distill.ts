/**
 * Knowledge distillation (Hinton, Vinyals & Dean 2015): the network in training (the student)
 * also learns the softened outputs of a trained network (the teacher).
 *
 * Per backpropagated sample, with student logits z, p = softmax(z), p_T = softmax(z / T) and the
 * teacher's soft targets q_T = softmax(teacher logits / T), the output gradient is
 *
 *   g = (1 − α)·(onehot − p) + α·T·(q_T − p_T)
 *
 * the hard-label term's direction plus T² times the gradient of KL(q_T ‖ p_T) (whose gradient in
 * z is (p_T − q_T) / T), in the sign convention of the trainers, which add lr·g. The T² keeps the
 * soft term's size independent of T. Which samples are backpropagated (p[target] < confidence)
 * and the loss the trainers report (cross-entropy on the hard labels) do not change.
 */

/** The distillation term's constants. */
export interface Distillation {
  /** α in [0, 1]: the soft term's share of the output gradient. */
  weight: number;
  /** T > 0: the temperature both softmaxes of the soft term divide the logits by. */
  temperature: number;
}

/** The constants a distillation run takes when not given (Hinton et al.'s usual range). */
export const DISTILL_DEFAULTS: Readonly<Distillation> = Object.freeze({ weight: 0.5, temperature: 4 });

/** What a recipe keeps of a distillation run: its constants and the teacher's file, as given. */
export interface DistillRecipe extends Distillation {
  teacher: string;
}

/**
 * A trained network's logits for any inputs: how the training loop asks the teacher, whichever
 * backend runs it.
 */
export interface Teacher {
  /** Logits `[count, classes]` of `inputs` `[count, features]`. */
  logits(inputs: Float32Array, count: number): Promise<Float32Array>;
}

/** Why these constants cannot drive distillation, or null. */
export function distillationProblem(d: Distillation): string | null {
  if (typeof d.weight !== 'number' || !(d.weight >= 0 && d.weight <= 1)) return `the distillation weight must be in [0, 1], got ${d.weight}`;
  if (typeof d.temperature !== 'number' || !(d.temperature > 0 && Number.isFinite(d.temperature))) return `the temperature must be a finite number > 0, got ${d.temperature}`;
  return null;
}

/**
 * softmax(row / T) of `logits[offset .. offset + classes)` into `out` (from `outOffset`), in
 * float64 as the subtraction of the row's maximum keeps it finite.
 */
function temperedSoftmax(
  logits: ArrayLike<number>,
  offset: number,
  classes: number,
  temperature: number,
  out: Float32Array | Float64Array,
  outOffset = 0,
): void {
  let max = logits[offset]!;
  for (let c = 1; c < classes; c++) max = Math.max(max, logits[offset + c]!);
  let sum = 0;
  for (let c = 0; c < classes; c++) sum += out[outOffset + c] = Math.exp((logits[offset + c]! - max) / temperature);
  for (let c = 0; c < classes; c++) out[outOffset + c] = out[outOffset + c]! / sum;
}

/**
 * The soft targets q_T `[count, classes]` (float32) of a teacher's logits. A teacher that
 * overflows float32 on a sample teaches nothing sensible: refused, naming the sample.
 */
export function softTargets(logits: Float32Array, count: number, classes: number, temperature: number): Float32Array {
  if (logits.length !== count * classes) throw new RangeError(`the teacher gave ${logits.length} logits for ${count} samples of ${classes} classes`);
  const targets = new Float32Array(count * classes);
  for (let s = 0; s < count; s++) {
    for (let c = 0; c < classes; c++) {
      if (!Number.isFinite(logits[s * classes + c]!)) throw new RangeError(`the teacher's logits of training sample ${s} are not finite`);
    }
    temperedSoftmax(logits, s * classes, classes, temperature, targets, s * classes);
  }
  return targets;
}

/**
 * Mixes the distillation term into one sample's output gradient, in place:
 * grad ← (1 − α)·grad + α·T·(q_T − softmax(z / T)), with grad = onehot − p on entry.
 */
export function addDistillation(
  grad: Float32Array, // [classes] from gradOffset: onehot − p on entry
  gradOffset: number,
  logits: ArrayLike<number>, // the sample's logits z from logitsOffset
  logitsOffset: number,
  soft: ArrayLike<number>, // the sample's q_T from softOffset
  softOffset: number,
  classes: number,
  { weight, temperature }: Distillation,
  scratch: Float64Array = new Float64Array(classes), // [classes]
): void {
  temperedSoftmax(logits, logitsOffset, classes, temperature, scratch);
  for (let c = 0; c < classes; c++) {
    const hard = grad[gradOffset + c]!;
    grad[gradOffset + c] = (1 - weight) * hard + weight * temperature * (soft[softOffset + c]! - scratch[c]!);
  }
}
