/**
 * The browser app's page: controls, progress, charts, the network view, the race, the digit pad
 * and model files. All the work runs in the worker (src/web/worker.ts), which owns the GPU; the
 * page only draws, so it stays responsive during a 50-epoch run.
 *
 * `?auto=1` (with any training option as a URL parameter, e.g. `&epochs=2&limit=4000`) runs
 * train → the structured step → a quick race with no click and writes one JSON object to
 * `#result` (`AutoResult`); a failure goes to `#error`. `?gpu=0` runs on the JS reference.
 */
import type { Recipe } from '../train/recipe';
import { UserError } from '../util/errors';
import { grouped } from '../util/format';
import { EpochCharts, RaceChart } from './charts';
import { WorkerClient } from './client';
import { DigitPad, showInput } from './digit';
import { drawNetwork, drawReceptiveFields } from './network-view';
import { OPTION_DEFAULTS, PRESETS, presetValues, trainRequest } from './options';
import type { BackendInfo, NetworkChoice, PruneRequest, PruneSummary, RaceRow, SaveFormat, Score, TrainSummary } from './protocol';
import { element, megabytes, seconds, showLines, showPrediction, showRace, showScores } from './views';

/** What `#result` holds after an automatic run. */
export interface AutoResult {
  adapter: string;
  backend: 'gpu' | 'cpu';
  recipe: Recipe;
  trainImages: number;
  testImages: number;
  epochs: { epoch: number; trainAccuracy: number; testAccuracy: number; loss: number | null; keptWeights: number; seconds: number }[];
  dense: { accuracy: number; correct: number; total: number; keptWeights: number };
  /** `compactCorrect`: the structured step's smaller network on the same images. */
  pruned: { accuracy: number; correct: number; compactCorrect: number | null; keptWeights: number; sizes: number[] };
  race: { engine: string; batch: number; samplesPerSec: number }[];
  /** The longest main-thread task seen while training (ms; 0 when none passed the 50 ms that the browser reports). */
  longestTaskMs: number;
}

