import * as tf from "@tensorflow/tfjs-core";
import { conv2DBackpropFilter } from "./conv2d-backprop-filter.js";
import { conv2DBackpropInput } from "./conv2d-backprop-input.js";
import { depthwiseConv2dBackpropFilter, depthwiseConv2dBackpropInput } from "./depthwise-backprop.js";
import { avgPoolGrad, maxPoolGrad } from "./pool-grad.js";
import { BATCH_NORM_GRAD_STATS, batchNormGradStats, registerBatchNormGradient } from "./batchnorm-grad.js";
import { makeLeadingReduction } from "./reduce.js";

const stockKernels = new Map<string, tf.KernelConfig>();

/**
 * Kernels @ft/core adds to (or replaces in) tfjs-backend-wasm so that CNNs train on it:
 * the missing weight gradients, gradients whose stock version is a slow loop, the per-channel
 * sums of the BatchNorm gradient, and reductions the stock backend does through a transpose.
 */
const TRAINING_KERNELS: ReadonlyArray<{ kernelName: string; kernelFunc: tf.KernelFunc; replaces: boolean; group?: "elementwise" | "batchNorm" }> = [
  { kernelName: "Conv2DBackpropFilter", kernelFunc: conv2DBackpropFilter, replaces: false },
  { kernelName: "Conv2DBackpropInput", kernelFunc: conv2DBackpropInput, replaces: true },
  { kernelName: "DepthwiseConv2dNativeBackpropFilter", kernelFunc: depthwiseConv2dBackpropFilter, replaces: false },
  { kernelName: "DepthwiseConv2dNativeBackpropInput", kernelFunc: depthwiseConv2dBackpropInput, replaces: false },
  { kernelName: "MaxPoolGrad", kernelFunc: maxPoolGrad, replaces: true },
  { kernelName: "AvgPoolGrad", kernelFunc: avgPoolGrad, replaces: true },
  { kernelName: BATCH_NORM_GRAD_STATS, kernelFunc: batchNormGradStats, replaces: false, group: "batchNorm" },
  { kernelName: "Sum", kernelFunc: makeLeadingReduction("Sum", () => stockKernels.get("Sum")), replaces: true, group: "elementwise" },
  { kernelName: "Mean", kernelFunc: makeLeadingReduction("Mean", () => stockKernels.get("Mean")), replaces: true, group: "elementwise" },
];

/** Names of the kernels `registerWasmTrainingKernels` registers on the `wasm` backend. */
export const WASM_TRAINING_KERNELS: readonly string[] = TRAINING_KERNELS.map((k) => k.kernelName);

/** Parts of the training support that can be left out (benchmarks compare against the stock path). */
export interface WasmTrainingOptions {
  /** Replace tfjs-core's FusedBatchNorm gradient by one that does not tile (default true). */
  fusedBatchNormGradient?: boolean;
  /** Replace slow stock elementwise/reduction kernels (default true). */
  elementwise?: boolean;
}

/**
 * Registers the training kernels on tfjs' `wasm` backend (idempotent). Call it after
 * `@tensorflow/tfjs-backend-wasm` has been imported, which registers the stock kernels that some of
 * these replace; `selectBackend` does this when it picks wasm. Returns the kernel names.
 */
export function registerWasmTrainingKernels(options: WasmTrainingOptions = {}): readonly string[] {
  if (!tf.getKernel("Conv2D", "wasm")) {
    throw new Error("registerWasmTrainingKernels: import @tensorflow/tfjs-backend-wasm first (no wasm kernels are registered)");
  }
  const { fusedBatchNormGradient = true, elementwise = true } = options;
  for (const { kernelName, kernelFunc, group } of TRAINING_KERNELS) {
    if ((group === "batchNorm" && !fusedBatchNormGradient) || (group === "elementwise" && !elementwise)) continue;
    const existing = tf.getKernel(kernelName, "wasm");
    if (existing?.kernelFunc === kernelFunc) continue;
    if (existing) {
      stockKernels.set(kernelName, existing);
      tf.unregisterKernel(kernelName, "wasm");
    }
    tf.registerKernel({ kernelName, backendName: "wasm", kernelFunc });
  }
  if (fusedBatchNormGradient) registerBatchNormGradient();
  return WASM_TRAINING_KERNELS;
}

/** The kernel tfjs-backend-wasm itself registered under `kernelName` before we replaced it (benchmarks, tests). */
export function stockWasmKernel(kernelName: string): tf.KernelConfig | undefined {
  return stockKernels.get(kernelName);
}
