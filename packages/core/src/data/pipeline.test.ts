import "@tensorflow/tfjs-backend-cpu";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { FtError, UsageError } from "../errors.js";
import type { Batch, Example, ImageDataset, RawImage } from "./dataset.js";
import { preprocess } from "../preprocessing.js";
import type { PreprocessingMode } from "../spec.js";
import { createBatchSource, normalizationTable, type BatchSourceOptions } from "./pipeline.js";
import { resizeBilinear } from "./resize.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

/** Example `i`: a (6 + i % 3)×8 image whose bytes depend on i, label i % 3. */
function sourceImage(i: number): RawImage {
  const height = 6 + (i % 3);
  const data = new Uint8Array(height * 8 * 3);
  for (let k = 0; k < data.length; k++) data[k] = (i * 37 + k * 11) % 256;
  return { data, height, width: 8, channels: 3 };
}

function syntheticDataset(n: number, hooks: { onLoad?: (i: number) => void; failing?: Set<number> } = {}): ImageDataset {
  const examples: Example[] = Array.from({ length: n }, (_, i) => ({
    label: i % 3,
    origin: `synthetic#${i}`,
    load: async () => {
      hooks.onLoad?.(i);
      await new Promise((r) => setTimeout(r, 1));
      if (hooks.failing?.has(i)) throw new FtError(`cannot decode image synthetic#${i}: broken on purpose`);
      return sourceImage(i);
    },
  }));
  return { name: "synthetic", classes: ["a", "b", "c"], examples };
}

const base: BatchSourceOptions = { batchSize: 4, imageSize: [5, 7], preprocessing: "none", shuffle: true, seed: 11 };

interface Collected {
  index: number | undefined;
  size: number;
  pixels: number[];
  labels: number[][];
}

async function collect(batches: AsyncIterable<Batch>): Promise<Collected[]> {
  const out: Collected[] = [];
  for await (const batch of batches) {
    out.push({ index: batch.index, size: batch.size, pixels: Array.from(batch.images.dataSync()), labels: batch.labels.arraySync() });
    expect(batch.images.shape.slice(1)).toEqual([5, 7, 3]);
    tf.dispose([batch.images, batch.labels]);
  }
  return out;
}

async function collect16(batches: AsyncIterable<Batch>): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for await (const batch of batches) {
    out.push(batch.images.dataSync() as Float32Array);
    tf.dispose([batch.images, batch.labels]);
  }
  return out;
}

