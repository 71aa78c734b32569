/**
 * A device lost mid-work (here destroyed, which Dawn reports through `device.lost` like any
 * loss): the trainer, the inference engines and read-backs fail with a one-line DeviceLostError
 * that names the work that was running, not with the bare AbortError of the GPU's promises.
 * Each test destroys a device of its own.
 */
import { describe, expect, it } from 'vitest';
import { acquireDevice, type GpuContext } from '../../src/gpu/device';
import { DeviceLostError, KernelError } from '../../src/gpu/program';
import { createDenseInference } from '../../src/gpu/dense-inference';
import { GpuTrainer } from '../../src/gpu/trainer';
import { initNetwork } from '../../src/model/network';
import { dawnGpu } from '../../src/node/dawn';
import { testGpu } from '../helpers/gpu';
import { pixelData } from '../helpers/overflow';

const gpu = await testGpu();

const SIZES = [30, 40, 10];

async function lostError(work: Promise<unknown>): Promise<DeviceLostError> {
  const error = await work.then(
    () => null,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(DeviceLostError);
  expect(error).toBeInstanceOf(KernelError);
  const lost = error as DeviceLostError;
  expect(lost.message).not.toContain('\n');
  expect(lost.message).toBe(`the GPU device was lost during ${lost.work}: ${lost.reason}`);
  return lost;
}

describe.skipIf(!gpu.context)(`a lost GPU device ${gpu.label}`, () => {
  const reports: string[] = [];
  const ownDevice = (): Promise<GpuContext> => acquireDevice(dawnGpu(), { onError: (m) => reports.push(m) });
  const train = pixelData(400, SIZES[0]!, SIZES[2]!, 1);
  const config = { batchSize: 10, confidence: 0.99 };

  it('during an epoch that waits between submissions: names the batches submitted after the loss', async () => {
    const ctx = await ownDevice();
    const trainer = await GpuTrainer.create(ctx, initNetwork(SIZES, 1), train, config);
    let asked = 0;
    const shouldStop = (): boolean => {
      // After batches 8–15 finished: the next submission, 16–23, runs on a lost device.
      if (++asked === 2) ctx.device.destroy();
      return false;
    };
    const lost = await lostError(trainer.trainEpoch(null, 0.01, 0.5, { shouldStop }));
    expect(lost.work).toBe('train batches 16–23');
    expect(lost.reason).toBe(ctx.lostReason);
    expect(lost.reason).toMatch(/destroyed/);
    // Everything after fails the same way, naming its own work.
    expect((await lostError(trainer.state())).work).toBe('reading weights 0');
    expect((await lostError(trainer.trainEpoch(null, 0.01, 0.5))).work).toBe('train batches 0–39');
    trainer.dispose();
  });

  it('during an epoch submitted at once: names every batch not known to have finished', async () => {
    const ctx = await ownDevice();
    const trainer = await GpuTrainer.create(ctx, initNetwork(SIZES, 1), train, config);
    const epoch = trainer.trainEpoch(null, 0.01, 0.5);
    ctx.device.destroy();
    expect((await lostError(epoch)).work).toBe('train batches 0–39');
    trainer.dispose();
  });

  it('during inference: names the engine and the batch', async () => {
    const ctx = await ownDevice();
    const engine = await createDenseInference(ctx, initNetwork(SIZES, 1), { maxBatch: 20 });
    engine.upload(train.inputs, 20);
    ctx.device.destroy();
    expect((await lostError(engine.run(20))).work).toBe(`${engine.name} batch 20`);
    engine.dispose();
  });

  it('a device destroyed on purpose is not reported as an error', () => {
    expect(reports).toEqual([]);
  });
});
