import * as tf from "@tensorflow/tfjs-core";
import { CHANNEL_AFFINE, CHANNEL_AFFINE_GRAD } from "../backend/contract.js";
import { checkPerChannel, onePassGradient } from "./per-channel.js";

/*
 * Caffe's Scale layer as one kernel (backend/contract.ts) where the engine has it (ft-native does), and
 * its gradient for every engine. Caffe-converted DenseNets run one after each of their 120 BatchNorms:
 * with tfjs's ops that is a Multiply and an Add forward and two Multiplies and two Sums backward, each
 * a full pass over the activation.
 */
tf.registerGradient({
  kernelName: CHANNEL_AFFINE,
  inputsToSave: ["x", "scale"],
  gradFunc: (dy, saved) => {
    const [x, scale] = saved as [tf.Tensor, tf.Tensor];
    const backward = () => tf.engine().runKernel(CHANNEL_AFFINE_GRAD, { dy: dy as tf.Tensor, x, scale }, {}) as tf.Tensor[];
    return onePassGradient(backward, { scale: scale.shape, offset: scale.shape });
  },
});

/** `x · scale + offset` per channel of `x` (its last axis); one kernel where the engine has it. */
export function channelAffine(x: tf.Tensor, scale: tf.Tensor, offset: tf.Tensor): tf.Tensor {
  checkPerChannel("channelAffine", x, { scale, offset });
  if (tf.getKernel(CHANNEL_AFFINE, tf.getBackend()) && x.dtype === "float32") {
    return tf.engine().runKernel(CHANNEL_AFFINE, { x, scale, offset }, {}) as tf.Tensor;
  }
  return tf.add(tf.mul(x, scale), offset);
}
