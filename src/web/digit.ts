/**
 * The digit pad: strokes drawn with a mouse, pen or finger, turned into a 28×28 input the way
 * MNIST's digits were made (LeCun et al.): the ink's bounding box scaled to fit in 20×20 with its
 * aspect ratio kept and anti-aliased (area averaging), then placed in the 28×28 field so that its
 * centre of mass is at the centre.
 */

export const SIDE = 28;
const BOX = 20;

/** Ink in [0, 1], `[height, width]` row-major, as a 28×28 MNIST input (pixels quantised to byte/255 like the data set's). */
export function mnistInput(ink: Float32Array, width: number, height: number): Float32Array {
  const out = new Float32Array(SIDE * SIDE);
  let [left, top, right, bottom] = [width, height, -1, -1];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (ink[y * width + x]! <= 0) continue;
      left = Math.min(left, x);
      right = Math.max(right, x);
      top = Math.min(top, y);
      bottom = Math.max(bottom, y);
    }
  }
  if (right < 0) return out;
  const [w, h] = [right - left + 1, bottom - top + 1];
  const scale = BOX / Math.max(w, h);
  const [sw, sh] = [Math.max(1, Math.round(w * scale)), Math.max(1, Math.round(h * scale))];
  // Area averaging: each source pixel adds its ink to the scaled pixel it falls in.
  const sum = new Float32Array(sw * sh);
  const count = new Float32Array(sw * sh);
  for (let y = 0; y < h; y++) {
    const ty = Math.min(sh - 1, Math.floor((y * sh) / h));
    for (let x = 0; x < w; x++) {
      const tx = Math.min(sw - 1, Math.floor((x * sw) / w));
      sum[ty * sw + tx]! += ink[(top + y) * width + left + x]!;
      count[ty * sw + tx]! += 1;
    }
  }
  let [mass, mx, my] = [0, 0, 0];
  const scaled = sum.map((s, k) => {
    const v = s / count[k]!;
    mass += v;
    mx += v * ((k % sw) + 0.5);
    my += v * (Math.floor(k / sw) + 0.5);
    return v;
  });
  const dx = Math.round(SIDE / 2 - mx / mass);
  const dy = Math.round(SIDE / 2 - my / mass);
  for (let y = 0; y < sh; y++) {
    for (let x = 0; x < sw; x++) {
      const [ox, oy] = [x + dx, y + dy];
      if (ox < 0 || oy < 0 || ox >= SIDE || oy >= SIDE) continue;
      out[oy * SIDE + ox] = Math.round(Math.min(1, scaled[y * sw + x]!) * 255) / 255;
    }
  }
  return out;
}

/** A canvas to draw on; `onDrawn` gets the MNIST input after every stroke. */
export class DigitPad {
  private readonly context: CanvasRenderingContext2D;
  private last: { x: number; y: number } | null = null;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly onDrawn: (input: Float32Array) => void,
  ) {
    this.context = canvas.getContext('2d', { willReadFrequently: true })!;
    canvas.addEventListener('pointerdown', (event) => {
      canvas.setPointerCapture(event.pointerId);
      this.last = this.point(event);
      this.line(this.last, this.last);
    });
    canvas.addEventListener('pointermove', (event) => {
      if (!this.last) return;
      const next = this.point(event);
      this.line(this.last, next);
      this.last = next;
    });
    const end = (): void => {
      if (!this.last) return;
      this.last = null;
      this.onDrawn(this.input());
    };
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointercancel', end);
  }

  clear(): void {
    this.context.clearRect(0, 0, this.canvas.width, this.canvas.height);
  }

  /** The drawing as a 28×28 input. */
  input(): Float32Array {
    const { width, height } = this.canvas;
    const rgba = this.context.getImageData(0, 0, width, height).data;
    const ink = new Float32Array(width * height);
    for (let k = 0; k < ink.length; k++) ink[k] = rgba[4 * k + 3]! / 255;
    return mnistInput(ink, width, height);
  }

  private point(event: PointerEvent): { x: number; y: number } {
    const rect = this.canvas.getBoundingClientRect();
    return { x: ((event.clientX - rect.left) * this.canvas.width) / rect.width, y: ((event.clientY - rect.top) * this.canvas.height) / rect.height };
  }

  private line(from: { x: number; y: number }, to: { x: number; y: number }): void {
    const c = this.context;
    c.strokeStyle = '#111';
    c.lineWidth = this.canvas.width / 12;
    c.lineCap = 'round';
    c.lineJoin = 'round';
    c.beginPath();
    c.moveTo(from.x, from.y);
    c.lineTo(to.x, to.y);
    c.stroke();
  }
}

/** Draws a 28×28 input on a 28×28 canvas (white ink on black, as MNIST). */
export function showInput(canvas: HTMLCanvasElement, input: Float32Array): void {
  const context = canvas.getContext('2d')!;
  const image = context.createImageData(SIDE, SIDE);
  input.forEach((v, k) => {
    const g = Math.round(v * 255);
    image.data.set([g, g, g, 255], 4 * k);
  });
  context.putImageData(image, 0, 0);
}
