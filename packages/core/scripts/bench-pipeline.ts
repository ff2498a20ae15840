/**
 * Throughput of the data pipeline alone (no model): JPEG decode (sharp) + OpenCV-exact bilinear
 * resize 32→SIZE + augmentation (pad-crop + flip) + preprocessing into float32 batch tensors.
 *
 *   npx tsx scripts/bench-pipeline.ts [DATA_DIR] [--size 224] [--batch 16] [--epochs 2] [--backend cpu|wasm]
 *
 * DATA_DIR defaults to the repository's examples/cifar10-sample.
 */
import "@tensorflow/tfjs-backend-cpu";
import * as tf from "@tensorflow/tfjs-core";
import { fileURLToPath } from "node:url";
import { augmentAndResize } from "../src/data/augment.js";
import { createBatchSource } from "../src/data/pipeline.js";
import { imageFolderDataset } from "../src/data/image-folder.js";
import { mulberry32 } from "../src/data/random.js";

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const positional = process.argv.slice(2).filter((a, i, all) => !a.startsWith("--") && !(i > 0 && all[i - 1].startsWith("--")));
const dataDir = positional[0] ?? fileURLToPath(new URL("../../../examples/cifar10-sample", import.meta.url));
const size = Number(option("size", "224"));
const batchSize = Number(option("batch", "16"));
const epochs = Number(option("epochs", "2"));
const backend = option("backend", "cpu");

if (backend === "wasm") await import("@tensorflow/tfjs-backend-wasm");
await tf.setBackend(backend);
await tf.ready();

const dataset = await imageFolderDataset(dataDir, { split: "train", verify: "none" });
console.log(`data: ${dataset.name}, ${dataset.examples.length} images; size ${size}; batch ${batchSize}; backend ${tf.getBackend()}`);

// 1. Decode only, then decode + resize + augment, one image at a time (no batching, no tensors).
{
  let start = performance.now();
  for (const example of dataset.examples) await example.load();
  const decode = dataset.examples.length / ((performance.now() - start) / 1000);
  const random = mulberry32(1);
  start = performance.now();
  for (const example of dataset.examples) augmentAndResize(await example.load(), size, size, { crop: "pad", flip: true }, random);
  const full = dataset.examples.length / ((performance.now() - start) / 1000);
  console.log(`sequential: decode ${decode.toFixed(0)} img/s; decode+resize+augment ${full.toFixed(0)} img/s`);
}

// 2. The streaming batch source: parallel decode per batch, prefetch 2, float32 tensors + caffe preprocessing.
for (const augment of [false, true]) {
  const source = createBatchSource(dataset, { batchSize, imageSize: size, preprocessing: "caffe", augment, shuffle: true, seed: 0 });
  let images = 0;
  let peakRss = 0;
  const start = performance.now();
  for (let epoch = 0; epoch < epochs; epoch++) {
    for await (const batch of source.batches(epoch)) {
      images += batch.size;
      tf.dispose([batch.images, batch.labels]);
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }
  }
  const seconds = (performance.now() - start) / 1000;
  console.log(
    `batch source (augment ${augment ? "pad-crop+flip" : "off"}): ${(images / seconds).toFixed(0)} img/s over ${images} images; ` +
      `peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB; tensors left ${tf.memory().numTensors}`,
  );
}
