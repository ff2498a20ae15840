import * as tf from "@tensorflow/tfjs-core";
import { BATCH_NORM_TRAINING, BATCH_NORM_TRAINING_GRAD, type BatchNormTrainingAttrs } from "../backend/contract.js";
import { checkPerChannel, onePassGradient } from "./per-channel.js";

/*
 * Training-mode BatchNorm as one kernel (backend/contract.ts), for engines that implement it (ft-native
 * does), and its gradient, registered here for every engine: with tfjs's own ops (moments, then
 * batchNorm) a training BN is a dozen full-size passes backward, which cost more than the convolutions
 * on a native engine.
 */
tf.registerGradient({
  kernelName: BATCH_NORM_TRAINING,
  inputsToSave: ["x", "scale"],
  outputsToSave: [false, true, true],
  gradFunc: (dys, saved, attrs) => {
    const [x, scale, mean, variance] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    // The engine hands zeros for outputs off the gradient path (the statistics, in ft's models);
    // the kernel folds their gradients into its per-channel coefficients at no cost.
    const [dy, dMean, dVariance] = (dys as Array<tf.Tensor | null>).map((d, i) => d ?? tf.zerosLike(i === 0 ? x : mean)) as [tf.Tensor, tf.Tensor, tf.Tensor];
    const backward = () => tf.engine().runKernel(BATCH_NORM_TRAINING_GRAD, { dy, x, mean, variance, scale, dMean, dVariance }, attrs) as tf.Tensor[];
    return onePassGradient(backward, { scale: scale.shape, offset: scale.shape });
  },
});

/** True when the active backend runs training-mode BatchNorm as one kernel. */
export function hasBatchNormTrainingKernel(): boolean {
  return tf.getKernel(BATCH_NORM_TRAINING, tf.getBackend()) !== undefined;
}

/**
 * Normalises `x` with its own batch statistics over every axis but the last, then scales and
 * shifts: the same values and gradients as tfjs-layers' training path (tf.moments + tf.batchNorm).
 * Needs `hasBatchNormTrainingKernel()`. Returns [y, mean, variance].
 */
export function batchNormTraining(x: tf.Tensor, scale: tf.Tensor, offset: tf.Tensor, varianceEpsilon: number): [tf.Tensor, tf.Tensor, tf.Tensor] {
  checkPerChannel("batchNormTraining", x, { scale, offset });
  return tf.engine().runKernel(BATCH_NORM_TRAINING, { x, scale, offset }, { varianceEpsilon } satisfies BatchNormTrainingAttrs) as unknown as [tf.Tensor, tf.Tensor, tf.Tensor];
}
