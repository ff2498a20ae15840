import * as tf from "@tensorflow/tfjs-core";
import { batchNormTraining, createOptimizer, Scale, type OptimizerConfig } from "@ft/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { loadNativeAddon } from "./addon.js";
import { nativeUnavailable, skipReason } from "./test-utils/compare.js";
import { random } from "@ft/test-support/random";
import { relativeError } from "@ft/test-support/tolerance";

process.env.FT_NATIVE_LOOP_THREADS ??= "2"; // (the ThreadSanitizer run sets 1: see scripts/sanitizers.mjs)

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

/**
 * A loss that depends on all three outputs of a training BatchNorm (so the statistics' gradients are
 * exercised too), and its gradients with respect to x, scale and offset. `fused` uses @ft/core's
 * one-kernel op; otherwise tfjs-layers' composition: tf.moments, then tf.batchNorm.
 */
function lossAndGrads(fused: boolean, x: tf.Tensor, scale: tf.Tensor, offset: tf.Tensor, weights: tf.Tensor[]) {
  const [wy, wMean, wVariance] = weights as [tf.Tensor, tf.Tensor, tf.Tensor];
  const f = (xs: tf.Tensor, s: tf.Tensor, o: tf.Tensor) => {
    const axes = xs.shape.slice(0, -1).map((_, i) => i);
    const [y, mean, variance] = fused
      ? batchNormTraining(xs, s, o, 1e-3)
      : (({ mean, variance }) => [tf.batchNorm(xs, mean, variance, o, s, 1e-3), mean, variance])(tf.moments(xs, axes));
    return tf.addN([tf.sum(tf.mul(y!, wy)), tf.sum(tf.mul(mean!, wMean)), tf.sum(tf.mul(variance!, wVariance))]) as tf.Scalar;
  };
  const { value, grads } = tf.valueAndGrads(f)([x, scale, offset]);
  return [value, ...grads].map((t) => t.dataSync().slice() as Float32Array);
}

