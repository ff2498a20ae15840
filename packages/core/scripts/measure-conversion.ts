/**
 * Measures how fast a large Theano-ordered Keras file converts into a tfjs model, and what it costs
 * in memory. Usage (from packages/core):
 *
 *   npx tsx scripts/measure-conversion.ts [--keep DIR] [--json]
 *
 * With --json the last line of stdout is `{"mb", "seconds", "mb_per_s"}` of the warm run (used by `pnpm bench`).
 *
 * A child process writes a ~120 MB Keras-1 th file (two 3×3 512→512 convs in `(out, in, kh, kw)`
 * order and a 25088→1024 Dense after a channels-first Flatten, like VGG's fc6), so the writer's
 * memory does not count; this process then builds the matching model and times `loadWeights`.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import "@tensorflow/tfjs-backend-cpu";
import { readKerasWeights } from "../src/weights/keras-file.js";
import { loadWeights } from "../src/weights/load.js";

const CONVS = 2;
const CHANNELS = 512;
const MAP = 7;
const UNITS = 1024;

async function generate(path: string): Promise<void> {
  const { default: h5wasm } = await import("h5wasm/node");
  await h5wasm.ready;
  const f = new h5wasm.File(path, "w");
  const layers = [...Array.from({ length: CONVS }, (_, i) => `conv_${i}`), "flatten", "fc"];
  f.create_attribute("layer_names", layers);
  let seed = 1;
  const fill = (n: number) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      a[i] = seed / 2 ** 32 - 0.5;
    }
    return a;
  };
  for (const name of layers) {
    const g = f.create_group(name);
    if (name === "flatten") {
      g.create_attribute("weight_names", [] as string[]);
      continue;
    }
    const shapes: [string, number[]][] =
      name === "fc"
        ? [["W", [CHANNELS * MAP * MAP, UNITS]], ["b", [UNITS]]]
        : [["W", [CHANNELS, CHANNELS, 3, 3]], ["b", [CHANNELS]]];
    g.create_attribute("weight_names", shapes.map(([role]) => `${name}_${role}`));
    for (const [role, shape] of shapes) {
      g.create_dataset({ name: `${name}_${role}`, data: fill(shape.reduce((a, b) => a * b, 1)), shape });
    }
  }
  f.close();
}

function buildModel(): tfl.LayersModel {
  const input = tfl.input({ shape: [MAP, MAP, CHANNELS] });
  let x = input;
  for (let i = 0; i < CONVS; i++) {
    x = tfl.layers.conv2d({ filters: CHANNELS, kernelSize: 3, padding: "same", name: `conv_${i}`, kernelInitializer: "zeros" }).apply(x) as tfl.SymbolicTensor;
  }
  x = tfl.layers.flatten({ name: "flatten" }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.dense({ units: UNITS, name: "fc", kernelInitializer: "zeros" }).apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: x });
}

const mb = (bytes: number) => bytes / 1e6;
const maxRssMb = () => process.resourceUsage().maxRSS / 1e3;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === "--generate") return generate(args[1]!);

  const keepAt = args[0] === "--keep" ? args[1] : undefined;
  const dir = keepAt ?? mkdtempSync(join(tmpdir(), "ft-measure-"));
  const path = join(dir, "large_th.h5");
  try {
    const t0 = performance.now();
    const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), "--generate", path], { stdio: "inherit" });
    if (child.status !== 0) throw new Error(`generating ${path} failed`);
    const bytes = statSync(path).size;
    console.log(`generated ${path}: ${mb(bytes).toFixed(1)} MB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    await tf.setBackend("cpu");
    const model = buildModel();
    const largest = CHANNELS * MAP * MAP * UNITS * 4;
    const modelBytes = model.countParams() * 4;
    let warm = { mb: 0, seconds: 0, mb_per_s: 0 };
    for (const run of ["cold (includes h5wasm start-up)", "warm"]) {
      const rssBefore = maxRssMb();
      const cpuBefore = process.cpuUsage();
      const report = await loadWeights(model, path);
      const cpu = process.cpuUsage(cpuBefore);
      const cpuSeconds = (cpu.user + cpu.system) / 1e6;
      const rssAfter = maxRssMb();
      console.log(`[${run}] ordering ${report.ordering} (${report.orderingSource}); kernels converted: ${report.convertedKernels.join(", ")}; dense reordered: ${report.reorderedDense.join(", ")}`);
      console.log(
        `[${run}] loadWeights: ${mb(bytes).toFixed(1)} MB in ${report.seconds.toFixed(2)} s wall = ${(mb(bytes) / report.seconds).toFixed(0)} MB/s; ${cpuSeconds.toFixed(2)} CPU s = ${(mb(bytes) / cpuSeconds).toFixed(0)} MB per CPU second`,
      );
      warm = { mb: mb(bytes), seconds: report.seconds, mb_per_s: mb(bytes) / report.seconds };
      console.log(
        `[${run}] memory: model ${mb(modelBytes).toFixed(0)} MB, largest tensor ${mb(largest).toFixed(0)} MB; peak RSS ${rssBefore.toFixed(0)} MB before loading, ${rssAfter.toFixed(0)} MB after (+${(rssAfter - rssBefore).toFixed(0)} MB = ${((rssAfter - rssBefore) / mb(largest)).toFixed(2)}× the largest tensor)`,
      );
    }
    // Spot check: file row (c=1, h=0, w=0) = row 1*7*7 must land at NHWC row (h=0, w=0, c=1) = row 1.
    const file = await readKerasWeights(path);
    const expected = Array.from(file.layers.find((l) => l.name === "fc")!.weights[0]!.readRows(MAP * MAP, MAP * MAP + 1));
    file.close();
    const actual = Array.from(tf.slice(model.getLayer("fc").getWeights()[0]!, [1, 0], [1, UNITS]).dataSync());
    if (actual.some((v, i) => v !== expected[i])) throw new Error("fc rows were not reordered as expected");
    console.log("spot check of the reordered fc rows: ok");
    if (args.includes("--json")) console.log(JSON.stringify(warm));
  } finally {
    if (!keepAt) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
