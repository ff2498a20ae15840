import * as tf from "@tensorflow/tfjs-core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { loadNativeAddon, type NativeAddonFunction } from "./addon.js";
import { nativeKernelNames } from "./backend.js";
import { nativeUnavailable, onBoth, runKernelOn, skipReason, type Inputs } from "./test-utils/compare.js";
import { random } from "@ft/test-support/random";
import { relativeError } from "@ft/test-support/tolerance";

type Pad = "same" | "valid" | [[number, number], [number, number], [number, number], [number, number]];
type Shape4 = [number, number, number, number];

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** Counts calls of one addon function while `fn` runs: proves the native path ran, not the fallback. */
function nativeCalls(name: NativeAddonFunction, fn: () => void): number {
  const spy = vi.spyOn(loadNativeAddon(), name);
  try {
    fn();
    return spy.mock.calls.length;
  } finally {
    spy.mockRestore();
  }
}

function expectKernelMatchesCpu(kernelName: string, inputs: Inputs, attrs: object, addonFn: NativeAddonFunction) {
  const cpu = runKernelOn("cpu", kernelName, inputs, attrs);
  let native!: ReturnType<typeof runKernelOn>;
  expect(nativeCalls(addonFn, () => (native = runKernelOn("ft-native", kernelName, inputs, attrs))), `${kernelName} ran natively`).toBe(1);
  expect(native.shape).toEqual(cpu.shape);
  expect(relativeError(native.values, cpu.values)).toBeLessThan(1e-4);
}

function outputShape(x: Shape4, filter: Shape4, strides: number | [number, number], pad: Pad, dilations: number | [number, number] = 1): number[] {
  const info = tf.backend_util.computeConv2DInfo(x, filter, strides, dilations, pad as "same");
  return info.outShape;
}

interface ConvCase { name: string; x: Shape4; filter: Shape4; strides: number | [number, number]; pad: Pad; dilations?: [number, number] }

// Batch > 1 throughout; non-square inputs and kernels; stride 1/2 (and mixed); same/valid/explicit asymmetric.
const CONV_CASES: ConvCase[] = [
  { name: "3×3 same stride 1", x: [2, 9, 7, 3], filter: [3, 3, 3, 5], strides: 1, pad: "same" },
  { name: "3×2 same stride 2", x: [3, 9, 7, 4], filter: [3, 2, 4, 6], strides: 2, pad: "same" },
  { name: "2×3 valid stride 1", x: [2, 8, 11, 5], filter: [2, 3, 5, 4], strides: 1, pad: "valid" },
  { name: "3×3 valid stride 2 (odd remainder)", x: [2, 10, 9, 3], filter: [3, 3, 3, 7], strides: 2, pad: "valid" },
  { name: "1×1 valid stride 1", x: [3, 6, 5, 8], filter: [1, 1, 8, 5], strides: 1, pad: "valid" },
  { name: "1×1 valid stride 2", x: [2, 7, 6, 6], filter: [1, 1, 6, 9], strides: 2, pad: "valid" },
  { name: "3×2 explicit asymmetric stride 1", x: [2, 7, 6, 3], filter: [3, 2, 3, 4], strides: 1, pad: [[0, 0], [2, 0], [1, 2], [0, 0]] },
  { name: "3×2 explicit asymmetric stride 2", x: [2, 7, 6, 3], filter: [3, 2, 3, 4], strides: 2, pad: [[0, 0], [2, 0], [1, 2], [0, 0]] },
  { name: "7×7 same stride 2 (ResNet stem)", x: [2, 16, 13, 3], filter: [7, 7, 3, 8], strides: 2, pad: "same" },
  { name: "5×4 same strides [1, 2]", x: [2, 8, 9, 2], filter: [5, 4, 2, 3], strides: [1, 2], pad: "same" },
  { name: "3×3 explicit pad larger than kernel-1", x: [2, 5, 6, 2], filter: [3, 3, 2, 3], strides: 1, pad: [[0, 0], [3, 1], [0, 3], [0, 0]] },
  { name: "64-channel 3×3 same stride 2 (blocked layouts)", x: [2, 8, 6, 64], filter: [3, 3, 64, 32], strides: 2, pad: "same" },
  // 128 channels in and out: the backward passes run on blocked activations, reordered from and to NHWC.
  { name: "144→128-channel 3×3 explicit asymmetric stride 2 (blocked backward)", x: [2, 7, 6, 144], filter: [3, 3, 144, 128], strides: 2, pad: [[0, 0], [2, 0], [1, 2], [0, 0]] },
  { name: "128→160-channel 3×3 same stride 1 (blocked backward)", x: [3, 5, 4, 128], filter: [3, 3, 128, 160], strides: 1, pad: "same" },
  // Large enough for oneDNN to choose Winograd F(4×4, 3×3) for the input gradient (as in VGG's 3×3 stride-1 layers).
  { name: "128→128-channel 3×3 same stride 1, batch 16 (Winograd backward data)", x: [16, 14, 14, 128], filter: [3, 3, 128, 128], strides: 1, pad: "same" },
];