describe.skipIf(nativeUnavailable)(`ft-native fused training kernels${skipReason}`, () => {
  afterEach(() => void tf.setBackend("cpu"));

  it.each([
    ["NHWC, odd sizes", [3, 5, 4, 7], 0],
    ["rank 2 (after a Dense layer)", [6, 9], 0],
    ["large, split between threads", [4, 24, 24, 64], 0],
    ["mean far from zero (shifted one-pass variance)", [2, 6, 6, 5], 1000],
  ] as Array<[string, number[], number]>)("training BatchNorm %s: loss and gradients equal the cpu backend's moments + batchNorm", (_, shape, shift) => {
    const c = shape[shape.length - 1]!;
    const xv = random(size(shape)).map((v, i) => shift + v * (1 + (i % c)));
    const sv = random(c).map((v) => 1 + 0.5 * v), ov = random(c);
    const wv = [random(size(shape)), random(c), random(c)];
    const run = (backend: string, fused: boolean) => {
      tf.setBackend(backend);
      return tf.tidy(() => lossAndGrads(fused, tf.tensor(xv, shape), tf.tensor(sv), tf.tensor(ov), [tf.tensor(wv[0]!, shape), tf.tensor(wv[1]!), tf.tensor(wv[2]!)]));
    };
    const cpu = run("cpu", false);
    const addon = loadNativeAddon();
    const forward = vi.spyOn(addon, "batchNormTraining"), backward = vi.spyOn(addon, "batchNormTrainingGrad");
    const native = run("ft-native", true);
    expect([forward.mock.calls.length, backward.mock.calls.length]).toEqual([1, 1]);
    vi.restoreAllMocks();
    ["loss", "dx", "dScale", "dOffset"].forEach((name, i) => expect(relativeError(native[i]!, cpu[i]!), name).toBeLessThan(shift ? 1e-3 : 1e-4));
  });

  it("a convolution's bias gradient before a training BatchNorm comes from BatchNorm's backward pass (dx summed as written)", () => {
    const [xShape, wShape, yShape] = [[2, 7, 6, 3], [3, 3, 3, 8], [2, 7, 6, 8]];
    const [xv, wv, bv, sv, ov] = [random(size(xShape)), random(size(wShape)), random(8), random(8).map((v) => 1 + 0.5 * v), random(8)];
    const weights = [random(size(yShape)), random(8), random(8)];
    const run = (backend: string, fused: boolean) => {
      tf.setBackend(backend);
      return tf.tidy(() => {
        const f = (w: tf.Tensor, b: tf.Tensor) => {
          const conv = tf.fused.conv2d({ x: tf.tensor4d(xv, xShape as [number, number, number, number]), filter: w as tf.Tensor4D, bias: b, strides: 1, pad: "same" });
          const [y, mean, variance] = fused ? batchNormTraining(conv, tf.tensor(sv), tf.tensor(ov), 1e-3)
            : (({ mean, variance }) => [tf.batchNorm(conv, mean, variance, tf.tensor(ov), tf.tensor(sv), 1e-3), mean, variance])(tf.moments(conv, [0, 1, 2]));
          const [wy, wMean, wVariance] = [tf.tensor(weights[0]!, yShape), tf.tensor(weights[1]!), tf.tensor(weights[2]!)];
          return tf.addN([tf.sum(tf.mul(y!, wy)), tf.sum(tf.mul(mean!, wMean)), tf.sum(tf.mul(variance!, wVariance))]) as tf.Scalar;
        };
        return tf.grads(f)([tf.tensor(wv, wShape), tf.tensor(bv)]).map((t) => t.dataSync().slice() as Float32Array);
      });
    };
    const cpu = run("cpu", false);
    const reduce = vi.spyOn(loadNativeAddon(), "reduce");
    const native = run("ft-native", true);
    const biasSums = reduce.mock.calls.filter(([, shape]) => shape[0] === 1 && shape[1] === size(yShape) / 8 && shape[2] === 8);
    vi.restoreAllMocks();
    expect(biasSums, "no separate pass over dy for the bias").toEqual([]);
    expect(relativeError(native[0]!, cpu[0]!), "dw").toBeLessThan(1e-4);
    // Through the mean's weights the bias gradient is far from zero, so the comparison means something.
    expect(Math.max(...cpu[1]!.map(Math.abs))).toBeGreaterThan(0.1);
    expect(relativeError(native[1]!, cpu[1]!), "db").toBeLessThan(1e-4);
  });

  it("a frozen scale (not differentiated) gives the same dx and leaves no tensor behind", () => {
    tf.setBackend("ft-native");
    const x = tf.tensor(random(2 * 3 * 3 * 4), [2, 3, 3, 4]), scale = tf.tensor(random(4)), offset = tf.zeros([4]);
    const loss = (xs: tf.Tensor) => tf.sum(tf.square(batchNormTraining(xs, scale, offset, 1e-3)[0]));
    tf.dispose(tf.grad(loss)(x)); // warm-up: kernels allocate their first scalars
    const before = tf.memory().numTensors;
    const dx = tf.grad(loss)(x);
    expect(tf.memory().numTensors).toBe(before + 1);
    tf.setBackend("cpu");
    const reference = tf.grad((xs: tf.Tensor) => {
      const { mean, variance } = tf.moments(xs, [0, 1, 2]);
      return tf.sum(tf.square(tf.batchNorm(xs, mean, variance, offset, scale, 1e-3)));
    })(x);
    expect(relativeError(dx.dataSync(), reference.dataSync())).toBeLessThan(1e-4);
    tf.dispose([x, scale, offset, dx, reference]);
  });

  it.each([
    ["NHWC, odd sizes", [3, 5, 4, 7]],
    ["large, split between threads", [4, 24, 24, 64]],
  ] as Array<[string, number[]]>)("Caffe's Scale %s: one pass each way; output and gradients equal the cpu backend's Multiply + Add", (_, shape) => {
    const c = shape.at(-1)!;
    const [xv, gv, bv, wv] = [random(size(shape)), random(c).map((v) => 1 + v), random(c), random(size(shape))];
    const run = (backend: string) => {
      tf.setBackend(backend);
      const layer = new Scale({ name: `scale_${backend}` });
      layer.build(shape);
      layer.setWeights([tf.tensor(gv), tf.tensor(bv)]);
      const out = tf.tidy(() => {
        const x = tf.tensor(xv, shape);
        const f = () => tf.sum(tf.mul(layer.apply(x) as tf.Tensor, tf.tensor(wv, shape))) as tf.Scalar;
        const { value, grads } = tf.variableGrads(f, layer.trainableWeights.map((w) => w.read() as tf.Variable));
        const dx = tf.grad((xs: tf.Tensor) => tf.sum(tf.mul(layer.apply(xs) as tf.Tensor, tf.tensor(wv, shape))))(x);
        return [value, dx, ...Object.values(grads)].map((t) => t.dataSync().slice() as Float32Array);
      });
      layer.weights.forEach((w) => w.dispose());
      return out;
    };
    const cpu = run("cpu");
    const addon = loadNativeAddon();
    const forward = vi.spyOn(addon, "channelAffine"), backward = vi.spyOn(addon, "channelAffineGrad"), binary = vi.spyOn(addon, "binary");
    const native = run("ft-native");
    const calls = [forward.mock.calls.length, backward.mock.calls.length];
    const fullSizeBinaries = binary.mock.calls.filter(([, a, , b]) => a.length === size(shape) && b.length !== size(shape));
    vi.restoreAllMocks();
    expect(calls).toEqual([2, 2]); // once per gradient computation
    expect(fullSizeBinaries, "no broadcast Multiply or Add over x").toEqual([]);
    ["loss", "dx", "dGamma", "dBeta"].forEach((name, i) => expect(relativeError(native[i]!, cpu[i]!), name).toBeLessThan(1e-5));
  });

  it("a frozen Scale (not differentiated) gives the same dx and leaves no tensor behind", () => {
    tf.setBackend("ft-native");
    const layer = new Scale({ trainable: false });
    const x = tf.tensor(random(2 * 3 * 3 * 4), [2, 3, 3, 4]);
    layer.build(x.shape);
    layer.setWeights([tf.tensor(random(4)), tf.tensor(random(4))]);
    const loss = (xs: tf.Tensor) => tf.sum(tf.square(layer.apply(xs) as tf.Tensor));
    tf.dispose(tf.grad(loss)(x));
    const before = tf.memory().numTensors;
    const dx = tf.grad(loss)(x);
    expect(tf.memory().numTensors).toBe(before + 1);
    tf.setBackend("cpu");
    const reference = tf.grad(loss)(x);
    expect(relativeError(dx.dataSync(), reference.dataSync())).toBeLessThan(1e-5);
    tf.dispose([x, dx, reference]);
    layer.weights.forEach((w) => w.dispose());
  });

  const optimizers: OptimizerConfig[] = [
    { kind: "sgd", lr: 0.05, momentum: 0.9, nesterov: true, decay: 1e-3 },
    { kind: "sgd", lr: 0.1, momentum: 0.5, nesterov: false, decay: 0 },
    { kind: "adam", lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, decay: 1e-3 },
  ];
  it.each(optimizers)("$kind (nesterov $nesterov): three updates in one native pass each give the cpu backend's bits", (config) => {
    const shape = [3, 3, 16, 32]; // large enough for the threaded loop
    const p0 = random(size(shape)), grads = [random(size(shape)), random(size(shape)), random(size(shape))];
    const run = (backend: string) => {
      tf.setBackend(backend);
      const variable = tf.variable(tf.tensor(p0, shape), true, `p_${backend}_${config.kind}_${String((config as { nesterov?: boolean }).nesterov)}`);
      const optimizer = createOptimizer(config);
      for (const g of grads) tf.tidy(() => optimizer.apply([{ key: "p", variable, grad: tf.tensor(g, shape), lrScale: 0.5 }], config.lr));
      const [slot] = optimizer.getState().slots.get("p")!;
      const out = [variable.dataSync().slice(), slot!.dataSync().slice()];
      optimizer.dispose();
      variable.dispose();
      return out;
    };
    const cpu = run("cpu");
    const spy = vi.spyOn(loadNativeAddon(), config.kind === "sgd" ? "sgdUpdate" : "adamUpdate");
    const native = run("ft-native");
    expect(spy).toHaveBeenCalledTimes(3);
    vi.restoreAllMocks();
    expect(relativeError(cpu[0]!, p0), "the updates moved the parameter").toBeGreaterThan(1e-3);
    expect(Array.from(native[0]!)).toEqual(Array.from(cpu[0]!));
    expect(Array.from(native[1]!)).toEqual(Array.from(cpu[1]!));
  });

  it("updates write over a parameter no one else holds; a held clone, a read array and the convolution's filter cache see no stale values", () => {
    const shape = [3, 3, 16, 32]; // pooled: arrays below 4096 elements are not the pool's
    const x0 = random(2 * 6 * 5 * 16), p0 = random(size(shape)), grads = [0, 1, 2, 3].map(() => random(size(shape)));
    const config: OptimizerConfig = { kind: "sgd", lr: 0.1, momentum: 0.9, nesterov: true, decay: 0 };
    /** Per update: the parameter's values, whether its data stayed the same, and a convolution with it. */
    const run = (backend: string) => {
      tf.setBackend(backend);
      const x = tf.tensor4d(x0, [2, 6, 5, 16]);
      const variable = tf.variable(tf.tensor(p0, shape), true, `inplace_${backend}`);
      const optimizer = createOptimizer(config);
      const steps = grads.map((g, i) => {
        const before = variable.dataId;
        const conv = tf.tidy(() => tf.conv2d(x, variable as tf.Tensor4D, 1, "same").dataSync().slice()); // fills the filter cache
        const held = i === 2 ? tf.clone(variable) : undefined; // another tensor of the same data
        const read = i === 3 ? variable.dataSync() : undefined; // the backing array, handed out
        const readCopy = read?.slice();
        tf.tidy(() => optimizer.apply([{ key: "p", variable, grad: tf.tensor(g, shape), lrScale: 1 }], config.lr));
        const kept = { held: held?.dataSync().slice(), read: read && Array.from(read).every((v, j) => v === readCopy![j]) };
        held?.dispose();
        // Read through a copy: dataSync on the variable would hand its array out.
        const values = tf.tidy(() => tf.mul(variable, 1).dataSync().slice());
        return { conv, values, inPlace: variable.dataId === before, kept };
      });
      const after = tf.tidy(() => tf.conv2d(x, variable as tf.Tensor4D, 1, "same").dataSync().slice());
      optimizer.dispose();
      tf.dispose([x, variable]);
      return { steps, after };
    };
    const cpu = run("cpu");
    const native = run("ft-native");
    // The first update's parameter is a caller's array, the third's is shared with a clone, the fourth's was handed out.
    expect(native.steps.map((s) => s.inPlace)).toEqual([false, true, false, false]);
    expect(cpu.steps.every((s) => !s.inPlace)).toBe(true);
    native.steps.forEach((s, i) => {
      expect(Array.from(s.values), `update ${i + 1}`).toEqual(Array.from(cpu.steps[i]!.values));
      expect(relativeError(s.conv, cpu.steps[i]!.conv), `convolution before update ${i + 1}`).toBeLessThan(1e-5);
    });
    expect(relativeError(native.after, cpu.after), "convolution after the last update").toBeLessThan(1e-5);
    expect(Array.from(native.steps[2]!.kept.held!), "the clone keeps the values before the update").toEqual(Array.from(cpu.steps[1]!.values));
    expect(native.steps[3]!.kept.read, "the array dataSync returned is not written over").toBe(true);
  });

  it("bad calls throw", () => {
    const a = loadNativeAddon();
    const f = (n: number) => new Float32Array(n);
    expect(() => a.batchNormTraining(f(10), 4, f(4), f(4), 1e-3, f(10), f(4), f(4))).toThrow(/x has 10 elements, not a positive multiple of 4/);
    expect(() => a.batchNormTraining(f(12), 4, f(3), f(4), 1e-3, f(12), f(4), f(4))).toThrow(/scale has 3/);
    expect(() => a.batchNormTraining(f(12), 4, f(4), f(4), -1, f(12), f(4), f(4))).toThrow(/epsilon/);
    expect(() => a.batchNormTrainingGrad(f(12), f(12), f(4), f(4), f(4), f(4), f(4), 1e-3, f(11), f(4), f(4))).toThrow(/dx has 11/);
    expect(() => a.batchNormTrainingGrad(f(12), f(12), f(4), f(4), f(4), f(3), f(4), 1e-3, f(12), f(4), f(4))).toThrow(/dMean has 3/);
    expect(() => a.channelAffine(f(10), f(4), f(4), f(10))).toThrow(/x has 10 elements, not a positive multiple of 4/);
    expect(() => a.channelAffine(f(12), f(4), f(3), f(12))).toThrow(/offset has 3/);
    expect(() => a.channelAffineGrad(f(12), f(12), f(4), f(12), f(4), f(5))).toThrow(/dOffset has 5/);
    expect(() => a.sgdUpdate(f(5), f(5), f(4), 0.1, 0.9, true, f(5), f(5))).toThrow(/grad has 4/);
    expect(() => a.sgdUpdate(f(5), f(5), f(5), 0.1, 0.9, 1 as unknown as boolean, f(5), f(5))).toThrow(/nesterov/);
    expect(() => a.adamUpdate(f(5), f(5), f(5), f(5), 0.1, 0.9, 0.1, 0.999, 0.001, 1e-8, f(5), f(5), f(6))).toThrow(/nextV has 6/);
  });
});
