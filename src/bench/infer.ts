/**
 * The measurements of `bench infer`: dense vs sparse (CSR) vs compact (structured, then CSR) vs
 * hybrid (structured, then CSR or dense per layer, whichever the cost model picks)
 * inference on one adapter in one process. Every case is warmed up, then the variants of one
 * (model, batch) cell run round-robin, repeat after repeat, and each reports the median time of
 * a whole forward pass with the input already on the GPU, from submit to the GPU being done.
 *
 * Synthetic models get random weights (the seed's init) pruned by magnitude in each layer to
 * the sparsity; `square-N` is one N→N layer, `mnist` the 784-100-100-10 network.
 */
import { denseInfer } from '../cpu/sparse-forward';
import { adapterName, type GpuContext } from '../gpu/device';
import { createDenseInference } from '../gpu/dense-inference';
import { createHybridInference } from '../gpu/hybrid-inference';
import type { GpuInference } from '../gpu/inference';
import { KernelError } from '../gpu/program';
import { createSparseInference } from '../gpu/sparse-inference';
import { cloneNetwork, initNetwork, keptTotal, type Network } from '../model/network';
import { compactNetwork } from '../prune/structured';
import { pruneToSparsity } from '../prune/unstructured';
import { benchRepeats, median } from './timing';

export type InferVariant = 'dense' | 'sparse' | 'compact' | 'hybrid' | 'compact-dense';

export interface InferRow {
  /** `mnist`, `square-1024`, ... or the name given to `benchInferNetwork`. */
  model: string;
  variant: InferVariant;
  /** The engine that ran, e.g. `sparse_auto(v1|v3)`, `dense matmul_auto(v4|v3)`, `hybrid(sparse_auto(v1|v3)|matmul_auto(v4|v3)|sparse_unrolled)`. */
  kernel: string;
  /** Fraction of the weights pruned (measured, not requested). */
  sparsity: number;
  batch: number;
  /** Layer sizes that ran (after compaction for the compact variants). */
  sizes: number[];
  /** Weights the kernel multiplies: all of them for dense, the kept ones for sparse (and hybrid, which multiplies zeros in its dense layers). */
  weights: number;
  samplesPerSec: number;
  medianMs: number;
  minMs: number;
  repeats: number;
  /** samples/s over the dense variant's in the same cell (1 for dense itself). */
  vsDense: number;
}

export interface InferBenchResult {
  adapter: string;
  rows: InferRow[];
  /** Cases left out, with the reason (too slow for a software adapter, past a binding limit). */
  skipped: string[];
}

export interface InferGridOptions {
  quick?: boolean;
  repeats?: number;
  sparsities?: readonly number[];
  batches?: readonly number[];
  /** Square layer widths; the `mnist` model is always measured too. */
  widths?: readonly number[];
  /** Whether the hybrid engine may run layers written into programs of their own (`HybridInferenceOptions.unrolled`; default true). */
  unrolled?: boolean;
  /** Progress lines (stderr in the CLI). */
  log?: (line: string) => void;
}

export const FULL_GRID = { sparsities: [0, 0.5, 0.8, 0.9, 0.95, 0.99], batches: [1, 100, 10000], widths: [100, 1024, 4096] } as const;
export const QUICK_GRID = { sparsities: [0, 0.9, 0.99], batches: [1, 100, 10000], widths: [100, 1024] } as const;

/**
 * Most multiply-adds one timed run may take per variant (dense: in·out·batch summed over the
 * layers; sparse: kept weights · batch). A software adapter does about 1e10 dense and 5e8
 * sparse ones per second, so these keep every run under about a second.
 */
const MAX_DENSE_WORK = 4e9;
const MAX_SPARSE_WORK = 4e8;

function measuredSparsity(net: Network): number {
  const total = net.masks.reduce((n, m) => n + m.length, 0);
  const kept = keptTotal(net);
  return total === 0 ? 0 : 1 - kept / total;
}

function denseWork(sizes: readonly number[], batch: number): number {
  let work = 0;
  for (let l = 0; l + 1 < sizes.length; l++) work += sizes[l]! * sizes[l + 1]!;
  return work * batch;
}

function randomInputs(count: number, features: number): Float32Array {
  // Pixel-like: values in [0, 1), a fixed pattern so every variant sees the same batch.
  const x = new Float32Array(count * features);
  let state = 12345;
  for (let k = 0; k < x.length; k++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    x[k] = (state >>> 8) / 16777216;
  }
  return x;
}

interface Contender {
  variant: InferVariant;
  engine: GpuInference;
  /** The network whose function the engine computes (whole samples in), for the JS reference. */
  reference: Network;
  sparsity: number;
  sizes: number[];
  weights: number;
  times: number[];
}

/** Multiply-adds of one JS reference check: rows enough to catch a wrong kernel, few for a 4096² layer. */
const REFERENCE_WORK = 2e7;

