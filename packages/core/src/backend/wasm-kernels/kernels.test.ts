import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { conv2DBackpropFilterWith, WASM_KERNEL_LIMITS } from "./conv2d-backprop-filter.js";
import { conv2DBackpropInputWith } from "./conv2d-backprop-input.js";
import { registerWasmTrainingKernels, stockWasmKernel, WASM_TRAINING_KERNELS } from "./index.js";
import { relativeError } from "@ft/test-support/tolerance";

type Pad = "same" | "valid" | [[number, number], [number, number], [number, number], [number, number]];

let seed = 12345;
function random(n: number): Float32Array {
  return Float32Array.from({ length: n }, () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 31 - 1;
  });
}

/** Runs one kernel on a backend with fresh tensors; returns its values and shape. */
function runOn(backend: string, kernelName: string, inputs: Record<string, [Float32Array, number[]]>, attrs: object) {
  tf.setBackend(backend);
  return tf.tidy(() => {
    const tensors = Object.fromEntries(Object.entries(inputs).map(([k, [v, s]]) => [k, tf.tensor(v, s)]));
    const out = tf.engine().runKernel(kernelName, tensors, attrs as tf.NamedAttrMap) as tf.Tensor;
    return { values: out.dataSync().slice() as Float32Array, shape: out.shape };
  });
}

function expectSameAsCpu(kernelName: string, inputs: Record<string, [Float32Array, number[]]>, attrs: object) {
  const wasm = runOn("wasm", kernelName, inputs, attrs);
  const cpu = runOn("cpu", kernelName, inputs, attrs);
  expect(wasm.shape).toEqual(cpu.shape);
  expect(relativeError(wasm.values, cpu.values)).toBeLessThan(1e-4);
}

/** Runs a kernel function directly on wasm (to test one formulation); checks it leaks nothing. */
function runWith(kernel: tf.KernelFunc, inputs: Record<string, [Float32Array, number[]]>, attrs: object): Float32Array {
  tf.setBackend("wasm");
  const tensors = Object.fromEntries(Object.entries(inputs).map(([k, [v, s]]) => [k, tf.tensor(v, s)]));
  const before = tf.backend().numDataIds();
  const out = tf.engine().makeTensorFromTensorInfo(kernel({ inputs: tensors, attrs: attrs as tf.NamedAttrMap, backend: tf.backend() }) as tf.TensorInfo);
  expect(tf.backend().numDataIds()).toBe(before + 1);
  const values = out.dataSync().slice() as Float32Array;
  tf.dispose([out, ...Object.values(tensors)]);
  return values;
}

function outputShape(xShape: number[], filterShape: number[], strides: number | [number, number], pad: Pad, depthwise = false): number[] {
  tf.setBackend("cpu");
  const x = tf.zeros(xShape as [number, number, number, number]) as tf.Tensor4D;
  const f = tf.zeros(filterShape as [number, number, number, number]) as tf.Tensor4D;
  const y = depthwise ? tf.depthwiseConv2d(x, f, strides, pad) : tf.conv2d(x, f, strides, pad);
  const shape = y.shape;
  tf.dispose([x, f, y]);
  return shape;
}

interface ConvCase {
  name: string;
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number | [number, number];
  pad: Pad;
}

// Batch > 1 throughout; non-square inputs and kernels; stride 1/2 (and mixed); same/valid/explicit.
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
];

beforeAll(async () => {
  await tf.setBackend("wasm");
  await tf.ready();
  registerWasmTrainingKernels();
});

afterAll(() => {
  WASM_KERNEL_LIMITS.colBufferFloats = 16 * 1024 * 1024;
});

describe("registerWasmTrainingKernels", () => {
  it("registers every training kernel on wasm, replacing the slow stock ones, and is idempotent", () => {
    expect(registerWasmTrainingKernels()).toEqual(WASM_TRAINING_KERNELS);
    const names = new Set(tf.getKernelsForBackend("wasm").map((k) => k.kernelName));
    for (const name of WASM_TRAINING_KERNELS) expect(names.has(name), name).toBe(true);
    expect(stockWasmKernel("Conv2DBackpropInput")).toBeDefined();
    expect(stockWasmKernel("Conv2DBackpropInput")!.kernelFunc).not.toBe(tf.getKernel("Conv2DBackpropInput", "wasm")!.kernelFunc);
    expect(stockWasmKernel("Conv2DBackpropFilter")).toBeUndefined();
  });
});

describe.each(CONV_CASES)("conv gradients match the cpu backend: $name", (c) => {
  const y = () => outputShape(c.x, c.filter, c.strides, c.pad);
  const common = { strides: c.strides, pad: c.pad, dataFormat: "NHWC" };

  it("Conv2DBackpropFilter, both formulations", () => {
    const dyShape = y();
    const inputs = { x: [random(c.x.reduce((a, b) => a * b)), c.x] as [Float32Array, number[]], dy: [random(dyShape.reduce((a, b) => a * b)), dyShape] as [Float32Array, number[]] };
    const attrs = { ...common, filterShape: c.filter };
    expectSameAsCpu("Conv2DBackpropFilter", inputs, attrs);
    const cpu = runOn("cpu", "Conv2DBackpropFilter", inputs, attrs);
    for (const strategy of ["colT", "dyT"] as const) {
      expect(relativeError(runWith(conv2DBackpropFilterWith(strategy), inputs, attrs), cpu.values), strategy).toBeLessThan(1e-4);
    }
  });

  it("Conv2DBackpropInput, both formulations", () => {
    const dyShape = y();
    const inputs = { dy: [random(dyShape.reduce((a, b) => a * b)), dyShape] as [Float32Array, number[]], filter: [random(c.filter.reduce((a, b) => a * b)), c.filter] as [Float32Array, number[]] };
    const attrs = { ...common, inputShape: c.x };
    expectSameAsCpu("Conv2DBackpropInput", inputs, attrs);
    const cpu = runOn("cpu", "Conv2DBackpropInput", inputs, attrs);
    for (const strategy of ["conv", "gemm"] as const) {
      expect(relativeError(runWith(conv2DBackpropInputWith(strategy), inputs, attrs), cpu.values), strategy).toBeLessThan(1e-4);
    }
  });
});

