/**
 * PyTorch's layout in safetensors: the state dict of `nn.Sequential(Linear, ReLU, Linear, …)`,
 * as `safetensors.torch.save_file(model.state_dict(), …)` writes it and `load_state_dict` takes
 * it back. The Linear layers are modules 0, 2, 4, … (a ReLU between each two), layer l's weight
 * is `{2l}.weight` F32 [out, in] (the transpose of ours) and its bias `{2l}.bias` F32 [out].
 *
 * The layer sizes come from the shapes, which must chain; `__metadata__` is optional (PyTorch
 * writes none or `{"format": "pt"}`). The layout has no masks: a pruned weight is a 0, and on
 * read every 0 is a pruned weight. A network with biases writes `{2l}.bias` for every layer, one
 * without writes none. On read, a file with any bias tensor is a network with biases (zeros
 * included: an `nn.Linear` has a bias unless made with `bias=False`), a layer without one getting
 * zeros; a file with none is a network without biases.
 */
import type { Network } from '../model/network';
import { declaredSizesProblem } from './file-limits';
import { checkFinite, expectTensor, readMetadata, type Fail, type SafetensorsFile, type TensorEntry, type TensorToWrite } from './safetensors-file';

/** What PyTorch's own files have in `__metadata__.format`. */
export const TORCH_FORMAT_NAME = 'pt';

const TORCH_NAME = /^(0|[1-9][0-9]*)\.(weight|bias)$/;

/** A file whose tensors are named like modules of an `nn.Sequential` (`0.weight`, `3.running_mean`). */
export function isTorchLayout(names: Iterable<string>): boolean {
  for (const name of names) if (/^[0-9]+\./.test(name)) return true;
  return false;
}

/** Module index of layer l: ReLU modules sit between the Linear ones. */
function moduleIndex(layer: number): number {
  return 2 * layer;
}

export function torchLayoutTensors(net: Network): TensorToWrite[] {
  return net.weights.flatMap((weights, l): TensorToWrite[] => {
    const inSize = net.sizes[l]!;
    const outSize = net.sizes[l + 1]!;
    const transposed = new Float32Array(weights.length);
    for (let i = 0; i < inSize; i++) {
      for (let o = 0; o < outSize; o++) transposed[o * inSize + i] = weights[i * outSize + o]!;
    }
    const weight: TensorToWrite = { name: `${moduleIndex(l)}.weight`, dtype: 'F32', shape: [outSize, inSize], data: transposed };
    const bias = net.biases?.[l];
    return bias ? [weight, { name: `${moduleIndex(l)}.bias`, dtype: 'F32', shape: [outSize], data: bias }] : [weight];
  });
}

interface TorchLayer {
  weight: TensorEntry;
  bias?: TensorEntry;
}

export function decodeTorchLayout(file: SafetensorsFile): { net: Network; metadata: Record<string, string> } {
  const { tensors, fail, read } = file;
  const metadata = file.metadata === undefined ? {} : readMetadata(file.metadata, fail);
  const layers = planTorchLayers(tensors, fail);
  const sizes = [layers[0]!.weight.shape[1]!, ...layers.map((layer) => layer.weight.shape[0]!)];
  const problem = declaredSizesProblem(sizes, file.fileBytes);
  if (problem) fail(`the weight shapes make layer sizes ${sizes.join(',')}: ${problem}`);
  if (metadata['sizes'] !== undefined && metadata['sizes'] !== sizes.join(',')) {
    fail(`__metadata__ sizes "${metadata['sizes']}" do not match the weight shapes, which make ${sizes.join(',')}`);
  }

  const net: Network = { sizes, weights: [], masks: [] };
  layers.forEach(({ weight }, l) => {
    const inSize = sizes[l]!;
    const outSize = sizes[l + 1]!;
    const byOutput = read(weight) as Float32Array; // [out, in]
    checkFinite(byOutput, weight.name, fail);
    const weights = new Float32Array(byOutput.length);
    const mask = new Uint8Array(byOutput.length);
    for (let o = 0; o < outSize; o++) {
      for (let i = 0; i < inSize; i++) {
        const w = byOutput[o * inSize + i]!;
        // -0 too is a pruned weight, stored as +0 like every other.
        if (w !== 0) {
          weights[i * outSize + o] = w;
          mask[i * outSize + o] = 1;
        }
      }
    }
    net.weights.push(weights);
    net.masks.push(mask);
  });
  if (layers.some(({ bias }) => bias)) {
    net.biases = layers.map(({ bias }, l) => {
      if (!bias) return new Float32Array(sizes[l + 1]!);
      const values = read(bias) as Float32Array;
      checkFinite(values, bias.name, fail);
      return values;
    });
  }
  return { net, metadata };
}

/** The Linear layers in order, every tensor checked for its name, dtype and shape before anything is read. */
function planTorchLayers(tensors: Map<string, TensorEntry>, fail: Fail): TorchLayer[] {
  const modules = new Map<number, Partial<TorchLayer>>();
  for (const [name, t] of tensors) {
    const match = TORCH_NAME.exec(name);
    if (!match) fail(`unexpected tensor ${name}: the torch layout holds the weights and biases of nn.Sequential(Linear, ReLU, Linear, …) only`);
    const index = Number(match![1]);
    const module = modules.get(index) ?? {};
    module[match![2] as keyof TorchLayer] = t;
    modules.set(index, module);
  }
  const linear = [...modules.keys()].filter((index) => modules.get(index)!.weight).sort((a, b) => a - b);
  const layers: TorchLayer[] = linear.map((_, l) => {
    const module = modules.get(moduleIndex(l));
    if (!module?.weight) {
      fail(`${moduleIndex(l)}.weight is missing: the torch layout numbers the Linear layers 0, 2, 4, … (a ReLU between each two), ` +
        `this file has ${linear.map((index) => `${index}.weight`).join(', ')}`);
    }
    return module as TorchLayer;
  });
  for (const [index, module] of modules) {
    if (!module.weight) fail(`${index}.bias has no ${index}.weight`);
  }

  layers.forEach(({ weight }) => {
    if (weight.dtype !== 'F32') fail(`tensor ${weight.name} has dtype ${weight.dtype}, expected F32`);
    if (weight.shape.length !== 2) fail(`tensor ${weight.name} has shape [${weight.shape.join(', ')}], expected [out, in]`);
  });
  layers.forEach(({ weight }, l) => {
    const previous = layers[l - 1]?.weight;
    if (previous && weight.shape[1] !== previous.shape[0]) {
      // Our own [in, out] tensors renamed chain the other way round.
      const transposed = layers.every((layer, k) => k === 0 || layer.weight.shape[0] === layers[k - 1]!.weight.shape[1]);
      fail(`tensor ${weight.name} [${weight.shape.join(', ')}] takes ${weight.shape[1]} inputs but ${previous.name} ` +
        `[${previous.shape.join(', ')}] gives ${previous.shape[0]} outputs` +
        (transposed ? '; the weights look transposed: the torch layout stores [out, in]' : '; the layers do not chain'));
    }
  });
  layers.forEach(({ weight, bias }) => {
    if (bias) expectTensor(bias, 'F32', [weight.shape[0]!], fail, ` (${weight.name} has ${weight.shape[0]} outputs)`);
  });
  return layers;
}