/**
 * Throws unless the logits of `engine`'s last run over `inputs` ([batch, features]) are those of
 * the JS reference of `reference` on the first rows: the speed of an engine that computes
 * something else means nothing. The sums run in another order than the reference's, which moves
 * f32 logits by far less than the tolerance.
 */
export async function checkAgainstReference(what: string, engine: Pick<GpuInference, 'name' | 'readLogits'>, reference: Network, inputs: Float32Array, batch: number): Promise<void> {
  const weights = reference.weights.reduce((n, w) => n + w.length, 0);
  const rows = Math.min(batch, Math.max(1, Math.floor(REFERENCE_WORK / Math.max(1, weights))));
  const features = reference.sizes[0]!;
  const classes = reference.sizes[reference.sizes.length - 1]!;
  const expected = denseInfer(reference, inputs.subarray(0, rows * features), rows).logits;
  const got = await engine.readLogits(batch);
  for (let i = 0; i < expected.length; i++) {
    const [e, g] = [expected[i]!, got[i]!];
    if (!(Math.abs(g - e) <= 1e-3 * Math.max(1, Math.abs(e)))) {
      const where = `sample ${Math.floor(i / classes)}, class ${i % classes}`;
      throw new KernelError(`bench infer: ${what} (${engine.name}) gives the logit ${g} at ${where} where the JS reference gives ${e}; its speed would mean nothing`);
    }
  }
}

/** Warm-up and a check of every engine's results, then round-robin repeats; returns one row per contender. */
async function raceCell(model: string, batch: number, contenders: Contender[], repeats: number): Promise<InferRow[]> {
  const inputs = randomInputs(batch, contenders[0]!.engine.features);
  for (const c of contenders) {
    c.engine.upload(inputs, batch);
    await c.engine.run(batch);
    await checkAgainstReference(`${model} ${c.variant} at sparsity ${c.sparsity.toFixed(3)}, batch ${batch}`, c.engine, c.reference, inputs, batch);
    await c.engine.run(batch);
  }
  for (let r = 0; r < repeats; r++) {
    for (const c of contenders) {
      const start = performance.now();
      await c.engine.run(batch);
      c.times.push(performance.now() - start);
    }
  }
  const rows = contenders.map((c): InferRow => {
    const medianMs = median(c.times);
    return {
      model,
      variant: c.variant,
      kernel: c.engine.name,
      sparsity: c.sparsity,
      batch,
      sizes: c.sizes,
      weights: c.weights,
      samplesPerSec: (batch * 1000) / medianMs,
      medianMs,
      minMs: Math.min(...c.times),
      repeats,
      vsDense: 1,
    };
  });
  const dense = rows.find((r) => r.variant === 'dense');
  if (dense) for (const row of rows) row.vsDense = row.samplesPerSec / dense.samplesPerSec;
  return rows;
}

/**
 * One cell: the dense engine on `base` (same cost at every sparsity) and, for each pruned
 * network, the sparse engine, and the sparse and hybrid engines on its compact form (plus the
 * dense engine on the compact form when `compactDense`), all raced together.
 */
async function measureCell(
  ctx: GpuContext,
  model: string,
  base: Network,
  pruned: readonly Network[],
  batch: number,
  repeats: number,
  skipped: string[],
  compactDense: boolean,
  unrolled: boolean,
): Promise<InferRow[]> {
  const contenders: Contender[] = [];
  const total = base.weights.reduce((n, w) => n + w.length, 0);
  const add = async (variant: InferVariant, engine: Promise<GpuInference>, reference: Network, sparsity: number, sizes: number[], weights: number): Promise<void> => {
    try {
      contenders.push({ variant, engine: await engine, reference, sparsity, sizes, weights, times: [] });
    } catch (err) {
      skipped.push(`${model} ${variant} sparsity ${sparsity.toFixed(3)} batch ${batch}: ${(err as Error).message}`);
    }
  };
  try {
    if (denseWork(base.sizes, batch) > MAX_DENSE_WORK) {
      skipped.push(`${model} dense batch ${batch}: ${denseWork(base.sizes, batch).toExponential(1)} multiply-adds per run, past the ${MAX_DENSE_WORK.toExponential(0)} cap`);
    } else {
      await add('dense', createDenseInference(ctx, base, { maxBatch: batch }), base, 0, base.sizes, total);
    }
    for (const net of pruned) {
      const sparsity = measuredSparsity(net);
      const kept = keptTotal(net);
      if (kept * batch > MAX_SPARSE_WORK) {
        skipped.push(`${model} sparse/compact sparsity ${sparsity.toFixed(3)} batch ${batch}: ${(kept * batch).toExponential(1)} multiply-adds per run, past the ${MAX_SPARSE_WORK.toExponential(0)} cap`);
        continue;
      }
      await add('sparse', createSparseInference(ctx, net, { maxBatch: batch }), net, sparsity, net.sizes, kept);
      // The compact forms compute the pruned network's function (structured pruning changes no output).
      const { compact } = compactNetwork(net);
      await add('compact', createSparseInference(ctx, compact, { maxBatch: batch }), net, sparsity, compact.net.sizes, kept);
      await add('hybrid', createHybridInference(ctx, compact, { maxBatch: batch, unrolled }), net, sparsity, compact.net.sizes, kept);
      if (compactDense && denseWork(compact.net.sizes, batch) <= MAX_DENSE_WORK) {
        const weights = compact.net.weights.reduce((n, w) => n + w.length, 0);
        await add('compact-dense', createDenseInference(ctx, compact, { maxBatch: batch }), net, sparsity, compact.net.sizes, weights);
      }
    }
    return contenders.length ? await raceCell(model, batch, contenders, repeats) : [];
  } finally {
    for (const c of contenders) c.engine.dispose();
  }
}

