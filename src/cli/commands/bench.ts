import { mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { benchInferGrid, benchInferNetwork, formatInferTable, renderInferChart, type InferBenchResult } from '../../bench/infer';
import { benchMatmul, formatMatmulBench, matmulBenchSettings } from '../../bench/matmul';
import { benchTrain, formatTrainBench, trainBenchSettings } from '../../bench/train';
import { adapterName } from '../../gpu/device';
import { checkWritable, describeFsError, writeFileAtomic } from '../../node/files';
import { loadMnist } from '../../node/mnist';
import { UserError } from '../../util/errors';
import { loadDawn, openTunedDevice } from '../gpu';
import type { CommandIo } from '../io';
import { loadModel } from '../model-io';
import { expandInputs } from '../../prune/structured';
import type { BenchCommand } from '../parse';

/** The files each bench writes under `--out-dir`. */
const RESULT_FILES = {
  train: ['bench-train.json'],
  matmul: ['bench-matmul.json'],
  infer: ['bench-infer.json', 'bench-infer.svg'],
} as const satisfies Record<BenchCommand['target'], readonly string[]>;

/**
 * Creates `--out-dir` and checks that each result file can be written there, before anything is
 * measured: a bad --out-dir found after the run would lose the run. Returns the files' paths.
 */
async function prepareOutDir(dir: string, names: readonly string[]): Promise<string[]> {
  await mkdir(dir, { recursive: true }).catch((err: unknown) => {
    throw new UserError(`cannot create --out-dir ${dir}: ${describeFsError(err)}`);
  });
  const paths = names.map((name) => join(dir, name));
  for (const path of paths) await checkWritable(path, '--out-dir');
  return paths;
}

export async function runBench(cmd: BenchCommand, io: CommandIo): Promise<void> {
  if (cmd.model && cmd.target !== 'infer') throw new UserError('--model goes with bench infer');
  if (!cmd.unrolled && cmd.target !== 'infer') throw new UserError('--no-unrolled goes with bench infer (it picks among the hybrid engine\'s kernels)');
  const paths = await prepareOutDir(cmd.outDir, RESULT_FILES[cmd.target]);
  const model = cmd.model ? await loadModel(cmd.model) : null;
  const gpu = loadDawn(cmd);
  const ctx = await openTunedDevice(gpu, io);
  const log = (line: string): void => io.err(line);

  if (cmd.target === 'train') {
    const data = await loadMnist();
    const report = await benchTrain({ ctx, gpu, train: data.train, test: data.test, settings: trainBenchSettings(cmd.quick, cmd.repeats), progress: log });
    await writeFileAtomic(paths[0]!, JSON.stringify(report, null, 2) + '\n');
    if (cmd.json) io.out(JSON.stringify(report));
    else io.out(`${formatTrainBench(report)}\n\nwritten: ${paths[0]}`);
    return;
  }

  if (cmd.target === 'matmul') {
    const report = await benchMatmul(ctx, matmulBenchSettings(cmd.quick, cmd.repeats), log);
    await writeFileAtomic(paths[0]!, JSON.stringify(report, null, 2) + '\n');
    if (cmd.json) io.out(JSON.stringify(report));
    else io.out(`${formatMatmulBench(report)}\n\nwritten: ${paths[0]}`);
    return;
  }

  const grid = await benchInferGrid(ctx, { quick: cmd.quick, repeats: cmd.repeats, unrolled: cmd.unrolled, log });
  const trained: InferBenchResult | null = model
    ? // As the network of whole samples: dense reads every feature, the compact variants gather theirs.
      await benchInferNetwork(ctx, expandInputs(model), { model: basename(cmd.model!), quick: cmd.quick, repeats: cmd.repeats, unrolled: cmd.unrolled, log })
    : null;
  const rows = [...grid.rows, ...(trained?.rows ?? [])];
  const report = { adapter: ctx.adapter, results: rows, skipped: [...grid.skipped, ...(trained?.skipped ?? [])] };
  const [jsonPath, svgPath] = paths as [string, string];
  await writeFileAtomic(jsonPath, JSON.stringify(report, null, 2) + '\n');
  await writeFileAtomic(svgPath, renderInferChart(rows, `Inference on ${adapterName(ctx.adapter)}`));
  if (cmd.json) {
    io.out(JSON.stringify(report));
    return;
  }
  io.out(formatInferTable(rows));
  for (const reason of report.skipped) io.out(`skipped: ${reason}`);
  io.out(`\nwritten: ${jsonPath}, ${svgPath}`);
}
