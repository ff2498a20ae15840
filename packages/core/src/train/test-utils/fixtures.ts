// Test doubles for the trainer: a tiny conv model and an in-memory BatchSource (independent of the data pipeline).
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import * as tfl from "@tensorflow/tfjs-layers";
import type { Batch, BatchSource } from "../../data/dataset.js";
import { mulberry32 } from "../../data/random.js";

export async function useCpu(): Promise<void> {
  await tf.setBackend("cpu");
  await tf.ready();
}

/** Deterministic pseudo-random numbers in [0, 1). */
export const rng = mulberry32;

export interface TinyModelOptions {
  /** Input side (default 8). */
  size?: number;
  /** Classes of the "pretrained" top (default 5). */
  topClasses?: number;
  /** Include BatchNormalization layers (default true). */
  batchNorm?: boolean;
  seed?: number;
}

/**
 * conv1 (3×3, 4) → bn1 → relu → conv2 (3×3 stride 2, 6) → bn2 → relu → flatten → fc_old (softmax):
 * the feature layer is `flatten`, stages are conv1/bn1 (1), conv2/bn2 (2), fc (3).
 */
export function tinyModel(options: TinyModelOptions = {}): tfl.LayersModel {
  const size = options.size ?? 8;
  const seed = options.seed ?? 1;
  const init = (s: number) => tfl.initializers.glorotUniform({ seed: seed * 100 + s });
  const input = tfl.input({ shape: [size, size, 3], name: "data" });
  let x = tfl.layers.conv2d({ filters: 4, kernelSize: 3, name: "conv1", kernelInitializer: init(1) }).apply(input) as tfl.SymbolicTensor;
  if (options.batchNorm !== false) x = tfl.layers.batchNormalization({ name: "bn1" }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.activation({ activation: "relu", name: "relu1" }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, name: "conv2", kernelInitializer: init(2) }).apply(x) as tfl.SymbolicTensor;
  if (options.batchNorm !== false) x = tfl.layers.batchNormalization({ name: "bn2" }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.activation({ activation: "relu", name: "relu2" }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.flatten({ name: "flatten" }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.dense({ units: options.topClasses ?? 5, activation: "softmax", name: "fc_old", kernelInitializer: init(3) }).apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: x, name: "tiny" });
}

export interface MemorySourceOptions {
  examples: number;
  batchSize: number;
  classes?: number;
  size?: number;
  seed?: number;
  /** Shuffle per epoch (default true). */
  shuffle?: boolean;
  /** Make the images of (epoch, batch) NaN, for the NaN guard. */
  poison?: { epoch: number; batch: number };
}

/**
 * An in-memory BatchSource: images depend on their label (so a model can learn), order is a
 * permutation seeded by (seed, epoch), and `batches(epoch, from)` skips to batch `from`.
 */
export function memorySource(options: MemorySourceOptions): BatchSource & { batchesServed: number } {
  const { examples, batchSize } = options;
  const classes = options.classes ?? 3;
  const size = options.size ?? 8;
  const r = rng(options.seed ?? 7);
  const labels = Array.from({ length: examples }, (_, i) => i % classes);
  const pixels = labels.map((label) => Float32Array.from({ length: size * size * 3 }, (_, k) => (k % 3 === label % 3 ? 1 : 0) * 0.8 + r() * 0.5));
  const source = {
    size: examples,
    batchSize,
    classes: Array.from({ length: classes }, (_, i) => `class${i}`),
    batchesServed: 0,
    async *batches(epoch: number, fromBatch = 0): AsyncIterable<Batch> {
      const order = labels.map((_, i) => i);
      if (options.shuffle !== false) {
        const pr = rng(1000 + epoch * 7919 + (options.seed ?? 7));
        for (let i = order.length - 1; i > 0; i--) {
          const j = Math.floor(pr() * (i + 1));
          [order[i], order[j]] = [order[j]!, order[i]!];
        }
      }
      for (let b = fromBatch; b * batchSize < examples; b++) {
        const idx = order.slice(b * batchSize, (b + 1) * batchSize);
        const data = new Float32Array(idx.length * size * size * 3);
        idx.forEach((i, k) => data.set(pixels[i]!, k * size * size * 3));
        if (options.poison && options.poison.epoch === epoch && options.poison.batch === b) data.fill(NaN);
        source.batchesServed++;
        yield {
          images: tf.tensor4d(data, [idx.length, size, size, 3]),
          labels: tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(idx.map((i) => labels[i]!), "int32"), classes), "float32") as tf.Tensor2D),
          size: idx.length,
        };
      }
    },
  };
  return source;
}

/** All weights of a model as plain arrays by key, for exact comparisons. */
export function snapshot(model: tfl.LayersModel): Map<string, Float32Array> {
  return new Map(model.weights.map((w) => [(w as unknown as { originalName: string }).originalName, w.read().dataSync() as Float32Array]));
}

/** Overwrites every trainable weight with values from a seeded generator (same seed, same model → same weights). */
export function reinit(model: tfl.LayersModel, seed = 11): tfl.LayersModel {
  const r = rng(seed);
  for (const w of model.trainableWeights) {
    const n = w.shape.reduce<number>((a, b) => a * (b ?? 1), 1);
    w.write(tf.tensor(Float32Array.from({ length: n }, () => (r() - 0.5) * 0.6), w.shape as number[]));
  }
  return model;
}
