/**
 * `train --teacher FILE`: the teacher network of knowledge distillation, read and checked against
 * the data, and run where the training runs: on the GPU's dense inference engine when training
 * on the GPU, else on the JS reference's forward pass.
 */
import { inferAll } from '../cpu/forward';
import type { Dataset } from '../data/dataset';
import { readsDeskewed } from '../data/deskew';
import { createDenseInference } from '../gpu/dense-inference';
import type { GpuContext } from '../gpu/device';
import type { GpuInference } from '../gpu/inference';
import { gatherInputs } from '../prune/structured';
import type { Teacher } from '../train/distill';
import { UserError } from '../util/errors';
import { checkDataFits } from './evaluate';
import { loadModel } from './model-io';

/** Samples per GPU run of the teacher: its input buffer stays a few tens of MB. */
const TEACHER_BATCH = 8192;

export interface LoadedTeacher extends Teacher {
  /** Layer sizes, input first (a compact network's inputs are the samples' whole width). */
  sizes: number[];
  dispose(): void;
}

/**
 * The teacher in `file` for training on `train`: its inputs and classes must be the data's, and
 * it must read deskewed images if and only if the run trains on them (`deskewed`).
 * `resumedFrom`: the checkpoint being resumed, which needs the same file again.
 */
export async function loadTeacher(file: string, train: Dataset, deskewed: boolean, gpu: GpuContext | null, resumedFrom?: string): Promise<LoadedTeacher> {
  let model: Awaited<ReturnType<typeof loadModel>>;
  try {
    model = await loadModel(file);
  } catch (err) {
    if (resumedFrom !== undefined && err instanceof UserError) {
      throw new UserError(`${resumedFrom} distills from the teacher ${file}, which is needed again to resume: ${err.message}`);
    }
    throw err;
  }
  const { net, inputIndices, inputSize } = model;
  const sizes = [inputSize, ...net.sizes.slice(1)];
  checkDataFits(sizes, train, `--teacher ${file}`);
  if (readsDeskewed(model.metadata, file) !== deskewed) {
    throw new UserError(deskewed ? `--teacher ${file} was trained on images as they are, and this run deskews them (--deskew): train the teacher with --deskew too` : `--teacher ${file} reads deskewed images: add --deskew, or pick a teacher trained without it`);
  }
  const classes = sizes[sizes.length - 1]!;
  let engine: GpuInference | null = null;
  return {
    sizes,
    async logits(inputs, count) {
      if (gpu) {
        engine ??= await createDenseInference(gpu, model, { maxBatch: Math.min(count, TEACHER_BATCH) });
        return (await engine.infer(inputs, count)).logits;
      }
      const read = gatherInputs(inputs, count, inputSize, inputIndices);
      return inferAll(net, { ...train, count, inputs: read, features: net.sizes[0]!, classes }).logits;
    },
    dispose() {
      engine?.dispose();
    },
  };
}
