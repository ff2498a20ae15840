import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { applyBatchNormPolicy, createOptimizer, getModel, planMicroBatches, SEED_SGD, trainStep, weightKey } from "@ft/core";

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

/** Random images and one-hot labels for the model's own classes (1000, or 1001 with a background class). */
function randomBatch(model: tfl.LayersModel, batch: number, size: number): { x: tf.Tensor4D; y: tf.Tensor2D } {
  const classes = model.outputs[0]!.shape.at(-1)!;
  const x = tf.randomUniform([batch, size, size, 3], 0, 255) as tf.Tensor4D;
  const labels = tf.randomUniform([batch], 0, classes, "int32") as tf.Tensor1D;
  const y = tf.cast(tf.oneHot(labels, classes), "float32") as tf.Tensor2D;
  labels.dispose();
  return { x, y };
}

/**
 * One training step of `modelName`, the one `ft train` runs (core's `trainStep`): forward in training mode
 * (batch statistics, as the seed recipe), the Keras loss, backward, the seed's Keras-1 SGD update.
 * Where the batch does not fit the engine's memory (wasm's 4 GiB heap), it runs as micro-batches with
 * accumulated gradients, as the trainer does; `microBatch` in the result says so.
 */
export function trainStepOf(modelName: string, size: number, batch: number, backend: string): { step: () => Promise<void>; microBatch: number } {
  const model: tfl.LayersModel = getModel(modelName).build({ includeTop: true, inputShape: [size, size, 3] });
  applyBatchNormPolicy(model, "train");
  const plan = planMicroBatches(model, batch, backend);
  const optimizer = createOptimizer(SEED_SGD);
  const { x, y } = randomBatch(model, batch, size);
  const params = model.trainableWeights.map((w) => ({ key: weightKey(w), variable: w.read() as tf.Variable, lrScale: 1 }));
  const step = async () => {
    const result = await trainStep(model, { images: x, labels: y, size: batch, index: 0 }, params, { optimizer, lr: SEED_SGD.lr, accumulate: plan.accumulate });
    if (typeof result === "string") throw new Error(`bench step of ${modelName}: ${result}`);
  };
  return { step, microBatch: plan.microBatch };
}

/** One forward pass of `modelName` in inference mode. */
export function inferStepOf(modelName: string, size: number, batch: number): () => Promise<void> {
  const model = getModel(modelName).build({ includeTop: true, inputShape: [size, size, 3] });
  const { x } = randomBatch(model, batch, size);
  return async () => {
    const out = model.predict(x) as tf.Tensor | tf.Tensor[];
    const outs = Array.isArray(out) ? out : [out];
    await Promise.all(outs.map((o) => o.data()));
    tf.dispose(outs);
  };
}
