import { describe, expect, it } from 'vitest';
import { parseArgs, type Command } from '../../src/cli/parse';
import { SEED_RECIPE } from '../../src/train/recipe';

function command(argv: string[]): Command {
  const result = parseArgs(argv);
  if (result.kind !== 'command') throw new Error(`expected a command, got exit ${result.code}: ${result.output}`);
  return result.command;
}

function failure(argv: string[]): string {
  const result = parseArgs(argv);
  if (result.kind !== 'exit' || result.code === 0) throw new Error(`expected a usage error for ${argv.join(' ')}`);
  return result.output;
}

describe('parseArgs', () => {
  it('train with no options is the seed recipe on the auto backend', () => {
    const c = command(['train']);
    expect(c).toMatchObject({ name: 'train', backend: 'auto', out: 'mnist.safetensors', verify: false, compactTraining: true, json: false });
    expect(command(['train', '--no-compact-training'])).toMatchObject({ name: 'train', compactTraining: false });
    if (c.name !== 'train') throw new Error('not train');
    expect(c.recipe).toEqual({ ...SEED_RECIPE, prune: { kind: 'once', epoch: 25, threshold: 0.01 } });
  });

  it('train maps flags to the recipe, 1-based epochs to 0-based', () => {
    const c = command(['train', '--backend', 'cpu', '--epochs', '4', '--batch-size', '100', '--lr', '0.001', '--shuffle',
      '--prune-epoch', '2', '--threshold', '0.02', '--sizes', '784,32,10', '--limit', '1000', '--json', '--out', 'a.txt']);
    if (c.name !== 'train') throw new Error('not train');
    expect(c.backend).toBe('cpu');
    expect(c.limit).toBe(1000);
    expect(c.json).toBe(true);
    expect(c.out).toBe('a.txt');
    expect(c.recipe).toMatchObject({ epochs: 4, batchSize: 100, learningRate: 0.001, shuffle: true, sizes: [784, 32, 10] });
    expect(c.recipe.prune).toEqual({ kind: 'once', epoch: 1, threshold: 0.02 });
  });

  it('a flag given twice takes its last value, whatever its type', () => {
    const c = command(['train', '--epochs', '3', '--epochs', '5', '--sizes', '784,10', '--sizes', '784,20,10', '--out', 'a.safetensors', '--out', 'b.txt',
      '--optimizer', 'adam', '--optimizer', 'sgd', '--shuffle', '--no-shuffle', '--schedule', 'gradual',
      '--layer-sparsity', '0.9,0.8', '--layer-sparsity', '0.95,0.85']);
    if (c.name !== 'train') throw new Error('not train');
    expect(c.out).toBe('b.txt');
    expect(c.recipe).toMatchObject({ epochs: 5, sizes: [784, 20, 10], optimizer: 'sgd', shuffle: false });
    expect(c.recipe.prune).toMatchObject({ kind: 'gradual', sparsity: [0.95, 0.85] });
    expect(command(['prune', 'a.txt', '--out', 'b.txt', '--out', 'c.txt', '--threshold', '0.1', '--threshold', '0.2'])).toMatchObject({ name: 'prune', out: 'c.txt', threshold: 0.2 });
  });

  it('a number option given text that is not a number names the text given, not NaN', () => {
    expect(failure(['train', '--epochs', 'x'])).toMatch(/^webgpu-prune: --epochs must be a number, got "x"\n/);
    expect(failure(['train', '--lr=1e'])).toMatch(/^webgpu-prune: --lr must be a number, got "1e"\n/);
    expect(failure(['train', '--epochs', '3', '--epochs', '5x'])).toMatch(/^webgpu-prune: --epochs must be a number, got "5x"\n/);
    expect(failure(['bench', 'infer', '--repeats', 'q'])).toMatch(/^webgpu-prune: --repeats must be a number, got "q"\n/);
    expect(command(['train', '--lr', '2e-4'])).toMatchObject({ name: 'train', recipe: { learningRate: 0.0002 } });
  });

  it('an option or positional given no value is named, before a default is taken unasked or a file called "" is looked for', () => {
    expect(failure(['train', '--data'])).toMatch(/^webgpu-prune: --data needs a value\n/);
    expect(failure(['train', '--teacher='])).toMatch(/^webgpu-prune: --teacher needs a value\n/);
    expect(failure(['convert', 'a.txt', '--out', ''])).toMatch(/^webgpu-prune: --out needs a value\n/);
    expect(failure(['bench', 'infer', '--model'])).toMatch(/^webgpu-prune: --model needs a value\n/);
    expect(failure(['eval', ''])).toMatch(/^webgpu-prune: model is empty: name a file\n/);
    // With nothing after them, options that have a default would take it unasked.
    expect(failure(['train', '--out'])).toMatch(/^webgpu-prune: --out needs a value\n/);
    expect(failure(['train', '--optimizer', '--epochs', '1'])).toMatch(/^webgpu-prune: --optimizer needs a value\n/);
    expect(failure(['train', '--epochs'])).toMatch(/^webgpu-prune: --epochs needs a value\n/);
    expect(failure(['bench', 'infer', '--out-dir', '--quick'])).toMatch(/^webgpu-prune: --out-dir needs a value\n/);
    // A negative number is a value, not a flag; a boolean flag needs none.
    expect(failure(['train', '--lr', '-1'])).toMatch(/^webgpu-prune: --lr must be a positive number, got -1\n/);
    expect(command(['train', '--shuffle'])).toMatchObject({ name: 'train', recipe: { shuffle: true } });
  });

  it('train --schedule gradual fills the cubic schedule, with defaults from the epoch count', () => {
    const c = command(['train', '--schedule', 'gradual', '--final-sparsity', '0.95', '--epochs', '50']);
    if (c.name !== 'train') throw new Error('not train');
    expect(c.recipe.prune).toEqual({ kind: 'gradual', start: 4, end: 29, every: 1, initialSparsity: 0, sparsity: 0.95, scope: 'global' });
    const perLayer = command(['train', '--schedule', 'gradual', '--layer-sparsity', '0.96,0.93,0.75', '--prune-start', '3', '--prune-end', '20']);
    if (perLayer.name !== 'train') throw new Error('not train');
    expect(perLayer.recipe.prune).toMatchObject({ kind: 'gradual', start: 2, end: 19, sparsity: [0.96, 0.93, 0.75], scope: 'layer' });
    expect(failure(['train', '--schedule', 'gradual', '--layer-sparsity', '0.9,0.9'])).toMatch(/needs 3 values/);
    const none = command(['train', '--schedule', 'none']);
    if (none.name !== 'train') throw new Error('not train');
    expect(none.recipe.prune).toEqual({ kind: 'none' });
  });

  it('train --regrow adds regrowth to a gradual schedule, to --prune-end unless --regrow-end says', () => {
    const gradual = ['train', '--schedule', 'gradual', '--prune-start', '3', '--prune-end', '20'];
    const c = command([...gradual, '--regrow', '0.1']);
    if (c.name !== 'train') throw new Error('not train');
    expect(c.recipe.prune).toMatchObject({ kind: 'gradual', end: 19, regrow: { fraction: 0.1, end: 19 } });
    const longer = command([...gradual, '--regrow', '0.1', '--regrow-end', '40']);
    if (longer.name !== 'train') throw new Error('not train');
    expect(longer.recipe.prune).toMatchObject({ regrow: { fraction: 0.1, end: 39 } });
    const zero = command([...gradual, '--regrow', '0']);
    if (zero.name !== 'train') throw new Error('not train');
    expect(zero.recipe.prune).not.toHaveProperty('regrow');
    expect(failure(['train', '--regrow', '0.1'])).toMatch(/^webgpu-prune: --regrow needs --schedule gradual\n/);
    expect(failure(['train', '--schedule', 'none', '--regrow-end', '30'])).toMatch(/--regrow-end needs --schedule gradual/);
    expect(failure([...gradual, '--regrow-end', '30'])).toMatch(/--regrow-end needs --regrow above 0/);
    expect(failure([...gradual, '--regrow', '0.1', '--regrow-end', '10'])).toMatch(/--regrow-end \(10\) comes before --prune-end \(20\)/);
    expect(failure([...gradual, '--regrow', '1'])).toMatch(/--regrow must be a fraction in \[0, 1\), got 1/);
    expect(failure([...gradual, '--regrow', '0.1', '--regrow-end', '60'])).toMatch(/--regrow-end must be an epoch from 1 to 50, got 60/);
  });

  it('train --prune-score ranks a sparsity target by lookahead; the default magnitude adds nothing to the recipe', () => {
    const gradual = ['train', '--schedule', 'gradual', '--layer-sparsity', '0.99,0.98,0.9', '--regrow', '0.1'];
    const lookahead = command([...gradual, '--prune-score', 'lookahead']);
    if (lookahead.name !== 'train') throw new Error('not train');
    expect(lookahead.recipe.prune).toMatchObject({ kind: 'gradual', scope: 'layer', score: 'lookahead' });
    const once = command(['train', '--sparsity', '0.9', '--prune-score', 'lookahead']);
    if (once.name !== 'train') throw new Error('not train');
    expect(once.recipe.prune).toMatchObject({ kind: 'once-sparsity', sparsity: 0.9, score: 'lookahead' });
    const plain = command([...gradual, '--prune-score', 'magnitude']);
    if (plain.name !== 'train') throw new Error('not train');
    expect(plain.recipe.prune).not.toHaveProperty('score');
    expect(failure(['train', '--prune-score', 'lookahead'])).toMatch(/^webgpu-prune: --prune-score goes with --sparsity or --layer-sparsity, not --threshold/);
    expect(failure(['train', '--schedule', 'none', '--prune-score', 'lookahead'])).toMatch(/--prune-score needs --schedule once or gradual/);
    expect(failure([...gradual, '--prune-score', 'taylor'])).toMatch(/--prune-score must be one of "magnitude", "lookahead", got "taylor"/);
    expect(command(['prune', 'm', '--out', 'o', '--layer-sparsity', '0.9,0.5,0.1', '--prune-score', 'lookahead'])).toMatchObject({ score: 'lookahead' });
    expect(command(['prune', 'm', '--out', 'o', '--sparsity', '0.9'])).toMatchObject({ score: 'magnitude' });
    expect(failure(['prune', 'm', '--out', 'o', '--threshold', '0.1', '--prune-score', 'lookahead'])).toMatch(/^webgpu-prune: --prune-score goes with --sparsity or --layer-sparsity/);
  });

  it('rejects impossible train flags with one line', () => {
    expect(failure(['train', '--epochs', '0'])).toMatch(/--epochs must be a positive integer, got 0/);
    expect(failure(['train', '--epochs', 'abc'])).toMatch(/--epochs must be a number, got "abc"/);
    expect(failure(['train', '--batch-size', '2.5'])).toMatch(/--batch-size must be a positive integer/);
    expect(failure(['train', '--momentum', '1.5'])).toMatch(/--momentum must be a fraction in \[0, 1\)/);
    expect(failure(['train', '--prune-epoch', '60'])).toMatch(/--prune-epoch must be an epoch from 1 to 50, got 60/);
    expect(failure(['train', '--threshold', '0.1', '--sparsity', '0.9'])).toMatch(/not both/);
    expect(failure(['train', '--sizes', '784,0,10'])).toMatch(/--sizes: layer sizes must be positive integers/);
    expect(failure(['train', '--backend', 'tpu'])).toMatch(/--backend must be one of "auto", "gpu", "cpu", got "tpu"/);
    expect(failure(['train', '--schedule', 'gradual', '--prune-start', '30', '--prune-end', '10'])).toMatch(/comes before/);
    expect(failure(['train', '--limit', '100'])).toMatch(/--batch-size 800 is larger than --limit 100/);
    expect(failure(['train', '--backend', 'cpu', '--verify'])).toMatch(/--verify compares the GPU/);
    expect(failure(['train', '--no-such-flag'])).toMatch(/Unknown argument/);
  });

  it('refuses a camelCase spelling of a flag, which no "was it given?" check would see', () => {
    expect(failure(['train', '--batchSize', '50'])).toMatch(/^webgpu-prune: Unknown argument: batchSize\n/);
    expect(failure(['prune', 'm', '--out', 'o', '--layerSparsity', '0.9,0.5,0.1'])).toMatch(/Unknown argument: layerSparsity/);
    expect(command(['train', '--batch-size', '50'])).toMatchObject({ recipe: { batchSize: 50 } });
  });

  it('refuses an empty item in a list of numbers, which would pass as 0', () => {
    expect(failure(['prune', 'm', '--out', 'o', '--layer-sparsity', '0.9,,0.5'])).toMatch(/--layer-sparsity must be comma-separated numbers, got "0.9,,0.5"/);
    expect(failure(['train', '--sizes', '784,100,10,'])).toMatch(/--sizes must be comma-separated numbers, got "784,100,10,"/);
  });

  it('refuses a pruning flag that the schedule would not read', () => {
    const cases: [string[], string][] = [
      [['--schedule', 'none', '--sparsity', '0.5'], '--sparsity needs --schedule once'],
      [['--schedule', 'gradual', '--threshold', '0.5'], '--threshold needs --schedule once'],
      [['--schedule', 'gradual', '--final-sparsity', '0.9', '--prune-epoch', '1'], '--prune-epoch needs --schedule once'],
      [['--final-sparsity', '0.5', '--prune-start', '1'], '--prune-start needs --schedule gradual'],
      [['--schedule', 'none', '--layer-sparsity', '0.5,0.5,0.5'], '--layer-sparsity needs --schedule once or gradual'],
      [['--scope', 'layer', '--threshold', '0.1'], '--scope goes with --sparsity, not --threshold'],
      [['--scope', 'layer'], '--scope goes with --sparsity, not --threshold'],
      [['--schedule', 'gradual', '--scope', 'layer', '--layer-sparsity', '0.9,0.9,0.5'], '--scope goes with --final-sparsity, not --layer-sparsity'],
      [['--schedule', 'gradual', '--initial-sparsity', '0.9', '--layer-sparsity', '0.95,0.95,0.1'], 'every --layer-sparsity value must be at least --initial-sparsity'],
    ];
    for (const [flags, message] of cases) expect(failure(['train', ...flags]).split('\n')[0]).toBe(`webgpu-prune: ${message}`);
    expect(failure(['prune', 'm', '--out', 'o', '--threshold', '0.1', '--scope', 'layer'])).toMatch(/^webgpu-prune: --scope goes with --sparsity/);
    // What each schedule reads still goes through.
    expect(command(['train', '--sparsity', '0.9', '--scope', 'layer'])).toMatchObject({ recipe: { prune: { kind: 'once-sparsity', sparsity: 0.9, scope: 'layer' } } });
    expect(command(['train', '--schedule', 'gradual', '--final-sparsity', '0.9', '--scope', 'layer'])).toMatchObject({ recipe: { prune: { kind: 'gradual', scope: 'layer' } } });
  });

  it('eval, info, devices, convert and bench parse their positionals and flags', () => {
    expect(command(['eval', 'm.txt', '--backend', 'cpu', '--json'])).toMatchObject({ name: 'eval', model: 'm.txt', backend: 'cpu', json: true, sparse: false });
    expect(command(['eval', 'm.txt', '--sparse'])).toMatchObject({ name: 'eval', sparse: true, unrolled: true });
    expect(command(['eval', 'm.txt', '--sparse', '--no-unrolled'])).toMatchObject({ name: 'eval', sparse: true, unrolled: false });
    expect(command(['info', 'm.safetensors'])).toEqual({ name: 'info', model: 'm.safetensors', json: false });
    expect(command(['devices', '--json'])).toMatchObject({ name: 'devices', json: true });
    expect(command(['convert', 'm.txt', '--out', 'm.safetensors', '--layout', 'csr'])).toMatchObject({ name: 'convert', layout: 'csr' });
    expect(command(['convert', 'm.txt', '--out', 'm.onnx', '--softmax'])).toMatchObject({ name: 'convert', softmax: true });
    expect(failure(['convert', 'm.txt', '--out', 'm.safetensors', '--softmax'])).toMatch(/--softmax is for ONNX output \(--out ending in \.onnx\), not m\.safetensors/);
    expect(failure(['convert', 'm.txt', '--out', 'm.onnx', '--layout', 'torch'])).toMatch(/--layout is for safetensors output, not m\.onnx/);
    // Without --repeats the bench picks its default (fewer with --quick); a count given wins.
    expect(command(['bench', 'infer', '--quick'])).toMatchObject({ name: 'bench', target: 'infer', quick: true, repeats: undefined });
    expect(command(['bench', 'matmul', '--quick', '--repeats', '10'])).toMatchObject({ quick: true, repeats: 10 });
    expect(command(['bench', 'infer', '--quick'])).toMatchObject({ unrolled: true });
    expect(command(['bench', 'infer', '--model', 'm.safetensors', '--no-unrolled'])).toMatchObject({ model: 'm.safetensors', unrolled: false });
    expect(failure(['bench', 'everything'])).toMatch(/target must be one of "train", "infer"/);
    expect(failure(['eval'])).toMatch(/Missing required argument: model/);
    expect(failure(['eval', 'm.txt', '--backend', 'cpu', '--sparse'])).toMatch(/--sparse runs the GPU sparse kernel/);
    expect(failure(['eval', 'm.txt', '--no-unrolled'])).toMatch(/--no-unrolled goes with --sparse/);
  });

  it('prune takes exactly one rule, or --structured alone', () => {
    expect(command(['prune', 'm', '--out', 'o', '--sparsity', '0.95'])).toMatchObject({ name: 'prune', sparsity: 0.95, structured: false, scope: 'global' });
    expect(command(['prune', 'm', '--out', 'o', '--structured'])).toMatchObject({ structured: true });
    expect(command(['prune', 'm', '--out', 'o', '--layer-sparsity', '0.9,0.8,0.5'])).toMatchObject({ layerSparsity: [0.9, 0.8, 0.5] });
    expect(failure(['prune', 'm', '--out', 'o'])).toMatch(/nothing to do/);
    expect(failure(['prune', 'm', '--out', 'o', '--threshold', '0.01', '--sparsity', '0.5'])).toMatch(/give one of/);
    expect(failure(['prune', 'm', '--sparsity', '0.5'])).toMatch(/Missing required argument: out/);
    expect(failure(['prune', 'm', '--out', 'o', '--sparsity', '1'])).toMatch(/fraction in \[0, 1\)/);
  });

  it('prune --keep-neurons takes a fraction above 0 (0 would empty every hidden layer)', () => {
    expect(command(['prune', 'm', '--out', 'o', '--structured', '--keep-neurons', '0.001'])).toMatchObject({ keepNeurons: 0.001 });
    expect(command(['prune', 'm', '--out', 'o', '--structured', '--keep-neurons', '1'])).toMatchObject({ keepNeurons: 1 });
    for (const bad of ['0', '-0.5', '1.5']) {
      expect(failure(['prune', 'm', '--out', 'o', '--structured', '--keep-neurons', bad])).toMatch(/^webgpu-prune: --keep-neurons must be a fraction in \(0, 1\]/);
    }
    expect(failure(['prune', 'm', '--out', 'o', '--structured', '--keep-neurons', 'x'])).toMatch(/^webgpu-prune: --keep-neurons must be a number, got "x"/);
  });

  it("usage errors are one line, then the command's --help", () => {
    const cases: [string[], RegExp, string][] = [
      [['prune', 'm', '--out', 'o', '--scope', 'wide'], /^--scope must be one of "global", "layer", got "wide"$/, 'prune'],
      [['bench', 'everything'], /^target must be one of "train", "infer", "matmul", got "everything"$/, 'bench'],
      [['train', '--schedule', 'often', '--scope', 'wide'], /^--schedule must be one of .*, got "often"; --scope must be one of .*, got "wide"$/, 'train'],
      [['train', '--bogus'], /^Unknown argument: bogus$/, 'train'],
      [['eval'], /^Missing required argument: model$/, 'eval'],
      [['train', '--epochs', '0'], /^--epochs must be a positive integer, got 0$/, 'train'],
      [['trian'], /^Unknown argument: trian$/, ''],
      [[], /^Name a command: train, eval, info, devices, prune, convert, bench, tune or web$/, ''],
      [['web', '--port', '70000'], /^--port must be a port number 0-65535, got 70000$/, 'web'],
    ];
    for (const [argv, message, name] of cases) {
      const lines = failure(argv).split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]!.replace(/^webgpu-prune: /, '')).toMatch(message);
      expect(lines[1]).toBe(`Run 'webgpu-prune ${name ? `${name} ` : ''}--help' for usage.`);
    }
  });

  it('web serves the built app on a port of 127.0.0.1, from dist/web unless --dir names another folder', () => {
    expect(parseArgs(['web'])).toMatchObject({ kind: 'command', command: { name: 'web', port: 8080, dir: undefined } });
    expect(parseArgs(['web', '--port', '0', '--dir', 'site'])).toMatchObject({ kind: 'command', command: { name: 'web', port: 0, dir: 'site' } });
  });

  it('--help prints usage with exit code 0; no command is a usage error', () => {
    const help = parseArgs(['--help']);
    expect(help.kind).toBe('exit');
    if (help.kind !== 'exit') return;
    expect(help.code).toBe(0);
    expect(help.output).toMatch(/webgpu-prune <command>/);
    expect(help.output).toMatch(/train/);
    const trainHelp = parseArgs(['train', '--help']);
    expect(trainHelp.kind === 'exit' && trainHelp.output).toMatch(/--batch-size/);
    expect(failure([])).toMatch(/Name a command/);
  });
});
