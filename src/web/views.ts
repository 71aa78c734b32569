/** Small DOM pieces of the page: elements by id, text of numbers, tables, probability bars. */
import { grouped } from '../util/format';
import type { Prediction, RaceRow, Score } from './protocol';

export function element<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found as T;
}

export function seconds(s: number): string {
  if (s < 59.5) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  // Rounded before it is split, so that 119.6 s reads 2 min 0 s, not 1 min 60 s.
  const whole = Math.round(s);
  const m = Math.floor(whole / 60);
  return m < 60 ? `${m} min ${whole % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

function cells(row: HTMLTableRowElement, values: readonly string[], tag: 'td' | 'th' = 'td'): void {
  for (const v of values) {
    const cell = document.createElement(tag);
    cell.textContent = v;
    row.append(cell);
  }
}

function fillTable(table: HTMLTableElement, head: readonly string[] | null, rows: readonly (readonly string[])[]): void {
  if (head) {
    const tr = document.createElement('tr');
    cells(tr, head, 'th');
    table.tHead!.replaceChildren(tr);
  }
  table.tBodies[0]!.replaceChildren(
    ...rows.map((values) => {
      const tr = document.createElement('tr');
      cells(tr, values);
      return tr;
    }),
  );
  table.hidden = false;
}

export function showScores(table: HTMLTableElement, rows: readonly [string, Score][]): void {
  fillTable(
    table,
    null,
    rows.map(([label, s]) => [
      label,
      `${s.accuracy.toFixed(2)}% (${grouped(s.correct)} of ${grouped(s.total)})`,
      `${((100 * s.keptWeights) / s.totalWeights).toFixed(2)}% (${grouped(s.keptWeights)})`,
      s.sizes.join('-'),
      s.engine,
    ]),
  );
}

/** One row per engine, one column per batch size: samples/s, and the ratio to dense. */
export function showRace(table: HTMLTableElement, rows: readonly RaceRow[]): void {
  const batches = [...new Set(rows.map((r) => r.batch))].sort((a, b) => a - b);
  const engines = [...new Set(rows.map((r) => r.engine))];
  const dense = (batch: number): number | undefined => rows.find((r) => r.batch === batch && r.engine.endsWith('dense') && !r.engine.includes('compact'))?.samplesPerSec;
  fillTable(
    table,
    ['engine', 'shape', ...batches.map((b) => `batch ${grouped(b)}`)],
    engines.map((engine) => {
      const mine = rows.filter((r) => r.engine === engine);
      return [
        `${engine} (${mine[0]!.kernel})`,
        mine[0]!.sizes.join('-'),
        ...batches.map((b) => {
          const row = mine.find((r) => r.batch === b);
          if (!row) return '–';
          const base = dense(b);
          return `${grouped(row.samplesPerSec)}/s${base ? ` (${(row.samplesPerSec / base).toFixed(2)}×)` : ''}`;
        }),
      ];
    }),
  );
}

/** `lines` as the items of `box`'s list; `box` is hidden when there are none. */
export function showLines(box: HTMLElement, lines: readonly string[]): void {
  box.querySelector('ul')!.replaceChildren(
    ...lines.map((line) => {
      const li = document.createElement('li');
      li.textContent = line;
      return li;
    }),
  );
  box.hidden = lines.length === 0;
}

/** Each network's probabilities as bars in `box`, and in `summary` (read out on each stroke) the digit each reads. */
export function showPrediction(box: HTMLElement, summary: HTMLElement, prediction: Prediction): void {
  const column = (title: string, p: number[]): HTMLElement => {
    const best = p.indexOf(Math.max(...p));
    const div = document.createElement('div');
    div.className = 'bars';
    const h = document.createElement('h3');
    h.textContent = `${title}: ${best}`;
    div.append(h);
    p.forEach((v, digit) => {
      const line = document.createElement('div');
      line.className = digit === best ? 'bar best' : 'bar';
      line.innerHTML = `<span class="digit">${digit}</span><span class="track"><span class="fill" style="width:${(100 * v).toFixed(1)}%"></span></span><span class="value">${(100 * v).toFixed(1)}%</span>`;
      div.append(line);
    });
    return div;
  };
  box.replaceChildren(column('trained', prediction.trained), ...(prediction.pruned ? [column('pruned', prediction.pruned)] : []));
  const reads = (title: string, p: number[]): string => {
    const best = p.indexOf(Math.max(...p));
    return `${title} network reads ${best} (${(100 * p[best]!).toFixed(1)}%)`;
  };
  summary.textContent = `${[reads('Trained', prediction.trained), ...(prediction.pruned ? [reads('pruned', prediction.pruned)] : [])].join('; ')}.`;
  box.dataset['trained'] = String(prediction.trained.indexOf(Math.max(...prediction.trained)));
  if (prediction.pruned) box.dataset['pruned'] = String(prediction.pruned.indexOf(Math.max(...prediction.pruned)));
}
