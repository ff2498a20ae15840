import * as tf from "@tensorflow/tfjs-core";
import { FtError, UsageError } from "../errors.js";
import { preprocess } from "../preprocessing.js";
import type { PreprocessingMode } from "../spec.js";
import { augmentAndResize, type AugmentOptions } from "./augment.js";
import type { Batch, BatchSource, ImageDataset } from "./dataset.js";
import { reasonOf } from "./decode.js";
import type { SkippedFile } from "./image-folder.js";
import { hashSeed, mulberry32, permutation } from "./random.js";

/** Stream tags mixed into the seed so that shuffling and augmentation draw independent numbers. */
const SHUFFLE_STREAM = 0x5348;
const AUGMENT_STREAM = 0x4147;

export interface BatchSourceOptions {
  /** Examples per batch (the last batch of an epoch may be smaller unless `dropRemainder`). */
  batchSize: number;
  /** Model input size: one number for square, or [height, width]. */
  imageSize: number | [number, number];
  /** The weights' input normalisation, applied to the 0–255 RGB batch (see core's `preprocess`). */
  preprocessing: PreprocessingMode;
  /** Random crop/flip per example; `true` means the defaults of {@link AugmentOptions}. Off by default. */
  augment?: AugmentOptions | boolean;
  /** Visit the examples in a new random order each epoch (a permutation seeded by (seed, epoch)). */
  shuffle: boolean;
  /** Seed of the order and of the augmentation (default 0). */
  seed?: number;
  /** Batches decoded ahead of the one being consumed (default 2). Memory holds about prefetch + 2 batches. */
  prefetch?: number;
  /** Leave out the last, incomplete batch of each epoch (default false). */
  dropRemainder?: boolean;
  /** Told once per example that fails to load (e.g. a truncated JPEG); the example is left out of its batch. */
  onSkip?: (file: SkippedFile) => void;
}

