import * as tf from "@tensorflow/tfjs-core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { loadNativeAddon, type NativeAddonFunction } from "./addon.js";
import { nativeUnavailable, runKernelOn, skipReason, type Inputs } from "./test-utils/compare.js";
import { random } from "@ft/test-support/random";
import { relativeError } from "@ft/test-support/tolerance";

// Exercise the threaded loop paths even on a one-core machine (read once, at the first native loop;
// every test file runs in its own process).
process.env.FT_NATIVE_LOOP_THREADS ??= "2"; // (the ThreadSanitizer run sets 1: see scripts/sanitizers.mjs)

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** Runs the kernel on both backends; checks agreement and how often the addon function ran. */
function compare(kernelName: string, inputs: Inputs, attrs: object, addonFn: NativeAddonFunction, expectedCalls = 1, tolerance = 1e-6) {
  const cpu = runKernelOn("cpu", kernelName, inputs, attrs);
  const spy = vi.spyOn(loadNativeAddon(), addonFn);
  const native = runKernelOn("ft-native", kernelName, inputs, attrs);
  const calls = spy.mock.calls.length;
  spy.mockRestore();
  expect(calls, `${kernelName} native calls`).toBe(expectedCalls);
  expect(native.shape).toEqual(cpu.shape);
  expect(relativeError(native.values, cpu.values), kernelName).toBeLessThan(tolerance);
}

