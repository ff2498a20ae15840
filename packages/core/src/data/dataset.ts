import type * as tf from "@tensorflow/tfjs-core";

/**
 * One labelled example before decoding: where its pixels come from and its class index.
 * Sources are cheap to hold in memory for a whole data set; pixels are decoded per batch.
 */
export interface Example {
  /** Class index into `ImageDataset.classes`. */
  label: number;
  /** Returns the image as RGB bytes, row-major HWC. */
  load(): Promise<RawImage>;
  /** Where it came from (file path, `archive:batch#index`), for error messages. */
  origin: string;
}

/** Decoded RGB pixels. */
export interface RawImage {
  data: Uint8Array;
  height: number;
  width: number;
  /** Always 3 (RGB). */
  channels: 3;
}

/** A split of a labelled image data set. */
export interface ImageDataset {
  /** Human-readable name, e.g. `cifar10/train[0:3000]` or the folder path. */
  name: string;
  /** Class names; `label` indexes into this. */
  classes: string[];
  examples: Example[];
}

/** A batch ready for the model: preprocessed float32 NHWC images and one-hot labels. Caller disposes. */
export interface Batch {
  images: tf.Tensor4D;
  labels: tf.Tensor2D;
  /** Number of examples (the last batch may be smaller). */
  size: number;
  /**
   * Index of this batch within its epoch (resume from `index + 1`). Indices can skip one
   * when every example of a batch failed to load.
   */
  index?: number;
}

/** Produces the batches of one epoch in a deterministic order given (seed, epoch). */
export interface BatchSource {
  /** Examples per epoch. */
  readonly size: number;
  readonly batchSize: number;
  readonly classes: string[];
  /** Batches of `epoch`, starting at batch index `fromBatch` (for exact resume). */
  batches(epoch: number, fromBatch?: number): AsyncIterable<Batch>;
}