describe("chunked im2col (small column budget)", () => {
  it("gives the same filter and input gradients when split into one-image chunks", () => {
    const c = CONV_CASES[1]!;
    const dyShape = outputShape(c.x, c.filter, c.strides, c.pad);
    const x = random(c.x.reduce((a, b) => a * b));
    const dy = random(dyShape.reduce((a, b) => a * b));
    const w = random(c.filter.reduce((a, b) => a * b));
    const common = { strides: c.strides, pad: c.pad, dataFormat: "NHWC" };
    WASM_KERNEL_LIMITS.colBufferFloats = 10;
    try {
      expectSameAsCpu("Conv2DBackpropFilter", { x: [x, c.x], dy: [dy, dyShape] }, { ...common, filterShape: c.filter });
      expectSameAsCpu("Conv2DBackpropInput", { dy: [dy, dyShape], filter: [w, c.filter] }, { ...common, inputShape: c.x });
    } finally {
      WASM_KERNEL_LIMITS.colBufferFloats = 16 * 1024 * 1024;
    }
  });
});

describe("depthwise conv gradients match the cpu backend", () => {
  const cases: ConvCase[] = [
    { name: "3×3 same stride 1, multiplier 2", x: [2, 7, 6, 3], filter: [3, 3, 3, 2], strides: 1, pad: "same" },
    { name: "3×2 valid stride 2, multiplier 1", x: [3, 9, 8, 4], filter: [3, 2, 4, 1], strides: 2, pad: "valid" },
  ];
  it.each(cases)("$name", (c) => {
    const dyShape = outputShape(c.x, c.filter, c.strides, c.pad, true);
    const common = { strides: c.strides, pad: c.pad, dilations: 1 };
    const x = random(c.x.reduce((a, b) => a * b));
    const dy = random(dyShape.reduce((a, b) => a * b));
    const w = random(c.filter.reduce((a, b) => a * b));
    expectSameAsCpu("DepthwiseConv2dNativeBackpropFilter", { x: [x, c.x], dy: [dy, dyShape] }, { ...common, filterShape: c.filter });
    expectSameAsCpu("DepthwiseConv2dNativeBackpropInput", { dy: [dy, dyShape], filter: [w, c.filter] }, { ...common, inputShape: c.x });
  });
});

describe("pool gradients", () => {
  const cases: Array<{ name: string; x: [number, number, number, number]; filterSize: number | [number, number]; strides: number | [number, number]; pad: Pad }> = [
    { name: "3×3 stride 2 valid (ResNet pool1)", x: [2, 9, 8, 3], filterSize: 3, strides: 2, pad: "valid" },
    { name: "2×3 stride [2, 1] same", x: [2, 7, 6, 2], filterSize: [2, 3], strides: [2, 1], pad: "same" },
    { name: "3×3 stride 1 same", x: [3, 5, 4, 4], filterSize: 3, strides: 1, pad: "same" },
  ];

  function poolCase(c: (typeof cases)[number]) {
    tf.setBackend("cpu");
    const x = random(c.x.reduce((a, b) => a * b));
    const y = tf.tidy(() => tf.maxPool(tf.tensor4d(x, c.x), c.filterSize, c.strides, c.pad));
    const out = [y.dataSync().slice() as Float32Array, y.shape] as [Float32Array, number[]];
    const dy = random(y.size);
    y.dispose();
    return { x, out, dy, dyShape: out[1], attrs: { filterSize: c.filterSize, strides: c.strides, pad: c.pad } };
  }

  it.each(cases)("MaxPoolGrad matches the cpu backend: $name", (c) => {
    const { x, out, dy, dyShape, attrs } = poolCase(c);
    expectSameAsCpu("MaxPoolGrad", { dy: [dy, dyShape], input: [x, c.x], output: out }, attrs);
  });

  it("MaxPoolGrad sends a tie to the first maximum, as TensorFlow and the cpu backend do", () => {
    const x = new Float32Array(2 * 4 * 4 * 1).fill(1);
    const attrs = { filterSize: 2, strides: 1, pad: "valid" };
    const out: [Float32Array, number[]] = [new Float32Array(2 * 3 * 3).fill(1), [2, 3, 3, 1]];
    const dy: [Float32Array, number[]] = [random(18), [2, 3, 3, 1]];
    expectSameAsCpu("MaxPoolGrad", { dy, input: [x, [2, 4, 4, 1]], output: out }, attrs);
  });

  // With padding, the stock cpu kernel is wrong: avg-pool-grad.test.ts proves both against the forward pass.
  it("AvgPoolGrad matches the cpu backend for valid padding", () => {
    const c = cases[0]!;
    const { x, dy, dyShape, attrs } = poolCase(c);
    expectSameAsCpu("AvgPoolGrad", { dy: [dy, dyShape], input: [x, c.x] }, attrs);
  });
});
