/**
 * Micro-benchmarks of the wasm training kernels (src/backend/wasm-kernels), per shape class at
 * ResNet-50 sizes: GFLOP/s of the new wasm kernels, of the stock wasm Conv2DBackpropInput, of each
 * input-gradient formulation (so `chooseBackpropInputStrategy` can keep the faster one), and of the
 * tfjs cpu backend (run on a reduced batch/size: its filter gradient runs at ~0.01 GFLOP/s).
 *
 *   npx tsx scripts/bench-kernels.ts [--batch 8] [--quick] [--no-cpu] [--json out.json]
 *   npx tsx --conditions source scripts/bench-kernels.ts --resnet [--size 64] [--batch 8]
 *
 * `--resnet` times instead whole ResNet-50 training steps (forward + backward + SGD) on wasm with
 * these kernels, using the @ft/resnet sources of this repository.
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

/** Median seconds of a ResNet-50 training step (trainOnBatch) and of inference, on wasm. */
async function resnetStep(): Promise<void> {
  await tf.setBackend("wasm");
  await tf.ready();
  registerWasmTrainingKernels();
  const size = Number(option("--size", "64"));
  const steps = Number(option("--steps", quick ? "2" : "3"));
  // A path TypeScript does not follow: the resnet package depends on @ft/core, not the reverse.
  const resnetModule = "../../resnet/src/index.js";
  const { resnet50Spec } = (await import(resnetModule)) as { resnet50Spec: { build(o: object): import("@tensorflow/tfjs-layers").LayersModel } };
  const model = resnet50Spec.build({ inputShape: [size, size, 3], classes: 10 });
  model.compile({ optimizer: tf.train.sgd(0.01), loss: "categoricalCrossentropy" });
  const x = tf.randomNormal([batch, size, size, 3]);
  const y = tf.oneHot(tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 10), "int32"), 10);
  const times: number[] = [];
  for (let i = 0; i <= steps; i++) {
    const t0 = performance.now();
    await model.trainOnBatch(x, y);
    if (i > 0) times.push((performance.now() - t0) / 1000);
  }
  const inferTimes: number[] = [];
  for (let i = 0; i <= steps; i++) {
    const t0 = performance.now();
    const out = model.predict(x) as tf.Tensor;
    out.dataSync();
    out.dispose();
    if (i > 0) inferTimes.push((performance.now() - t0) / 1000);
  }
  const train = median(times);
  const infer = median(inferTimes);
  console.log(`ResNet-50 on wasm (1 thread), ${size} px, batch ${batch}: training step ${train.toFixed(2)} s = ${(batch / train).toFixed(2)} img/s (steps: ${times.map((t) => t.toFixed(2)).join(", ")}); inference ${(batch / infer).toFixed(1)} img/s`);
}