const params = new URLSearchParams(location.search);
const client = new WorkerClient(new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' }));
const charts = new EpochCharts(element('accuracy-chart'), element('kept-chart'), element('loss-chart'));
const raceChart = new RaceChart(element('race-chart'));
const form = element<HTMLFormElement>('train-form');
const pruneForm = element<HTMLFormElement>('prune-form');
const raceForm = element<HTMLFormElement>('race-form');
let backend: BackendInfo | null = null;
let haveNetwork = false;
let havePruned = false;

/** What the worker is doing for the page. */
type Action = 'training' | 'pruning' | 'racing' | 'tuning' | 'loading';
let busy: Action | null = null;

/**
 * Runs `work` as the page's one action: the controls of the others stay disabled until it ends,
 * since the worker takes requests one after another and each changes what the next one finds.
 */
async function exclusive<T>(action: Action, work: () => Promise<T>): Promise<T> {
  if (busy) throw new UserError(`the page is busy ${busy}: try again when that is done`);
  busy = action;
  updateButtons();
  try {
    return await work();
  } finally {
    busy = null;
    updateButtons();
  }
}

/** Within an action the first failure wins: later ones are usually its consequences. */
function showError(message: string): void {
  const box = element('error');
  if (box.textContent) return;
  box.textContent = message;
  console.error(message);
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Runs a click's work; its failure is shown in `box` (the page's error box by default), which it empties first. */
function guarded(work: () => Promise<void>, box?: HTMLElement): () => void {
  return () => {
    (box ?? element('error')).textContent = '';
    work().catch((err: unknown) => (box ? (box.textContent = messageOf(err)) : showError(messageOf(err))));
  };
}

// ---- longest main-thread task while training, for the automation contract ----
// Entries arrive after the fact, so they are kept and picked by when they started.
const longTasks: PerformanceEntry[] = [];
if (PerformanceObserver.supportedEntryTypes?.includes('longtask')) {
  new PerformanceObserver((list) => void longTasks.push(...list.getEntries())).observe({ type: 'longtask' });
}
let trainingSpan = { start: 0, end: 0 };

/** The longest main-thread task that started while the last run trained (0 when none passed the 50 ms the browser reports). */
async function longestTaskMs(): Promise<number> {
  // Let the observer deliver what the last frames produced.
  await new Promise((done) => setTimeout(done, 100));
  const during = longTasks.filter((t) => t.startTime >= trainingSpan.start && t.startTime < trainingSpan.end);
  return Math.max(0, ...during.map((t) => t.duration));
}

// ---- the form ----
function fillPresets(): void {
  const select = element<HTMLSelectElement>('preset');
  for (const p of PRESETS) select.add(new Option(p.label, p.name));
  select.add(new Option('Custom', 'custom'));
  select.addEventListener('change', () => select.value !== 'custom' && setForm(presetValues(select.value)));
}

function setForm(values: Record<string, string>): void {
  for (const [name, value] of Object.entries(values)) {
    const field = form.elements.namedItem(name);
    if (field instanceof HTMLInputElement && field.type === 'checkbox') field.checked = value === 'true';
    else if (field instanceof HTMLInputElement || field instanceof HTMLSelectElement) field.value = value;
  }
  showScheduleFields();
}

function formValues(): Record<string, string> {
  const values: Record<string, string> = {};
  for (const name of Object.keys(OPTION_DEFAULTS)) {
    const field = form.elements.namedItem(name);
    // A number field's text that is no number reads as empty, which options.ts takes for the
    // default; the browser's check, which caught it, is off (index.html says why).
    if (field instanceof HTMLInputElement && field.validity.badInput && !field.closest('[hidden]')) throw new UserError(`${name} is not a number`);
    if (field instanceof HTMLInputElement && field.type === 'checkbox') values[name] = String(field.checked);
    else if (field instanceof HTMLInputElement || field instanceof HTMLSelectElement) values[name] = field.value;
  }
  return values;
}

/** Shows the fields the chosen pruning schedule, update rule and learning-rate schedule use. */
function showScheduleFields(): void {
  const value = (name: string): string => (form.elements.namedItem(name) as HTMLSelectElement).value;
  const schedule = value('schedule');
  const rule = value('optimizer');
  form.querySelectorAll<HTMLElement>('[data-for]').forEach((label) => (label.hidden = !label.dataset['for']!.split(' ').includes(schedule)));
  form.querySelectorAll<HTMLElement>('[data-rule]').forEach((label) => (label.hidden = !label.dataset['rule']!.split(' ').includes(rule)));
  const lrSchedule = value('lr-schedule') || (rule === 'seed' ? 'seed-decay' : 'cosine');
  form.querySelectorAll<HTMLElement>('[data-decay]').forEach((label) => (label.hidden = lrSchedule !== 'seed-decay'));
}

/** `preset=`, or the seed's when it names no preset (said on the page, which starts all the same). */
function startPreset(): string {
  const name = params.get('preset') ?? 'seed';
  try {
    presetValues(name);
    return name;
  } catch (err) {
    showError(`${messageOf(err)}; the form starts from seed`);
    return 'seed';
  }
}
const preset = startPreset();

/** URL parameters named like options override the preset. */
function initialValues(): Record<string, string> {
  const values = presetValues(preset);
  for (const name of Object.keys(OPTION_DEFAULTS)) {
    const given = params.get(name);
    if (given !== null) values[name] = given;
  }
  return values;
}

// ---- buttons' states ----
function updateButtons(): void {
  const ready = backend !== null && dataReady;
  element<HTMLButtonElement>('train').disabled = !ready || busy !== null;
  element<HTMLButtonElement>('tune-button').disabled = backend?.backend !== 'gpu' || busy !== null;
  element<HTMLButtonElement>('pause').disabled = busy !== 'training';
  element<HTMLButtonElement>('stop').disabled = busy !== 'training';
  for (const id of ['prune-button', 'save-safetensors', 'save-text']) element<HTMLButtonElement>(id).disabled = !haveNetwork || busy !== null;
  // While a race runs, its button stops it.
  element<HTMLButtonElement>('race-button').disabled = !haveNetwork || (busy !== null && busy !== 'racing');
  element<HTMLInputElement>('model-file').disabled = !ready || busy !== null;
}

// ---- data ----
let dataReady = false;

client.onEvent((event) => {
  switch (event.kind) {
    case 'download': {
      const bar = element<HTMLProgressElement>('download');
      bar.max = event.total || 1;
      bar.value = event.total ? event.loaded : 0;
      element('download-text').textContent = event.cached
        ? 'from this browser’s cache'
        : `downloading ${megabytes(event.loaded)}${event.total ? ` of ${megabytes(event.total)}` : ''} (gzip’d)`;
      break;
    }
    case 'epoch':
      charts.add(event.point);
      break;
    case 'progress': {
      const bar = element<HTMLProgressElement>('train-progress');
      bar.max = event.totalEpochs;
      bar.value = event.epochs;
      const parts = [`Epoch ${Math.min(event.totalEpochs, Math.floor(event.epochs) + 1)} of ${event.totalEpochs}`];
      if (event.samplesPerSec > 0) parts.push(`${grouped(event.samplesPerSec)} samples/s`);
      if (event.secondsLeft !== null) parts.push(`about ${seconds(event.secondsLeft)} left`);
      element('train-status').textContent = (event.paused ? 'Paused. ' : '') + parts.join(' · ');
      break;
    }
    case 'gpu-error':
      showError(event.message);
      break;
    case 'tune-log':
      element('tune-status').textContent = event.line;
      break;
  }
});

async function start(): Promise<void> {
  backend = await client.call('init', { forceCpu: params.get('gpu') === '0' });
  element('backend').textContent = backend.backend === 'gpu' ? `WebGPU on ${backend.adapter}` : 'JS reference (no WebGPU)';
  showTuning(backend.tuning);
  const notice = element('gpu-notice');
  notice.textContent = backend.noGpuReason ?? '';
  notice.hidden = backend.noGpuReason === null;
  const data = await client.call('loadData', { baseUrl: new URL('.', location.href).href });
  dataReady = true;
  const bar = element<HTMLProgressElement>('download');
  bar.value = bar.max;
  element('download-text').textContent = `${grouped(data.trainCount)} training and ${grouped(data.testCount)} test images ${data.cached ? 'from this browser’s cache' : `downloaded in ${seconds(data.seconds)}`}`;
  updateButtons();
}

// ---- training ----
async function train(values: Record<string, string>): Promise<TrainSummary> {
  const request = trainRequest(values);
  return exclusive('training', async () => {
    // The worker keeps its networks until a run ends (session.ts): a run that fails leaves them.
    const had = { network: haveNetwork, pruned: havePruned };
    haveNetwork = false;
    havePruned = false;
    updateButtons();
    charts.reset();
    element('train-summary').textContent = '';
    element('pause').textContent = 'Pause';
    element('train-status').textContent = 'Starting…';
    trainingSpan = { start: performance.now(), end: Infinity };
    let summary: TrainSummary;
    try {
      summary = await client.call('train', request);
    } catch (err) {
      ({ network: haveNetwork, pruned: havePruned } = had);
      charts.restoreIfNoneAdded();
      element('train-status').textContent = `Failed: ${messageOf(err)}`;
      throw err;
    } finally {
      trainingSpan.end = performance.now();
    }
    const words = { finished: 'Finished', stopped: 'Stopped', diverged: 'Diverged' }[summary.status];
    element('train-status').textContent = `${words} after ${summary.epochs.length} epochs in ${seconds(summary.seconds)}.`;
    const t = summary.trained;
    element('train-summary').textContent =
      `${summary.message ? `${summary.message}. ` : ''}Test accuracy ${t.accuracy.toFixed(2)}% with ${((100 * t.keptWeights) / t.totalWeights).toFixed(2)}% of the weights (${grouped(t.keptWeights)}), on ${t.engine}.`;
    haveNetwork = true;
    await showNetwork('trained');
    return summary;
  });
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  guarded(async () => void (await train(formValues())))();
});
form.addEventListener('change', (event) => {
  if ((event.target as HTMLElement).id !== 'preset') element<HTMLSelectElement>('preset').value = 'custom';
  showScheduleFields();
});
element('pause').addEventListener(
  'click',
  guarded(async () => {
    const button = element('pause');
    const pausing = button.textContent === 'Pause';
    button.textContent = pausing ? 'Resume' : 'Pause';
    await client.call(pausing ? 'pause' : 'resume', null);
  }),
);
element('stop').addEventListener('click', guarded(async () => void (await client.call('stop', null))));

