/**
 * Runs one benchmark row in its own process (so its peak RSS is its own) and prints one JSON line.
 * Usage: row.ts <row> <backend> [--model NAME] [--size N] [--batch N] [--steps N] [--warmup N]
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createBatchSource, imageFolderDataset, selectBackend } from "@ft/core";
import "../src/models.js";
import { inferStepOf, timeSteps, trainStepOf } from "./model-rows.js";

const [row, backend, ...rest] = process.argv.slice(2);
const opt = (name: string, fallback: number) => {
  const i = rest.indexOf(`--${name}`);
  return i >= 0 ? Number(rest[i + 1]) : fallback;
};
const size = opt("size", 224);
const batch = opt("batch", 8);
const steps = opt("steps", 3);
const warmup = opt("warmup", 1);
const quickRun = rest.includes("--quick");
const modelName = rest.includes("--model") ? rest[rest.indexOf("--model") + 1]! : "resnet50";

await selectBackend(backend);
let result: Record<string, unknown>;
switch (row) {
  case "probe":
    result = { ok: true };
    break;
  case "train":
  case "infer": {
    const { step, microBatch } = row === "train" ? trainStepOf(modelName, size, batch, backend!) : { step: inferStepOf(modelName, size, batch), microBatch: batch };
    const times = await timeSteps(step, warmup, steps);
    const median = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
    result = { median_s: median, images_per_s: batch / median, steps: times.length, ...(microBatch < batch ? { micro_batch: microBatch } : {}) };
    break;
  }
  case "pipeline": {
    // Decode (sharp) + OpenCV-exact resize 32→size + pad-crop/flip + preprocessing into batch tensors.
    const sample = fileURLToPath(new URL("../../../examples/cifar10-sample", import.meta.url));
    if (!existsSync(sample)) throw new Error(`the real CIFAR-10 sample is not at ${sample}`);
    const dataset = await imageFolderDataset(sample, { split: "train", verify: "none" });
    const source = createBatchSource(dataset, { batchSize: batch, imageSize: size, preprocessing: "caffe", augment: true, shuffle: true, seed: 0 });
    const t0 = performance.now();
    let images = 0;
    for await (const b of source.batches(0)) {
      await b.images.data();
      images += b.size;
      b.images.dispose();
      b.labels.dispose();
      if (quickRun && images >= 320) break;
    }
    const seconds = (performance.now() - t0) / 1000;
    result = { images_per_s: images / seconds, median_s: seconds, images };
    break;
  }
  case "hdf5": {
    // A ~120 MB Keras-1 Theano file (VGG-like convs and a channels-first fc6), converted and loaded.
    const script = fileURLToPath(new URL("../../../packages/core/scripts/measure-conversion.ts", import.meta.url));
    const child = spawnSync(process.execPath, ["--import", "tsx", script, "--json"], { encoding: "utf8", maxBuffer: 16 << 20 });
    if (child.status !== 0) throw new Error(`measure-conversion failed: ${child.stderr.trim().split("\n").pop()}`);
    const measured = JSON.parse(child.stdout.trim().split("\n").pop()!) as { mb: number; seconds: number; mb_per_s: number };
    result = { mb_per_s: measured.mb_per_s, median_s: measured.seconds, file_mb: measured.mb };
    break;
  }
  default:
    throw new Error(`unknown row "${row}"`);
}
result.peak_rss_mb = process.resourceUsage().maxRSS / 1024;
process.stdout.write(JSON.stringify(result) + "\n");
