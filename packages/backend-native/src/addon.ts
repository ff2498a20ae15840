import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { ADDON_FILE, platformPackageName, platformTag } from "../scripts/platform.mjs";

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), "..");
/** True in a clone of the ft repository (sources beside dist), false in an installed package. */
const inRepository = existsSync(join(packageRoot, "src", "addon.ts"));
/** Platforms with a prebuilt package on the registry. */
const PREBUILT_PLATFORMS = ["linux-x64-gnu"];

/** The one command that gives this machine the native engine; repeated in every "not available" message. */
export const BUILD_HINT = inRepository
  ? "run `bash scripts/setup.sh` at the repository root (installs oneDNN and a compiler with apt-get, then builds the addon)"
  : PREBUILT_PLATFORMS.includes(platformTag())
    ? `npm install ${platformPackageName()} (the prebuilt engine; it is an optional dependency that was not installed)`
    : `apt-get install libdnnl-dev g++ make, then node node_modules/@ft/backend-native/scripts/build-native.mjs (no prebuilt engine for ${platformTag()})`;

/**
 * The functions of the compiled addon (native/*.cc). Every function checks the lengths of its
 * typed arrays against the shapes it is given and throws an Error on a mismatch.
 * Activations are NHWC, filters HWIO; outputs are written into caller-allocated arrays.
 */
/** The names of the addon's functions (what a test may spy on). */
export type NativeAddonFunction = { [K in keyof NativeAddon]: NativeAddon[K] extends (...args: never[]) => unknown ? K : never }[keyof NativeAddon];

export interface NativeAddon {
  /** `sanitizer`: `asan` or `tsan` in a build of scripts/build-sanitized.mjs. */
  info(): { onednn: string; threads: number; loopThreads: number; cpuIsa: number; sanitizer?: "asan" | "tsan" };
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
  /** Caffe's Scale: y = x·scale + offset per channel of x = [rows, channels], channels = scale.length. */
  channelAffine(x: Float32Array, scale: Float32Array, offset: Float32Array, y: Float32Array): void;
  /** Its gradient: dx = dy·scale, dScale = Σ dy·x, dOffset = Σ dy per channel. */
  channelAffineGrad(dy: Float32Array, x: Float32Array, scale: Float32Array, dx: Float32Array, dScale: Float32Array, dOffset: Float32Array): void;
  /** The op codes of `binary` by the tfjs kernel each implements (FtReluGrad: dy·step(x), FtSquareGrad: dy·2x). */
  binaryOps: Readonly<Record<string, number>>;
  /** The op codes of `unary` by the tfjs kernel each implements. */
  unaryOps: Readonly<Record<string, number>>;
  /** op: one of `binaryOps`; shapes of equal rank broadcasting to outShape. */
  binary(op: number, a: Float32Array, aShape: number[], b: Float32Array, bShape: number[], out: Float32Array, outShape: number[]): void;
  /** op: one of `unaryOps` (Step: alpha below 0). */
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

/**
 * Where `node-gyp rebuild` in native/ puts the addon (the same from src/ and dist/). binding.gyp is not
 * at the package root, where npm and pnpm would take it as an install script and try to build.
 */
export const ADDON_PATH = join(packageRoot, "native", "build", "Release", ADDON_FILE);

let cached: NativeAddon | undefined;

/**
 * Loads the compiled addon: the file named by `FT_NATIVE_ADDON` if set (a sanitizer build, say), else
 * the prebuilt platform package (which carries oneDNN beside the addon), else the local build. Throws
 * an Error whose first line says why none loaded and how to get one.
 */
export function loadNativeAddon(): NativeAddon {
  if (cached) return cached;
  const failures: string[] = [];
  for (const candidate of addonCandidates()) {
    if (!candidate.path) {
      failures.push(candidate.absent);
      continue;
    }
    try {
      cached = createRequire(import.meta.url)(candidate.path) as NativeAddon;
      return cached;
    } catch (e) {
      failures.push(`${candidate.name} did not load (${loadFailure(e)})`);
    }
  }
  throw new Error(`the native engine is unavailable: ${failures.join("; ")}. Fix: ${BUILD_HINT}`);
}

interface AddonCandidate {
  name: string;
  /** The addon file, when it exists. */
  path?: string;
  /** Why there is none, when it does not. */
  absent: string;
}

/** The addon files in the order they are tried. */
function addonCandidates(): AddonCandidate[] {
  const existing = (path: string | undefined) => (path && existsSync(path) ? path : undefined);
  const override = process.env.FT_NATIVE_ADDON;
  if (override) return [{ name: `FT_NATIVE_ADDON=${override}`, path: existing(override), absent: `FT_NATIVE_ADDON=${override} does not exist` }];
  let prebuilt: string | undefined;
  try {
    prebuilt = join(dirname(createRequire(import.meta.url).resolve(`${platformPackageName()}/package.json`)), ADDON_FILE);
  } catch {
    prebuilt = undefined;
  }
  return [
    { name: `the prebuilt ${platformPackageName()}`, path: existing(prebuilt), absent: `no prebuilt ${platformPackageName()} installed` },
    { name: "the local build", path: existing(ADDON_PATH), absent: "no local build (native/build/Release)" },
  ];
}

function loadFailure(e: unknown): string {
  const message = (e instanceof Error ? e.message : String(e)).split("\n")[0]!;
  if (/libdnnl/.test(message)) return `oneDNN's shared library libdnnl.so.2 is missing: ${message}`;
  if (/NODE_MODULE_VERSION|was compiled against a different Node/.test(message)) return `built for another Node.js version: ${message}`;
  return message;
}
