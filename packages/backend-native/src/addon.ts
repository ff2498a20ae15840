import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

/** How a user builds the addon; repeated in every "not available" message. */
export const BUILD_HINT = "run `pnpm --filter @ft/backend-native build:native` (needs g++ and `apt-get install libdnnl-dev`)";

/**
 * The functions of the compiled addon (native/*.cc). Every function checks the lengths of its
 * typed arrays against the shapes it is given and throws an Error on a mismatch.
 * Activations are NHWC, filters HWIO; outputs are written into caller-allocated arrays.
 */
export interface NativeAddon {
  info(): { onednn: string; threads: number; loopThreads: number; cpuIsa: number };
  /** geometry: [strideH, strideW, dilationH, dilationW, padTop, padBottom, padLeft, padRight, outH, outW]. */
  conv2d(x: Float32Array, xShape: number[], filterShape: number[], geometry: number[], filter: Float32Array,
    bias: Float32Array | null, y: Float32Array, relu: boolean, weightsId: number): void;
  conv2dBackpropInput(dy: Float32Array, xShape: number[], filterShape: number[], geometry: number[], filter: Float32Array,
    dx: Float32Array, weightsId: number): void;
  conv2dBackpropFilter(x: Float32Array, xShape: number[], filterShape: number[], geometry: number[], dy: Float32Array,
    dw: Float32Array): void;
  clearConvCaches(): void;
  convCacheSize(): number;
  /** Shapes are [batch, rows, cols]; a batch of 1 broadcasts. bias has the output's last dimension. */
  batchMatMul(a: Float32Array, aShape: number[], b: Float32Array, bShape: number[], transposeA: boolean, transposeB: boolean,
    out: Float32Array, bias: Float32Array | null, relu: boolean): void;
  /**
   * geometry: [filterH, filterW, strideH, strideW, padTop, padLeft, outH, outW]. argmax, when given,
   * receives each output's source index in x (its first strict maximum; -1 if none).
   */
  maxPool(x: Float32Array, xShape: number[], geometry: number[], y: Float32Array, argmax?: Int32Array | null): void;
  avgPool(x: Float32Array, xShape: number[], geometry: number[], y: Float32Array): void;
  maxPoolGrad(dy: Float32Array, xShape: number[], geometry: number[], x: Float32Array, dx: Float32Array): void;
  /** maxPoolGrad with the argmax that maxPool recorded for the same x and geometry. */
  maxPoolGradFromArgmax(dy: Float32Array, xShape: number[], geometry: number[], argmax: Int32Array, dx: Float32Array): void;
  avgPoolGrad(dy: Float32Array, xShape: number[], geometry: number[], dx: Float32Array): void;
  batchNorm(x: Float32Array, mean: Float32Array, variance: Float32Array, offset: Float32Array | null, scale: Float32Array | null,
    epsilon: number, out: Float32Array): void;
  /**
   * Training-mode BatchNorm over x = [rows, channels]: mean and biased variance of each channel, and
   * y = (x − mean)·scale/√(variance + epsilon) + offset.
   */
  batchNormTraining(x: Float32Array, channels: number, scale: Float32Array, offset: Float32Array, epsilon: number,
    y: Float32Array, mean: Float32Array, variance: Float32Array): void;
  /**
   * Its gradient through x (batch statistics included), scale and offset, given the gradients of y, mean
   * and variance; channels = mean.length. dxSums, when given, receives dx summed per channel.
   */
  batchNormTrainingGrad(dy: Float32Array, x: Float32Array, mean: Float32Array, variance: Float32Array, scale: Float32Array,
    dMean: Float32Array, dVariance: Float32Array, epsilon: number, dx: Float32Array, dScale: Float32Array, dOffset: Float32Array,
    dxSums?: Float32Array | null): void;
  /** op: 0 Add, 1 Sub, 2 Mul, 3 Div, 4 Max, 5 Min, 6 SquaredDifference, 7 dy·step(x), 8 dy·2x; shapes of equal rank broadcasting to outShape. */
  binary(op: number, a: Float32Array, aShape: number[], b: Float32Array, bShape: number[], out: Float32Array, outShape: number[]): void;
  /** op: 0 Relu, 1 Step (alpha below 0), 2 Square, 3 Neg, 4 Sqrt, 5 Rsqrt, 6 Exp, 7 Log, 8 Abs, 9 Relu6. */
  unary(op: number, x: Float32Array, out: Float32Array, alpha: number): void;
  /** out[o, i] = sum (or mean) over r of x[o, r, i], shape [outer, length, inner]. */
  reduce(x: Float32Array, shape: number[], out: Float32Array, mean: boolean): void;
  softmax(x: Float32Array, shape: number[], out: Float32Array): void;
  /** out[c] = sum over rows of dy[r, c] * (x[r, c] - mean[c]). */
  centeredDot(x: Float32Array, mean: Float32Array, dy: Float32Array, out: Float32Array): void;
  /** Concatenation: output row o is each input's row o in turn; input i has outer × inners[i] elements. */
  concat(inputs: Float32Array[], inners: number[], outer: number, out: Float32Array): void;
  tile(x: Float32Array, xShape: number[], reps: number[], out: Float32Array): void;
  /** Constant padding: out has shape xShape[k] + before[k] + after[k]. */
  pad(x: Float32Array, xShape: number[], before: number[], after: number[], value: number, out: Float32Array): void;
  /** out = x[begin[k] : begin[k] + size[k]] along every axis k. */
  slice(x: Float32Array, xShape: number[], begin: number[], size: number[], out: Float32Array): void;
  /** Keras-1 SGD: v' = momentum·v − lr·g; p' = p + momentum·v' − lr·g (Nesterov) or p + v'. */
  sgdUpdate(param: Float32Array, velocity: Float32Array, grad: Float32Array, lr: number, momentum: number, nesterov: boolean,
    nextParam: Float32Array, nextVelocity: Float32Array): void;
  /** Keras-1 Adam: m' = β1·m + (1−β1)·g; v' = β2·v + (1−β2)·g²; p' = p − lrCorrected·m' / (√v' + ε). */
  adamUpdate(param: Float32Array, m: Float32Array, v: Float32Array, grad: Float32Array, lrCorrected: number, beta1: number,
    oneMinusBeta1: number, beta2: number, oneMinusBeta2: number, epsilon: number, nextParam: Float32Array, nextM: Float32Array, nextV: Float32Array): void;
}

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), "..");
/** Where `node-gyp rebuild` puts the addon (the same from src/ and dist/). */
export const ADDON_PATH = join(packageRoot, "build", "Release", "ft_native.node");

let cached: NativeAddon | undefined;

/**
 * Loads the compiled addon, or throws an Error whose first line says why it is unavailable and how
 * to get it (not built, oneDNN's shared library missing, or built for another Node ABI).
 */
export function loadNativeAddon(): NativeAddon {
  if (cached) return cached;
  if (!existsSync(ADDON_PATH)) throw new Error(`the native addon is not built: ${BUILD_HINT}`);
  try {
    cached = createRequire(import.meta.url)(ADDON_PATH) as NativeAddon;
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if (/libdnnl/.test(message)) {
      throw new Error(`oneDNN's shared library (libdnnl.so.2) is missing: apt-get install libdnnl2 (or libdnnl-dev) (${message.split("\n")[0]})`);
    }
    if (/NODE_MODULE_VERSION|was compiled against a different Node/.test(message)) {
      throw new Error(`the native addon was built for another Node.js version: ${BUILD_HINT}`);
    }
    throw new Error(`the native addon failed to load (${message.split("\n")[0]}): ${BUILD_HINT}`);
  }
  return cached;
}
