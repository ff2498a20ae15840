/**
 * Per-kernel profile of one ResNet-50 training step (forward + backward + SGD) on wasm with the
 * training kernels of src/backend/wasm-kernels. Every wasm kernel is wrapped with a timer; kernels
 * that call other kernels count once, at the outermost call (inclusive time).
 *
 *   npx tsx --conditions source scripts/profile-step.ts [--size 64] [--batch 8] [--steps 2] [--json out.json]
 *
 * Steps alternate between "before" (tfjs-core's FusedBatchNorm gradient and the stock wasm kernels
 * that `registerWasmTrainingKernels` replaces beyond the convolution and pool gradients) and
 * "after" (everything registered), so the two profiles share the machine's load.
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-layers";
import "@tensorflow/tfjs-backend-wasm";
import { writeFileSync } from "node:fs";
import { registerWasmTrainingKernels, stockWasmKernel } from "../src/backend/wasm-kernels/index.js";
import { stockBatchNormGradient } from "../src/backend/wasm-kernels/batchnorm-grad.js";

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const size = Number(option("--size", "64"));
const batch = Number(option("--batch", "8"));
const steps = Number(option("--steps", "2"));

await tf.setBackend("wasm");
await tf.ready();
const stockConvKernels = new Map(["Conv2DBackpropInput", "MaxPoolGrad", "AvgPoolGrad"].map((k) => [k, tf.getKernel(k, "wasm")]));
registerWasmTrainingKernels();
const ourGradient = tf.getGradient("FusedBatchNorm")!;
const stockGradient = stockBatchNormGradient()!;

type Mode = "before" | "after";
let mode: Mode = "after";
const totals: Record<Mode, Map<string, { ms: number; calls: number }>> = { before: new Map(), after: new Map() };
let depth = 0;
let recording = false;
for (const config of tf.getKernelsForBackend("wasm")) {
  const ours = config.kernelFunc;
  const stock = stockConvKernels.has(config.kernelName) ? ours : (stockWasmKernel(config.kernelName)?.kernelFunc ?? ours);
  const inner: tf.KernelFunc = (params) => (mode === "before" ? stock : ours)(params);
  tf.unregisterKernel(config.kernelName, "wasm");
  tf.registerKernel({
    ...config,
    kernelFunc: (params) => {
      depth++;
      const t0 = performance.now();
      try {
        return inner(params);
      } finally {
        depth--;
        if (depth === 0 && recording) {
          const t = totals[mode].get(config.kernelName) ?? { ms: 0, calls: 0 };
          t.ms += performance.now() - t0;
          t.calls++;
          totals[mode].set(config.kernelName, t);
        }
      }
    },
  });
}

const resnetModule = "../../resnet/src/index.js";
const { resnet50Spec } = (await import(resnetModule)) as { resnet50Spec: { build(o: object): import("@tensorflow/tfjs-layers").LayersModel } };
const model = resnet50Spec.build({ inputShape: [size, size, 3], classes: 10 });
model.compile({ optimizer: tf.train.sgd(0.01), loss: "categoricalCrossentropy" });
const x = tf.randomNormal([batch, size, size, 3]);
const y = tf.oneHot(tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 10), "int32"), 10);

const setMode = (m: Mode) => {
  mode = m;
  tf.registerGradient(m === "before" ? stockGradient : ourGradient);
};
const stepTimes: Record<Mode, number[]> = { before: [], after: [] };
for (let i = 0; i <= steps; i++) {
  for (const m of ["before", "after"] as const) {
    setMode(m);
    recording = i > 0;
    const t0 = performance.now();
    await model.trainOnBatch(x, y);
    if (i > 0) stepTimes[m].push(performance.now() - t0);
  }
}
recording = false;
setMode("after");

const report: Record<string, unknown> = { size, batch };
for (const m of ["before", "after"] as const) {
  const stepMs = stepTimes[m].reduce((a, b) => a + b, 0) / steps;
  const rows = [...totals[m].entries()].map(([kernel, t]) => ({ kernel, ms: t.ms / steps, calls: t.calls / steps })).sort((a, b) => b.ms - a.ms);
  const kernelMs = rows.reduce((a, r) => a + r.ms, 0);
  console.log(`\n[${m}] ResNet-50 wasm ${size} px batch ${batch}: step ${(stepMs / 1000).toFixed(2)} s = ${((batch * 1000) / stepMs).toFixed(2)} img/s (steps ${stepTimes[m].map((t) => (t / 1000).toFixed(2)).join(", ")})`);
  console.log(`${"kernel".padEnd(30)} ${"ms/step".padStart(9)} ${"calls".padStart(6)} ${"share".padStart(6)}`);
  for (const r of rows.slice(0, 22)) console.log(`${r.kernel.padEnd(30)} ${r.ms.toFixed(0).padStart(9)} ${r.calls.toFixed(0).padStart(6)} ${((100 * r.ms) / stepMs).toFixed(1).padStart(5)}%`);
  console.log(`${"(all kernels)".padEnd(30)} ${kernelMs.toFixed(0).padStart(9)}`);
  console.log(`${"(outside kernels)".padEnd(30)} ${(stepMs - kernelMs).toFixed(0).padStart(9)}`);
  report[m] = { stepMs, rows };
}
const jsonPath = option("--json", "");
if (jsonPath) writeFileSync(jsonPath, JSON.stringify(report, null, 2));
