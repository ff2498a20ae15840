import * as tf from "@tensorflow/tfjs-core";
import type { backend_util, AvgPoolGradAttrs, KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";

/** The window geometry of an `AvgPoolGrad` or `MaxPoolGrad` call (its `input` is the forward pass's x). */
export function poolGradInfo(input: TensorInfo, attrs: AvgPoolGradAttrs & { dimRoundingMode?: "floor" | "round" | "ceil" }): backend_util.Conv2DInfo {
  return tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
}

/** One output position of a 2-D pool: its image, the offset of its row of dy, and its window clamped to the input. */
export type PoolWindowVisitor = (n: number, dyBase: number, hStart: number, hEnd: number, wStart: number, wEnd: number) => void;

/** Calls `visit` for every output position of the pool described by `info` (NHWC). */
export function forEachPoolWindow(info: backend_util.Conv2DInfo, visit: PoolWindowVisitor): void {
  const { batchSize, inHeight: inH, inWidth: inW, inChannels: C, outHeight: outH, outWidth: outW } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
  for (let n = 0; n < batchSize; n++) {
    for (let oh = 0; oh < outH; oh++) {
      const h0 = oh * sh - info.padInfo.top;
      for (let ow = 0; ow < outW; ow++) {
        const w0 = ow * sw - info.padInfo.left;
        visit(n, ((n * outH + oh) * outW + ow) * C, Math.max(0, h0), Math.min(inH, h0 + fh), Math.max(0, w0), Math.min(inW, w0 + fw));
      }
    }
  }
}

/**
 * The true gradient of AvgPool (NHWC): each window spreads its dy over the input pixels it averaged,
 * divided by their number. Writes every element of `dx`.
 *
 * Porting note: the forward AvgPool of tfjs (cpu and wasm) excludes padding from the mean, as
 * TensorFlow/Keras do, but the cpu AvgPoolGrad of tfjs 4.22 divides by the full window size,
 * so the border gradients of "same"-padded average pools (every Inception-V3/V4 block) are too small:
 * at a 1×1 map, 9× too small.
 */
export function spreadAvgPoolGradient(dy: Float32Array, dx: Float32Array, info: backend_util.Conv2DInfo): void {
  const { inHeight: inH, inWidth: inW, inChannels: C } = info;
  dx.fill(0);
  forEachPoolWindow(info, (n, dyBase, hStart, hEnd, wStart, wEnd) => {
    const count = (hEnd - hStart) * (wEnd - wStart);
    if (count <= 0) return;
    const scale = 1 / count;
    for (let ih = hStart; ih < hEnd; ih++) {
      for (let iw = wStart; iw < wEnd; iw++) {
        const base = ((n * inH + ih) * inW + iw) * C;
        for (let c = 0; c < C; c++) dx[base + c] += dy[dyBase + c]! * scale;
      }
    }
  });
}

/** `AvgPoolGrad` for tfjs' cpu backend (and backends that share its storage), replacing the stock one. */
export const cpuAvgPoolGrad: KernelFunc = ({ inputs, backend, attrs }) => {
  const cpu = backend as MathBackendCPU;
  const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
  const dyValues = cpu.data.get(dy.dataId).values as Float32Array;
  const dx = new Float32Array(input.shape.reduce((a, b) => a * b, 1));
  spreadAvgPoolGradient(dyValues, dx, poolGradInfo(input, attrs as unknown as AvgPoolGradAttrs));
  return cpu.makeTensorInfo(input.shape, "float32", dx);
};

/**
 * Replaces the cpu backend's `AvgPoolGrad` by `cpuAvgPoolGrad` (idempotent). Call it after
 * `@tensorflow/tfjs-backend-cpu` has been imported, which registers the stock kernel.
 */
export function registerCpuTrainingKernels(): void {
  const existing = tf.getKernel("AvgPoolGrad", "cpu");
  if (existing?.kernelFunc === cpuAvgPoolGrad) return;
  if (existing) tf.unregisterKernel("AvgPoolGrad", "cpu");
  tf.registerKernel({ kernelName: "AvgPoolGrad", backendName: "cpu", kernelFunc: cpuAvgPoolGrad });
}
