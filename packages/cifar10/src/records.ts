import { FtError, type RawImage } from "@ft/core";

/** CIFAR-10 class names, in label order (as in the archive's `batches.meta.txt`). */
export const CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"] as const;

export const IMAGE_SIZE = 32;
const PLANE = IMAGE_SIZE * IMAGE_SIZE;
/** One record of the binary version: 1 label byte, then the R, G and B planes (32×32, row-major). */
export const RECORD_BYTES = 1 + 3 * PLANE;

/** Number of records in a batch file of `bytes` bytes; an FtError naming the file if it is not whole records. */
export function recordCount(bytes: number, origin: string): number {
  if (bytes === 0 || bytes % RECORD_BYTES !== 0) {
    throw new FtError(`${origin} is not a CIFAR-10 binary batch: ${bytes} bytes is not a whole number of ${RECORD_BYTES}-byte records`);
  }
  return bytes / RECORD_BYTES;
}

/** The label byte of the record at `offset`, checked against the 10 classes. */
export function recordLabel(records: Uint8Array, offset: number, origin: string): number {
  const label = records[offset];
  if (label >= CIFAR10_CLASSES.length) throw new FtError(`${origin}: label byte ${label} is not a CIFAR-10 class (0–9)`);
  return label;
}

/**
 * Converts the record at `offset` from planar CHW (R plane, G plane, B plane) to interleaved
 * HWC RGB: pixel (y, x) channel c is byte `1 + c·1024 + y·32 + x` of the record.
 */
export function recordImage(records: Uint8Array, offset: number): RawImage {
  const data = new Uint8Array(3 * PLANE);
  const base = offset + 1;
  for (let p = 0; p < PLANE; p++) {
    data[3 * p] = records[base + p];
    data[3 * p + 1] = records[base + PLANE + p];
    data[3 * p + 2] = records[base + 2 * PLANE + p];
  }
  return { data, height: IMAGE_SIZE, width: IMAGE_SIZE, channels: 3 };
}
