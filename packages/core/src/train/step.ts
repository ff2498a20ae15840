import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import type { Batch } from "../data/dataset.js";
import type { Optimizer, ParamUpdate } from "./optimizers.js";
import { releaseInBackprop } from "./release-in-backprop.js";

/** A parameter trained by a step, with its share of the learning rate. */
export interface StepParam {
  key: string;
  variable: tf.Variable;
  lrScale: number;
}

/** A batch's mean loss and correct count. */
export interface StepResult {
  loss: number;
  correct: number;
}

export interface StepOptions {
  optimizer: Optimizer;
  /** The scheduled learning rate of this update (before the optimizer's own decay). */
  lr: number;
  /** Micro-batches whose gradients add up to the one update (default 1). */
  accumulate?: number;
  /** Called before each forward pass (the trainer's dropout clock). */
  beforePass?: () => void;
}

const CLIP = 1e-7;

/**
 * Categorical cross-entropy as Keras: probabilities clipped to [1e-7, 1 − 1e-7], `−Σ y·log p` per example,
 * summed over the batch (the caller divides by the full batch size).
 */
function crossEntropySum(labels: tf.Tensor, probs: tf.Tensor): tf.Scalar {
  return tf.neg(tf.sum(tf.mul(labels, tf.log(tf.clipByValue(probs, CLIP, 1 - CLIP))))) as tf.Scalar;
}

/**
 * The training step `ft train` runs (and `pnpm bench` times): forward in training mode, the Keras loss
 * (averaged over the outputs' cross-entropies, plus the layers' regularisers), gradients written with
 * `tf.variableGrads` (so BatchNorm mode and accumulation stay under control), one optimiser update.
 * When the loss or a gradient is not finite nothing is updated, BatchNorm's moving statistics are put
 * back, and the description of the bad value is returned.
 */
export async function trainStep(model: tfl.LayersModel, batch: Batch, params: StepParam[], options: StepOptions): Promise<StepResult | string> {
  const n = batch.size;
  const variables = params.map((p) => p.variable);
  let grads: tf.Tensor[] | undefined;
  let loss: tf.Scalar | undefined;
  let correct: tf.Scalar | undefined;
  const sizes = splitSizes(n, options.accumulate ?? 1);
  let start = 0;
  // Moving statistics change during the forward pass: keep their values (clones share storage) to undo a bad step.
  const stateBefore = model.nonTrainableWeights.map((w) => [w, tf.clone(w.read())] as const);
  try {
    for (const size of sizes) {
      if (size === 0) continue;
      options.beforePass?.();
      const x = sizes.length === 1 ? batch.images : tf.slice(batch.images, start, size);
      const y = sizes.length === 1 ? batch.labels : tf.slice(batch.labels, start, size);
      let microCorrect: tf.Scalar | undefined;
      const { value, grads: g } = tf.variableGrads(() => {
        const out = model.apply(x, { training: true }) as tf.Tensor | tf.Tensor[];
        const outs = Array.isArray(out) ? out : [out];
        let total = tf.addN(outs.map((o) => crossEntropySum(y, o)));
        const mean = outs.length === 1 ? outs[0]! : tf.div(tf.addN(outs), outs.length);
        microCorrect = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(mean, -1), tf.argMax(y, -1)), "float32")) as tf.Scalar);
        total = tf.div(total, n);
        const reg = model.calculateLosses();
        if (reg.length) total = tf.add(total, tf.mul(tf.addN(reg), size / n));
        releaseInBackprop();
        return total as tf.Scalar;
      }, variables);
      if (x !== batch.images) x.dispose();
      if (y !== batch.labels) y.dispose();
      const ordered = variables.map((v) => g[v.name]!);
      if (!grads) {
        grads = ordered;
        loss = value;
        correct = microCorrect;
      } else {
        const prev = grads;
        grads = prev.map((a, i) => tf.add(a, ordered[i]!));
        tf.dispose([...prev, ...ordered]);
        const [l, c] = [tf.add(loss!, value), tf.add(correct!, microCorrect!)];
        tf.dispose([loss!, value, correct!, microCorrect!]);
        loss = l as tf.Scalar;
        correct = c as tf.Scalar;
      }
      start += size;
    }
    // A NaN or ±Inf anywhere makes the plain sum non-finite: one read of each gradient, no squared copy
    // (VGG-19's 143 M gradient values made the squares 7 % of a step).
    const check = tf.tidy(() => tf.stack([loss!, correct!, tf.addN(grads!.map((g) => tf.sum(g)))]));
    const [lossValue, correctValue, gradSum] = await check.data();
    check.dispose();
    const bad = !Number.isFinite(lossValue!) ? `loss is ${lossValue}` : !Number.isFinite(gradSum!) ? `gradient is not finite (loss ${lossValue})` : undefined;
    if (bad) {
      for (const [w, before] of stateBefore) w.write(before);
      return bad;
    }
    const updates: ParamUpdate[] = params.map((p, i) => ({ key: p.key, variable: p.variable, grad: grads![i]!, lrScale: p.lrScale }));
    options.optimizer.apply(updates, options.lr);
    return { loss: lossValue!, correct: correctValue! };
  } finally {
    tf.dispose([...(grads ?? []), ...(loss ? [loss] : []), ...(correct ? [correct] : []), ...stateBefore.map(([, t]) => t)]);
  }
}

/** Sizes of `parts` micro-batches that add up to `n` (the first ones one larger when `n` does not divide). */
export function splitSizes(n: number, parts: number): number[] {
  const base = Math.floor(n / parts);
  const extra = n % parts;
  return Array.from({ length: parts }, (_, i) => base + (i < extra ? 1 : 0));
}