/** A prepared batch before it becomes tensors: uint8 pixels keep the prefetch queue 4× smaller. */
interface PreparedBatch {
  index: number;
  pixels: Uint8Array;
  labels: Uint16Array;
  size: number;
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** The batch source of {@link createBatchSource}, with the extras a trainer may want. */
export interface StreamingBatchSource extends BatchSource {
  /** Batches per epoch. */
  readonly numBatches: number;
  readonly imageHeight: number;
  readonly imageWidth: number;
  /** Examples that failed to load so far (each listed once), in the order they were met. */
  readonly skipped: readonly SkippedFile[];
  /** The example order of `epoch` (indices into `dataset.examples`). */
  order(epoch: number): Uint32Array;
}

/**
 * The preprocessing of core's `preprocess` as a lookup table: output channel c of a pixel is
 * `table[c * 256 + input[source channel of c]]`, source channels being reversed for the BGR modes.
 * Each entry repeats `preprocess`'s float32 steps (Math.fround after every op), so the result is
 * bit-identical to `preprocess` on the cpu backend and ~100× faster (tested). Undefined for a mode
 * this table does not know, which then falls back to `preprocess` on tensors.
 */
export function normalizationTable(mode: PreprocessingMode): { values: Float32Array; bgr: boolean } | undefined {
  const f = Math.fround;
  const values = new Float32Array(3 * 256);
  let step: (v: number, c: number) => number;
  let bgr = false;
  switch (mode) {
    case "none":
      step = (v) => v;
      break;
    case "caffe": {
      const mean = [103.939, 116.779, 123.68].map(f);
      step = (v, c) => f(v - mean[c]);
      bgr = true;
      break;
    }
    case "densenet": {
      const mean = [103.94, 116.78, 123.68].map(f);
      step = (v, c) => f(f(v - mean[c]) * f(0.017));
      bgr = true;
      break;
    }
    case "inception":
      step = (v) => f(f(f(v / 255) - 0.5) * 2);
      break;
    case "tf":
      step = (v) => f(f(v / 127.5) - 1);
      break;
    case "torch": {
      const mean = [0.485, 0.456, 0.406].map(f);
      const std = [0.229, 0.224, 0.225].map(f);
      step = (v, c) => f(f(f(v / 255) - mean[c]) / std[c]);
      break;
    }
    default:
      return undefined;
  }
  for (let c = 0; c < 3; c++) for (let v = 0; v < 256; v++) values[c * 256 + v] = step(v, c);
  return { values, bgr };
}

/** Applies a {@link normalizationTable} to interleaved RGB bytes. */
function normalizeWithTable(pixels: Uint8Array, table: { values: Float32Array; bgr: boolean }): Float32Array {
  const out = new Float32Array(pixels.length);
  const { values, bgr } = table;
  const s0 = bgr ? 2 : 0;
  const s2 = bgr ? 0 : 2;
  for (let i = 0; i < pixels.length; i += 3) {
    out[i] = values[pixels[i + s0]];
    out[i + 1] = values[256 + pixels[i + 1]];
    out[i + 2] = values[512 + pixels[i + s2]];
  }
  return out;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new UsageError(`${name} must be a positive integer, got ${value}`);
  return value;
}

/**
 * Streams `dataset` as preprocessed batches: for each batch the examples are decoded, cropped /
 * flipped when augmenting, resized with the OpenCV-exact bilinear resize, normalised with
 * `preprocessing` and paired with one-hot labels. Up to `prefetch` batches are prepared ahead
 * while the consumer trains on the current one, so memory stays a few batches whatever the size
 * of the data set.
 *
 * Deterministic: the order of epoch `e` is a permutation seeded by (seed, e), and the augmentation
 * of batch `b` draws from a generator seeded by (seed, e, b) — so `batches(e, b)` yields exactly
 * the batches a run from 0 would have yielded from `b` on (exact resume).
 */
export function createBatchSource(dataset: ImageDataset, options: BatchSourceOptions): StreamingBatchSource {
  const batchSize = positiveInteger("batchSize", options.batchSize);
  const [imageHeight, imageWidth] = typeof options.imageSize === "number" ? [options.imageSize, options.imageSize] : options.imageSize;
  positiveInteger("imageSize (height)", imageHeight);
  positiveInteger("imageSize (width)", imageWidth);
  const prefetch = options.prefetch ?? 2;
  if (!Number.isInteger(prefetch) || prefetch < 0) throw new UsageError(`prefetch must be an integer ≥ 0, got ${prefetch}`);
  const seed = options.seed ?? 0;
  if (!Number.isFinite(seed)) throw new UsageError(`seed must be a number, got ${seed}`);
  const augment: AugmentOptions | undefined = options.augment === true ? {} : options.augment || undefined;
  const { examples, classes } = dataset;
  if (examples.length === 0) throw new FtError(`data set ${dataset.name} has no examples`);
  if (classes.length === 0) throw new FtError(`data set ${dataset.name} has no classes`);
  const size = options.dropRemainder ? Math.floor(examples.length / batchSize) * batchSize : examples.length;
  if (size === 0) throw new UsageError(`batchSize ${batchSize} is larger than data set ${dataset.name} (${examples.length} examples) with dropRemainder`);
  const numBatches = Math.ceil(size / batchSize);
  const skipped: SkippedFile[] = [];
  const skippedOrigins = new Set<string>();
  const pixelsPerImage = imageHeight * imageWidth * 3;

  const order = (epoch: number): Uint32Array => {
    if (!Number.isInteger(epoch) || epoch < 0) throw new RangeError(`epoch must be an integer ≥ 0, got ${epoch}`);
    if (!options.shuffle) return Uint32Array.from({ length: examples.length }, (_, i) => i);
    return permutation(examples.length, mulberry32(hashSeed(seed, epoch, SHUFFLE_STREAM)));
  };

  const prepare = async (epoch: number, index: number, indices: Uint32Array): Promise<PreparedBatch> => {
    const random = mulberry32(hashSeed(seed, epoch, index, AUGMENT_STREAM));
    const loaded = await Promise.all(
      Array.from(indices, async (i) => {
        const example = examples[i];
        try {
          return { example, image: await example.load() };
        } catch (error) {
          return { example, error };
        }
      }),
    );
    const pixels = new Uint8Array(loaded.length * pixelsPerImage);
    const labels = new Uint16Array(loaded.length);
    let count = 0;
    // Augmentation draws happen here, in batch order, so they do not depend on decode timing.
    for (const item of loaded) {
      if (!("image" in item) || !item.image) {
        if (!skippedOrigins.has(item.example.origin)) {
          skippedOrigins.add(item.example.origin);
          const file = { path: item.example.origin, reason: reasonOf(item.error).replace(/^cannot (read|decode) image .*?: /, "") };
          skipped.push(file);
          options.onSkip?.(file);
        }
        continue;
      }
      const { example, image } = item;
      if (!Number.isInteger(example.label) || example.label < 0 || example.label >= classes.length) {
        throw new FtError(`${example.origin}: label ${example.label} is outside the ${classes.length} classes of ${dataset.name}`);
      }
      if (image.channels !== 3 || image.data.length !== image.height * image.width * 3) {
        throw new FtError(`${example.origin}: decoded image is not ${image.height}×${image.width} RGB (${image.data.length} bytes)`);
      }
      pixels.set(augmentAndResize(image, imageHeight, imageWidth, augment, random).data, count * pixelsPerImage);
      labels[count] = example.label;
      count++;
    }
    return { index, pixels: pixels.subarray(0, count * pixelsPerImage), labels: labels.subarray(0, count), size: count };
  };

  const table = normalizationTable(options.preprocessing);
  const toBatch = (prepared: PreparedBatch): Batch => {
    const { size: n, pixels, labels } = prepared;
    const oneHot = new Float32Array(n * classes.length);
    for (let i = 0; i < n; i++) oneHot[i * classes.length + labels[i]] = 1;
    const shape: [number, number, number, number] = [n, imageHeight, imageWidth, 3];
    const images = table
      ? tf.tensor4d(normalizeWithTable(pixels, table), shape, "float32")
      : tf.tidy(() => preprocess(tf.tensor4d(Float32Array.from(pixels), shape, "float32"), options.preprocessing));
    return { images, labels: tf.tensor2d(oneHot, [n, classes.length], "float32"), size: n, index: prepared.index };
  };

  async function* batches(epoch: number, fromBatch = 0): AsyncGenerator<Batch> {
    if (!Number.isInteger(fromBatch) || fromBatch < 0 || fromBatch > numBatches) {
      throw new RangeError(`fromBatch must be an integer in [0, ${numBatches}], got ${fromBatch}`);
    }
    const epochOrder = order(epoch);
    const queue: Promise<Settled<PreparedBatch>>[] = [];
    let next = fromBatch;
    const refill = () => {
      while (queue.length < prefetch + 1 && next < numBatches) {
        const start = next * batchSize;
        const indices = epochOrder.subarray(start, Math.min(start + batchSize, size));
        // Settled promises never reject, so a consumer that stops early leaves no unhandled rejection.
        queue.push(
          prepare(epoch, next, indices).then(
            (value): Settled<PreparedBatch> => ({ ok: true, value }),
            (error): Settled<PreparedBatch> => ({ ok: false, error }),
          ),
        );
        next++;
      }
    };
    // While the consumer holds batch b, batches b+1 … b+prefetch are being prepared.
    for (;;) {
      refill();
      if (queue.length === 0) return;
      const settled = await queue.shift()!;
      if (!settled.ok) throw settled.error;
      if (settled.value.size === 0) continue; // every example of this batch failed to load
      yield toBatch(settled.value);
    }
  }

  return {
    size,
    batchSize,
    classes,
    numBatches,
    imageHeight,
    imageWidth,
    skipped,
    order,
    batches,
  };
}
