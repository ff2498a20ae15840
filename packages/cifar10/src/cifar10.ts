import { open, stat } from "node:fs/promises";
import { join } from "node:path";
import { FtError, UsageError, type Example, type ImageDataset } from "@ft/core";
import { ensureCifar10, TEST_FILES, TRAIN_FILES, type Cifar10ArchiveOptions } from "./archive.js";
import { CIFAR10_CLASSES, RECORD_BYTES, recordCount, recordImage, recordLabel } from "./records.js";

/** Images of the seed recipe: the first 3000 training and the first 100 test images. */
export const SEED_SUBSET = { train: 3000, test: 100 } as const;

export type Cifar10Split = "train" | "test";
/** `seed`: the seed recipe's first 3000 / 100 images; `full`: 50,000 / 10,000; or a range. */
export type Cifar10Subset = "seed" | "full" | { start: number; count: number };

export interface Cifar10Options extends Cifar10ArchiveOptions {
  split?: Cifar10Split;
  subset?: Cifar10Subset;
  /** Shorthand for `subset: {start: 0, count}`: the first `count` images of the split (wins over `subset`). */
  count?: number;
  /** Read the batch files from this folder instead of the cache (no download). */
  batchesDir?: string;
}

/**
 * CIFAR-10 from the official binary archive, downloaded once into `ftHome()/datasets/` and
 * verified (see {@link ensureCifar10}). Returns the examples of `split` (default `train`)
 * restricted to `subset` (default `seed`: the first 3000 training / 100 test images, in archive
 * order — data_batch_1 … data_batch_5 for training). Only the records of the subset are read into
 * memory (3073 bytes each); pixels are converted to HWC RGB when an example is loaded.
 */
export async function cifar10(options: Cifar10Options = {}): Promise<ImageDataset> {
  const split = options.split ?? "train";
  if (split !== "train" && split !== "test") throw new UsageError(`CIFAR-10 split must be "train" or "test", got "${String(split)}"`);
  const subset: Cifar10Subset = options.count !== undefined ? { start: 0, count: options.count } : (options.subset ?? "seed");
  const dir = options.batchesDir ?? (await ensureCifar10(options));
  const files = (split === "train" ? TRAIN_FILES : TEST_FILES).map((name) => join(dir, name));

  const counts: number[] = [];
  for (const file of files) {
    let bytes: number;
    try {
      bytes = (await stat(file)).size;
    } catch {
      throw new FtError(`CIFAR-10 batch file ${file} is missing`);
    }
    counts.push(recordCount(bytes, file));
  }
  const total = counts.reduce((a, b) => a + b, 0);

  let start: number;
  let count: number;
  if (subset === "seed") {
    start = 0;
    count = Math.min(SEED_SUBSET[split], total);
  } else if (subset === "full") {
    start = 0;
    count = total;
  } else if (typeof subset === "object" && subset !== null) {
    ({ start, count } = subset);
    if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 1 || start + count > total) {
      throw new UsageError(`CIFAR-10 ${split} subset {start: ${start}, count: ${count}} is outside its ${total} images`);
    }
  } else {
    throw new UsageError(`CIFAR-10 subset must be "seed", "full" or {start, count}, got ${JSON.stringify(subset)}`);
  }

  const examples: Example[] = [];
  let fileStart = 0;
  for (let f = 0; f < files.length && examples.length < count; f++) {
    const fileEnd = fileStart + counts[f];
    const from = Math.max(start, fileStart);
    const to = Math.min(start + count, fileEnd);
    if (from < to) {
      const records = await readRecords(files[f], from - fileStart, to - from);
      for (let r = 0; r < to - from; r++) {
        const offset = r * RECORD_BYTES;
        const origin = `${files[f]}#${from - fileStart + r}`;
        examples.push({ label: recordLabel(records, offset, origin), origin, load: async () => recordImage(records, offset) });
      }
    }
    fileStart = fileEnd;
  }
  return { name: `cifar10/${split}[${start}:${start + count}]`, classes: [...CIFAR10_CLASSES], examples };
}

/** Reads `count` records starting at record `first` of a batch file. */
async function readRecords(file: string, first: number, count: number): Promise<Uint8Array> {
  const handle = await open(file, "r");
  try {
    const buffer = new Uint8Array(count * RECORD_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, first * RECORD_BYTES);
    if (bytesRead !== buffer.length) throw new FtError(`${file}: short read (${bytesRead} of ${buffer.length} bytes)`);
    return buffer;
  } finally {
    await handle.close();
  }
}
