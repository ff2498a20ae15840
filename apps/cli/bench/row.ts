/**
 * Runs one benchmark row in its own process (so its peak RSS is its own) and prints one JSON line.
 * Usage: row.ts <row> <backend> [--size N] [--batch N] [--steps N] [--warmup N]
 */
import { selectBackend } from "@ft/core";
import { resnetInferStep, resnetTrainStep, timeSteps } from "./resnet-rows.js";

const [row, backend, ...rest] = process.argv.slice(2);
const opt = (name: string, fallback: number) => {
  const i = rest.indexOf(`--${name}`);
  return i >= 0 ? Number(rest[i + 1]) : fallback;
};
const size = opt("size", 224);
const batch = opt("batch", 8);
const steps = opt("steps", 3);
const warmup = opt("warmup", 1);

await selectBackend(backend);
let result: Record<string, unknown>;
switch (row) {
  case "train":
  case "infer": {
    const step = row === "train" ? resnetTrainStep(size, batch) : resnetInferStep(size, batch);
    const times = await timeSteps(step, warmup, steps);
    const median = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
    result = { median_s: median, images_per_s: batch / median, steps: times.length };
    break;
  }
  default:
    throw new Error(`unknown row "${row}"`);
}
result.peak_rss_mb = process.resourceUsage().maxRSS / 1024;
process.stdout.write(JSON.stringify(result) + "\n");