describe.skipIf(nativeUnavailable)(`ft-native kernels match the cpu backend${skipReason}`, () => {
  afterEach(() => void tf.setBackend("cpu"));

  it("overrides the documented kernels and copies every other cpu kernel", () => {
    const names = new Set(tf.getKernelsForBackend("ft-native").map((k) => k.kernelName));
    for (const k of tf.getKernelsForBackend("cpu")) expect(names.has(k.kernelName), k.kernelName).toBe(true);
    for (const k of nativeKernelNames()) {
      expect(tf.getKernel(k, "ft-native"), k).toBeDefined();
      expect(tf.getKernel(k, "ft-native")!.kernelFunc).not.toBe(tf.getKernel(k, "cpu")?.kernelFunc);
    }
    expect(nativeKernelNames()).toEqual(expect.arrayContaining(["Conv2D", "FusedConv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter",
      "BatchMatMul", "_FusedMatMul", "MaxPool", "AvgPool", "MaxPoolGrad", "AvgPoolGrad", "FusedBatchNorm", "Softmax"]));
  });

  describe.each(CONV_CASES)("convolution: $name", (c) => {
    const common = { strides: c.strides, pad: c.pad, dataFormat: "NHWC" };
    const yShape = outputShape(c.x, c.filter, c.strides, c.pad);

    it("Conv2D and FusedConv2D (bias + relu)", () => {
      const x: [Float32Array, number[]] = [random(size(c.x)), c.x];
      const filter: [Float32Array, number[]] = [random(size(c.filter)), c.filter];
      expectKernelMatchesCpu("Conv2D", { x, filter }, { ...common, dilations: 1 }, "conv2d");
      const bias: [Float32Array, number[]] = [random(c.filter[3]), [c.filter[3]]];
      expectKernelMatchesCpu("FusedConv2D", { x, filter, bias }, { ...common, dilations: 1, activation: "relu" }, "conv2d");
      expectKernelMatchesCpu("FusedConv2D", { x, filter }, { ...common, dilations: 1, activation: "linear" }, "conv2d");
    });

    it("Conv2DBackpropInput and Conv2DBackpropFilter", () => {
      const dy: [Float32Array, number[]] = [random(size(yShape)), yShape];
      expectKernelMatchesCpu("Conv2DBackpropInput", { dy, filter: [random(size(c.filter)), c.filter] }, { ...common, inputShape: c.x },
        "conv2dBackpropInput");
      expectKernelMatchesCpu("Conv2DBackpropFilter", { x: [random(size(c.x)), c.x], dy }, { ...common, filterShape: c.filter },
        "conv2dBackpropFilter");
    });

    it("gradient of fused conv2d + bias + relu with respect to x, filter and bias", () => {
      const x = random(size(c.x)), w = random(size(c.filter)), b = random(c.filter[3]), r = random(size(yShape));
      const { cpu, native } = onBoth(() => {
        const f = (xt: tf.Tensor, wt: tf.Tensor, bt: tf.Tensor) =>
          tf.sum(tf.mul(tf.fused.conv2d({ x: xt as tf.Tensor4D, filter: wt as tf.Tensor4D, bias: bt, strides: c.strides, pad: c.pad as "same", activation: "relu" }), tf.tensor(r, yShape)));
        return tf.grads(f)([tf.tensor(x, c.x), tf.tensor(w, c.filter), tf.tensor(b, [c.filter[3]])]);
      });
      for (let i = 0; i < 3; i++) expect(relativeError(native[i]!, cpu[i]!), ["dx", "dw", "db"][i]).toBeLessThan(1e-4);
    });
  });

  it("a linear fused conv's gradient never computes dx of a constant input", () => {
    // tfjs computes this gradient eagerly (customGrad): dx of the input image, then dw and db.
    const c = CONV_CASES[8]!; // 7×7 stride 2, as ResNet's stem
    const x = random(size(c.x)), w = random(size(c.filter)), b = random(c.filter[3]);
    const yShape = outputShape(c.x, c.filter, c.strides, c.pad);
    const r = random(size(yShape));
    const grads = () => {
      const [filter, bias] = [tf.variable(tf.tensor(w, c.filter)), tf.variable(tf.tensor(b, [c.filter[3]]))];
      const image = tf.tensor4d(x, c.x);
      const { grads: g } = tf.variableGrads(() => tf.sum(tf.mul(tf.fused.conv2d({ x: image, filter: filter as tf.Tensor4D, bias, strides: c.strides,
        pad: c.pad as "same" }), tf.tensor(r, yShape))) as tf.Scalar, [filter, bias]);
      const out = [g[filter.name]!, g[bias.name]!];
      tf.dispose([filter, bias, image]);
      return out;
    };
    const cpu = onBoth(grads).cpu;
    tf.setBackend("ft-native");
    const addon = loadNativeAddon();
    const spies = (["conv2dBackpropInput", "conv2dBackpropFilter"] as const).map((name) => vi.spyOn(addon, name));
    const before = tf.memory().numTensors;
    let native: Float32Array[] = [];
    tf.tidy(() => void (native = grads().map((t) => t.dataSync().slice() as Float32Array)));
    const [dx, dw] = spies.map((spy) => spy.mock.calls.length);
    spies.forEach((spy) => spy.mockRestore());
    expect(dx, "dx of the input computed").toBe(0);
    expect(dw).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
    expect(relativeError(native[0]!, cpu[0]!), "dw").toBeLessThan(1e-4);
    expect(relativeError(native[1]!, cpu[1]!), "db").toBeLessThan(1e-4);
  });

  it("Conv2D with dilation 2 (forward only: tfjs has no dilated conv gradient)", () => {
    const x: Shape4 = [2, 11, 9, 3], filter: Shape4 = [3, 2, 3, 4];
    expectKernelMatchesCpu("Conv2D", { x: [random(size(x)), x], filter: [random(size(filter)), filter] },
      { strides: 1, pad: "same", dataFormat: "NHWC", dilations: [2, 2] }, "conv2d");
  });

  it("reuses the cached filter layout only for the same weights", () => {
    const x: Shape4 = [2, 6, 6, 16], filter: Shape4 = [3, 3, 16, 16];
    const xv = tf.tensor(random(size(x)), x) as tf.Tensor4D;
    const w1 = random(size(filter)), w2 = random(size(filter));
    const run = (w: Float32Array, backend: string) => {
      tf.setBackend(backend);
      return tf.tidy(() => tf.conv2d(tf.tensor(xv.dataSync(), x) as tf.Tensor4D, tf.tensor(w, filter) as tf.Tensor4D, 1, "same").dataSync().slice());
    };
    // Same geometry, different weights back to back: a stale cached layout would give w1's result for w2.
    const n1 = run(w1, "ft-native"), n2 = run(w2, "ft-native"), c2 = run(w2, "cpu");
    expect(relativeError(n2, c2)).toBeLessThan(1e-4);
    expect(relativeError(n1, c2)).toBeGreaterThan(1e-2);
    xv.dispose();
  });

  describe("matrix products", () => {
    const cases: Array<{ name: string; a: number[]; b: number[]; ta: boolean; tb: boolean }> = [
      { name: "batched", a: [3, 5, 7], b: [3, 7, 4], ta: false, tb: false },
      { name: "batched, transposeA", a: [2, 7, 5], b: [2, 7, 4], ta: true, tb: false },
      { name: "batched, transposeB", a: [2, 5, 7], b: [2, 4, 7], ta: false, tb: true },
      { name: "batched, both transposed", a: [2, 7, 5], b: [2, 4, 7], ta: true, tb: true },
      { name: "b broadcast over a's batch", a: [4, 5, 6], b: [1, 6, 3], ta: false, tb: false },
      { name: "rank 4 with equal outer dims", a: [2, 3, 4, 5], b: [2, 3, 5, 2], ta: false, tb: false },
    ];
    it.each(cases)("BatchMatMul $name", (c) => {
      expectKernelMatchesCpu("BatchMatMul", { a: [random(size(c.a)), c.a], b: [random(size(c.b)), c.b] },
        { transposeA: c.ta, transposeB: c.tb }, "batchMatMul");
    });

    it("_FusedMatMul with bias and relu, and the gradient of a dense layer", () => {
      const a = [1, 6, 9], b = [1, 9, 5];
      expectKernelMatchesCpu("_FusedMatMul", { a: [random(54), a], b: [random(45), b], bias: [random(5), [5]] },
        { transposeA: false, transposeB: false, activation: "relu" }, "batchMatMul");
      const x = random(6 * 9), w = random(45), bias = random(5), r = random(30);
      const { cpu, native } = onBoth(() => tf.grads((xt: tf.Tensor, wt: tf.Tensor, bt: tf.Tensor) =>
        tf.sum(tf.mul(tf.fused.matMul({ a: xt as tf.Tensor2D, b: wt as tf.Tensor2D, bias: bt, activation: "relu" }), tf.tensor(r, [6, 5]))))(
        [tf.tensor(x, [6, 9]), tf.tensor(w, [9, 5]), tf.tensor(bias, [5])]));
      for (let i = 0; i < 3; i++) expect(relativeError(native[i]!, cpu[i]!)).toBeLessThan(1e-4);
    });
  });

  describe("pooling", () => {
    const cases: Array<{ name: string; x: Shape4; filterSize: number | [number, number]; strides: number | [number, number]; pad: Pad | number }> = [
      { name: "3×3 stride 2 valid (ResNet pool1)", x: [2, 9, 8, 3], filterSize: 3, strides: 2, pad: "valid" },
      { name: "3×3 stride 2 same", x: [2, 9, 8, 5], filterSize: 3, strides: 2, pad: "same" },
      { name: "2×3 stride [2, 1] same", x: [2, 7, 6, 2], filterSize: [2, 3], strides: [2, 1], pad: "same" },
      { name: "3×3 stride 1 same, 20 channels", x: [3, 5, 4, 20], filterSize: 3, strides: 1, pad: "same" },
      { name: "3×3 stride 2 same, 70 channels (two blocks in MaxPoolGrad)", x: [2, 5, 6, 70], filterSize: 3, strides: 2, pad: "same" },
      { name: "2×2 stride 2 valid, odd input", x: [2, 7, 9, 4], filterSize: 2, strides: 2, pad: "valid" },
      { name: "3×3 stride 1, explicit pad 1", x: [2, 6, 5, 3], filterSize: 3, strides: 1, pad: 1 },
      { name: "3×3 stride 1 same on a 1×1 map", x: [2, 1, 1, 6], filterSize: 3, strides: 1, pad: "same" },
    ];
    // The cpu AvgPoolGrad here is @ft/core's (registerNativeBackend installs it), proven in core to be the
    // exact adjoint of the forward pass; tfjs's stock one divides border windows by the full window.
    it.each(cases)("MaxPool, AvgPool and their gradients: $name", (c) => {
      // Half the inputs are exactly 0 (as after relu), so windows hold ties.
      const x = random(size(c.x)).map((v) => Math.max(v, 0));
      const attrs = { filterSize: c.filterSize, strides: c.strides, pad: c.pad };
      expectKernelMatchesCpu("MaxPool", { x: [x, c.x] }, attrs, "maxPool");
      expectKernelMatchesCpu("AvgPool", { x: [x, c.x] }, attrs, "avgPool");
      const y = runKernelOn("cpu", "MaxPool", { x: [x, c.x] }, attrs);
      const dy: [Float32Array, number[]] = [random(size(y.shape)), y.shape];
      expectKernelMatchesCpu("MaxPoolGrad", { dy, input: [x, c.x], output: [y.values, y.shape] }, attrs, "maxPoolGrad");
      expectKernelMatchesCpu("AvgPoolGrad", { dy, input: [x, c.x] }, attrs, "avgPoolGrad");
    });

    it.each(cases)("MaxPool's gradient under a tape scatters dy through the argmax the forward pass kept: $name", (c) => {
      const x = random(size(c.x)).map((v) => Math.max(v, 0)); // ties, as after relu
      const yShape = tf.backend_util.computePool2DInfo(c.x, c.filterSize, c.strides, 1, c.pad as "same").outShape;
      const r = random(size(yShape));
      const grad = () => tf.grad((xt: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(xt as tf.Tensor4D, c.filterSize, c.strides, c.pad as "same"), tf.tensor(r, yShape))))(
        tf.tensor4d(x, c.x));
      const { cpu } = onBoth(grad);
      tf.setBackend("ft-native");
      const addon = loadNativeAddon();
      const [fromArgmax, recompute] = [vi.spyOn(addon, "maxPoolGradFromArgmax"), vi.spyOn(addon, "maxPoolGrad")];
      const native = tf.tidy(() => grad().dataSync().slice());
      expect([fromArgmax.mock.calls.length, recompute.mock.calls.length]).toEqual([1, 0]);
      fromArgmax.mockRestore();
      recompute.mockRestore();
      expect(relativeError(native, cpu[0]!)).toBeLessThan(1e-6);
    });

    it("maxPoolGradFromArgmax refuses indices outside their image of x", () => {
      const addon = loadNativeAddon();
      const geometry = [2, 2, 2, 2, 0, 0, 1, 1]; // 2×2 windows, stride 2, on a 2×2 map: one output per image and channel
      const argmax = Int32Array.from([5, 4]); // image 0's output points into image 1
      expect(() => addon.maxPoolGradFromArgmax(new Float32Array(2), [2, 2, 2, 1], geometry, argmax, new Float32Array(8)))
        .toThrow(/outside their image/);
      expect(() => addon.maxPoolGradFromArgmax(new Float32Array(2), [2, 2, 2, 1], geometry, new Int32Array(3), new Float32Array(8)))
        .toThrow(/argmax has 3 elements, expected 2/);
    });

    it("AvgPoolGrad of a 3×3 same window on a 1×1 map passes dy through (each window averaged one pixel)", () => {
      const dy = random(2 * 6);
      const dx = runKernelOn("ft-native", "AvgPoolGrad", { dy: [dy, [2, 1, 1, 6]], input: [new Float32Array(12), [2, 1, 1, 6]] },
        { filterSize: 3, strides: 1, pad: "same" });
      expect(dx.values).toEqual(dy);
    });
  });

  describe("batch normalization", () => {
    it("FusedBatchNorm with channel parameters, with and without offset/scale", () => {
      const x: Shape4 = [2, 5, 4, 6];
      const p = (): [Float32Array, number[]] => [random(6), [6]];
      const variance: [Float32Array, number[]] = [random(6).map((v) => v + 1.5), [6]];
      expectKernelMatchesCpu("FusedBatchNorm", { x: [random(size(x)), x], mean: p(), variance, offset: p(), scale: p() },
        { varianceEpsilon: 1e-3 }, "batchNorm");
      expectKernelMatchesCpu("FusedBatchNorm", { x: [random(size(x)), x], mean: p(), variance }, { varianceEpsilon: 1e-5 }, "batchNorm");
    });

    it("FusedBatchNorm with parameters broadcast over [W, C] (the cpu kernel's modular indexing)", () => {
      const x: Shape4 = [2, 3, 4, 5];
      expectKernelMatchesCpu("FusedBatchNorm", {
        x: [random(size(x)), x], mean: [random(20), [4, 5]], variance: [random(20).map((v) => v + 1.5), [4, 5]],
        offset: [random(5), [1, 5]], scale: [random(20), [4, 5]],
      }, { varianceEpsilon: 1e-3 }, "batchNorm");
    });

    it("gradient of batchNorm with batch moments (as in training)", () => {
      const shape: Shape4 = [3, 4, 5, 6];
      const x = random(size(shape)), gamma = random(6), beta = random(6), r = random(size(shape));
      let result!: ReturnType<typeof onBoth>;
      // The 5-pass gradient (centeredDot) runs on ft-native; the stock gradient still runs on cpu.
      const calls = nativeCalls("centeredDot", () => {
        result = onBoth(() => tf.grads((xt: tf.Tensor, gt: tf.Tensor, bt: tf.Tensor) => {
          const { mean, variance } = tf.moments(xt, [0, 1, 2]);
          return tf.sum(tf.mul(tf.batchNorm(xt, mean, variance, bt, gt, 1e-3), tf.tensor(r, shape)));
        })([tf.tensor(x, shape), tf.tensor(gamma, [6]), tf.tensor(beta, [6])]));
      });
      expect(calls).toBe(2);
      const { cpu, native } = result;
      for (let i = 0; i < 3; i++) expect(relativeError(native[i]!, cpu[i]!)).toBeLessThan(1e-4);
    });
  });
});
