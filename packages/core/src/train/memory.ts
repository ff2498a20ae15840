import type * as tfl from "@tensorflow/tfjs-layers";

/** Engines whose memory is capped below the machine's: the wasm32 heap cannot grow past 4 GiB. */
const HEAP_LIMITS: Record<string, number> = { wasm: 4 * 2 ** 30 };

/**
 * Bytes a training step keeps per image, per float of layer output: the forward activations saved for
 * the backward pass, their gradients, and the temporaries of the gradient kernels. Calibrated on ResNet-50
 * at 224 px on wasm, where batch 4 trains and batch 8 runs out of its 4 GiB heap.
 */
const BYTES_PER_ACTIVATION = 4 * 4.5;
/** Weights, their gradients and one optimizer slot (momentum), float32. */
const BYTES_PER_PARAMETER = 4 * 3;
/** Part of the heap left for the engine itself and fragmentation. */
const HEAP_HEADROOM = 0.85;

/** Floats of layer output one image produces in a forward pass (every layer's output, summed). */
export function activationsPerImage(model: tfl.LayersModel): number {
  let total = 0;
  for (const layer of model.layers) {
    const shapes = (Array.isArray((layer.outputShape as unknown[])[0]) ? layer.outputShape : [layer.outputShape]) as (number | null)[][];
    for (const shape of shapes) total += shape.slice(1).reduce<number>((a, b) => a * (b ?? 1), 1);
  }
  return total;
}

export interface MicroBatchPlan {
  /** Micro-batches per batch (1 = no accumulation). */
  accumulate: number;
  /** Images per micro-batch (the last one of a batch may be smaller). */
  microBatch: number;
  /** Why, in one sentence, for the user. */
  reason: string;
}

/**
 * Chooses gradient accumulation so that one training step fits the engine's memory. Only engines with a
 * hard heap cap (wasm, 4 GiB) need it; elsewhere the requested batch runs whole.
 * BatchNorm then normalises each micro-batch with its own statistics, as it would with that batch size.
 */
export function planMicroBatches(model: tfl.LayersModel, batchSize: number, backend: string): MicroBatchPlan {
  const limit = HEAP_LIMITS[backend];
  if (limit === undefined) return { accumulate: 1, microBatch: batchSize, reason: `${backend} has no heap cap` };
  const fixed = model.countParams() * BYTES_PER_PARAMETER;
  const perImage = activationsPerImage(model) * BYTES_PER_ACTIVATION;
  const fits = Math.max(1, Math.floor((limit * HEAP_HEADROOM - fixed) / perImage));
  if (fits >= batchSize) return { accumulate: 1, microBatch: batchSize, reason: `batch ${batchSize} fits the ${backend} heap` };
  const accumulate = Math.ceil(batchSize / fits);
  const microBatch = Math.ceil(batchSize / accumulate);
  const gib = (bytes: number) => (bytes / 2 ** 30).toFixed(1);
  return {
    accumulate,
    microBatch,
    reason: `batch ${batchSize} needs about ${gib(fixed + perImage * batchSize)} GiB, over the ${gib(limit)} GiB ${backend} heap: ${accumulate} micro-batches of ${microBatch} with accumulated gradients`,
  };
}
