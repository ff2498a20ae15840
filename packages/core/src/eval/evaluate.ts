import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import type { BatchSource } from "../data/dataset.js";
import { MetricsAccumulator, type EvalMetrics } from "./metrics.js";

/**
 * Class probabilities of `model` for a batch of preprocessed images, in inference mode.
 * A model with several outputs (GoogLeNet's three heads) predicts with the mean of its softmaxes, as the seed.
 */
export function predictProbabilities(model: tfl.LayersModel, images: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => {
    const out = model.apply(images, { training: false }) as tf.Tensor | tf.Tensor[];
    return (Array.isArray(out) ? tf.div(tf.addN(out), out.length) : out) as tf.Tensor2D;
  });
}

export interface EvaluateOptions {
  /** Called after each batch with examples done so far. */
  onBatch?: (done: number, total: number) => void;
  /** Stop after this many batches (quick checks). */
  maxBatches?: number;
}

/** Runs `model` over every batch of `source` (epoch 0, in order) and returns its metrics. */
export async function evaluate(model: tfl.LayersModel, source: BatchSource, options: EvaluateOptions = {}): Promise<EvalMetrics> {
  const acc = new MetricsAccumulator(source.classes);
  let done = 0;
  let batches = 0;
  for await (const batch of source.batches(0)) {
    try {
      const probs = predictProbabilities(model, batch.images);
      const labels = tf.argMax(batch.labels, -1);
      const [p, y] = await Promise.all([probs.data(), labels.data()]);
      probs.dispose();
      labels.dispose();
      acc.add(p, y);
    } finally {
      batch.images.dispose();
      batch.labels.dispose();
    }
    done += batch.size;
    options.onBatch?.(done, source.size);
    if (options.maxBatches && ++batches >= options.maxBatches) break;
  }
  return acc.result();
}
