/**
 * Pictures of a network, after the seed's `network_structures.png`: neurons as columns of
 * circles (the 784 inputs as the 28×28 grid of pixels, grey where no kept weight reads the pixel),
 * connections coloured by sign and shaded by magnitude, pruned ones gone, removed neurons grey;
 * and the first layer's receptive fields, one 28×28 tile of incoming weights per hidden neuron.
 */
import type { NetworkSnapshot } from './protocol';

const POSITIVE = [31, 119, 180];
const NEGATIVE = [214, 39, 40];
const REMOVED = '#c8c8c8';
const IMAGE_SIDE = 28;
/** Connections are drawn in this many shades per sign (one path each). */
const SHADES = 8;

function rgba([r, g, b]: number[], alpha: number): string {
  return `rgba(${r},${g},${b},${alpha.toFixed(3)})`;
}

/** Whether input pixel i feeds a kept weight of a neuron that was not removed. */
export function usedInputs(net: NetworkSnapshot): Uint8Array {
  const out = net.sizes[1]!;
  const used = new Uint8Array(net.sizes[0]!);
  const mask = net.masks[0]!;
  for (let i = 0; i < used.length; i++) {
    if (net.removed[0]![i]) continue;
    for (let o = 0; o < out; o++) {
      if (mask[i * out + o] && !net.removed[1]![o]) {
        used[i] = 1;
        break;
      }
    }
  }
  return used;
}

export function drawNetwork(canvas: HTMLCanvasElement, net: NetworkSnapshot): void {
  const c = canvas.getContext('2d')!;
  const { width, height } = canvas;
  c.clearRect(0, 0, width, height);
  const margin = 16;
  const square = net.sizes[0] === IMAGE_SIDE * IMAGE_SIDE;
  const grid = square ? Math.min(height - 2 * margin, width * 0.28) : 0;
  const cell = grid / IMAGE_SIDE;
  const layers = net.sizes.length;
  // x of each layer's column: the input grid on the left, then evenly spaced columns.
  const firstColumn = square ? margin + grid + 40 : margin + 10;
  const columnX = (l: number): number => (l === 0 && square ? margin + grid : firstColumn + ((l - (square ? 1 : 0)) * (width - margin - 30 - firstColumn)) / Math.max(1, layers - 1 - (square ? 1 : 0)));
  const neuronY = (l: number, j: number): number => {
    if (l === 0 && square) return margin + (Math.floor(j / IMAGE_SIDE) + 0.5) * cell;
    const n = net.sizes[l]!;
    const spacing = Math.min(36, (height - 2 * margin) / n);
    return height / 2 + (j - (n - 1) / 2) * spacing;
  };
  const neuronX = (l: number, j: number): number => (l === 0 && square ? margin + ((j % IMAGE_SIDE) + 0.5) * cell : columnX(l));

  let largest = 0;
  net.weights.forEach((w, l) => w.forEach((v, k) => net.masks[l]![k] && (largest = Math.max(largest, Math.abs(v)))));
  c.lineWidth = 0.6;
  net.weights.forEach((w, l) => {
    const out = net.sizes[l + 1]!;
    const paths = Array.from({ length: 2 * SHADES }, () => new Path2D());
    for (let k = 0; k < w.length; k++) {
      if (!net.masks[l]![k] || w[k] === 0) continue;
      const [i, o] = [Math.floor(k / out), k % out];
      if (net.removed[l]![i] || net.removed[l + 1]![o]) continue;
      const shade = Math.min(SHADES - 1, Math.floor((Math.abs(w[k]!) / largest) * SHADES));
      const path = paths[(w[k]! > 0 ? 0 : SHADES) + shade]!;
      path.moveTo(neuronX(l, i), neuronY(l, i));
      path.lineTo(neuronX(l + 1, o), neuronY(l + 1, o));
    }
    paths.forEach((path, p) => {
      c.strokeStyle = rgba(p < SHADES ? POSITIVE : NEGATIVE, 0.04 + (0.9 * ((p % SHADES) + 1)) / SHADES);
      c.stroke(path);
    });
  });

  if (square) {
    const used = usedInputs(net);
    for (let i = 0; i < used.length; i++) {
      c.fillStyle = used[i] ? '#222' : '#e4e4e4';
      c.fillRect(margin + (i % IMAGE_SIDE) * cell, margin + Math.floor(i / IMAGE_SIDE) * cell, cell - 0.5, cell - 0.5);
    }
  }
  for (let l = square ? 1 : 0; l < layers; l++) {
    const n = net.sizes[l]!;
    const radius = Math.max(1.5, Math.min(9, ((height - 2 * margin) / n) * 0.38));
    for (let j = 0; j < n; j++) {
      c.beginPath();
      c.arc(neuronX(l, j), neuronY(l, j), radius, 0, 2 * Math.PI);
      c.fillStyle = net.removed[l]![j] ? REMOVED : '#f2b705';
      c.fill();
      c.strokeStyle = '#555';
      c.lineWidth = 0.5;
      c.stroke();
      if (l === layers - 1 && n <= 10) {
        c.fillStyle = '#222';
        c.font = `${Math.round(radius * 1.6)}px system-ui, sans-serif`;
        c.fillText(String(j), neuronX(l, j) + radius + 4, neuronY(l, j) + radius * 0.55);
      }
    }
  }
}

