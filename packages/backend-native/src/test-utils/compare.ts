import * as tf from "@tensorflow/tfjs-core";
// The ESM entry of tfjs-core does not register gradients (tfjs-layers does, in the app).
import "@tensorflow/tfjs-core/dist/register_all_gradients";
import { loadNativeAddon } from "../addon.js";
import { registerNativeBackend } from "../backend.js";
import { requirement } from "../../../core/test-support/system.js";

/** Why the addon cannot be loaded, or undefined. */
const whyUnavailable: string | undefined = (() => {
  try {
    loadNativeAddon();
    registerNativeBackend();
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
})();

/** True only when the addon is unavailable and FT_TEST_ALLOW_MISSING=1 lets its tests skip; otherwise they fail. */
export const nativeUnavailable = !requirement("the native engine (@ft/backend-native's addon)", whyUnavailable);

export const skipReason = nativeUnavailable ? ` (SKIPPED: ${whyUnavailable})` : "";

let seed = 2024;
/** Deterministic uniform values in [-1, 1). */
export function random(n: number): Float32Array {
  return Float32Array.from({ length: n }, () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 31 - 1;
  });
}

export type Inputs = Record<string, [Float32Array, number[]]>;

/** Runs one kernel on a backend with fresh tensors; returns its values and shape. */
export function runKernelOn(backend: string, kernelName: string, inputs: Inputs, attrs: object) {
  tf.setBackend(backend);
  return tf.tidy(() => {
    const tensors = Object.fromEntries(Object.entries(inputs).map(([k, [v, s]]) => [k, tf.tensor(v, s)]));
    const out = tf.engine().runKernel(kernelName, tensors, attrs as tf.NamedAttrMap) as tf.Tensor;
    return { values: out.dataSync().slice() as Float32Array, shape: out.shape };
  });
}

/** max |a - b| / max |b|: relative to the result's scale, so near-zero entries do not blow it up. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return scale === 0 ? diff : diff / scale;
}

/** Runs `fn` (returning tensors) on cpu and on ft-native; returns both results as plain arrays. */
export function onBoth(fn: () => tf.Tensor | tf.Tensor[]): { cpu: Float32Array[]; native: Float32Array[]; shapes: number[][] } {
  const run = (backend: string) => {
    tf.setBackend(backend);
    return tf.tidy(() => {
      const out = fn();
      const list = Array.isArray(out) ? out : [out];
      return { values: list.map((t) => t.dataSync().slice() as Float32Array), shapes: list.map((t) => t.shape) };
    });
  };
  const cpu = run("cpu");
  const native = run("ft-native");
  return { cpu: cpu.values, native: native.values, shapes: native.shapes };
}
