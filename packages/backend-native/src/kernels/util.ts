import * as tf from "@tensorflow/tfjs-core";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import type { NativeAddon } from "../addon.js";
import { NativeBackendCPU } from "../native-backend.js";

/** Name of the tfjs backend this package registers. */
export const NATIVE_BACKEND = "ft-native";

/** ft-native-only kernel: out[c] = Σ dy·(x − mean[c]) over all but the last axis (BatchNorm's gradient). */
export const CENTERED_DOT = "FtCenteredDot";
/** ft-native-only kernels {a: dy, b: x} → dy·step(x) and dy·2x in one pass (Relu's and Square's gradients). */
export const RELU_GRAD = "FtReluGrad";
export const SQUARE_GRAD = "FtSquareGrad";

/** Everything a native kernel needs: the addon and the cpu kernel it falls back to. */
export interface KernelContext {
  addon: NativeAddon;
  /** The pure-JS kernel of the same name (cpu backend), for cases the addon does not cover. */
  fallback(kernelName: string): tf.KernelFunc;
}

/**
 * The float32 values of a tensor on the ft-native backend, zero-copy (the cpu backend's own array),
 * or undefined when it is not a float32 array (the caller then falls back to the cpu kernel).
 */
export function f32(backend: MathBackendCPU, t: tf.TensorInfo): Float32Array | undefined {
  if (t.dtype !== "float32") return undefined;
  const values = backend.data.get(t.dataId).values;
  return values instanceof Float32Array ? values : undefined;
}

/**
 * An output array for a native kernel that writes every element: from the backend's pool when it
 * is ft-native's backend (contents undefined), else a fresh zeroed array.
 */
export function allocateOutput(backend: MathBackendCPU, length: number): Float32Array {
  const pooled = backend as MathBackendCPU & { allocate?: (n: number) => Float32Array };
  return pooled.allocate ? pooled.allocate(length) : new Float32Array(length);
}

type KernelArgs = Parameters<tf.KernelFunc>[0];

/**
 * One kernel of ft-native: `compute` runs it on the addon, or returns undefined for a case the addon does
 * not cover (another dtype, an empty tensor, a layout it does not take), which the cpu kernel of the same
 * name then runs. `fallback` replaces that cpu kernel for ft-native's own kernels, which have none.
 */
export function nativeKernel(ctx: KernelContext, kernelName: string, compute: (args: KernelArgs, backend: MathBackendCPU) => tf.TensorInfo | tf.TensorInfo[] | undefined,
  fallback: tf.KernelFunc = ctx.fallback(kernelName)): tf.KernelConfig {
  return { kernelName, backendName: "", kernelFunc: (args) => compute(args, args.backend as MathBackendCPU) ?? fallback(args) };
}

/** A float32 output of `shape` that `write` fills completely (from the pool, see allocateOutput). */
export function writeOutput(backend: MathBackendCPU, shape: readonly number[], write: (out: Float32Array) => void): tf.TensorInfo {
  const out = allocateOutput(backend, sizeOf(shape));
  write(out);
  return backend.makeTensorInfo(shape as number[], "float32", out);
}

/** The backend as ft-native's (deferred outputs, side values), or undefined for a plain cpu backend. */
export function nativeBackend(backend: MathBackendCPU): NativeBackendCPU | undefined {
  return backend instanceof NativeBackendCPU ? backend : undefined;
}

/**
 * Side-value key (see NativeBackendCPU.attach): a tensor's sums over all axes but the last, kept by
 * the kernel that wrote it, for Sum.
 */
export const CHANNEL_SUMS = "channelSums";

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

const weightIds = new WeakMap<object, number>();
let nextWeightId = 1;

/**
 * A number naming a tensor's data for the addon's filter cache: the values behind a dataId change only
 * through {@link overwritable}, which forgets the id, so the same id means the reordered filter from the
 * last call is still valid.
 */
export function weightsId(t: tf.TensorInfo): number {
  let id = weightIds.get(t.dataId);
  if (id === undefined) {
    id = nextWeightId++;
    weightIds.set(t.dataId, id);
  }
  return id;
}

/**
 * The values of input `t` for an elementwise kernel to overwrite, where no one else can see the change
 * (see NativeBackendCPU.overwritable); the kernel then returns {@link sameData}. Forgets the weights
 * id, so caches keyed on it see new contents.
 */
export function overwritable(backend: MathBackendCPU, t: tf.TensorInfo): Float32Array | undefined {
  const values = t.dtype === "float32" ? nativeBackend(backend)?.overwritable(t.dataId) : undefined;
  if (values) weightIds.delete(t.dataId);
  return values;
}

/** An output sharing the data of input `t` (a kernel that wrote into it in place). */
export function sameData(backend: MathBackendCPU, t: tf.TensorInfo): tf.TensorInfo {
  backend.incRef(t.dataId);
  return { dataId: t.dataId, shape: t.shape, dtype: t.dtype };
}

/** True when `bias` broadcasts as a vector along the last axis of length `channels` (shape [C], [1,C], [1,1,1,C]...). */
export function isChannelVector(bias: tf.TensorInfo, channels: number): boolean {
  return bias.shape.length >= 1 && bias.shape[bias.shape.length - 1] === channels && sizeOf(bias.shape) === channels;
}
