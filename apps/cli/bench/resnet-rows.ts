import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { applyBatchNormPolicy, createOptimizer, getModel, planMicroBatches, SEED_SGD, trainStep, weightKey } from "@ft/core";
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

/**
 * One training step of `modelName`, the one `ft train` runs (core's `trainStep`): forward in training mode
 * (batch statistics, as the seed recipe), the Keras loss, backward, the seed's Keras-1 SGD update.
 * Where the batch does not fit the engine's memory (wasm's 4 GiB heap), it runs as micro-batches with
 * accumulated gradients, as the trainer does; `microBatch` in the result says so.
 */
export function resnetTrainStep(size: number, batch: number, backend: string, modelName = "resnet50"): { step: () => Promise<void>; microBatch: number } {
  const model: tfl.LayersModel = getModel(modelName).build({ includeTop: true, inputShape: [size, size, 3] });
  applyBatchNormPolicy(model, "train");
  const plan = planMicroBatches(model, batch, backend);
  const optimizer = createOptimizer(SEED_SGD);
  const { x, y } = randomBatch(batch, size);
  const params = model.trainableWeights.map((w) => ({ key: weightKey(w), variable: w.read() as tf.Variable, lrScale: 1 }));
  const step = async () => {
    const result = await trainStep(model, { images: x, labels: y, size: batch, index: 0 }, params, { optimizer, lr: SEED_SGD.lr, accumulate: plan.accumulate });
    if (typeof result === "string") throw new Error(`bench step of ${modelName}: ${result}`);
  };
  return { step, microBatch: plan.microBatch };
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
