import * as tf from "@tensorflow/tfjs-core";
// tfjs-layers registers tfjs-core's gradients when it is first evaluated (plain tfjs-core does not);
// importing it here makes that happen before `registerBatchNormGradient` overrides one of them, so
// the override cannot be undone by a later first import of tfjs-layers.
import "@tensorflow/tfjs-layers";
import { meanOverBlock } from "./reduce.js";
import { assertWasmBackend, heapView, release, runWasmKernel, withShape } from "./wasm-heap.js";

/** Name of the wasm kernel computing the two per-channel sums the gradient needs. */
export const BATCH_NORM_GRAD_STATS = "FtBatchNormGradStats";

/**
 * `FtBatchNormGradStats` on wasm: for channels-last `dy` and `x` ([..., C]) and `mean` [C],
 * `sum(dy)` and `sum(dy * (x - mean))` over every axis but the last, each [C]. Built from wasm's
 * broadcasting Sub and Multiply and an AvgPool over all rows (all SIMD, ~0.3 ns per element; a JS
 * loop over the heap took ~7).
 */
export const batchNormGradStats: tf.KernelFunc = ({ inputs, backend }) => {
  assertWasmBackend(backend);
  const { dy, x, mean } = inputs as { dy: tf.TensorInfo; x: tf.TensorInfo; mean: tf.TensorInfo };
  const C = x.shape[x.shape.length - 1]!;
  const rows = tf.util.sizeFromShape(x.shape) / C;
  const plan = { outer: 1, reduced: rows, inner: C, axes: Array.from({ length: x.shape.length - 1 }, (_, i) => i) };
  const sumOf = (t: tf.TensorInfo) => {
    const out = withShape(meanOverBlock(backend, t, plan), [C]);
    const values = heapView(backend, out);
    for (let c = 0; c < C; c++) values[c] *= rows;
    return out;
  };
  const centred = runWasmKernel(backend, "Sub", { a: x, b: mean }, {});
  const product = runWasmKernel(backend, "Multiply", { a: dy, b: centred }, {});
  release(backend, centred);
  const sumDyXc = sumOf(product);
  release(backend, product);
  return [sumOf(dy), sumDyXc];
};

/** `[sum(dy), sum(dy * (x - mean))]` over all axes but the last: one heap pass on wasm, tfjs ops elsewhere. */
function channelSums(dy: tf.Tensor, x: tf.Tensor, mean: tf.Tensor): [tf.Tensor, tf.Tensor] {
  if (tf.getBackend() === "wasm" && tf.getKernel(BATCH_NORM_GRAD_STATS, "wasm") && dy.dtype === "float32" && x.dtype === "float32" && mean.dtype === "float32") {
    return tf.engine().runKernel(BATCH_NORM_GRAD_STATS, { dy, x, mean }, {}) as unknown as [tf.Tensor, tf.Tensor];
  }
  const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
  return [tf.sum(dy, axes), tf.sum(tf.mul(dy, tf.sub(x, mean)), axes)];
}

let stockGradient: tf.GradConfig | undefined;

/**
 * Gradient of `FusedBatchNorm` (y = (x - mean) · rsqrt(variance + ε) · scale + offset) with
 * per-channel statistics on the last axis (mean, variance, scale, offset all [C]), which is what
 * tfjs-layers' BatchNormalization(axis -1) produces. With g = scale · rsqrt(variance + ε):
 * dx = dy · g, dmean = -g · Σdy, dvariance = -½ · g · rsqrt(variance + ε)² · Σdy(x - mean),
 * dscale = rsqrt(variance + ε) · Σdy(x - mean), doffset = Σdy.
 *
 * Porting note: tfjs-core's own gradient tiles rsqrt(variance) to the size of x and makes about ten
 * full-size intermediates; this one broadcasts and makes one (dx) plus two reductions. Any other
 * layout (mean of rank > 1) goes to tfjs-core's gradient.
 */
export const fusedBatchNormGradConfig: tf.GradConfig = {
  kernelName: "FusedBatchNorm",
  inputsToSave: ["x", "mean", "variance", "scale"],
  gradFunc: (dy, saved, attrs) => {
    const dyTensor = Array.isArray(dy) ? dy[0]! : dy;
    const [x, mean, variance, scale] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
    const C = x.shape[x.rank - 1];
    const perChannel = (t: tf.Tensor | undefined) => t === undefined || (t.rank === 1 && t.shape[0] === C);
    if (mean.rank !== 1 || mean.shape[0] !== C || !perChannel(variance) || !perChannel(scale)) {
      if (!stockGradient) throw new Error("FusedBatchNorm gradient: tfjs-core's gradient was not registered");
      return stockGradient.gradFunc(dy, saved, attrs);
    }
    const { varianceEpsilon } = attrs as unknown as tf.FusedBatchNormAttrs;
    // Computed here, not in the thunks: the engine runs each thunk in its own tidy.
    const rstd = tf.rsqrt(tf.add(variance, tf.scalar(varianceEpsilon)));
    const gain = scale === undefined ? rstd : tf.mul(scale, rstd);
    const [sumDy, sumDyXc] = channelSums(dyTensor, x, mean);
    return {
      x: () => tf.mul(dyTensor, gain),
      mean: () => tf.neg(tf.mul(gain, sumDy)),
      variance: () => tf.mul(tf.mul(gain, tf.mul(rstd, rstd)), tf.mul(sumDyXc, tf.scalar(-0.5))),
      scale: () => tf.mul(rstd, sumDyXc),
      offset: () => tf.clone(sumDy),
    };
  },
};

/**
 * Installs `fusedBatchNormGradConfig` in tfjs' (process-global) gradient registry once, keeping
 * tfjs-core's gradient for the layouts it does not handle. Idempotent; returns whether it changed
 * the registry. The gradient is backend-independent (tested against tfjs-core's on cpu); only its
 * reduction uses a wasm kernel when wasm is the active backend.
 */
export function registerBatchNormGradient(): boolean {
  const current = tf.getGradient("FusedBatchNorm");
  if (current === fusedBatchNormGradConfig) return false;
  if (!current) throw new Error("FusedBatchNorm has no gradient registered: import @tensorflow/tfjs-layers first");
  stockGradient = current;
  tf.registerGradient(fusedBatchNormGradConfig);
  return true;
}

/** tfjs-core's FusedBatchNorm gradient as it was before `registerBatchNormGradient` (tests, benchmarks). */
export function stockBatchNormGradient(): tf.GradConfig | undefined {
  return stockGradient ?? (tf.getGradient("FusedBatchNorm") === fusedBatchNormGradConfig ? undefined : tf.getGradient("FusedBatchNorm"));
}