async function main(): Promise<void> {
  await tf.setBackend("wasm");
  await tf.ready();
  const stockInput = tf.getKernel("Conv2DBackpropInput", "wasm")!;
  const stockMaxPoolGrad = tf.getKernel("MaxPoolGrad", "wasm")!;
  const stockAvgPoolGrad = tf.getKernel("AvgPoolGrad", "wasm")!;
  registerWasmTrainingKernels();
  if (stockWasmKernel("Conv2DBackpropInput")?.kernelFunc !== stockInput.kernelFunc) throw new Error("stock kernel bookkeeping is off");
  const backend = () => tf.backend();

  const cases = CONV_CASES.filter((_, i) => !quick || QUICK_CASES.has(i));
  for (const c of cases) {
    const { x, filter, dy, g } = convTensors(c, batch, c.h);
    const shape = `${batch}x${c.h}x${c.h}x${c.cin} k${c.k} s${c.stride} ->${c.cout}`;
    const flops = convFlops(g);
    const fAttrs = { strides: c.stride, pad: c.pad, dataFormat: "NHWC", filterShape: filter.shape };
    const iAttrs = { strides: c.stride, pad: c.pad, dataFormat: "NHWC", inputShape: x.shape };

    const filterVariants: Record<string, number> = {};
    for (const strategy of ["colT", "dyT"] as const) {
      const fn = conv2DBackpropFilterWith(strategy);
      filterVariants[strategy] = gflops(flops, timeKernel(() => fn({ inputs: { x, dy }, attrs: fAttrs, backend: backend() }) as tf.TensorInfo));
    }
    const filterMs = timeKernel(() => tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, fAttrs) as tf.Tensor);
    rows.push({
      kernel: "Conv2DBackpropFilter",
      cls: c.cls,
      shape,
      gflop: flops / 1e9,
      wasmNew: gflops(flops, filterMs),
      cpu: withCpu ? cpuGflops(c, "filter") : undefined,
      variants: filterVariants,
      chosen: chooseBackpropFilterStrategy(g),
    });

    const variants: Record<string, number> = {};
    for (const strategy of ["conv", "gemm"] as const) {
      if (strategy === "conv" && c.stride !== 1) continue;
      const fn = conv2DBackpropInputWith(strategy);
      variants[strategy] = gflops(flops, timeKernel(() => fn({ inputs: { dy, filter }, attrs: iAttrs, backend: backend() }) as tf.TensorInfo));
    }
    const inputMs = timeKernel(() => tf.engine().runKernel("Conv2DBackpropInput", { dy, filter }, iAttrs) as tf.Tensor);
    const stockMs = quick && c.h >= 56 ? undefined : timeKernel(() => stockInput.kernelFunc({ inputs: { dy, filter }, attrs: iAttrs, backend: backend() }) as tf.TensorInfo, 1);
    rows.push({
      kernel: "Conv2DBackpropInput",
      cls: c.cls,
      shape,
      gflop: flops / 1e9,
      wasmNew: gflops(flops, inputMs),
      wasmStock: stockMs === undefined ? undefined : gflops(flops, stockMs),
      cpu: withCpu ? cpuGflops(c, "input") : undefined,
      variants,
      chosen: chooseBackpropInputStrategy(g),
    });
    const fwdMs = timeKernel(() => tf.engine().runKernel("Conv2D", { x, filter }, { strides: c.stride, pad: c.pad, dataFormat: "NHWC", dilations: 1 }) as tf.Tensor);
    rows.push({ kernel: "Conv2D (forward, stock XNNPACK)", cls: c.cls, shape, gflop: flops / 1e9, wasmNew: gflops(flops, fwdMs) });
    tf.dispose([x, filter, dy]);
    printRow(rows.at(-3)!);
    printRow(rows.at(-2)!);
    printRow(rows.at(-1)!);
  }

  // Pool gradients: milliseconds, not GFLOP/s (they move memory).
  const pools = [
    { kernel: "MaxPoolGrad", h: 112, c: 64, k: 3, s: 2, pad: "valid" as const, stock: stockMaxPoolGrad },
    { kernel: "MaxPoolGrad", h: 56, c: 128, k: 3, s: 1, pad: "same" as const, stock: stockMaxPoolGrad },
    { kernel: "AvgPoolGrad", h: 56, c: 128, k: 2, s: 2, pad: "valid" as const, stock: stockAvgPoolGrad },
    { kernel: "AvgPoolGrad", h: 7, c: 2048, k: 7, s: 7, pad: "valid" as const, stock: stockAvgPoolGrad },
  ];
  console.log("\npool gradients (ms, lower is better)");
  for (const p of quick ? pools.slice(0, 1) : pools) {
    const input = tf.randomNormal([batch, p.h, p.h, p.c]) as tf.Tensor4D;
    const output = tf.maxPool(input, p.k, p.s, p.pad);
    const dy = tf.randomNormal(output.shape);
    const attrs = { filterSize: p.k, strides: p.s, pad: p.pad };
    const inputs = { dy, input, output };
    const newMs = timeKernel(() => tf.engine().runKernel(p.kernel, inputs, attrs) as tf.Tensor);
    const stockMs = timeKernel(() => p.stock.kernelFunc({ inputs, attrs, backend: backend() }) as tf.TensorInfo);
    let cpuMs: number | undefined;
    if (withCpu) {
      tf.setBackend("cpu");
      cpuMs = timeKernel(() => tf.engine().runKernel(p.kernel, inputs, attrs) as tf.Tensor, 1);
      tf.setBackend("wasm");
    }
    const shape = `${batch}x${p.h}x${p.h}x${p.c} k${p.k} s${p.s} ${p.pad}`;
    console.log(`${p.kernel.padEnd(22)} ${shape.padEnd(30)} new ${newMs.toFixed(1)} ms   stock ${stockMs.toFixed(1)} ms   cpu ${cpuMs?.toFixed(1) ?? "-"} ms`);
    rows.push({ kernel: p.kernel, cls: "pool", shape, gflop: 0, wasmNew: newMs, wasmStock: stockMs, cpu: cpuMs });
    tf.dispose([input, output, dy]);
  }

  const jsonPath = option("--json", "");
  if (jsonPath) writeFileSync(jsonPath, JSON.stringify({ batch, rows }, null, 2));
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

await (flag("--resnet") ? resnetStep() : main());
