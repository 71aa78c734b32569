/**
 * Matmul kernel and training-step throughput on this machine's WebGPU adapter.
 *
 *   npx esbuild scripts/bench-matmul.ts --bundle --platform=node --format=esm \
 *     --loader:.wgsl=text --packages=external --outfile=dist/bench-matmul.mjs
 *   node dist/bench-matmul.mjs [--rounds 7] [--skip-train]
 *
 * Variants run round-robin in one process (the machine is shared and noisy) and each figure is
 * the median over rounds. A timing covers `reps` dispatches in one submit, waited for with
 * waitForGpu; the training step is a whole GpuTrainer epoch on random data of MNIST's shape.
 */
import { acquireDevice, adapterName, type GpuContext } from '../src/gpu/device';
import { bindKernel, type Dispatch } from '../src/gpu/dispatch';
import { matmulKernel, subgroupSize, type MatmulSpec, type MatmulVersion } from '../src/gpu/kernels';
import { createBuffer } from '../src/gpu/buffers';
import { GpuTrainer } from '../src/gpu/trainer';
import { initNetwork } from '../src/model/network';
import { dawnGpu } from '../src/node/dawn';
import { median, timeDispatch } from '../src/bench/timing';

const args = process.argv.slice(2);
const rounds = Number(args[args.indexOf('--rounds') + 1] ?? 7) || 7;



interface Variant {
  label: string;
  flops: number;
  dispatch: Dispatch;
  reps: number;
  ms: number[];
}

async function matmulVariants(ctx: GpuContext): Promise<Variant[]> {
  const versions: MatmulVersion[] = subgroupSize(ctx) > 0 ? [1, 2, 3] : [1, 2];
  const shapes: [string, MatmulSpec][] = [
    ['X·W 800x784x100', { m: 800, k: 784, n: 100 }],
    ['Xᵀ·dY 784x800x100', { m: 784, k: 800, n: 100, transA: true }],
    ['dY·Wᵀ 800x100x100', { m: 800, k: 100, n: 100, transB: true }],
    ['A·B 1024³', { m: 1024, k: 1024, n: 1024 }],
  ];
  const variants: Variant[] = [];
  for (const [name, spec] of shapes) {
    const { m, k, n } = spec;
    const buffers = [m * k, k * n, m * n, 1].map((count, i) => createBuffer(ctx, `bench ${i}`, count * 4));
    for (const version of versions) {
      if (version === 1 && m * n * k > 2e8) continue;
      const kernel = await matmulKernel(ctx, spec, version);
      const dispatch = bindKernel(ctx, kernel, 'bench', buffers);
      const flops = 2 * m * n * k;
      const first = await timeDispatch(ctx, dispatch, 1);
      variants.push({ label: `${name} v${version}`, flops, dispatch, reps: Math.max(1, Math.round(150 / first)), ms: [] });
    }
  }
  return variants;
}

async function main(): Promise<void> {
  const ctx = await acquireDevice(dawnGpu());
  console.log(`adapter: ${adapterName(ctx.adapter)}, subgroup size ${subgroupSize(ctx) || 'n/a'}`);
  const variants = await matmulVariants(ctx);
  for (let r = 0; r < rounds; r++) {
    for (const v of variants) v.ms.push(await timeDispatch(ctx, v.dispatch, v.reps));
  }
  console.log('\n| kernel | ms (median) | GFLOP/s (median) | GFLOP/s (min–max) |\n| --- | --- | --- | --- |');
  for (const v of variants) {
    const g = v.ms.map((ms) => v.flops / ms / 1e6);
    console.log(`| ${v.label} | ${median(v.ms).toFixed(2)} | ${median(g).toFixed(1)} | ${Math.min(...g).toFixed(1)}–${Math.max(...g).toFixed(1)} |`);
  }
  if (args.includes('--skip-train')) return;

  // Training step: 784-100-100-10, batch 800, an epoch of 15 batches of random MNIST-shaped data.
  const sizes = [784, 100, 100, 10];
  const batch = 800;
  const count = 15 * batch;
  const inputs = new Float32Array(count * 784);
  for (let i = 0; i < inputs.length; i++) inputs[i] = Math.random() < 0.8 ? 0 : Math.random();
  const labels = Uint8Array.from({ length: count }, () => Math.floor(Math.random() * 10));
  const train = { source: 'random', count, features: 784, inputs, labels, classes: 10 };
  const stepFlops = 2 * batch * (784 * 100 + 100 * 100 + 100 * 10) * 2 + 2 * batch * (100 * 10 + 100 * 100);
  const trainers = await Promise.all(
    ([2, 3] as MatmulVersion[])
      .filter((v) => v !== 3 || subgroupSize(ctx) > 0)
      .map(async (v) => ({ version: v, trainer: await GpuTrainer.create(ctx, initNetwork(sizes, 1), train, { batchSize: batch, confidence: 0.99 }, undefined, { matmulVersion: v }), ms: [] as number[] })),
  );
  for (const t of trainers) await t.trainer.trainEpoch(null, 0.0005, 0.67);
  for (let r = 0; r < rounds; r++) {
    for (const t of trainers) {
      const start = performance.now();
      await t.trainer.trainEpoch(null, 0.0005, 0.67);
      t.ms.push((performance.now() - start) / 15);
    }
  }
  console.log(`\ntraining step 784-100-100-10, batch ${batch}: ${(stepFlops / 1e9).toFixed(3)} GFLOP per step`);
  console.log('| matmul | ms/step (median) | samples/s (median) | GFLOP/s |\n| --- | --- | --- | --- |');
  for (const t of trainers) {
    const ms = median(t.ms);
    console.log(`| v${t.version} | ${ms.toFixed(1)} | ${Math.round((batch / ms) * 1000)} | ${(stepFlops / ms / 1e6).toFixed(1)} |`);
  }
}

await main();
