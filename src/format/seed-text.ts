/**
 * The seed's text format (`SavePruningNetToFile` / `LoadPruningNetFromFile` of the C# demo):
 *
 *   784,100,100,10                      layer sizes
 *   784,790,801                          one line per non-output neuron, in global order: the
 *   ...                                  absolute indices of the neurons it feeds (inputs are
 *                                        0..783, the first hidden neuron is 784)
 *   0.14491808,-0.2170713,0.0037288102   then the same number of lines with the matching weights
 *   ...
 *
 * An empty line is a neuron with no outgoing weight. The seed wrote it with .NET's
 * `StreamWriter.WriteLine` on Windows, so every line, the last included, ends with CRLF, and
 * floats are .NET's shortest round-trip text.
 */
import { zeroNetwork, type Network } from '../model/network';
import { UserError } from '../util/errors';
import { printable } from '../util/format';
import { formatDotNetFloat, parseDotNetFloat } from './dotnet-float';
import { declaredSizesProblem } from './file-limits';

export interface SeedTextOptions {
  /** Default CRLF, as the seed's files have. */
  lineEnding?: '\r\n' | '\n';
}

/** The seed's text format has weights only: a network with biases would lose them, so it is refused. */
export function refuseBiasesInSeedText(net: Network): void {
  if (net.biases) throw new UserError("the network has biases, which the seed's text format cannot hold; save as .safetensors");
}

/** The network in the seed's text format; each row lists its kept outputs in ascending order. */
export function formatSeedText(net: Network, options: SeedTextOptions = {}): string {
  refuseBiasesInSeedText(net);
  const eol = options.lineEnding ?? '\r\n';
  const positionLines: string[] = [];
  const weightLines: string[] = [];
  let nextLayerStart = 0;
  for (let l = 0; l + 1 < net.sizes.length; l++) {
    const inSize = net.sizes[l]!;
    const outSize = net.sizes[l + 1]!;
    nextLayerStart += inSize;
    const weights = net.weights[l]!;
    const mask = net.masks[l]!;
    for (let i = 0; i < inSize; i++) {
      const positions: number[] = [];
      const values: string[] = [];
      for (let o = 0; o < outSize; o++) {
        if (mask[i * outSize + o] !== 1) continue;
        positions.push(nextLayerStart + o);
        values.push(formatDotNetFloat(weights[i * outSize + o]!));
      }
      positionLines.push(positions.join(','));
      weightLines.push(values.join(','));
    }
  }
  const lines = [net.sizes.join(','), ...positionLines, ...weightLines];
  return lines.map((line) => line + eol).join('');
}

/**
 * Reads the seed's text format. Line endings may be CRLF, LF or CR, with or without one at the
 * end; indices within a line may come in any order. Each problem is a `UserError` naming the
 * file and line.
 */
export function parseSeedText(text: string, fileName: string): Network {
  const lines = splitLines(text);
  const fail = (lineIndex: number, problem: string): never => {
    throw new UserError(printable(`${fileName} line ${lineIndex + 1}: ${problem}`));
  };
  if (lines.length === 1 && lines[0] === '') {
    throw new UserError(`${fileName}: empty file; expected layer sizes like 784,100,100,10 on line 1`);
  }
  const layerSizes = parseSizes(lines[0]!) ?? fail(0, `"${clip(lines[0]!)}" is not a list of layer sizes like 784,100,100,10`);
  // Before anything is allocated: the text is ASCII when valid, so its length is its size in bytes.
  const sizesProblem = declaredSizesProblem(layerSizes, text.length);
  if (sizesProblem) fail(0, sizesProblem);

  const neuronCount = layerSizes.slice(0, -1).reduce((a, b) => a + b, 0);
  const expectedLines = 1 + 2 * neuronCount;
  if (lines.length !== expectedLines) {
    const need =
      `sizes ${layerSizes.join(',')} need ${expectedLines} lines ` +
      `(1 sizes line, ${neuronCount} position lines, ${neuronCount} weight lines)`;
    if (lines.length < expectedLines) fail(lines.length - 1, `file ends after ${lines.length} lines; ${need}`);
    fail(expectedLines, `unexpected line; ${need}`);
  }

  const net = zeroNetwork(layerSizes);
  net.masks.forEach((mask) => mask.fill(0));
  let neuron = 0;
  let nextLayerStart = 0;
  for (let l = 0; l + 1 < layerSizes.length; l++) {
    const inSize = layerSizes[l]!;
    const outSize = layerSizes[l + 1]!;
    nextLayerStart += inSize;
    const nextLayerEnd = nextLayerStart + outSize - 1;
    const weights = net.weights[l]!;
    const mask = net.masks[l]!;
    for (let i = 0; i < inSize; i++, neuron++) {
      const positionLine = 1 + neuron;
      const weightLine = 1 + neuronCount + neuron;
      const who = `neuron ${neuron} (layer ${l})`;
      const positionFields = splitFields(lines[positionLine]!);
      const outputs = positionFields.map((field) => {
        if (!/^\s*[+-]?\d+\s*$/.test(field)) fail(positionLine, `"${clip(field)}" is not a neuron index`);
        const target = Number(field);
        if (target < nextLayerStart || target > nextLayerEnd) {
          fail(
            positionLine,
            `${who} feeds neuron ${target}, but only neurons ${nextLayerStart}..${nextLayerEnd} ` +
              `(layer ${l + 1}) can follow it`,
          );
        }
        const o = target - nextLayerStart;
        if (mask[i * outSize + o] === 1) fail(positionLine, `${who} lists neuron ${target} twice`);
        mask[i * outSize + o] = 1;
        return o;
      });
      const weightFields = splitFields(lines[weightLine]!);
      if (weightFields.length !== outputs.length) {
        fail(
          weightLine,
          `${who} has ${weightFields.length} weights but line ${positionLine + 1} lists ${outputs.length} positions`,
        );
      }
      weightFields.forEach((field, k) => {
        const value = parseDotNetFloat(field);
        if (value === undefined) fail(weightLine, `"${clip(field)}" is not a number`);
        if (!Number.isFinite(value)) fail(weightLine, `weight "${clip(field)}" of ${who} is not a finite float32`);
        weights[i * outSize + outputs[k]!] = value!;
      });
    }
  }
  return net;
}

/** Lines as .NET's `File.ReadAllLines` sees them: a final line ending does not open a new line. */
function splitLines(text: string): string[] {
  const body = text.replace(/^\uFEFF/, '').replace(/(\r\n|\r|\n)$/, '');
  return body.split(/\r\n|\r|\n/);
}

function splitFields(line: string): string[] {
  return line === '' ? [] : line.split(',');
}

function parseSizes(line: string): number[] | undefined {
  const fields = line.split(',');
  if (fields.length < 2 || !fields.every((f) => /^\s*\d+\s*$/.test(f))) return undefined;
  const sizes = fields.map(Number);
  return sizes.every((s) => s >= 1 && Number.isSafeInteger(s)) ? sizes : undefined;
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
