import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it, vi } from "vitest";
import { loadNativeAddon, type NativeAddonFunction } from "./addon.js";
import { nativeUnavailable, skipReason } from "./test-utils/compare.js";
import { random } from "@ft/test-support/random";
import { relativeError } from "@ft/test-support/tolerance";

type Params = Record<string, { values: Float32Array; shape: number[] }>;

/** Initial weights of a small residual conv net, shared by both runs. */
function initialParams(): Params {
  const p = (shape: number[], scale: number) => ({ values: random(shape.reduce((a, b) => a * b)).map((v) => v * scale), shape });
  return {
    conv1: p([3, 3, 3, 8], 0.4), bias1: p([8], 0.1), gamma: { values: random(8).map((v) => 1 + 0.2 * v), shape: [8] }, beta: p([8], 0.1),
    branchA: p([1, 1, 8, 4], 0.4), branchB: p([3, 2, 8, 4], 0.3), dense: p([3 * 2 * 8, 5], 0.2), denseBias: p([5], 0.1),
  };
}

/**
 * One SGD step of conv (fused bias+relu) → batch-norm (batch moments) → relu → max-pool → two
 * branches (1×1 conv, 3×2 conv with explicit asymmetric padding) concatenated → residual add →
 * avg-pool → dense → softmax cross-entropy. Returns the loss and every updated weight.
 */
function trainStep(backend: string, params: Params, x: Float32Array, labels: number[]) {
  tf.setBackend(backend);
  const vars = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, tf.variable(tf.tensor(v.values, v.shape), true, `${backend}_${k}`)]));
  const input = tf.tensor4d(x, [2, 12, 10, 3]);
  const oneHot = tf.oneHot(tf.tensor1d(labels, "int32"), 5);
  const optimizer = tf.train.sgd(0.1);
  const loss = optimizer.minimize(() => {
    const c1 = tf.fused.conv2d({ x: input, filter: vars.conv1 as tf.Tensor4D, bias: vars.bias1, strides: 1, pad: "same", activation: "relu" });
    const { mean, variance } = tf.moments(c1, [0, 1, 2]);
    const bn = tf.relu(tf.batchNorm(c1, mean, variance, vars.beta, vars.gamma, 1e-3));
    const pooled = tf.maxPool(bn as tf.Tensor4D, 3, 2, "same"); // [2, 6, 5, 8]
    const a = tf.conv2d(pooled, vars.branchA as tf.Tensor4D, 1, "valid");
    const b = tf.conv2d(pooled, vars.branchB as tf.Tensor4D, 1, [[0, 0], [2, 0], [0, 1], [0, 0]]);
    const block = tf.relu(tf.add(tf.concat([a, b], 3), pooled));
    const avg = tf.avgPool(block as tf.Tensor4D, 2, 2, "valid"); // [2, 3, 2, 8]
    const logits = tf.add(tf.matMul(tf.reshape(avg, [2, 48]), vars.dense as tf.Tensor2D), vars.denseBias);
    return tf.losses.softmaxCrossEntropy(oneHot, logits) as tf.Scalar;
  }, true)!;
  const result = {
    loss: loss.dataSync()[0]!,
    weights: Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, v.dataSync().slice() as Float32Array])),
  };
  tf.dispose([loss, input, oneHot, ...Object.values(vars)]);
  optimizer.dispose();
  return result;
}

describe.skipIf(nativeUnavailable)(`training on ft-native${skipReason}`, () => {
  it("one SGD step of a small residual conv net gives the cpu backend's loss and updated weights (1e-3 relative)", () => {
    const params = initialParams();
    const x = random(2 * 12 * 10 * 3);
    const cpu = trainStep("cpu", params, x, [1, 3]);
    const addon = loadNativeAddon();
    const used: Array<NativeAddonFunction> = ["conv2d", "conv2dBackpropInput", "conv2dBackpropFilter", "batchMatMul", "maxPool", "avgPool",
      "maxPoolGradFromArgmax", "avgPoolGrad", "batchNorm", "binary", "reduce", "concat", "centeredDot"];
    const spies = used.map((name) => vi.spyOn(addon, name));
    const native = trainStep("ft-native", params, x, [1, 3]);
    spies.forEach((spy, i) => expect(spy.mock.calls.length, `${used[i]} ran natively`).toBeGreaterThan(0));
    // dx of both branch convolutions, none for the input image (deferred, never read).
    expect(spies[used.indexOf("conv2dBackpropInput")]!.mock.calls.length).toBe(2);
    spies.forEach((spy) => spy.mockRestore());
    expect(Math.abs(native.loss - cpu.loss) / Math.abs(cpu.loss)).toBeLessThan(1e-3);
    for (const name of Object.keys(params)) {
      // The step must have changed every weight, or comparing updated weights proves nothing.
      expect(relativeError(cpu.weights[name]!, params[name]!.values), `${name} moved`).toBeGreaterThan(1e-4);
      expect(relativeError(native.weights[name]!, cpu.weights[name]!), name).toBeLessThan(1e-3);
    }
    tf.setBackend("cpu");
  });
});
