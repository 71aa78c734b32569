/**
 * The recipes that ship in scripts/recipes/, by name (the file's name without `.json`). The files
 * are the source and are bundled here, so `train --recipe NAME` runs one from any folder and the
 * browser app offers the same ones as presets.
 */
import fivePercentShift from '../../scripts/recipes/five-percent-shift.json';
import fivePercent from '../../scripts/recipes/five-percent.json';
import lenetTwoPercent from '../../scripts/recipes/lenet-two-percent.json';
import onePercentDeskew from '../../scripts/recipes/one-percent-deskew.json';
import seed from '../../scripts/recipes/seed.json';
import twoPercentCosine from '../../scripts/recipes/two-percent-cosine.json';
import twoPercentRegrow from '../../scripts/recipes/two-percent-regrow.json';
import twoPercent from '../../scripts/recipes/two-percent.json';

export interface ShippedRecipe {
  /** `five-percent` for scripts/recipes/five-percent.json. */
  name: string;
  /** One line: what it does, and what it reached on MNIST (README, "Beyond the seed"). */
  summary: string;
  /** Train options keyed like the flags, as in the file. */
  options: Readonly<Record<string, string | number | boolean>>;
}

export const SHIPPED_RECIPES: readonly ShippedRecipe[] = [
  { name: 'seed', summary: 'prune w² < 0.01 once after epoch 26 (≈ 9% kept, 97.7%)', options: seed },
  { name: 'five-percent', summary: '5% kept: gradual, per layer 95.6/92.5/73%, epochs 3→25, shuffled (97.9%)', options: fivePercent },
  { name: 'five-percent-shift', summary: '5% kept: five-percent with images shifted up to a pixel (98.3–98.4%)', options: fivePercentShift },
  { name: 'two-percent', summary: '2% kept: gradual, per layer 98.5/96.5/85%, epochs 3→25, shuffled (97.1%)', options: twoPercent },
  {
    name: 'two-percent-cosine',
    summary: '2% kept: per layer 98.4/96.5/85%, 120 epochs, pruning 3→40, shifted, cosine rate (97.7–97.9%)',
    options: twoPercentCosine,
  },
  { name: 'two-percent-regrow', summary: '2% kept: two-percent-cosine over 200 epochs, regrowing weights until epoch 170 (97.9%)', options: twoPercentRegrow },
  {
    name: 'one-percent-deskew',
    summary: '1% kept: per layer 99.25/98/91%, batch 400, regrowing 0.2, on deskewed images (98.0%)',
    options: onePercentDeskew,
  },
  { name: 'lenet-two-percent', summary: 'LeNet-300-100, 2% kept: per layer 98.3/96.7/70%, shifted (98.6%)', options: lenetTwoPercent },
];

/** The names, comma-separated, for help and messages. */
export const SHIPPED_RECIPE_NAMES = SHIPPED_RECIPES.map((r) => r.name).join(', ');

/** The shipped recipe called `name`, if there is one. */
export function shippedRecipe(name: string): ShippedRecipe | undefined {
  return SHIPPED_RECIPES.find((r) => r.name === name);
}
