import * as tf from "@tensorflow/tfjs-core";
import { conv2DBackpropFilter } from "./conv2d-backprop-filter.js";
import { conv2DBackpropInput } from "./conv2d-backprop-input.js";
import { depthwiseConv2dBackpropFilter, depthwiseConv2dBackpropInput } from "./depthwise-backprop.js";
import { avgPoolGrad, maxPoolGrad } from "./pool-grad.js";

/**
 * Kernels @ft/core adds to (or replaces in) tfjs-backend-wasm so that CNNs train on it:
 * the missing weight gradients, and gradients whose stock version is a slow loop.
 */
const TRAINING_KERNELS: ReadonlyArray<{ kernelName: string; kernelFunc: tf.KernelFunc; replaces: boolean }> = [
  { kernelName: "Conv2DBackpropFilter", kernelFunc: conv2DBackpropFilter, replaces: false },
  { kernelName: "Conv2DBackpropInput", kernelFunc: conv2DBackpropInput, replaces: true },
  { kernelName: "DepthwiseConv2dNativeBackpropFilter", kernelFunc: depthwiseConv2dBackpropFilter, replaces: false },
  { kernelName: "DepthwiseConv2dNativeBackpropInput", kernelFunc: depthwiseConv2dBackpropInput, replaces: false },
  { kernelName: "MaxPoolGrad", kernelFunc: maxPoolGrad, replaces: true },
  { kernelName: "AvgPoolGrad", kernelFunc: avgPoolGrad, replaces: true },
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

const stockKernels = new Map<string, tf.KernelConfig>();

/**
 * Registers the training kernels on tfjs' `wasm` backend (idempotent). Call it after
 * `@tensorflow/tfjs-backend-wasm` has been imported, which registers the stock kernels that some of
 * these replace; `selectBackend` does this when it picks wasm. Returns the kernel names.
 */
export function registerWasmTrainingKernels(options: WasmTrainingOptions = {}): readonly string[] {
  if (!tf.getKernel("Conv2D", "wasm")) {
    throw new Error("registerWasmTrainingKernels: import @tensorflow/tfjs-backend-wasm first (no wasm kernels are registered)");
  }
  for (const { kernelName, kernelFunc } of TRAINING_KERNELS) {
    const existing = tf.getKernel(kernelName, "wasm");
    if (existing?.kernelFunc === kernelFunc) continue;
    if (existing) {
      stockKernels.set(kernelName, existing);
      tf.unregisterKernel(kernelName, "wasm");
    }
    tf.registerKernel({ kernelName, backendName: "wasm", kernelFunc });
  }
  return WASM_TRAINING_KERNELS;
}

/** The kernel tfjs-backend-wasm itself registered under `kernelName` before we replaced it (benchmarks, tests). */
export function stockWasmKernel(kernelName: string): tf.KernelConfig | undefined {
  return stockKernels.get(kernelName);
}
