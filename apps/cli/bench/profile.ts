/**
 * Times (and with --profile, breaks down by kernel) training or inference steps on ft-native, built exactly as
 * `pnpm bench` builds them. Not part of the tests. Run from the repository root:
 *   pnpm exec tsx --conditions source apps/cli/bench/profile.ts [--model vgg19] --row train --size 64 --batch 8 [--steps 3] [--warmup 1]
 *     [--profile | --by-size] [--memory] [--backend cpu]
 * `--model` takes any registered name (default resnet50).
 * Prints one JSON line with images_per_s (median step), like apps/cli/bench/torch_peer.py.
 */
import * as tf from "@tensorflow/tfjs-core";
import { registerNativeBackend } from "@ft/backend-native";
import { inferStepOf, timeSteps, trainStepOf } from "./model-rows.js";
import "../src/models.js";

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : fallback;
};
const row = opt("row", "train"), size = Number(opt("size", "64")), batch = Number(opt("batch", "8"));
const steps = Number(opt("steps", "3")), warmup = Number(opt("warmup", "1")), backend = opt("backend", "ft-native"), model = opt("model", "resnet50");
const bySize = args.includes("--by-size");
const memory = args.includes("--memory");
const profile = args.includes("--profile") || bySize || memory;

registerNativeBackend();
await tf.setBackend(backend);

const kernelMs = new Map<string, { ms: number; calls: number }>();
/**
 * With --memory, at the kernel after which the process's resident memory peaked: the RSS, the tensor bytes
 * tfjs counts as alive (a tensor sharing another's data counts again) and the idle arrays in ft-native's pool.
 */
const peak = { rss: 0, tensors: 0, idle: 0, kernel: "", call: 0 };
let calls = 0;
if (profile) {
  // Wrap every kernel of the backend with a timer (tfjs kernels are synchronous on this backend).
  for (const config of tf.getKernelsForBackend(backend)) {
    const inner = config.kernelFunc;
    tf.unregisterKernel(config.kernelName, backend);
    tf.registerKernel({
      ...config,
      kernelFunc: (a) => {
        const t0 = performance.now();
        const out = inner(a);
        const outSize = (Array.isArray(out) ? out[0] : out)?.shape.reduce((x: number, y: number) => x * y, 1) ?? 0;
        const key = bySize ? `${config.kernelName} ${outSize >= 1 << 18 ? ">=256K" : outSize >= 1 << 14 ? "16K-256K" : "<16K"}` : config.kernelName;
        const entry = kernelMs.get(key) ?? { ms: 0, calls: 0 };
        entry.ms += performance.now() - t0;
        entry.calls++;
        kernelMs.set(key, entry);
        calls++;
        const rss = memory ? process.memoryUsage.rss() : 0;
        if (rss > peak.rss) {
          const idle = (tf.backend() as { idleBytes?: number }).idleBytes ?? 0;
          Object.assign(peak, { rss, tensors: tf.memory().numBytes, idle, kernel: config.kernelName, call: calls });
        }
        return out;
      },
    });
  }
}

const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
const step = row === "train" ? trainStepOf(model, size, batch, backend).step : inferStepOf(model, size, batch);
await timeSteps(step, warmup, 0); // warm-up: primitive creation and first-touch allocations, left out of the profile
kernelMs.clear();
Object.assign(peak, { rss: 0, tensors: 0, idle: 0, kernel: "", call: 0 });
calls = 0;
const times = await timeSteps(step, 0, steps);
const median = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
console.log(JSON.stringify({ backend, model, row, size, batch, steps, seconds: times.map((t) => +t.toFixed(3)), images_per_s: +(batch / median).toFixed(3),
  rss_mb: Math.round(process.memoryUsage().rss / 2 ** 20), ...(memory ? { peak: { rss_mb: mb(peak.rss), tensor_mb: mb(peak.tensors), pool_idle_mb: mb(peak.idle), after: `${peak.kernel} (kernel call ${peak.call} of ${calls})` } } : {}) }));
if (profile) {
  const total = [...kernelMs.values()].reduce((a, b) => a + b.ms, 0);
  const rows = [...kernelMs.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25);
  console.log(`kernel time over ${steps} steps: ${(total / 1000).toFixed(2)} s`);
  for (const [name, { ms, calls }] of rows) console.log(`${name.padEnd(28)} ${(ms / 1000).toFixed(3).padStart(8)} s ${String(calls).padStart(6)} calls ${((100 * ms) / total).toFixed(1).padStart(5)} %`);
}
