import * as tf from "@tensorflow/tfjs-core";
import { registerCpuTrainingKernels } from "@ft/core";
import { loadNativeAddon, type NativeAddon } from "./addon.js";
import { NativeBackendCPU } from "./native-backend.js";
import { batchNormKernels } from "./kernels/batchnorm.js";
import { conv2dKernels } from "./kernels/conv.js";
import { elementwiseKernels } from "./kernels/elementwise.js";
import { matMulKernels } from "./kernels/matmul.js";
import { optimizerKernels } from "./kernels/optimizer.js";
import { poolKernels } from "./kernels/pool.js";
import { NATIVE_BACKEND, type KernelContext } from "./kernels/util.js";

/** Kernels the addon runs; every other kernel of `ft-native` is the cpu backend's. */
export function nativeKernelConfigs(addon: NativeAddon): tf.KernelConfig[] {
  const ctx: KernelContext = {
    addon,
    fallback(kernelName) {
      const config = tf.getKernel(kernelName, "cpu");
      if (!config) throw new Error(`the cpu backend has no ${kernelName} kernel to fall back to`);
      return config.kernelFunc;
    },
  };
  return [...conv2dKernels(ctx), ...matMulKernels(ctx), ...poolKernels(ctx), ...batchNormKernels(ctx), ...elementwiseKernels(ctx),
    ...optimizerKernels(ctx)].map((c) => ({
    ...c,
    backendName: NATIVE_BACKEND,
  }));
}

let registered = false;

/**
 * Registers the `ft-native` tfjs backend: the cpu backend's storage and kernels, with the kernels
 * above replaced by the addon's. Throws (see `loadNativeAddon`) when the addon cannot be loaded.
 * Idempotent. Does not make it the active backend: call `tf.setBackend("ft-native")`.
 */
export function registerNativeBackend(): NativeAddon {
  const addon = loadNativeAddon();
  if (registered) return addon;
  // The fallbacks and shared kernels copied below are the cpu backend's, with @ft/core's corrections.
  registerCpuTrainingKernels();
  tf.registerBackend(NATIVE_BACKEND, () => new NativeBackendCPU(), 3);
  const native = nativeKernelConfigs(addon);
  const overridden = new Set(native.map((c) => c.kernelName));
  for (const config of tf.getKernelsForBackend("cpu")) {
    if (!overridden.has(config.kernelName)) tf.registerKernel({ ...config, backendName: NATIVE_BACKEND });
  }
  for (const config of native) tf.registerKernel(config);
  registered = true;
  return addon;
}

/** The kernels ft-native replaces with its own (the op codes, and so the elementwise kernels, come from the addon: it must load). */
export function nativeKernelNames(): string[] {
  return nativeKernelConfigs(loadNativeAddon()).map((c) => c.kernelName);
}
