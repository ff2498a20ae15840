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

describe.skipIf(nativeUnavailable)(`zero padding on ft-native${skipReason}`, () => {
  const x = random(2 * 9 * 8 * 3);
  const w1 = random(3 * 3 * 3 * 4).map((v) => 0.4 * v), w2 = random(3 * 2 * 4 * 5).map((v) => 0.3 * v), weights = random(2 * 5 * 5 * 5);

  /**
   * Keras' ZeroPadding2D + valid convolution twice (asymmetric padding, stride 2, a 3×2 kernel), and the
   * gradients of a weighted sum with respect to the image and both filters. `alsoPool` reads the second
   * padded tensor with a max-pool as well, which must then be materialised.
   */
  function padConvGrads(backend: string, alsoPool: boolean) {
    tf.setBackend(backend);
    const [xs, f1, f2, wy] = [tf.tensor4d(x, [2, 9, 8, 3]), tf.tensor4d(w1, [3, 3, 3, 4]), tf.tensor4d(w2, [3, 2, 4, 5]), tf.tensor4d(weights, [2, 5, 5, 5])];
    const loss = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => {
      const h = tf.relu(tf.conv2d(tf.pad(a as tf.Tensor4D, [[0, 0], [2, 1], [1, 3], [0, 0]]), b as tf.Tensor4D, 2, "valid"));
      const padded = tf.pad(h as tf.Tensor4D, [[0, 0], [1, 1], [0, 1], [0, 0]]);
      const y = tf.conv2d(padded, c as tf.Tensor4D, 1, "valid");
      const total = tf.sum(tf.mul(y, wy));
      return (alsoPool ? tf.add(total, tf.sum(tf.maxPool(padded, 2, 2, "valid"))) : total) as tf.Scalar;
    };
    const { value, grads } = tf.valueAndGrads(loss)([xs, f1, f2]);
    const result = [value, ...grads].map((t) => t.dataSync().slice() as Float32Array);
    tf.dispose([xs, f1, f2, wy, value, ...grads]);
    return result;
  }

  it("folds into the convolutions: no padded copy forward, no cropping copy backward, the cpu backend's gradients", () => {
    const cpu = padConvGrads("cpu", false);
    const addon = loadNativeAddon();
    const spies = (["pad", "slice", "conv2dBackpropInput"] as NativeAddonFunction[]).map((name) => vi.spyOn(addon, name));
    const native = padConvGrads("ft-native", false);
    const [pad, slice, backpropInput] = spies as [(typeof spies)[0], (typeof spies)[0], (typeof spies)[0]];
    expect(pad.mock.calls.length).toBe(0);
    expect(slice.mock.calls.length).toBe(0);
    // Both input gradients computed at the unpadded shapes (xShape is the second argument).
    expect(backpropInput.mock.calls.map((call) => call[1])).toEqual([[2, 5, 5, 4], [2, 9, 8, 3]]);
    spies.forEach((spy) => spy.mockRestore());
    native.forEach((values, i) => expect(relativeError(values, cpu[i]!), ["loss", "dx", "dw1", "dw2"][i]).toBeLessThan(1e-4));
  });

  it("is materialised when another kernel reads the padded tensor, with the same values", () => {
    const cpu = padConvGrads("cpu", true);
    const addon = loadNativeAddon();
    const pad = vi.spyOn(addon, "pad");
    const native = padConvGrads("ft-native", true);
    expect(pad.mock.calls.length).toBe(1);
    pad.mockRestore();
    native.forEach((values, i) => expect(relativeError(values, cpu[i]!), ["loss", "dx", "dw1", "dw2"][i]).toBeLessThan(1e-4));
  });
});

describe.skipIf(nativeUnavailable)(`convolution + bias under a tape on ft-native${skipReason}`, () => {
  const x = random(2 * 7 * 6 * 3), w = random(3 * 3 * 3 * 4).map((v) => 0.4 * v), b = random(4), weights = random(2 * 7 * 6 * 4);

  /** tfjs-core's unfused path of fused.conv2d while a tape records: Conv2D, then Add of the bias, then Relu. */
  function grads(backend: string) {
    tf.setBackend(backend);
    const [xs, f, bias, wy] = [tf.tensor4d(x, [2, 7, 6, 3]), tf.tensor4d(w, [3, 3, 3, 4]), tf.tensor1d(b), tf.tensor4d(weights, [2, 7, 6, 4])];
    const loss = (a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) =>
      tf.sum(tf.mul(tf.relu(tf.add(tf.conv2d(a as tf.Tensor4D, c as tf.Tensor4D, 1, "same"), d)), wy)) as tf.Scalar;
    const { value, grads: g } = tf.valueAndGrads(loss)([xs, f, bias]);
    const result = [value, ...g].map((t) => t.dataSync().slice() as Float32Array);
    tf.dispose([xs, f, bias, wy, value, ...g]);
    return result;
  }

  it("adds the bias inside the convolution (the plain output is never computed), with the cpu backend's gradients", () => {
    const cpu = grads("cpu");
    const addon = loadNativeAddon();
    const conv = vi.spyOn(addon, "conv2d"), binary = vi.spyOn(addon, "binary");
    const native = grads("ft-native");
    expect(conv.mock.calls.length).toBe(1);
    expect(conv.mock.calls[0]![5]).toBeInstanceOf(Float32Array); // the bias argument
    expect(binary.mock.calls.filter((call) => call[0] === addon.binaryOps.Add)).toEqual([]); // no separate bias Add
    conv.mockRestore();
    binary.mockRestore();
    native.forEach((values, i) => expect(relativeError(values, cpu[i]!), ["loss", "dx", "dw", "db"][i]).toBeLessThan(1e-4));
  });
});