describe("createBatchSource", () => {
  it("orders each epoch by a seeded permutation", () => {
    const source = createBatchSource(syntheticDataset(23), base);
    const e0 = Array.from(source.order(0));
    expect([...e0].sort((a, b) => a - b)).toEqual(Array.from({ length: 23 }, (_, i) => i));
    expect(Array.from(source.order(0))).toEqual(e0);
    expect(Array.from(source.order(1))).not.toEqual(e0);
    expect(Array.from(createBatchSource(syntheticDataset(23), { ...base, seed: 12 }).order(0))).not.toEqual(e0);
    expect(Array.from(createBatchSource(syntheticDataset(23), { ...base, shuffle: false }).order(3))).toEqual(Array.from({ length: 23 }, (_, i) => i));
    expect(source.numBatches).toBe(6);
    expect(createBatchSource(syntheticDataset(23), { ...base, dropRemainder: true })).toMatchObject({ size: 20, numBatches: 5 });
  });

  it("yields resized, preprocessed images with one-hot labels in epoch order", async () => {
    const source = createBatchSource(syntheticDataset(23), { ...base, preprocessing: "tf" });
    const batches = await collect(source.batches(2));
    expect(batches.map((b) => b.size)).toEqual([4, 4, 4, 4, 4, 3]);
    expect(batches.map((b) => b.index)).toEqual([0, 1, 2, 3, 4, 5]);
    const order = source.order(2);
    batches.forEach((batch, b) => {
      for (let j = 0; j < batch.size; j++) {
        const i = order[b * 4 + j];
        const expected = Array.from(resizeBilinear(sourceImage(i), 5, 7).data, (v) => v / 127.5 - 1);
        const got = batch.pixels.slice(j * 105, (j + 1) * 105);
        got.forEach((v, k) => expect(v).toBeCloseTo(expected[k], 5));
        expect(batch.labels[j]).toEqual([0, 1, 2].map((c) => (c === i % 3 ? 1 : 0)));
      }
    });
  });

  it("resumes exactly from a batch index, augmentation included", async () => {
    const options = { ...base, augment: { crop: "resized" as const, flip: true } };
    const full = await collect(createBatchSource(syntheticDataset(23), options).batches(1));
    const resumed = await collect(createBatchSource(syntheticDataset(23), options).batches(1, 3));
    expect(resumed).toEqual(full.slice(3));
    // Augmentation really changes the pixels, and differently per epoch.
    const plain = await collect(createBatchSource(syntheticDataset(23), base).batches(1));
    expect(plain.map((b) => b.labels)).toEqual(full.map((b) => b.labels));
    expect(plain.map((b) => b.pixels)).not.toEqual(full.map((b) => b.pixels));
    const other = await collect(createBatchSource(syntheticDataset(23), { ...options, shuffle: false }).batches(2));
    const again = await collect(createBatchSource(syntheticDataset(23), { ...options, shuffle: false }).batches(3));
    expect(other.map((b) => b.pixels)).not.toEqual(again.map((b) => b.pixels));
  });

  it("prefetches a bounded number of batches ahead of the consumer", async () => {
    let loads = 0;
    const source = createBatchSource(syntheticDataset(40, { onLoad: () => loads++ }), { ...base, prefetch: 2 });
    let consumed = 0;
    let maxAhead = 0;
    for await (const batch of source.batches(0)) {
      await new Promise((r) => setTimeout(r, 15)); // a slow training step
      maxAhead = Math.max(maxAhead, loads - consumed);
      consumed += batch.size;
      tf.dispose([batch.images, batch.labels]);
    }
    expect(consumed).toBe(40);
    expect(maxAhead).toBeGreaterThan(4); // it did read ahead…
    expect(maxAhead).toBeLessThanOrEqual(3 * 4); // …but never more than the current + 2 batches
  });

  it("leaks no tensors, also when the consumer stops early", async () => {
    const source = createBatchSource(syntheticDataset(23), base);
    await collect(source.batches(0));
    const before = tf.memory().numTensors;
    await collect(source.batches(1));
    expect(tf.memory().numTensors).toBe(before);
    for await (const batch of source.batches(2)) {
      tf.dispose([batch.images, batch.labels]);
      break;
    }
    await new Promise((r) => setTimeout(r, 30));
    expect(tf.memory().numTensors).toBe(before);
  });

  it("skips examples that fail to load and reports each once", async () => {
    const reported: string[] = [];
    const source = createBatchSource(syntheticDataset(10, { failing: new Set([2, 7]) }), {
      ...base,
      shuffle: false,
      onSkip: (file) => reported.push(`${file.path}: ${file.reason}`),
    });
    const e0 = await collect(source.batches(0));
    expect(e0.map((b) => b.size)).toEqual([3, 3, 2]);
    await collect(source.batches(1));
    expect(reported).toEqual(["synthetic#2: broken on purpose", "synthetic#7: broken on purpose"]);
    expect(source.skipped).toHaveLength(2);
  });

  it("normalises bit-identically to core's preprocess (cpu backend) in every mode", async () => {
    // One 16×16 image holding every byte value in every channel, channels shifted against each other.
    const pixels = new Uint8Array(16 * 16 * 3).map((_, k) => ((k - (k % 3)) / 3 + 85 * (k % 3)) % 256);
    const examples: Example[] = [{ label: 0, origin: "all-bytes", load: async () => ({ data: pixels, height: 16, width: 16, channels: 3 }) }];
    for (const mode of ["none", "caffe", "densenet", "inception", "tf", "torch"] as PreprocessingMode[]) {
      expect(normalizationTable(mode)).toBeDefined();
      const source = createBatchSource({ name: "bytes", classes: ["x"], examples }, { batchSize: 1, imageSize: 16, preprocessing: mode, shuffle: false });
      const [batch] = await collect16(source.batches(0));
      const reference = tf.tidy(() => preprocess(tf.tensor4d(Float32Array.from(pixels), [1, 16, 16, 3]), mode).dataSync());
      expect(Array.from(batch), mode).toEqual(Array.from(reference));
    }
    expect(normalizationTable("unknown" as PreprocessingMode)).toBeUndefined();
  });

  it("rejects bad options with the option's name", () => {
    const data = syntheticDataset(3);
    expect(() => createBatchSource(data, { ...base, batchSize: 0 })).toThrow(UsageError);
    expect(() => createBatchSource(data, { ...base, batchSize: 2.5 })).toThrow(/batchSize/);
    expect(() => createBatchSource(data, { ...base, imageSize: [0, 4] })).toThrow(/imageSize/);
    expect(() => createBatchSource(data, { ...base, prefetch: -1 })).toThrow(/prefetch/);
    expect(() => createBatchSource({ ...data, examples: [] }, base)).toThrow(/synthetic has no examples/);
    expect(() => createBatchSource(data, { ...base, batchSize: 4, dropRemainder: true })).toThrow(/larger than data set/);
  });

  it("a label outside the classes is an error naming the example", async () => {
    const data = syntheticDataset(3);
    data.examples[1] = { ...data.examples[1], label: 5 };
    await expect(collect(createBatchSource(data, { ...base, shuffle: false }).batches(0))).rejects.toThrow(/synthetic#1: label 5 is outside the 3 classes/);
  });
});
