import * as tf from "@tensorflow/tfjs-core";

/**
 * The kernel contract between ft and the engines it trains on, in one place.
 *
 * - {@link TRAINING_KERNELS}: the stock tfjs kernels that training the registered architectures runs
 *   (forward, backward, loss, metrics, the trainer's checks). An engine without one of them fails in
 *   the middle of a step; {@link missingTrainingKernels} says which before the first. The list is
 *   measured, not guessed: apps/cli's every-model test records the kernels of a training step of every
 *   architecture on wasm and on ft-native and fails on any kernel not listed here or not registered.
 * - {@link FT_KERNELS}: the kernels ft defines itself, with their inputs, outputs and attributes. An
 *   engine may provide them (ft-native does); core runs one only where the active engine registers it
 *   and uses tfjs ops otherwise. Their gradients live beside the op that runs them
 *   (layers/batch-norm-training.ts, layers/channel-affine.ts), so every engine gets the same ones.
 *
 * Attributes of the stock kernels are tfjs's own types (`tf.Conv2DAttrs`, …); ft's are below.
 */

/** Training-mode BatchNorm as one kernel: y and the batch statistics over all axes but the last. */
export const BATCH_NORM_TRAINING = "FtBatchNormTraining";
/** The gradient of {@link BATCH_NORM_TRAINING}, the statistics' own gradients folded in. */
export const BATCH_NORM_TRAINING_GRAD = "FtBatchNormTrainingGrad";
/** Attributes of both BatchNorm kernels. */
export interface BatchNormTrainingAttrs {
  varianceEpsilon: number;
}

/** Caffe's Scale layer as one kernel: y = x·scale + offset per channel of channels-last x. */
export const CHANNEL_AFFINE = "FtChannelAffine";
/** The gradient of {@link CHANNEL_AFFINE} in one pass. */
export const CHANNEL_AFFINE_GRAD = "FtChannelAffineGrad";

/** One Keras-1 SGD update of a parameter in one pass (tfjs needs six to nine full-size ops). */
export const KERAS_SGD_UPDATE = "FtKerasSgdUpdate";
export interface KerasSgdUpdateAttrs {
  lr: number;
  momentum: number;
  nesterov: boolean;
}

/** One Keras-1 Adam update of a parameter in one pass; `lrCorrected` has the bias corrections folded in. */
export const KERAS_ADAM_UPDATE = "FtKerasAdamUpdate";
export interface KerasAdamUpdateAttrs {
  lrCorrected: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

/** Named inputs and outputs (in order) and attributes of a kernel, and what it computes. */
export interface KernelSignature {
  inputs: readonly string[];
  outputs: readonly string[];
  attrs: readonly string[];
  computes: string;
}

export const FT_KERNELS: Readonly<Record<string, KernelSignature>> = {
  [BATCH_NORM_TRAINING]: {
    inputs: ["x", "scale", "offset"],
    outputs: ["y", "mean", "variance"],
    attrs: ["varianceEpsilon"],
    computes: "x channels last, scale and offset of length C; mean and biased variance over all axes but the last, as tf.moments",
  },
  [BATCH_NORM_TRAINING_GRAD]: {
    inputs: ["dy", "x", "mean", "variance", "scale", "dMean", "dVariance"],
    outputs: ["dx", "dScale", "dOffset"],
    attrs: ["varianceEpsilon"],
    computes: "the gradient of FtBatchNormTraining; dMean and dVariance are the gradients of its statistics outputs",
  },
  [CHANNEL_AFFINE]: {
    inputs: ["x", "scale", "offset"],
    outputs: ["y"],
    attrs: [],
    computes: "x channels last, scale and offset of length C; y = x·scale + offset",
  },
  [CHANNEL_AFFINE_GRAD]: {
    inputs: ["dy", "x", "scale"],
    outputs: ["dx", "dScale", "dOffset"],
    attrs: [],
    computes: "the gradient of FtChannelAffine: dx = dy·scale, dScale = Σ dy·x and dOffset = Σ dy over all axes but the last",
  },
  [KERAS_SGD_UPDATE]: {
    inputs: ["param", "velocity", "grad"],
    outputs: ["param", "velocity"],
    attrs: ["lr", "momentum", "nesterov"],
    computes: "v = momentum·v − lr·g; param + v, or param + momentum·v − lr·g with Nesterov (Keras 1)",
  },
  [KERAS_ADAM_UPDATE]: {
    inputs: ["param", "m", "v", "grad"],
    outputs: ["param", "m", "v"],
    attrs: ["lrCorrected", "beta1", "beta2", "epsilon"],
    computes: "m, v = moving averages of g and g²; param − lrCorrected·m / (√v + epsilon) (Keras 1)",
  },
};

/** Stock tfjs kernels that a training run of the registered architectures runs (see above), sorted. */
export const TRAINING_KERNELS: readonly string[] = [
  "Add", "AddN", "ArgMax", "AvgPool", "AvgPoolGrad", "BatchMatMul", "Cast", "ClipByValue", "Concat",
  "Conv2D", "Conv2DBackpropFilter", "Conv2DBackpropInput", "Equal", "Floor", "FusedBatchNorm", "FusedConv2D",
  "GreaterEqual", "Identity", "LessEqual", "Log", "LogicalAnd", "MaxPool", "MaxPoolGrad", "Mean", "Multiply",
  "Neg", "Pack", "PadV2", "Pow", "RealDiv", "Relu", "Reshape", "Rsqrt", "Select", "Slice", "Softmax",
  "SplitV", "Square", "Step", "Sub", "Sum", "Tile", "ZerosLike", "_FusedMatMul",
];

/** The kernels of {@link TRAINING_KERNELS} that the tfjs backend `backendName` does not register. */
export function missingTrainingKernels(backendName: string): string[] {
  return TRAINING_KERNELS.filter((kernelName) => !tf.getKernel(kernelName, backendName));
}