describe.skipIf(nativeUnavailable)(`ft-native elementwise kernels match the cpu backend${skipReason}`, () => {
  afterEach(() => void tf.setBackend("cpu"));

  const shapes: Array<[string, number[], number[]]> = [
    ["same shape", [2, 3, 4, 5], [2, 3, 4, 5]],
    ["channel vector", [2, 3, 4, 5], [5]],
    ["[N,1,1,C]", [2, 3, 4, 5], [2, 1, 1, 5]],
    ["middle axis", [2, 3, 4, 5], [1, 3, 1, 1]],
    ["scalar right", [2, 3, 4, 5], []],
    ["scalar left", [], [3, 4]],
    ["vector left", [5], [2, 3, 4, 5]],
    ["both broadcast", [2, 1, 5], [1, 4, 1]],
    ["large, split between threads", [4, 32, 32, 80], [80]],
  ];
  for (const kernelName of ["Add", "Sub", "Multiply", "RealDiv", "Maximum", "Minimum", "SquaredDifference"]) {
    it.each(shapes)(`${kernelName}: %s`, (_, a, b) => {
      compare(kernelName, { a: [random(size(a)), a], b: [random(size(b)).map((v) => v + 2), b] }, {}, "binary");
    });
  }

  it("binary ops on int32 fall back to the cpu kernel", () => {
    tf.setBackend("ft-native");
    const spy = vi.spyOn(loadNativeAddon(), "binary");
    expect(Array.from(tf.add(tf.tensor1d([1, 2], "int32"), tf.tensor1d([3, 4], "int32")).dataSync())).toEqual([4, 6]);
    expect(spy).not.toHaveBeenCalled();
    spy.mockRestore();
  });

  it.each(["Relu", "Step", "Square", "Neg", "Sqrt", "Rsqrt", "Exp", "Log", "Abs", "Relu6"])("%s", (kernelName) => {
    const positive = ["Sqrt", "Rsqrt", "Log"].includes(kernelName);
    const x = random(2 * 3 * 4 * 5).map((v) => (positive ? v + 1.5 : v * 8));
    if (!positive) x[3] = 0; // Step/Relu at exactly 0
    compare(kernelName, { x: [x, [2, 3, 4, 5]] }, kernelName === "Step" ? { alpha: 0.25 } : {}, "unary", 1, 1e-6);
  });

  const reductions: Array<[string, number[], number | number[] | null, boolean]> = [
    ["over N,H,W (BatchNorm moments)", [3, 4, 5, 6], [0, 1, 2], false],
    ["over H,W (global pooling)", [3, 4, 5, 6], [1, 2], true],
    ["last axis", [3, 4, 5, 6], -1, false],
    ["first axis", [7, 6], 0, true],
    ["everything", [3, 4, 5], null, false],
    ["large over N,H,W, split between threads", [8, 32, 32, 40], [0, 1, 2], false],
  ];
  for (const kernelName of ["Sum", "Mean"]) {
    it.each(reductions)(`${kernelName} %s`, (_, shape, axis, keepDims) => {
      compare(kernelName, { x: [random(size(shape)), shape] }, { axis, keepDims }, "reduce", 1, 1e-5);
    });
  }

  it.each([[[1, 2]], [[0, 1, 2]], [-1]] as Array<[number | number[]]>)(
    "gradient of Mean over %j is the cpu backend's, computed by one Tile", (axis) => {
      const shape = [2, 3, 4, 5];
      const x = random(120), r = random(120);
      const spy = vi.spyOn(loadNativeAddon(), "tile");
      const run = (backend: string) => {
        tf.setBackend(backend);
        return tf.tidy(() => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.broadcastTo(tf.mean(t, axis, true), shape), tf.tensor(r, shape))))(
          tf.tensor(x, shape)).dataSync().slice());
      };
      const cpu = run("cpu");
      const native = run("ft-native");
      expect(spy).toHaveBeenCalled();
      spy.mockRestore();
      expect(relativeError(native, cpu)).toBeLessThan(1e-6);
    });

  it.each(["relu", "square"])("gradient of %s is the cpu backend's, in one native pass", (op) => {
    const shape = [2, 3, 4, 5];
    const x = random(120).map((v, i) => (i % 7 === 0 ? 0 : v)), r = random(120);
    const f = op === "relu" ? tf.relu : tf.square;
    const run = (backend: string) => {
      tf.setBackend(backend);
      return tf.tidy(() => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(f(t), tf.tensor(r, shape))))(tf.tensor(x, shape)).dataSync().slice());
    };
    const cpu = run("cpu");
    const spy = vi.spyOn(loadNativeAddon(), "binary");
    const native = run("ft-native");
    expect(spy.mock.calls.some((c) => c[0] === (op === "relu" ? 7 : 8))).toBe(true);
    spy.mockRestore();
    expect(Array.from(native)).toEqual(Array.from(cpu));
  });

  it.each([
    ["ResNet's logits", [8, 1000], 0],
    ["rank 3, large offsets (the max is subtracted first)", [3, 4, 7], 500],
    ["one row split between threads", [1, 70000], 0],
  ] as Array<[string, number[], number]>)("Softmax over the last axis: %s", (_, shape, offset) => {
    const logits = random(size(shape)).map((v, i) => 8 * v + (i % 3) * offset);
    compare("Softmax", { logits: [logits, shape] }, { dim: -1 }, "softmax", 1, 1e-6);
  });

  it("Sum over non-adjacent axes falls back to the cpu kernel (and still agrees)", () => {
    compare("Sum", { x: [random(60), [3, 4, 5]] }, { axis: [0, 2], keepDims: false }, "reduce", 0);
  });

  it.each([
    [[1, 1, 1, 6], [2, 3, 4, 1]],
    [[2, 3], [3, 2]],
    [[2, 1, 3], [1, 4, 2]],
  ])("Tile %j by %j", (shape, reps) => {
    compare("Tile", { x: [random(size(shape)), shape] }, { reps }, "tile");
  });

  it.each([
    ["NHWC spatial (ZeroPadding2D)", [2, 5, 4, 3], [[0, 0], [3, 2], [1, 3], [0, 0]], 0],
    ["every axis, a constant", [3, 4, 5], [[1, 2], [0, 1], [2, 0]], -1.5],
    ["rank 1", [7], [[2, 3]], 0.25],
    ["large, split between threads", [4, 64, 64, 24], [[0, 0], [3, 3], [3, 3], [0, 0]], 0],
  ] as Array<[string, number[], Array<[number, number]>, number]>)("PadV2 %s", (_, shape, paddings, constantValue) => {
    compare("PadV2", { x: [random(size(shape)), shape] }, { paddings, constantValue }, "pad");
  });

  it.each([
    ["NHWC spatial crop (ZeroPadding2D's gradient)", [2, 7, 6, 3], [0, 2, 1, 0], [2, 4, 3, 3]],
    ["every axis", [3, 4, 5], [1, 1, 2], [2, 2, 3]],
    ["last axis only", [4, 9], [0, 3], [4, 5]],
    ["large, split between threads", [4, 70, 70, 24], [0, 3, 3, 0], [4, 64, 64, 24]],
  ] as Array<[string, number[], number[], number[]]>)("Slice %s", (_, shape, begin, sliceSize) => {
    compare("Slice", { x: [random(size(shape)), shape] }, { begin, size: sliceSize }, "slice");
  });

  it.each([
    ["channel axis (Concat's gradient in Inception and DenseNet)", [2, 5, 4, 11], [3, 6, 2], 3],
    ["equal parts of a middle axis", [3, 8, 5], 4, 1],
    ["first axis", [6, 4], [1, 5], 0],
  ] as Array<[string, number[], number | number[], number]>)("SplitV along the %s", (_, shape, splits, axis) => {
    const values = random(size(shape));
    const run = (backend: string) => {
      tf.setBackend(backend);
      const parts = tf.split(tf.tensor(values, shape), splits, axis);
      const result = parts.map((t) => ({ shape: t.shape, values: t.dataSync().slice() }));
      tf.dispose(parts);
      return result;
    };
    const cpu = run("cpu");
    const spy = vi.spyOn(loadNativeAddon(), "slice");
    const native = run("ft-native");
    expect(spy.mock.calls.length).toBe(cpu.length);
    spy.mockRestore();
    expect(native.map((p) => p.shape)).toEqual(cpu.map((p) => p.shape));
    native.forEach((p, i) => expect(Array.from(p.values)).toEqual(Array.from(cpu[i]!.values)));
  });

  it("a contiguous Slice stays the cpu backend's view", () => {
    compare("Slice", { x: [random(60), [3, 4, 5]] }, { begin: [1, 0, 0], size: [2, 4, 5] }, "slice", 0);
  });

  it("ran with the loop threads asked for (two; one under ThreadSanitizer)", () => {
    expect(loadNativeAddon().info()).toMatchObject({ loopThreads: Number(process.env.FT_NATIVE_LOOP_THREADS) });
  });

  it.each([
    ["channels (DenseNet/Inception)", [[2, 3, 4, 5], [2, 3, 4, 2], [2, 3, 4, 7]], 3],
    ["middle axis", [[2, 3, 4], [2, 5, 4]], 1],
    ["first axis", [[2, 3], [4, 3]], 0],
  ] as Array<[string, number[][], number]>)("Concat along %s, and its gradient", (_, shapes, axis) => {
    const values = shapes.map((s) => random(size(s)));
    const run = (backend: string) => {
      tf.setBackend(backend);
      return tf.tidy(() => {
        const out = tf.concat(values.map((v, i) => tf.tensor(v, shapes[i])), axis);
        return { values: out.dataSync().slice(), shape: out.shape };
      });
    };
    const cpu = run("cpu");
    const spy = vi.spyOn(loadNativeAddon(), "concat");
    const native = run("ft-native");
    expect(spy).toHaveBeenCalledTimes(1);
    spy.mockRestore();
    expect(native.shape).toEqual(cpu.shape);
    expect(Array.from(native.values)).toEqual(Array.from(cpu.values));
    const outShape = cpu.shape;
    const r = random(size(outShape));
    const grads = (backend: string) => {
      tf.setBackend(backend);
      return tf.tidy(() => tf.grads((...ts: tf.Tensor[]) => tf.sum(tf.mul(tf.concat(ts, axis), tf.tensor(r, outShape))))(
        values.map((v, i) => tf.tensor(v, shapes[i]))).map((g) => g.dataSync().slice()));
    };
    const gc = grads("cpu"), gn = grads("ft-native");
    gc.forEach((g, i) => expect(relativeError(gn[i]!, g)).toBeLessThan(1e-6));
  });

  it("the addon names its op codes by the kernels they implement: distinct codes, each kernel registered on ft-native", () => {
    const { binaryOps, unaryOps } = loadNativeAddon();
    for (const ops of [binaryOps, unaryOps]) {
      expect(new Set(Object.values(ops)).size).toBe(Object.keys(ops).length);
      for (const kernelName of Object.keys(ops)) expect(tf.getKernel(kernelName, "ft-native"), kernelName).toBeDefined();
    }
    expect(Object.keys(binaryOps)).toEqual(expect.arrayContaining(["Add", "Multiply", "RealDiv", "FtReluGrad"]));
    expect(Object.keys(unaryOps)).toEqual(expect.arrayContaining(["Relu", "Step", "Sqrt"]));
  });

  it("bad elementwise calls throw", () => {
    const a = loadNativeAddon();
    const f = (n: number) => new Float32Array(n);
    expect(() => a.binary(2, f(6), [2, 3], f(3), [1, 3], f(5), [2, 3])).toThrow(/out has 5/);
    expect(() => a.binary(2, f(6), [2, 3], f(2), [1, 2], f(6), [2, 3])).toThrow(/do not broadcast/);
    expect(() => a.binary(11, f(6), [2, 3], f(6), [2, 3], f(6), [2, 3])).toThrow(/op/);
    expect(() => a.unary(0, f(6), f(7), 0)).toThrow(/out has 7/);
    expect(() => a.reduce(f(24), [2, 3, 4], f(7), false)).toThrow(/out has 7/);
    expect(() => a.softmax(f(24), [4, 6], f(23))).toThrow(/out has 23/);
    expect(() => a.softmax(f(23), [4, 6], f(24))).toThrow(/x has 23/);
    expect(() => a.tile(f(6), [2, 3], [2, 2], f(23))).toThrow(/out has 23/);
    expect(() => a.concat([f(6), f(5)], [3, 3], 2, f(12))).toThrow(/inputs\[1\] has 5/);
    expect(() => a.concat([f(6), f(6)], [3, 3], 2, f(13))).toThrow(/out has 13/);
    expect(() => a.concat([f(6), new Float64Array(6) as unknown as Float32Array], [3, 3], 2, f(12))).toThrow(/Float32Array/);
    expect(() => a.pad(f(6), [2, 3], [1, 0], [0, 1], 0, f(11))).toThrow(/out has 11/);
    expect(() => a.pad(f(6), [2, 3], [-1, 0], [0, 0], 0, f(3))).toThrow(/before\[0\]/);
    expect(() => a.slice(f(6), [2, 3], [0, 2], [2, 2], f(4))).toThrow(/axis 1 exceeds its size 3/);
    expect(() => a.slice(f(6), [2, 3], [0, 1], [2, 2], f(5))).toThrow(/out has 5/);
  });
});
