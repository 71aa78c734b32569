/** The page's charts, drawn with uPlot (about 50 kB, canvas, fast enough to redraw every epoch). */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { EpochPoint, RaceRow } from './protocol';

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
const HEIGHT = 220;

/** A uPlot chart that fills its container's width and follows it. */
class Chart {
  private readonly plot: uPlot;
  private readonly resized: ResizeObserver;

  constructor(container: HTMLElement, options: Omit<uPlot.Options, 'width' | 'height'>, data: uPlot.AlignedData) {
    this.plot = new uPlot({ ...options, width: Math.max(200, container.clientWidth), height: HEIGHT }, data, container);
    this.resized = new ResizeObserver(() => this.plot.setSize({ width: Math.max(200, container.clientWidth), height: HEIGHT }));
    this.resized.observe(container);
  }

  set(data: uPlot.AlignedData): void {
    this.plot.setData(data);
  }

  /** Removes the chart from its container, with the listeners that would keep it alive. */
  destroy(): void {
    this.resized.disconnect();
    this.plot.destroy();
  }
}

const epochAxis: uPlot.Axis = { label: 'epoch', incrs: [1, 2, 5, 10, 20, 50], values: (_u, ticks) => ticks.map(String) };

/** Train and test accuracy, weights kept and training loss, per epoch. */
export class EpochCharts {
  private readonly accuracy: Chart;
  private readonly kept: Chart;
  private readonly loss: Chart;
  private points: EpochPoint[] = [];
  /** What the charts showed before the last `reset`. */
  private previous: EpochPoint[] = [];

  constructor(accuracyBox: HTMLElement, keptBox: HTMLElement, lossBox: HTMLElement) {
    this.accuracy = new Chart(
      accuracyBox,
      {
        scales: { x: { time: false } },
        axes: [epochAxis, { label: '%' }],
        series: [{ label: 'epoch' }, { label: 'train', stroke: COLORS[0], width: 2 }, { label: 'test', stroke: COLORS[1], width: 2 }],
      },
      [[], [], []],
    );
    this.kept = new Chart(
      keptBox,
      {
        scales: { x: { time: false }, y: { range: [0, 100] } },
        axes: [epochAxis, { label: '%' }],
        series: [{ label: 'epoch' }, { label: 'kept', stroke: COLORS[2], width: 2, fill: 'rgba(44,160,44,0.1)' }],
      },
      [[], []],
    );
    this.loss = new Chart(
      lossBox,
      {
        scales: { x: { time: false } },
        axes: [epochAxis, { label: 'nats' }],
        series: [{ label: 'epoch' }, { label: 'loss', stroke: COLORS[3], width: 2 }],
      },
      [[], []],
    );
  }

  /** Empties the charts for a new run. */
  reset(): void {
    this.previous = this.points;
    this.points = [];
    this.draw();
  }

  /** After a run that failed: its epochs stay, and if it had none, the charts of the run before it come back. */
  restoreIfNoneAdded(): void {
    if (this.points.length > 0) return;
    this.points = this.previous;
    this.draw();
  }

  add(point: EpochPoint): void {
    this.points.push(point);
    this.draw();
  }

  private draw(): void {
    const x = this.points.map((p) => p.epoch);
    const updates: [Chart, uPlot.AlignedData][] = [
      [this.accuracy, [x, this.points.map((p) => p.trainAccuracy), this.points.map((p) => p.testAccuracy)]],
      [this.kept, [x, this.points.map((p) => p.keptWeights)]],
      [this.loss, [x, this.points.map((p) => p.loss)]],
    ];
    // Each chart redraws in a task of its own: all three in one would hold the main thread
    // three times as long while training runs.
    for (const [chart, data] of updates) setTimeout(() => chart.set(data));
  }
}

/** Samples/s against batch size, both log scales, a line per engine. */
export class RaceChart {
  private chart: Chart | null = null;

  constructor(private readonly box: HTMLElement) {}

  show(rows: readonly RaceRow[]): void {
    const engines = [...new Set(rows.map((r) => r.engine))];
    const batches = [...new Set(rows.map((r) => r.batch))].sort((a, b) => a - b);
    const data: uPlot.AlignedData = [batches, ...engines.map((e) => batches.map((b) => rows.find((r) => r.engine === e && r.batch === b)?.samplesPerSec ?? null))];
    // The series are known only now: the chart is made for them, in place of the last race's.
    this.chart?.destroy();
    this.chart = new Chart(
      this.box,
      {
        scales: { x: { time: false, distr: 3 }, y: { distr: 3 } },
        axes: [{ label: 'batch' }, { label: 'samples/s', size: 70 }],
        series: [{ label: 'batch' }, ...engines.map((e, i) => ({ label: e, stroke: COLORS[i % COLORS.length], width: 2, points: { show: true } }))],
      },
      data,
    );
  }
}
