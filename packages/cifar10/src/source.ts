import { existsSync } from "node:fs";
import { join } from "node:path";
import { registerDataSource, type DataSource } from "@ft/core";
import { cifar10, SEED_SUBSET } from "./cifar10.js";

/**
 * `cifar10` (the official archive, downloaded once into the cache) or a folder holding the extracted
 * batch files (`cifar-10-batches-bin`, read as it is, no download). Validation is the test split.
 */
export const CIFAR10_SOURCE: DataSource = {
  name: "cifar10",
  matches: (source) => source === "cifar10" || existsSync(join(source, "data_batch_1.bin")),
  seedSubset: { train: SEED_SUBSET.train, val: SEED_SUBSET.test },
  open: (source, split, { count, onProgress }) =>
    cifar10({
      split: split === "train" ? "train" : "test",
      ...(count !== null ? { count } : {}),
      ...(source === "cifar10" ? { onProgress } : { batchesDir: source }),
    }),
};

registerDataSource(CIFAR10_SOURCE);
