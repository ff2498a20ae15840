import * as tf from "@tensorflow/tfjs-core";
import { CENTERED_DOT, NATIVE_BACKEND, RELU_GRAD, SQUARE_GRAD } from "./kernels/util.js";

/** Returns gradient thunks, or undefined to use the stock gradient. */
type NativeGradFunc = (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => Record<string, () => tf.Tensor> | undefined;

/**
 * On ft-native, BatchNorm's backward pass is dominated by full-size elementwise passes that the
 * stock tfjs gradients create (tiling, multiplying by a tensor of ones, centring). These
 * replacements compute the same values in fewer passes, on ft-native only: everywhere else, and
 * for layouts they do not cover, they call the gradient they replaced, so other backends are
 * unaffected. Gradients are global in tfjs, so this runs lazily (from ft-native's forward kernels),
 * after whatever registered the stock ones (tfjs-layers does).
 */
const NATIVE_GRADIENTS: Record<string, NativeGradFunc> = {
  /** 5 passes over the activations instead of 14, for NHWC x with per-channel parameters. */
  FusedBatchNorm: (dy, saved, attrs) => {
    const [x, mean, variance, scale] = saved as Array<tf.Tensor | undefined>;
    const channels = mean?.shape[0];
    const fits = !Array.isArray(dy) && x?.rank === 4 && mean?.rank === 1 && x.shape[3] === channels && variance?.rank === 1 &&
      variance.shape[0] === channels && (scale == null || (scale.rank === 1 && scale.shape[0] === channels)) &&
      [dy, x, mean, variance, scale].every((t) => t == null || (t as tf.Tensor).dtype === "float32");
    if (!fits) return undefined;
    const g = dy as tf.Tensor;
    const eps = (attrs as { varianceEpsilon: number }).varianceEpsilon;
    const rsqrt = tf.rsqrt(tf.add(variance!, tf.scalar(eps)));
    const rsqrtTimesScale = scale == null ? rsqrt : tf.mul(rsqrt, scale);
    const centered = () => tf.engine().runKernel(CENTERED_DOT, { x: x!, mean: mean!, dy: g }, {}) as tf.Tensor;
    return {
      x: () => tf.mul(g, rsqrtTimesScale),
      mean: () => tf.mul(tf.neg(rsqrtTimesScale), tf.sum(g, [0, 1, 2])),
      variance: () => tf.mul(tf.mul(tf.mul(rsqrtTimesScale, tf.mul(rsqrt, rsqrt)), tf.scalar(-0.5)), centered()),
      scale: () => tf.mul(rsqrt, centered()),
      offset: () => tf.sum(g, [0, 1, 2]),
    };
  },
  /** dy / n tiled over the reduced axes: 1 pass instead of 3 (fill ones, multiply, divide). */
  Mean: (dy, saved, attrs) => {
    const [x] = saved;
    if (Array.isArray(dy) || !x || x.dtype !== "float32" || dy.dtype !== "float32") return undefined;
    const axes = tf.util.parseAxisParam((attrs as { axis: number | number[] }).axis, x.shape);
    const expanded = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const reduceSize = axes.reduce((n, i) => n * x.shape[i]!, 1);
    return {
      x: () => tf.tile(tf.reshape(tf.div(dy, tf.scalar(reduceSize)), expanded), x.shape.map((d, i) => (axes.includes(i) ? d : 1))),
    };
  },
  /** dy·2x in 1 pass instead of 2. */
  Square: (dy, saved) => oneInputGradient(SQUARE_GRAD, dy, saved),
};

function oneInputGradient(kernelName: string, dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) {
  const [x] = saved;
  if (Array.isArray(dy) || !x || x.dtype !== "float32" || dy.dtype !== "float32" || x.size === 0 || !tf.util.arraysEqual(x.shape, dy.shape)) {
    return undefined;
  }
  return { x: () => tf.engine().runKernel(kernelName, { a: dy, b: x }, {}) as tf.Tensor };
}

/**
 * Relu's gradient from its output instead of its input (relu(x) > 0 exactly where x > 0, so dy·step(y)
 * is the same value): the tape then keeps the activation the next layer keeps anyway, and the
 * pre-activation (a convolution's output plus bias, one per layer) is freed with its layer; on VGG-19 at
 * batch 16 that is half of the saved activations. One pass (FtReluGrad) on ft-native.
 */
const RELU_FROM_OUTPUT: tf.GradConfig = {
  kernelName: "Relu",
  outputsToSave: [true],
  gradFunc: (dy, saved) =>
    (tf.getBackend() === NATIVE_BACKEND ? oneInputGradient(RELU_GRAD, dy, saved) : undefined) ??
    { x: () => tf.mul(dy as tf.Tensor, tf.cast(tf.step(saved[0]!), "float32")) },
};

const installed = new Map<string, tf.GradConfig>();

/** Wraps the current gradients of the kernels above (idempotent; re-wraps if something replaced ours). */
export function installNativeGradients(): void {
  if (tf.getGradient("Relu") !== RELU_FROM_OUTPUT) tf.registerGradient(RELU_FROM_OUTPUT);
  for (const [kernelName, nativeGrad] of Object.entries(NATIVE_GRADIENTS)) {
    const current = tf.getGradient(kernelName);
    if (!current || current === installed.get(kernelName)) continue;
    const stock = current;
    const config: tf.GradConfig = {
      ...stock,
      gradFunc: (dy, saved, attrs) =>
        (tf.getBackend() === NATIVE_BACKEND ? nativeGrad(dy, saved, attrs) : undefined) ?? stock.gradFunc(dy, saved, attrs),
    };
    tf.registerGradient(config);
    installed.set(kernelName, config);
  }
}
