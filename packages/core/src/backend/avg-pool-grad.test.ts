import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { beforeAll, describe, expect, it } from "vitest";
import { cpuAvgPoolGrad, registerCpuTrainingKernels } from "./avg-pool-grad.js";
import { registerWasmTrainingKernels } from "./wasm-kernels/index.js";
import { mulberry32 } from "../data/random.js";

type Shape4 = [number, number, number, number];
type Pad = "same" | "valid" | number;
interface PoolCase { name: string; x: Shape4; filterSize: number | [number, number]; strides: number | [number, number]; pad: Pad }

const cases: PoolCase[] = [
  { name: "3×3 stride 1 same on a 1×1 map (Inception-V3's last blocks at 75 px)", x: [2, 1, 1, 5], filterSize: 3, strides: 1, pad: "same" },
  { name: "3×3 stride 1 same", x: [3, 5, 4, 4], filterSize: 3, strides: 1, pad: "same" },
  { name: "2×3 stride [2, 1] same", x: [2, 7, 6, 2], filterSize: [2, 3], strides: [2, 1], pad: "same" },
  { name: "3×3 stride 2, explicit pad 1", x: [2, 6, 5, 3], filterSize: 3, strides: 2, pad: 1 },
  { name: "2×2 stride 2 valid, odd input", x: [2, 7, 9, 4], filterSize: 2, strides: 2, pad: "valid" },
];

const random = mulberry32(31);
const uniform = (n: number) => Float32Array.from({ length: n }, () => random() * 2 - 1);
const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * AvgPool is linear, so its gradient at dy is dx_i = Σ_j dy_j · ∂y_j/∂x_i = Σ_j dy_j · avgPool(e_i)_j: the
 * reference is built from the cpu backend's forward pass alone (which excludes padding, as TensorFlow does).
 */
function adjointOfForward(c: PoolCase, dy: Float32Array): Float64Array {
  tf.setBackend("cpu");
  const [batch, h, w, ch] = c.x;
  const perImage = h * w * ch;
  const columns = tf.tidy(() => {
    const basis = tf.reshape(tf.cast(tf.oneHot(tf.range(0, perImage, 1, "int32"), perImage), "float32"), [perImage, h, w, ch]) as tf.Tensor4D;
    return tf.reshape(tf.avgPool(basis, c.filterSize, c.strides, c.pad), [perImage, -1]).dataSync();
  });
  const outPerImage = columns.length / perImage;
  const dx = new Float64Array(batch * perImage);
  for (let n = 0; n < batch; n++) {
    for (let i = 0; i < perImage; i++) {
      let sum = 0;
      for (let j = 0; j < outPerImage; j++) sum += columns[i * outPerImage + j]! * dy[n * outPerImage + j]!;
      dx[n * perImage + i] = sum;
    }
  }
  return dx;
}

function avgPoolGradOn(backend: string, c: PoolCase, dy: Float32Array): Float32Array {
  tf.setBackend(backend);
  return tf.tidy(() => {
    const outShape = tf.avgPool(tf.zeros(c.x) as tf.Tensor4D, c.filterSize, c.strides, c.pad).shape;
    const attrs = { filterSize: c.filterSize, strides: c.strides, pad: c.pad };
    const dx = tf.engine().runKernel("AvgPoolGrad", { dy: tf.tensor(dy, outShape), input: tf.zeros(c.x) }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
    return dx.dataSync().slice() as Float32Array;
  });
}

function maxRelativeError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let diff = 0, scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  return diff / scale;
}

describe("AvgPoolGrad is the exact adjoint of the forward AvgPool", () => {
  let stockCpuKernel: tf.KernelFunc;
  beforeAll(async () => {
    await tf.setBackend("wasm");
    registerWasmTrainingKernels();
    stockCpuKernel = tf.getKernel("AvgPoolGrad", "cpu")!.kernelFunc;
    registerCpuTrainingKernels();
  });

  it("the cpu backend gets @ft/core's kernel, once", () => {
    registerCpuTrainingKernels();
    expect(tf.getKernel("AvgPoolGrad", "cpu")?.kernelFunc).toBe(cpuAvgPoolGrad);
  });

  it.each(cases)("on cpu and wasm: $name", (c) => {
    const outSize = sizeOf(tf.tidy(() => tf.avgPool(tf.zeros(c.x) as tf.Tensor4D, c.filterSize, c.strides, c.pad).shape));
    const dy = uniform(outSize);
    const want = adjointOfForward(c, dy);
    expect(maxRelativeError(avgPoolGradOn("cpu", c, dy), want)).toBeLessThan(1e-6);
    expect(maxRelativeError(avgPoolGradOn("wasm", c, dy), want)).toBeLessThan(1e-6);
  });

  it("why it replaces the stock kernel: tfjs 4.22's cpu AvgPoolGrad divides border windows by the full window", () => {
    // At a 1×1 map each 3×3 "same" window averages one pixel, so dx = dy; the stock kernel gives dy / 9.
    const dy = uniform(2 * 5);
    tf.setBackend("cpu");
    const stock = tf.tidy(() => {
      const info = tf.engine().backend;
      const result = stockCpuKernel({ inputs: { dy: tf.tensor(dy, [2, 1, 1, 5]), input: tf.zeros([2, 1, 1, 5]) }, backend: info, attrs: { filterSize: 3, strides: 1, pad: "same" } }) as tf.TensorInfo;
      return tf.engine().makeTensorFromTensorInfo(result).dataSync().slice();
    });
    expect(maxRelativeError(stock, dy.map((v) => v / 9))).toBeLessThan(1e-6);
    expect(maxRelativeError(avgPoolGradOn("cpu", cases[0]!, dy), dy)).toBeLessThan(1e-6);
  });
});