// ---- pruning after training ----
function pruneRequest(): PruneRequest {
  const data = new FormData(pruneForm);
  const rule = String(data.get('rule'));
  const text = String(data.get('value')).trim();
  const value = Number(text);
  const request: PruneRequest = {
    scope: data.get('scope') === 'layer' ? 'layer' : 'global',
    score: data.get('prune-score') === 'lookahead' ? 'lookahead' : 'magnitude',
    structured: data.get('structured') !== null,
  };
  if (rule === 'threshold' || rule === 'sparsity') {
    if (text === '' || !Number.isFinite(value) || value < 0 || (rule === 'sparsity' && value >= 1)) throw new UserError(`${rule} must be ${rule === 'sparsity' ? 'a fraction in [0, 1)' : 'a number ≥ 0'}, got "${text}"`);
    request[rule] = value;
  } else if (rule === 'layer-sparsity') {
    request.layerSparsity = text.split(',').map(Number);
    if (request.layerSparsity.some((v) => !(v >= 0 && v < 1))) throw new UserError(`per-layer sparsity must be fractions in [0, 1) separated by commas, got "${text}"`);
  }
  const keep = String(data.get('keep-neurons')).trim();
  if (keep !== '') request.keepNeurons = Number(keep);
  return request;
}

async function prune(request: PruneRequest): Promise<PruneSummary> {
  return exclusive('pruning', async () => {
    const summary = await client.call('prune', request);
    showScores(element<HTMLTableElement>('prune-table'), [
      ['before', summary.before],
      [`after ${summary.rule}`, summary.after],
      ...(summary.compact ? [['as the smaller network', summary.compact] as [string, Score]] : []),
    ]);
    havePruned = true;
    element<HTMLSelectElement>('save-which').value = 'pruned';
    await showNetwork('pruned');
    return summary;
  });
}

