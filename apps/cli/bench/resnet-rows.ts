import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { getModel } from "@ft/core";
import "@ft/resnet";

/** Times `steps` calls of `step` after `warmup` untimed ones; each call is awaited until its data is on the host. */
export async function timeSteps(step: () => Promise<void>, warmup: number, steps: number): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await step();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    await step();
    times.push((performance.now() - t0) / 1000);
  }
  return times;
}

function randomBatch(batch: number, size: number): { x: tf.Tensor4D; y: tf.Tensor2D } {
  const x = tf.randomUniform([batch, size, size, 3], 0, 255) as tf.Tensor4D;
  const labels = tf.randomUniform([batch], 0, 1000, "int32") as tf.Tensor1D;
  const y = tf.cast(tf.oneHot(labels, 1000), "float32") as tf.Tensor2D;
  labels.dispose();
  return { x, y };
}

/** One ResNet-50 training step: forward in training mode (batch statistics), backward, Nesterov SGD update. */
export function resnetTrainStep(size: number, batch: number): () => Promise<void> {
  const model: tfl.LayersModel = getModel("resnet50").build({ includeTop: true, inputShape: [size, size, 3] });
  const optimizer = tf.train.momentum(1e-3, 0.9, true);
  const { x, y } = randomBatch(batch, size);
  return async () => {
    const loss = optimizer.minimize(() => {
      // The Keras top ends in a softmax, so the loss is the cross-entropy of probabilities.
      const probs = model.apply(x, { training: true }) as tf.Tensor2D;
      return tf.neg(tf.mean(tf.sum(tf.mul(y, tf.log(tf.add(probs, 1e-7))), -1))) as tf.Scalar;
    }, true);
    await loss!.data();
    loss!.dispose();
  };
}

/** One ResNet-50 forward pass in inference mode. */
export function resnetInferStep(size: number, batch: number): () => Promise<void> {
  const model = getModel("resnet50").build({ includeTop: true, inputShape: [size, size, 3] });
  const { x } = randomBatch(batch, size);
  return async () => {
    const out = model.predict(x) as tf.Tensor;
    await out.data();
    out.dispose();
  };
}
