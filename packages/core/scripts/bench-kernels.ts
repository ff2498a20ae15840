/**
 * Micro-benchmarks of the wasm training kernels (src/backend/wasm-kernels), per shape class at
 * ResNet-50 sizes: GFLOP/s of the new wasm kernels, of the stock wasm Conv2DBackpropInput, of each
 * input-gradient formulation (so `chooseBackpropInputStrategy` can keep the faster one), and of the
 * tfjs cpu backend (run on a reduced batch/size: its filter gradient runs at ~0.01 GFLOP/s).
 *
 *   npx tsx scripts/bench-kernels.ts [--batch 8] [--quick] [--no-cpu] [--json out.json]
 *
 * Whole ResNet-50 training steps on wasm (the trainer's step, with these kernels) are a row of `pnpm bench`.
 *
 * Single-threaded wasm (tfjs disables wasm threads under Node). Times are medians after one warm-up.
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { writeFileSync } from "node:fs";
import { registerWasmTrainingKernels, stockWasmKernel } from "../src/backend/wasm-kernels/index.js";
import { chooseBackpropFilterStrategy, conv2DBackpropFilterWith } from "../src/backend/wasm-kernels/conv2d-backprop-filter.js";
import { conv2DBackpropInputWith, chooseBackpropInputStrategy } from "../src/backend/wasm-kernels/conv2d-backprop-input.js";
import { convGeometry, convFlops } from "../src/backend/wasm-kernels/im2col.js";

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const batch = Number(option("--batch", "8"));
const quick = flag("--quick");
const withCpu = !flag("--no-cpu");
const reps = quick ? 2 : 3;

interface ConvCase {
  cls: string;
  h: number;
  cin: number;
  cout: number;
  k: number;
  stride: number;
  pad: "same" | "valid";
}

const CONV_CASES: ConvCase[] = [
  { cls: "1x1", h: 56, cin: 256, cout: 64, k: 1, stride: 1, pad: "valid" },
  { cls: "1x1", h: 56, cin: 64, cout: 256, k: 1, stride: 1, pad: "valid" },
  { cls: "1x1", h: 28, cin: 512, cout: 128, k: 1, stride: 1, pad: "valid" },
  { cls: "1x1", h: 14, cin: 1024, cout: 256, k: 1, stride: 1, pad: "valid" },
  { cls: "1x1", h: 7, cin: 2048, cout: 512, k: 1, stride: 1, pad: "valid" },
  { cls: "strided 1x1", h: 56, cin: 256, cout: 512, k: 1, stride: 2, pad: "valid" },
  { cls: "strided 1x1", h: 28, cin: 512, cout: 256, k: 1, stride: 2, pad: "valid" },
  { cls: "strided 1x1", h: 14, cin: 1024, cout: 2048, k: 1, stride: 2, pad: "valid" },
  { cls: "strided 3x3", h: 56, cin: 128, cout: 128, k: 3, stride: 2, pad: "same" },
  { cls: "3x3", h: 56, cin: 64, cout: 64, k: 3, stride: 1, pad: "same" },
  { cls: "3x3", h: 28, cin: 128, cout: 128, k: 3, stride: 1, pad: "same" },
  { cls: "3x3", h: 14, cin: 256, cout: 256, k: 3, stride: 1, pad: "same" },
  { cls: "3x3", h: 7, cin: 512, cout: 512, k: 3, stride: 1, pad: "same" },
  { cls: "7x7 s2", h: 224, cin: 3, cout: 64, k: 7, stride: 2, pad: "same" },
];
const QUICK_CASES = new Set([0, 5, 9, 12, 13]);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Median ms of `f`, which returns tensor infos to free (kernels on cpu/wasm run synchronously). */
function timeKernel(f: () => tf.TensorInfo, n = reps): number {
  tf.backend().disposeData(f().dataId);
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const out = f();
    times.push(performance.now() - t0);
    tf.backend().disposeData(out.dataId);
  }
  return median(times);
}

const gflops = (flops: number, ms: number) => flops / ms / 1e6;

interface Row {
  kernel: string;
  cls: string;
  shape: string;
  gflop: number;
  wasmNew: number;
  wasmStock?: number;
  cpu?: number;
  variants?: Record<string, number>;
  chosen?: string;
}
const rows: Row[] = [];

function convTensors(c: ConvCase, n: number, h: number) {
  const x = tf.randomNormal([n, h, h, c.cin]) as tf.Tensor4D;
  const filter = tf.randomNormal([c.k, c.k, c.cin, c.cout]) as tf.Tensor4D;
  const g = convGeometry(x.shape, filter.shape, c.stride, c.pad, undefined, "NHWC");
  const dy = tf.randomNormal([n, g.outH, g.outW, c.cout]);
  return { x, filter, dy, g };
}

/** cpu on a reduced problem (batch 1, smaller image) sized to take about a second. */
function cpuGflops(c: ConvCase, kernel: "filter" | "input"): number {
  tf.setBackend("cpu");
  let h = c.h;
  const budget = kernel === "filter" ? 1e7 : 1e8;
  while (h > c.k + 2 && convFlops(convGeometry([1, h, h, c.cin], [c.k, c.k, c.cin, c.cout], c.stride, c.pad, undefined, "NHWC")) > budget) h = Math.ceil(h / 2);
  const { x, filter, dy, g } = convTensors(c, 1, h);
  const attrs = { strides: c.stride, pad: c.pad, dataFormat: "NHWC" as const };
  const ms =
    kernel === "filter"
      ? timeKernel(() => tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, { ...attrs, filterShape: filter.shape }) as tf.Tensor, 1)
      : timeKernel(() => tf.engine().runKernel("Conv2DBackpropInput", { dy, filter }, { ...attrs, inputShape: x.shape }) as tf.Tensor, 1);
  tf.dispose([x, filter, dy]);
  tf.setBackend("wasm");
  return gflops(convFlops(g), ms);
}

let headerPrinted = false;
function printRow(r: Row): void {
  if (!headerPrinted) {
    console.log(`batch ${batch}; GFLOP/s (higher is better); cpu measured at batch 1 on a smaller image`);
    console.log(`${"kernel".padEnd(32)} ${"class".padEnd(12)} ${"shape".padEnd(32)} ${"new".padStart(6)} ${"stock".padStart(6)} ${"cpu".padStart(7)}  formulations`);
    headerPrinted = true;
  }
  const f = (v: number | undefined, d = 1) => (v === undefined ? "-" : v.toFixed(d));
  const variants = r.variants ? Object.entries(r.variants).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ") + ` -> ${r.chosen}` : "";
  console.log(`${r.kernel.padEnd(32)} ${r.cls.padEnd(12)} ${r.shape.padEnd(32)} ${f(r.wasmNew).padStart(6)} ${f(r.wasmStock, 2).padStart(6)} ${f(r.cpu, 3).padStart(7)}  ${variants}`);
}

await main();
