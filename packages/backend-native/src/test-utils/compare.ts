import * as tf from "@tensorflow/tfjs-core";
// The ESM entry of tfjs-core does not register gradients (tfjs-layers does, in the app).
import "@tensorflow/tfjs-core/dist/register_all_gradients";
import { loadNativeAddon } from "../addon.js";
import { registerNativeBackend } from "../backend.js";
import { failureOf, requirement } from "@ft/test-support/system";

/** Why the addon cannot be loaded, or undefined. */
const whyUnavailable = failureOf(() => {
  loadNativeAddon();
  registerNativeBackend();
});

/** True only when the addon is unavailable and FT_TEST_ALLOW_MISSING=1 lets its tests skip; otherwise they fail. */
export const nativeUnavailable = !requirement("the native engine (@ft/backend-native's addon)", whyUnavailable);

export const skipReason = nativeUnavailable ? ` (SKIPPED: ${whyUnavailable})` : "";

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
