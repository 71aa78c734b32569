/**
 * The TF.js peer of `bench train`: the seed's MLP trained with TF.js's `webgpu` backend on the
 * same Dawn `GPU` object (and so the same adapter) as our trainer.
 *
 * TF.js is a dev dependency, loaded here with a dynamic import only when the bench runs, so the
 * CLI bundle never needs it at startup. Its webgpu backend registers itself while its module
 * loads, and only if `navigator.gpu` exists then: Node 20 has no `navigator`, so one holding
 * Dawn's `GPU` is put on `globalThis` before the import.
 */
import type { Dataset } from '../data/dataset';
import type { Network } from '../model/network';
import { UserError } from '../util/errors';
import { timeRuns } from './timing';

type Tf = typeof import('@tensorflow/tfjs');
type Tensor2D = import('@tensorflow/tfjs').Tensor2D;
type Tensor1D = import('@tensorflow/tfjs').Tensor1D;
type Variable = import('@tensorflow/tfjs').Variable;

export interface TfjsWebgpu {
  tf: Tf;
  /** What TF.js's backend reports of the adapter it opened. */
  adapter: { vendor: string; architecture: string };
  version: string;
}

let loaded: Promise<TfjsWebgpu> | null = null;

function exposeGpu(gpu: GPU): void {
  const scope = globalThis as { navigator?: { gpu?: GPU } };
  if (!scope.navigator) {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  } else if (scope.navigator.gpu !== gpu) {
    Object.defineProperty(scope.navigator, 'gpu', { value: gpu, configurable: true });
  }
}

function isModuleNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

/** TF.js with its `webgpu` backend active on `gpu`; once per process (TF.js's engine is global). */
export function loadTfjsWebgpu(gpu: GPU): Promise<TfjsWebgpu> {
  loaded ??= (async () => {
    exposeGpu(gpu);
    let tf: Tf;
    try {
      tf = await import('@tensorflow/tfjs');
      await import('@tensorflow/tfjs-backend-webgpu');
    } catch (err) {
      if (!isModuleNotFound(err)) throw err;
      throw new UserError(
        'bench train compares with TF.js, a dev dependency that is not installed: run `npm install` in the repository ' +
          '(or `npm install @tensorflow/tfjs@4.22.0 @tensorflow/tfjs-backend-webgpu@4.22.0`)',
      );
    }
    // Production mode drops TF.js's debug checks, as a deployment would.
    tf.enableProdMode();
    if (!(await tf.setBackend('webgpu'))) throw new UserError('TF.js could not start its webgpu backend on this adapter');
    await tf.ready();
    const backend = tf.backend() as unknown as { adapterInfo?: { vendor?: string; architecture?: string } };
    return {
      tf,
      adapter: { vendor: backend.adapterInfo?.vendor ?? '', architecture: backend.adapterInfo?.architecture ?? '' },
      version: tf.version.tfjs,
    };
  })();
  loaded.catch(() => {
    loaded = null;
  });
  return loaded;
}

/**
 * The seed's network in TF.js: no biases, ReLU on hidden layers, softmax cross-entropy on the
 * logits, SGD with momentum, one `optimizer.minimize` per batch. The training batches are
 * uploaded once, so a timed epoch moves no data from the CPU.
 */
export class TfjsMlpTrainer {
  private constructor(
    private readonly tf: Tf,
    private readonly weights: Variable[],
    private readonly inputs: Tensor2D[],
    private readonly targets: Tensor2D[],
    private readonly optimizer: import('@tensorflow/tfjs').MomentumOptimizer,
  ) {}

  /** Starts from `net`'s weights (the same initial network as the other trainers). */
  static create(peer: TfjsWebgpu, net: Network, train: Dataset, batch: number, lr: number, momentum: number): TfjsMlpTrainer {
    const { tf } = peer;
    const { sizes } = net;
    const batchCount = Math.floor(train.count / batch);
    const weights = net.weights.map((w, l) => tf.variable(tf.tensor2d(w, [sizes[l]!, sizes[l + 1]!]), true, `w${l}`));
    const inputs: Tensor2D[] = [];
    const targets: Tensor2D[] = [];
    for (let b = 0; b < batchCount; b++) {
      inputs.push(tf.tensor2d(train.inputs.subarray(b * batch * train.features, (b + 1) * batch * train.features), [batch, train.features]));
      const onehot = new Float32Array(batch * train.classes);
      for (let r = 0; r < batch; r++) onehot[r * train.classes + train.labels[b * batch + r]!] = 1;
      targets.push(tf.tensor2d(onehot, [batch, train.classes]));
    }
    return new TfjsMlpTrainer(tf, weights, inputs, targets, tf.train.momentum(lr, momentum));
  }

  get batches(): number {
    return this.inputs.length;
  }

  /** One step per resident batch; resolves when the GPU has finished the last update. */
  async trainEpoch(): Promise<void> {
    const { tf, weights } = this;
    for (let b = 0; b < this.inputs.length; b++) {
      const x = this.inputs[b]!;
      const y = this.targets[b]!;
      this.optimizer.minimize(() => {
        let a: Tensor2D = x;
        weights.forEach((w, l) => {
          const z = tf.matMul<Tensor2D>(a, w);
          a = l + 1 < weights.length ? tf.relu(z) : z;
        });
        return tf.losses.softmaxCrossEntropy(y, a);
      });
    }
    // Reading the last layer's weights waits for every queued update before it.
    await weights[weights.length - 1]!.data();
  }

  dispose(): void {
    for (const t of [...this.weights, ...this.inputs, ...this.targets]) t.dispose();
    this.optimizer.dispose();
  }
}

/**
 * The network's forward pass in TF.js (matMul, add of the biases when the network has them, relu;
 * the pruned weights as zeros, which is all TF.js can do with them): the peer of our inference
 * engines on the same adapter. `inputs` stays resident; a timed run ends by reading the logits
 * back, the only way TF.js offers to wait for the GPU (batch × classes floats).
 */
export class TfjsMlpInference {
  private constructor(
    private readonly tf: Tf,
    private readonly weights: Tensor2D[],
    private readonly biases: Tensor1D[],
  ) {}

  static create(peer: TfjsWebgpu, net: Network): TfjsMlpInference {
    const { tf } = peer;
    return new TfjsMlpInference(
      tf,
      net.weights.map((w, l) => tf.tensor2d(w, [net.sizes[l]!, net.sizes[l + 1]!])),
      (net.biases ?? []).map((b) => tf.tensor1d(b)),
    );
  }

  /** Milliseconds of each of `repeats` timed runs on `batch` samples of `inputs` (`[batch, features]`), after two warm-up runs. */
  async time(inputs: Float32Array, batch: number, repeats: number): Promise<number[]> {
    const { tf, weights, biases } = this;
    const x = tf.tensor2d(inputs.subarray(0, batch * weights[0]!.shape[0]), [batch, weights[0]!.shape[0]]);
    const layer = (a: Tensor2D, w: Tensor2D, l: number): Tensor2D => {
      const product = tf.matMul<Tensor2D>(a, w);
      const z = biases[l] ? tf.add<Tensor2D>(product, biases[l]) : product;
      return l + 1 < weights.length ? tf.relu(z) : z;
    };
    const run = async (): Promise<void> => {
      const logits = tf.tidy(() => weights.reduce<Tensor2D>(layer, x));
      await logits.data();
      logits.dispose();
    };
    try {
      return await timeRuns(run, repeats);
    } finally {
      x.dispose();
    }
  }

  dispose(): void {
    for (const t of [...this.weights, ...this.biases]) t.dispose();
  }
}
