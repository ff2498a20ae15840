import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";

/**
 * One SGD step (lr 0.05) of a 3-class fine-tuning model on a batch of 2 (labels 0 and 2), the loss summed
 * over every head as the seed does for GoogLeNet's three. Returns the loss before the step.
 */
export function seedSgdStep(model: tfl.LayersModel, input: tf.Tensor): number {
  const y = tf.cast(tf.oneHot(tf.tensor1d([0, 2], "int32"), 3), "float32");
  const optimizer = tf.train.sgd(0.05);
  const loss = optimizer.minimize(() => {
    const outputs = ([] as tf.Tensor[]).concat(model.apply(input, { training: true }) as tf.Tensor | tf.Tensor[]);
    return tf.addN(outputs.map((p) => tf.losses.softmaxCrossEntropy(y, tf.log(tf.add(p, 1e-7))))) as tf.Scalar;
  }, true)!;
  const value = loss.dataSync()[0]!;
  tf.dispose([y, loss]);
  optimizer.dispose();
  return value;
}
