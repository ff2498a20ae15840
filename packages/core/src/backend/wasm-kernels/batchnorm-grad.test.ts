import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BATCH_NORM_GRAD_STATS, fusedBatchNormGradConfig, registerBatchNormGradient, stockBatchNormGradient } from "./batchnorm-grad.js";
import { registerWasmTrainingKernels } from "./index.js";
import { relativeError } from "@ft/test-support/tolerance";

let seed = 424242;
function random(n: number, offset = 0): Float32Array {
  return Float32Array.from({ length: n }, () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 31 - 1 + offset;
  });
}

type Inputs = { x: Float32Array; scale: Float32Array; offset: Float32Array; mean: Float32Array; variance: Float32Array; weights: Float32Array; shape: number[] };

function inputs(shape: number[]): Inputs {
  const C = shape[shape.length - 1]!;
  const n = shape.reduce((a, b) => a * b, 1);
  return { x: random(n, 0.7), scale: random(C, 1.5), offset: random(C), mean: random(C, 0.5), variance: random(C, 1.5), weights: random(n), shape };
}

/**
 * Gradients of sum(w · BN(x)) with respect to x, scale and offset, BN as tfjs-layers trains it
 * (batch statistics from `tf.moments`, so the mean and variance gradients flow back into x too),
 * and of the fixed-statistics form with respect to mean and variance.
 */
function bnGradients(backend: string, gradient: tf.GradConfig, d: Inputs): Float32Array[] {
  tf.setBackend(backend);
  tf.registerGradient(gradient);
  return tf.tidy(() => {
    const axes = d.shape.slice(0, -1).map((_, i) => i);
    const w = tf.tensor(d.weights, d.shape);
    const training = tf.grads((x: tf.Tensor, scale: tf.Tensor, offset: tf.Tensor) => {
      const { mean, variance } = tf.moments(x, axes);
      return tf.sum(tf.mul(w, tf.batchNorm(x, mean, variance, offset, scale, 1e-3)));
    });
    const x = tf.tensor(d.x, d.shape);
    const scale = tf.tensor(d.scale);
    const offset = tf.tensor(d.offset);
    const mean = tf.tensor(d.mean);
    const variance = tf.tensor(d.variance);
    const fixed = tf.grads((m: tf.Tensor, v: tf.Tensor) => tf.sum(tf.mul(w, tf.batchNorm(x, m, v, offset, scale, 1e-3))));
    // (Without a scale tensor tfjs-core 4.22 cannot record FusedBatchNorm for backprop at all:
    // its inputsToSave names `scale`, so that case is not tested.)
    return [...training([x, scale, offset]), ...fixed([mean, variance])].map((g) => g.dataSync().slice() as Float32Array);
  });
}

let stock: tf.GradConfig;

beforeAll(async () => {
  await tf.setBackend("wasm");
  await tf.ready();
  registerWasmTrainingKernels();
  stock = stockBatchNormGradient()!;
});

afterAll(() => {
  tf.registerGradient(fusedBatchNormGradConfig);
});

describe("FusedBatchNorm gradient", () => {
  it("is registered once, by registerWasmTrainingKernels, and survives a later tfjs-layers import", async () => {
    expect(stock).toBeDefined();
    expect(stock).not.toBe(fusedBatchNormGradConfig);
    expect(tf.getGradient("FusedBatchNorm")).toBe(fusedBatchNormGradConfig);
    expect(registerBatchNormGradient()).toBe(false);
    registerWasmTrainingKernels();
    await import("@tensorflow/tfjs-layers");
    expect(tf.getGradient("FusedBatchNorm")).toBe(fusedBatchNormGradConfig);
    expect(tf.getKernel(BATCH_NORM_GRAD_STATS, "wasm")).toBeDefined();
  });

  for (const shape of [
    [3, 5, 7, 6],
    [2, 4, 3, 17],
    [5, 9],
  ]) {
    it(`matches tfjs-core's gradient on cpu within 1e-4 (x ${shape.join("x")}), on cpu and on wasm`, () => {
      const d = inputs(shape);
      const reference = bnGradients("cpu", stock, d);
      for (const backend of ["cpu", "wasm"]) {
        const ours = bnGradients(backend, fusedBatchNormGradConfig, d);
        expect(ours.length).toBe(reference.length);
        ours.forEach((g, i) => expect(relativeError(g, reference[i]!), `${backend} gradient ${i}`).toBeLessThan(1e-4));
      }
    });
  }

  it("falls back to tfjs-core's gradient for statistics that are not per last-axis channel", () => {
    const d = inputs([2, 3, 4, 5]);
    const run = (backend: string, gradient: tf.GradConfig) => {
      tf.setBackend(backend);
      tf.registerGradient(gradient);
      return tf.tidy(() => {
        const mean = tf.tensor(d.mean, [1, 1, 1, 5]);
        const variance = tf.tensor(d.variance, [1, 1, 1, 5]);
        const w = tf.tensor(d.weights, d.shape);
        const scale = tf.tensor(d.scale, [1, 1, 1, 5]);
        const g = tf.grads((x: tf.Tensor) => tf.sum(tf.mul(w, tf.batchNorm(x, mean, variance, tf.tensor(d.offset, [1, 1, 1, 5]), scale))))([tf.tensor(d.x, d.shape)]);
        return g[0]!.dataSync().slice() as Float32Array;
      });
    };
    const reference = run("cpu", stock);
    expect(relativeError(run("wasm", fusedBatchNormGradConfig), reference)).toBeLessThan(1e-4);
  });

  it("the wasm per-channel sums match the cpu backend and leak nothing", () => {
    const shape = [3, 5, 4, 7];
    const dyValues = random(420);
    const xValues = random(420, 2);
    const meanValues = random(7, 2);
    const reference = (() => {
      tf.setBackend("cpu");
      return tf.tidy(() => {
        const dy = tf.tensor(dyValues, shape);
        const xc = tf.sub(tf.tensor(xValues, shape), tf.tensor(meanValues));
        return [tf.sum(dy, [0, 1, 2]), tf.sum(tf.mul(dy, xc), [0, 1, 2])].map((t) => t.dataSync().slice() as Float32Array);
      });
    })();
    tf.setBackend("wasm");
    const dy = tf.tensor(dyValues, shape);
    const x = tf.tensor(xValues, shape);
    const mean = tf.tensor(meanValues);
    const before = tf.memory().numTensors;
    const dataIds = tf.backend().numDataIds();
    const out = tf.engine().runKernel(BATCH_NORM_GRAD_STATS, { dy, x, mean }, {}) as unknown as tf.Tensor[];
    expect(out.map((t) => t.shape)).toEqual([[7], [7]]);
    out.forEach((t, i) => expect(relativeError(t.dataSync() as Float32Array, reference[i]!)).toBeLessThan(1e-4));
    tf.dispose(out);
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.backend().numDataIds()).toBe(dataIds);
    tf.dispose([dy, x, mean]);
  });
});
