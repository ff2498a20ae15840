import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { beforeAll, describe, expect, it } from "vitest";
import { registerWasmTrainingKernels, stockWasmKernel } from "./index.js";
import { leadingBlockReduction } from "./reduce.js";
import { relativeError } from "@ft/test-support/tolerance";

let seed = 777;
function random(n: number): Float32Array {
  return Float32Array.from({ length: n }, () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 31 - 0.8;
  });
}

function run(backend: string, kernelName: string, values: Float32Array | Int32Array, shape: number[], attrs: object) {
  tf.setBackend(backend);
  return tf.tidy(() => {
    const x = tf.tensor(values, shape, values instanceof Int32Array ? "int32" : "float32");
    const out = tf.engine().runKernel(kernelName, { x }, attrs as tf.NamedAttrMap) as tf.Tensor;
    return { values: Float32Array.from(out.dataSync()), shape: out.shape };
  });
}

beforeAll(async () => {
  await tf.setBackend("wasm");
  await tf.ready();
  registerWasmTrainingKernels();
});

describe("leadingBlockReduction", () => {
  it("views a contiguous, non-innermost block of axes as [outer, reduced, inner]", () => {
    expect(leadingBlockReduction([2, 3, 4, 5], [0, 1, 2])).toEqual({ outer: 1, reduced: 24, inner: 5, axes: [0, 1, 2] });
    expect(leadingBlockReduction([2, 3, 4, 5], [2, 1])).toEqual({ outer: 2, reduced: 12, inner: 5, axes: [1, 2] });
    expect(leadingBlockReduction([2, 3, 4, 5], [-3])).toEqual({ outer: 2, reduced: 3, inner: 20, axes: [1] });
    expect(leadingBlockReduction([2, 3, 4, 5], [1, 2, 3])).toBeUndefined();
    expect(leadingBlockReduction([2, 3, 4, 5], [0, 2])).toBeUndefined();
  });
});

describe("wasm Sum and Mean", () => {
  const cases: Array<{ shape: number[]; axis: number | number[]; keepDims: boolean }> = [
    { shape: [3, 5, 7, 6], axis: [0, 1, 2], keepDims: false },
    { shape: [3, 5, 7, 6], axis: [0, 1, 2], keepDims: true },
    { shape: [4, 9, 2, 3], axis: [1, 2], keepDims: false },
    { shape: [5, 11], axis: 0, keepDims: false },
    { shape: [2, 6, 5, 3], axis: -3, keepDims: true },
    { shape: [3, 5, 7, 6], axis: [1, 2, 3], keepDims: false },
    { shape: [3, 5, 7, 6], axis: [0, 2], keepDims: false },
    { shape: [1, 4, 6], axis: 0, keepDims: false },
  ];
  for (const kernelName of ["Sum", "Mean"]) {
    for (const c of cases) {
      it(`${kernelName} of ${c.shape.join("x")} over ${JSON.stringify(c.axis)}${c.keepDims ? " (keepDims)" : ""} matches the cpu backend`, () => {
        expect(stockWasmKernel(kernelName)).toBeDefined();
        const values = random(c.shape.reduce((a, b) => a * b, 1));
        const wasm = run("wasm", kernelName, values, c.shape, { axis: c.axis, keepDims: c.keepDims });
        const cpu = run("cpu", kernelName, values, c.shape, { axis: c.axis, keepDims: c.keepDims });
        expect(wasm.shape).toEqual(cpu.shape);
        expect(relativeError(wasm.values, cpu.values)).toBeLessThan(1e-4);
      });
    }
  }

  it("int32 sums still go to the stock kernel", () => {
    const values = Int32Array.from({ length: 24 }, (_, i) => i * 7 - 50);
    const wasm = run("wasm", "Sum", values, [2, 3, 4], { axis: [0, 1], keepDims: false });
    const cpu = run("cpu", "Sum", values, [2, 3, 4], { axis: [0, 1], keepDims: false });
    expect(Array.from(wasm.values)).toEqual(Array.from(cpu.values));
  });
});
