import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { applyBatchNormPolicy, createOptimizer, getModel, planMicroBatches, SEED_SGD } from "@ft/core";
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
 * One ResNet-50 training step as the trainer runs it: forward in training mode (batch statistics), backward,
 * the seed's Keras-1 SGD update (Nesterov momentum).
 * Where the batch does not fit the engine's memory (wasm's 4 GiB heap), it runs as micro-batches with
 * accumulated gradients, as the trainer does; `microBatch` in the result says so.
 */
export function resnetTrainStep(size: number, batch: number, backend: string, modelName = "resnet50"): { step: () => Promise<void>; microBatch: number } {
  const model: tfl.LayersModel = getModel(modelName).build({ includeTop: true, inputShape: [size, size, 3] });
  applyBatchNormPolicy(model, "train"); // batch statistics, as the trainer runs the seed recipe
  const plan = planMicroBatches(model, batch, backend);
  const optimizer = createOptimizer(SEED_SGD);
  const { x, y } = randomBatch(batch, size);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const lossOf = (xs: tf.Tensor, ys: tf.Tensor) => () => {
    // The Keras top ends in a softmax, so the loss is the cross-entropy of probabilities.
    const probs = model.apply(xs, { training: true }) as tf.Tensor2D;
    return tf.neg(tf.mean(tf.sum(tf.mul(ys, tf.log(tf.add(probs, 1e-7))), -1))) as tf.Scalar;
  };
  const step = async () => {
    let summed: tf.NamedTensorMap | undefined;
    for (let start = 0; start < batch; start += plan.microBatch) {
      const n = Math.min(plan.microBatch, batch - start);
      const xs = plan.accumulate === 1 ? x : tf.slice(x, start, n);
      const ys = plan.accumulate === 1 ? y : tf.slice(y, start, n);
      const { value, grads } = tf.variableGrads(lossOf(xs, ys), variables);
      value.dispose();
      if (xs !== x) tf.dispose([xs, ys]);
      if (!summed) summed = grads;
      else {
        const next: tf.NamedTensorMap = {};
        for (const k of Object.keys(grads)) next[k] = tf.add(summed[k]!, grads[k]!);
        tf.dispose([...Object.values(summed), ...Object.values(grads)]);
        summed = next;
      }
    }
    const scaled = plan.accumulate === 1 ? summed! : tf.tidy(() => Object.fromEntries(Object.entries(summed!).map(([k, g]) => [k, tf.div(g, plan.accumulate)])));
    optimizer.apply(variables.map((variable) => ({ key: variable.name, variable, grad: scaled[variable.name]!, lrScale: 1 })), SEED_SGD.lr);
    await (Object.values(scaled)[0] as tf.Tensor).data();
    tf.dispose(Object.values(summed!));
    if (scaled !== summed) tf.dispose(Object.values(scaled));
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