/** The synthetic grid: `mnist` and `square-N` models × sparsities × batches. */
export async function benchInferGrid(ctx: GpuContext, options: InferGridOptions = {}): Promise<InferBenchResult> {
  const grid = options.quick ? QUICK_GRID : FULL_GRID;
  const sparsities = options.sparsities ?? grid.sparsities;
  const batches = options.batches ?? grid.batches;
  const widths = options.widths ?? grid.widths;
  const repeats = benchRepeats(options.quick ?? false, options.repeats);
  const log = options.log ?? (() => {});
  const rows: InferRow[] = [];
  const skipped: string[] = [];
  const models: [string, number[]][] = [['mnist', [784, 100, 100, 10]], ...widths.map((w): [string, number[]] => [`square-${w}`, [w, w]])];
  for (const [model, sizes] of models) {
    const base = initNetwork(sizes, 1);
    const pruned = sparsities.map((s) => {
      const net = cloneNetwork(base);
      pruneToSparsity(net, s, 'layer');
      return net;
    });
    for (const batch of batches) {
      const started = performance.now();
      const cell = await measureCell(ctx, model, base, pruned, batch, repeats, skipped, false, options.unrolled ?? true);
      rows.push(...cell);
      log(`${model} batch ${batch}: ${cell.length} cases in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
  }
  return { adapter: adapterName(ctx.adapter), rows, skipped };
}

/**
 * A given network (e.g. a trained, pruned MNIST net): dense kernel vs sparse vs compact vs dense
 * on the compact shape, at each batch. `dense` runs the same shapes with every weight, which is
 * what the network cost before pruning.
 */
export async function benchInferNetwork(
  ctx: GpuContext,
  net: Network,
  options: { model?: string; batches?: readonly number[]; quick?: boolean; repeats?: number; unrolled?: boolean; log?: (line: string) => void } = {},
): Promise<InferBenchResult> {
  const model = options.model ?? 'mnist-trained';
  const repeats = benchRepeats(options.quick ?? false, options.repeats);
  const rows: InferRow[] = [];
  const skipped: string[] = [];
  for (const batch of options.batches ?? [1, 100, 10000]) {
    const started = performance.now();
    const cell = await measureCell(ctx, model, net, [net], batch, repeats, skipped, true, options.unrolled ?? true);
    rows.push(...cell);
    // The first batch that runs the unrolled programs compiles them: its time says so.
    options.log?.(`${model} batch ${batch}: ${cell.length} cases in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  return { adapter: adapterName(ctx.adapter), rows, skipped };
}

/** The rows as an aligned text table. */
export function formatInferTable(rows: readonly InferRow[]): string {
  const header = ['model', 'variant', 'kernel', 'sparsity', 'batch', 'sizes', 'samples/s', 'median ms', 'vs dense'];
  const lines = rows.map((r) => [
    r.model,
    r.variant,
    r.kernel,
    r.sparsity.toFixed(3),
    String(r.batch),
    r.sizes.join('-'),
    Math.round(r.samplesPerSec).toLocaleString('en-US'),
    r.medianMs.toFixed(3),
    `${r.vsDense.toFixed(2)}×`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  return [header, ...lines].map((l) => l.map((c, i) => (i >= 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

const VARIANT_COLORS: Record<InferVariant, string> = { dense: '#444444', sparse: '#d95f02', compact: '#1b9e77', hybrid: '#e7298a', 'compact-dense': '#7570b3' };

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * An SVG chart of samples/s against sparsity (log y), one panel per (model, batch): a line per
 * variant; dense, which does not depend on sparsity, is a dashed level.
 */
export function renderInferChart(rows: readonly InferRow[], title = 'Inference throughput'): string {
  const models = [...new Set(rows.map((r) => r.model))];
  const batches = [...new Set(rows.map((r) => r.batch))].sort((a, b) => a - b);
  const panelW = 260;
  const panelH = 180;
  const margin = { left: 60, top: 40, right: 20, bottom: 40 };
  const legendWidth = 150;
  const width = margin.left + batches.length * (panelW + margin.right) + legendWidth;
  const height = margin.top + models.length * (panelH + margin.bottom) + 20;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="100%" height="100%" fill="white"/><text x="${margin.left}" y="20" font-size="14">${escapeXml(title)}</text>`);
  // Sparsity on a log10(1 / (1 − s)) axis: 0.9, 0.99 and 0.999 are equally far apart, which is
  // where the interesting crossovers are.
  const pruneAxis = (s: number): number => Math.log10(1 / (1 - Math.min(s, 0.999)));
  // Measured sparsities sit a hair off the requested ones (0.9901 for 0.99): round before the ceiling.
  const axisMax = Math.max(2, Math.ceil(Math.max(...rows.map((r) => pruneAxis(r.sparsity))) - 0.01));
  const ticks = [0, 0.5, 0.9, 0.99, 0.999].filter((t) => pruneAxis(t) <= axisMax);
  models.forEach((model, mi) => {
    batches.forEach((batch, bi) => {
      const cell = rows.filter((r) => r.model === model && r.batch === batch);
      const x0 = margin.left + bi * (panelW + margin.right);
      const y0 = margin.top + mi * (panelH + margin.bottom);
      out.push(`<rect x="${x0}" y="${y0}" width="${panelW}" height="${panelH}" fill="none" stroke="#bbb"/>`);
      out.push(`<text x="${x0 + 4}" y="${y0 - 4}">${escapeXml(`${model}, batch ${batch}`)}</text>`);
      if (cell.length === 0) {
        out.push(`<text x="${x0 + panelW / 2}" y="${y0 + panelH / 2}" text-anchor="middle" fill="#999">not measured (see skipped)</text>`);
        return;
      }
      // One y range per model row, so the labels on the left hold for the whole row.
      const values = rows.filter((r) => r.model === model).map((r) => r.samplesPerSec);
      const lo = Math.floor(Math.log10(Math.min(...values)));
      const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(...values))));
      const xs = (s: number): number => x0 + 10 + (pruneAxis(s) / axisMax) * (panelW - 20);
      const ys = (v: number): number => y0 + panelH - ((Math.log10(v) - lo) / (hi - lo)) * panelH;
      for (let p = lo; p <= hi; p++) {
        out.push(`<line x1="${x0}" x2="${x0 + panelW}" y1="${ys(10 ** p)}" y2="${ys(10 ** p)}" stroke="#eee"/>`);
        if (bi === 0) out.push(`<text x="${x0 - 4}" y="${ys(10 ** p) + 4}" text-anchor="end">1e${p}</text>`);
      }
      ticks.forEach((t) => out.push(`<text x="${xs(t)}" y="${y0 + panelH + 14}" text-anchor="middle">${t}</text>`));
      for (const variant of Object.keys(VARIANT_COLORS) as InferVariant[]) {
        const series = cell.filter((r) => r.variant === variant).sort((a, b) => a.sparsity - b.sparsity);
        if (series.length === 0) continue;
        const color = VARIANT_COLORS[variant];
        if (variant === 'dense') {
          const y = ys(series[0]!.samplesPerSec);
          out.push(`<line x1="${x0}" x2="${x0 + panelW}" y1="${y}" y2="${y}" stroke="${color}" stroke-dasharray="5,3"/>`);
          continue;
        }
        const points = series.map((r) => `${xs(r.sparsity).toFixed(1)},${ys(r.samplesPerSec).toFixed(1)}`);
        out.push(`<polyline points="${points.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`);
        for (const p of points) out.push(`<circle cx="${p.split(',')[0]}" cy="${p.split(',')[1]}" r="2.5" fill="${color}"/>`);
      }
    });
  });
  const lx = margin.left + batches.length * (panelW + margin.right) + 10;
  (Object.keys(VARIANT_COLORS) as InferVariant[]).forEach((variant, i) => {
    const y = margin.top + 10 + i * 18;
    out.push(`<line x1="${lx}" x2="${lx + 20}" y1="${y}" y2="${y}" stroke="${VARIANT_COLORS[variant]}" stroke-width="2"${variant === 'dense' ? ' stroke-dasharray="5,3"' : ''}/>`);
    out.push(`<text x="${lx + 26}" y="${y + 4}">${variant}</text>`);
  });
  out.push(`<text x="${margin.left}" y="${height - 4}" fill="#666">x: sparsity (fraction of weights pruned), spaced as log(1 / (1 − sparsity)); y: samples/s, log scale; dashed: dense</text>`);
  out.push('</svg>');
  return out.join('\n');
}
