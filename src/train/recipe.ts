import { SEED_SIZES } from '../model/network';
import type { PruneSchedule } from '../prune/schedule';
import type { DistillRecipe } from './distill';
import type { LrSchedule, OptimizerKind } from './optimizer';

/** Everything that determines a training run. */
export interface Recipe {
  sizes: number[];
  epochs: number;
  batchSize: number;
  learningRate: number;
  momentum: number;
  /** With the seed-decay schedule: lr and momentum are multiplied by it after every epoch. */
  factor: number;
  /** Samples whose target probability reaches it are not backpropagated. */
  confidence: number;
  seed: number;
  /** Samples in file order (the seed) or reshuffled every epoch. */
  shuffle: boolean;
  prune: PruneSchedule;
  /**
   * The update rule (src/train/optimizer.ts) and its constants. Absent, as in recipes written
   * before they were options: the seed's rule, no weight decay, Adam's usual β1, β2, ε.
   */
  optimizer?: OptimizerKind;
  weightDecay?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Absent: seed-decay for the seed's rule, cosine for the others. */
  lrSchedule?: LrSchedule;
  /** Epochs of linear learning-rate warm-up (absent: 0). */
  warmup?: number;
  /** A bias per neuron, trained by the same rule as the weights (absent: none, as the seed). */
  bias?: boolean;
  /** Shift augmentation: each epoch every training image moves by up to this many pixels (src/data/augment.ts; absent: 0). */
  shift?: number;
  /** Every image, training and test, deskewed before the network sees it (src/data/deskew.ts; absent: not, as the seed). */
  deskew?: boolean;
  /**
   * Knowledge distillation (src/train/distill.ts) from the network in the file `teacher` (the
   * path as given), with weight α and temperature T (absent: none, as the seed).
   */
  distill?: DistillRecipe;
}

/** The seed's recipe ("classic"): 784-100-100-10, 50 epochs, prune w² < 0.01 after epoch 25. */
export const SEED_RECIPE: Readonly<Recipe> = Object.freeze<Recipe>({
  sizes: [...SEED_SIZES],
  epochs: 50,
  batchSize: 800,
  learningRate: 0.0005,
  momentum: 0.67,
  factor: 0.99,
  confidence: 0.99,
  seed: 1337,
  shuffle: false,
  prune: { kind: 'once' as const, epoch: 25, threshold: 0.01 },
});