/** The tiles' layout for `count` neurons in a canvas `width` wide. */
function tileLayout(count: number, width: number): { columns: number; scale: number; pitch: number } {
  const scale = Math.max(1, Math.floor(width / (10 * (IMAGE_SIDE + 2))));
  const pitch = scale * IMAGE_SIDE + 2 * scale;
  return { columns: Math.max(1, Math.min(count, Math.floor(width / pitch))), scale, pitch };
}

/** Receptive fields of the first hidden layer; the canvas grows to hold every tile. */
export function drawReceptiveFields(canvas: HTMLCanvasElement, net: NetworkSnapshot): void {
  if (net.sizes[0] !== IMAGE_SIDE * IMAGE_SIDE) return;
  const out = net.sizes[1]!;
  const { columns, scale, pitch } = tileLayout(out, canvas.width);
  canvas.height = Math.ceil(out / columns) * pitch;
  const c = canvas.getContext('2d')!;
  const image = c.createImageData(canvas.width, canvas.height);
  const w = net.weights[0]!;
  const mask = net.masks[0]!;
  for (let o = 0; o < out; o++) {
    let largest = 0;
    for (let i = 0; i < IMAGE_SIDE * IMAGE_SIDE; i++) if (mask[i * out + o]) largest = Math.max(largest, Math.abs(w[i * out + o]!));
    const [x0, y0] = [(o % columns) * pitch, Math.floor(o / columns) * pitch];
    for (let i = 0; i < IMAGE_SIDE * IMAGE_SIDE; i++) {
      const k = i * out + o;
      let color = [255, 255, 255];
      if (net.removed[1]![o]) color = [215, 215, 215];
      else if (mask[k] && largest > 0) {
        const t = Math.abs(w[k]!) / largest;
        const base = w[k]! > 0 ? POSITIVE : NEGATIVE;
        color = base.map((ch) => Math.round(255 + (ch - 255) * t));
      } else if (!mask[k]) color = [255, 255, 255];
      for (let dy = 0; dy < scale; dy++) {
        for (let dx = 0; dx < scale; dx++) {
          const p = 4 * ((y0 + Math.floor(i / IMAGE_SIDE) * scale + dy) * canvas.width + x0 + (i % IMAGE_SIDE) * scale + dx);
          image.data.set([color[0]!, color[1]!, color[2]!, 255], p);
        }
      }
    }
    // A frame, so that an all-blank tile still shows where it is.
    for (let t = 0; t < IMAGE_SIDE * scale; t++) {
      for (const [x, y] of [[x0 + t, y0], [x0 + t, y0 + IMAGE_SIDE * scale - 1], [x0, y0 + t], [x0 + IMAGE_SIDE * scale - 1, y0 + t]]) {
        image.data.set([170, 170, 170, 255], 4 * (y! * canvas.width + x!));
      }
    }
  }
  c.putImageData(image, 0, 0);
}