pruneForm.addEventListener('submit', (event) => {
  event.preventDefault();
  guarded(async () => void (await prune(pruneRequest())))();
});

// ---- network view ----
async function showNetwork(which: NetworkChoice): Promise<void> {
  element<HTMLSelectElement>('network-choice').value = which;
  const net = await client.call('network', { which });
  drawNetwork(element<HTMLCanvasElement>('network-canvas'), net);
  drawReceptiveFields(element<HTMLCanvasElement>('fields-canvas'), net);
}

element('network-choice').addEventListener(
  'change',
  guarded(async () => {
    const which = element<HTMLSelectElement>('network-choice').value as NetworkChoice;
    if (which === 'pruned' && !havePruned) throw new UserError('no pruned network yet: prune one in step 3');
    await showNetwork(which);
  }),
);

// ---- race ----
async function race(batches: number[], repeats: number): Promise<RaceRow[]> {
  return exclusive('racing', async () => {
    const button = element('race-button');
    button.textContent = 'Stop race';
    try {
      const { rows, skipped } = await client.call('race', { batches, repeats });
      raceChart.show(rows);
      showRace(element<HTMLTableElement>('race-table'), rows);
      showLines(element('race-skipped'), skipped);
      return rows;
    } finally {
      button.textContent = 'Race';
    }
  });
}

raceForm.addEventListener('submit', (event) => {
  event.preventDefault();
  if (busy === 'racing') {
    // The race returns what it measured before the stop, and race() shows that.
    element('race-button').textContent = 'Stopping…';
    guarded(async () => void (await client.call('stop', null)))();
    return;
  }
  guarded(async () => {
    const data = new FormData(raceForm);
    const batches = String(data.get('batches')).split(',').map((s) => Number(s.trim()));
    if (batches.some((b) => !Number.isInteger(b) || b < 1 || b > 100_000)) throw new UserError('batch sizes must be whole numbers from 1 to 100 000, separated by commas');
    await race(batches, Math.max(1, Math.round(Number(data.get('repeats')) || 1)));
  })();
});

// ---- tuning ----
function showTuning(tuning: string | null): void {
  element('tuning').textContent = tuning ? `· kernel choices: ${tuning}` : '';
}

element('tune-button').addEventListener(
  'click',
  guarded(() =>
    exclusive('tuning', async () => {
      const summary = await client.call('tune', { quick: element<HTMLInputElement>('tune-quick').checked });
      const table = element('tune-table');
      table.textContent = summary.table;
      table.hidden = false;
      element('tune-status').textContent = `Tuned in ${seconds(summary.seconds)}; kept in this browser.`;
      showTuning(`tuned ${summary.tunedAt.slice(0, 10)}`);
    }),
  ),
);

