import { mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { benchInferGrid, benchInferNetwork, formatInferTable, renderInferChart, type InferBenchResult } from '../../bench/infer';
import { benchMatmul, formatMatmulBench, matmulBenchSettings } from '../../bench/matmul';
import { benchTrain, formatTrainBench, trainBenchSettings } from '../../bench/train';
import { adapterName } from '../../gpu/device';
import { writeFileAtomic } from '../../node/files';
import { loadMnist } from '../../node/mnist';
import { UserError } from '../../util/errors';
import { loadDawn, openTunedDevice } from '../gpu';
import type { CommandIo } from '../io';
import { loadModel } from '../model-io';
import { expandInputs } from '../../prune/structured';
import type { BenchCommand } from '../parse';

/** Writes results under `--out-dir`, atomically; returns the path. */
async function writeResult(dir: string, name: string, text: string): Promise<string> {
  await mkdir(dir, { recursive: true }).catch((err: Error) => {
    throw new UserError(`cannot create ${dir}: ${err.message}`);
  });
  const path = join(dir, name);
  await writeFileAtomic(path, text);
  return path;
}

export async function runBench(cmd: BenchCommand, io: CommandIo): Promise<void> {
  const model = cmd.model ? await loadModel(cmd.model) : null;
  if (model && cmd.target !== 'infer') throw new UserError('--model goes with bench infer');
  const gpu = loadDawn(cmd);
  const ctx = await openTunedDevice(gpu, io);
  const log = (line: string): void => io.err(line);

  if (cmd.target === 'train') {
    const data = await loadMnist();
    const report = await benchTrain({ ctx, gpu, train: data.train, test: data.test, settings: trainBenchSettings(cmd.quick, cmd.repeats), progress: log });
    const path = await writeResult(cmd.outDir, 'bench-train.json', JSON.stringify(report, null, 2) + '\n');
    if (cmd.json) io.out(JSON.stringify(report));
    else io.out(`${formatTrainBench(report)}\n\nwritten: ${path}`);
    return;
  }

  if (cmd.target === 'matmul') {
    const report = await benchMatmul(ctx, matmulBenchSettings(cmd.quick, cmd.repeats), log);
    const path = await writeResult(cmd.outDir, 'bench-matmul.json', JSON.stringify(report, null, 2) + '\n');
    if (cmd.json) io.out(JSON.stringify(report));
    else io.out(`${formatMatmulBench(report)}\n\nwritten: ${path}`);
    return;
  }

  const grid = await benchInferGrid(ctx, { quick: cmd.quick, repeats: cmd.repeats, log });
  if (model && cmd.unrolled) log(`${basename(cmd.model!)}: --unrolled compiles each small layer into a program of its own on first use (a minute or more on a software adapter)`);
  const trained: InferBenchResult | null = model
    ? // As the network of whole samples: dense reads every feature, the compact variants gather theirs.
      await benchInferNetwork(ctx, expandInputs(model), { model: basename(cmd.model!), repeats: cmd.repeats, unrolled: cmd.unrolled, log })
    : null;
  const rows = [...grid.rows, ...(trained?.rows ?? [])];
  const report = { adapter: ctx.adapter, results: rows, skipped: [...grid.skipped, ...(trained?.skipped ?? [])] };
  const jsonPath = await writeResult(cmd.outDir, 'bench-infer.json', JSON.stringify(report, null, 2) + '\n');
  const svgPath = await writeResult(cmd.outDir, 'bench-infer.svg', renderInferChart(rows, `Inference on ${adapterName(ctx.adapter)}`));
  if (cmd.json) {
    io.out(JSON.stringify(report));
    return;
  }
  io.out(formatInferTable(rows));
  for (const reason of report.skipped) io.out(`skipped: ${reason}`);
  io.out(`\nwritten: ${jsonPath}, ${svgPath}`);
}
