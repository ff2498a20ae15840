import * as tf from "@tensorflow/tfjs-core";
import { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withNewHead } from "../finetune/model.js";
import { Trainer } from "../train/trainer.js";
import { memorySource, snapshot, tinyModel, useCpu } from "../train/test-utils/fixtures.js";
import { BATCH_NORM_TRAINING, BATCH_NORM_TRAINING_GRAD } from "../backend/contract.js";
import { hasBatchNormTrainingKernel } from "./batch-norm-training.js";

/**
 * A backend with the fused kernels, written here in float64 loops straight from the definitions
 * (biased variance over all rows; the gradient of y = (x − mean)·scale/σ + offset through mean and
 * σ too), so that the trainer's one-kernel path can be checked against tfjs-layers' own on the cpu.
 */
const REFERENCE = "cpu-fused-batchnorm";
let calls = { forward: 0, backward: 0 };

function registerReferenceBackend(): void {
  tf.registerBackend(REFERENCE, () => new MathBackendCPU(), 1);
  for (const config of tf.getKernelsForBackend("cpu")) tf.registerKernel({ ...config, backendName: REFERENCE });
  const values = (backend: MathBackendCPU, t: tf.TensorInfo) => backend.data.get(t.dataId).values as Float32Array;
  tf.registerKernel({
    kernelName: BATCH_NORM_TRAINING, backendName: REFERENCE, kernelFunc: ({ inputs, backend, attrs }) => {
      calls.forward++;
      const cpu = backend as MathBackendCPU;
      const { x, scale, offset } = inputs as Record<string, tf.TensorInfo>;
      const [xv, s, o] = [values(cpu, x!), values(cpu, scale!), values(cpu, offset!)];
      const eps = (attrs as { varianceEpsilon: number }).varianceEpsilon;
      const c = s.length, rows = xv.length / c;
      const mean = new Float64Array(c), variance = new Float64Array(c);
      for (let i = 0; i < xv.length; i++) mean[i % c] += xv[i]! / rows;
      for (let i = 0; i < xv.length; i++) variance[i % c] += (xv[i]! - mean[i % c]!) ** 2 / rows;
      const y = xv.map((v, i) => ((v - mean[i % c]!) * s[i % c]!) / Math.sqrt(variance[i % c]! + eps) + o[i % c]!);
      return [cpu.makeTensorInfo(x!.shape, "float32", y), cpu.makeTensorInfo([c], "float32", Float32Array.from(mean)),
        cpu.makeTensorInfo([c], "float32", Float32Array.from(variance))];
    },
  });
  tf.registerKernel({
    kernelName: BATCH_NORM_TRAINING_GRAD, backendName: REFERENCE, kernelFunc: ({ inputs, backend, attrs }) => {
      calls.backward++;
      const cpu = backend as MathBackendCPU;
      const [dy, x, mean, variance, scale, dMean, dVariance] = ["dy", "x", "mean", "variance", "scale", "dMean", "dVariance"]
        .map((k) => values(cpu, inputs[k] as tf.TensorInfo));
      const eps = (attrs as { varianceEpsilon: number }).varianceEpsilon;
      const c = mean!.length, rows = x!.length / c;
      const invStd = Array.from(variance!, (v) => 1 / Math.sqrt(v + eps));
      const xHat = (i: number) => (x![i]! - mean![i % c]!) * invStd[i % c]!;
      const dOffset = new Float64Array(c), dScale = new Float64Array(c);
      for (let i = 0; i < x!.length; i++) {
        dOffset[i % c] += dy![i]!;
        dScale[i % c] += dy![i]! * xHat(i);
      }
      const dx = x!.map((_, i) => {
        const j = i % c;
        const throughY = scale![j]! * invStd[j]! * (dy![i]! - dOffset[j]! / rows - (xHat(i) * dScale[j]!) / rows);
        return throughY + dMean![j]! / rows + (2 * dVariance![j]! * (x![i]! - mean![j]!)) / rows;
      });
      return [cpu.makeTensorInfo((inputs.x as tf.TensorInfo).shape, "float32", dx), cpu.makeTensorInfo([c], "float32", Float32Array.from(dScale)),
        cpu.makeTensorInfo([c], "float32", Float32Array.from(dOffset))];
    },
  });
}

async function train(backend: string, freezeLayers: number) {
  await tf.setBackend(backend);
  const { model } = withNewHead(tinyModel(), { name: "tiny", featureLayer: "flatten" }, { classes: 3, seed: 4 });
  const trainer = new Trainer({
    model,
    train: memorySource({ examples: 12, batchSize: 4 }),
    epochs: 2,
    optimizer: { kind: "sgd", lr: 0.05, momentum: 0.9, nesterov: true, decay: 0 },
    batchNorm: "train",
    freeze: freezeLayers ? { kind: "count", layers: freezeLayers } : undefined,
  });
  const tensorsBefore = tf.memory().numTensors;
  const { history } = await trainer.fit();
  const leaked = tf.memory().numTensors - tensorsBefore;
  const weights = snapshot(model);
  trainer.dispose();
  model.dispose();
  return { losses: history.map((e) => e.loss), weights, leaked };
}

describe("training-mode BatchNorm as one kernel", () => {
  beforeAll(registerReferenceBackend);
  afterAll(async () => {
    tf.removeBackend(REFERENCE);
    await useCpu();
  });

  it("is used only on backends that have the kernel", async () => {
    await useCpu();
    expect(hasBatchNormTrainingKernel()).toBe(false);
    await tf.setBackend(REFERENCE);
    expect(hasBatchNormTrainingKernel()).toBe(true);
  });

  it.each([0, 2])("the trainer gives tfjs-layers' losses, weights and moving statistics (first %i layers frozen), leaking nothing", async (frozen) => {
    calls = { forward: 0, backward: 0 };
    const stock = await train("cpu", frozen);
    expect(calls).toEqual({ forward: 0, backward: 0 });
    const fused = await train(REFERENCE, frozen);
    // 2 BN layers × 3 batches × 2 epochs forward; with conv1 and bn1 frozen nothing needs bn1's gradient.
    expect(calls).toEqual({ forward: 12, backward: frozen ? 6 : 12 });
    expect(fused.leaked).toBe(stock.leaked);
    fused.losses.forEach((loss, i) => expect(Math.abs(loss - stock.losses[i]!) / stock.losses[i]!).toBeLessThan(1e-5));
    for (const [key, values] of stock.weights) {
      const other = fused.weights.get(key)!;
      // Relative to the weights' scale, but at least 1: a conv bias right before a training BN has a zero
      // gradient in exact arithmetic, so both paths leave it at float noise (~1e-9).
      const scale = Math.max(1, ...Array.from(values, Math.abs));
      const diff = Math.max(...Array.from(values, (v, i) => Math.abs(v - other[i]!)));
      expect(diff / scale, key).toBeLessThan(1e-5);
    }
    // The stats moved (training mode), so agreeing on them is not vacuous.
    expect(stock.weights.get("bn1/moving_mean")!.some((v) => v !== 0)).toBe(true);
  });
});