// ---- digit ----
const pad = new DigitPad(element<HTMLCanvasElement>('digit-canvas'), (input) => {
  showInput(element<HTMLCanvasElement>('digit-preview'), input);
  if (!haveNetwork) {
    element('probabilities').replaceChildren();
    element('prediction').textContent = 'Train or load a network first, then draw again.';
    return;
  }
  client.call('predict', { pixels: input }).then((p) => showPrediction(element('probabilities'), element('prediction'), p), (err: unknown) => showError(messageOf(err)));
});
element('clear-digit').addEventListener('click', () => {
  pad.clear();
  element('probabilities').replaceChildren();
  element('prediction').textContent = '';
});

// ---- model files ----
async function save(format: SaveFormat): Promise<void> {
  const which = element<HTMLSelectElement>('save-which').value as NetworkChoice;
  const { bytes, fileName } = await client.call('save', { which, format });
  const link = document.createElement('a');
  link.href = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
  link.download = fileName;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  element('model-status').textContent = `Saved ${fileName} (${grouped(bytes.byteLength)} bytes).`;
}

async function load(file: File): Promise<void> {
  return exclusive('loading', async () => {
    element('model-status').textContent = `Reading ${file.name}…`;
    try {
      const bytes = new Uint8Array(await file.arrayBuffer());
      const loaded = await client.call('load', { bytes, name: file.name }, [bytes.buffer]);
      const s = loaded.score;
      element('model-status').textContent = `${loaded.name} (${loaded.format}): ${s.sizes.join('-')}, ${grouped(s.keptWeights)} weights, test accuracy ${s.accuracy.toFixed(2)}%.`;
      haveNetwork = true;
      havePruned = false;
    } catch (err) {
      element('model-status').textContent = '';
      throw err;
    }
    await showNetwork('trained');
  });
}

const modelError = element('model-error');
element('save-safetensors').addEventListener('click', guarded(() => save('safetensors'), modelError));
element('save-text').addEventListener('click', guarded(() => save('seed-text'), modelError));
const fileInput = element<HTMLInputElement>('model-file');
fileInput.addEventListener('change', () => {
  const file = fileInput.files?.[0];
  if (file) guarded(() => load(file), modelError)();
  fileInput.value = '';
});
// A file dropped anywhere else would have the browser open it in place of the page, and of its run.
for (const type of ['dragover', 'drop']) window.addEventListener(type, (event) => event.preventDefault());
const dropZone = element('drop-zone');
dropZone.addEventListener('dragover', () => dropZone.classList.add('over'));
dropZone.addEventListener('dragleave', () => dropZone.classList.remove('over'));
dropZone.addEventListener('drop', (event) => {
  dropZone.classList.remove('over');
  const file = event.dataTransfer?.files[0];
  if (file) guarded(() => load(file), modelError)();
});

// ---- automation ----
const QUICK_RACE = [1, 100, 1000];

async function auto(): Promise<AutoResult> {
  const values = initialValues();
  const request = trainRequest(values);
  const summary = await train(values);
  const pruned = await prune({ scope: 'global', structured: true });
  const batches = params.get('race-batches')?.split(',').map(Number) ?? QUICK_RACE;
  const rows = await race(batches, Number(params.get('race-repeats') ?? 3));
  return {
    adapter: backend!.adapter,
    backend: backend!.backend,
    recipe: request.recipe,
    trainImages: request.limit ?? 60_000,
    testImages: summary.trained.total,
    epochs: summary.epochs.map(({ epoch, trainAccuracy, testAccuracy, loss, keptWeights, seconds }) => ({ epoch, trainAccuracy, testAccuracy, loss, keptWeights, seconds })),
    dense: { accuracy: summary.trained.accuracy, correct: summary.trained.correct, total: summary.trained.total, keptWeights: summary.trained.keptWeights },
    pruned: { accuracy: pruned.after.accuracy, correct: pruned.after.correct, compactCorrect: pruned.compact?.correct ?? null, keptWeights: pruned.after.keptWeights, sizes: pruned.after.sizes },
    race: rows.map(({ engine, batch, samplesPerSec }) => ({ engine, batch, samplesPerSec })),
    longestTaskMs: await longestTaskMs(),
  };
}

fillPresets();
setForm(initialValues());
element<HTMLSelectElement>('preset').value = preset;
updateButtons();
start()
  .then(async () => {
    if (params.get('auto') !== '1') return;
    const result = await auto();
    element('result').textContent = JSON.stringify(result, null, 2);
  })
  .catch((err: unknown) => showError(messageOf(err)));
