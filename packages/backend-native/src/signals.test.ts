import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const packageRoot = fileURLToPath(new URL("..", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "ft-signals-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// Products of the shapes of a fine-tuning head (2048 features, 10 classes) and a square one, for 3 s:
// oneDNN's JIT GEMM ran them with rsp pointing into the heap, and under the profiler's SIGPROF every
// 100 µs the addon aborted within a second before it held signals (4 runs of 4 at 1 ms, 0.3 s each) ("corrupted size vs. prev_size while consolidating").
const MATMUL_LOOP = `
  import("./src/addon.ts").then(({ loadNativeAddon }) => {
    const addon = loadNativeAddon();
    const shapes = [[16, 2048, 10], [256, 256, 256]];
    const started = Date.now();
    let products = 0;
    while (Date.now() - started < 3000) {
      for (const [m, k, n] of shapes) {
        const a = new Float32Array(m * k).fill(0.25), b = new Float32Array(k * n).fill(0.5), out = new Float32Array(m * n);
        addon.batchMatMul(a, [1, m, k], b, [1, k, n], false, false, out, null, false);
        if (out[m * n - 1] !== 0.125 * k) throw new Error("wrong product " + out[m * n - 1]);
        products++;
      }
    }
    console.log("products " + products);
  });`;

function runUnder(profiler: string[]): { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; dir: string } {
  const dir = mkdtempSync(join(work, "run-"));
  const result = spawnSync(process.execPath, [...profiler, `--${profiler[0]!.slice(2)}-dir=${dir}`, "--conditions=source", "--import", "tsx", "-e", MATMUL_LOOP], {
    cwd: packageRoot,
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr, dir };
}

describe("the addon under Node's profilers", () => {
  it("survives --cpu-prof's signals in the middle of oneDNN's GEMM and writes the profile", () => {
    const run = runUnder(["--cpu-prof", "--cpu-prof-interval=100"]);
    expect(run.stderr).not.toMatch(/corrupted|free\(\)|malloc/);
    expect({ status: run.status, signal: run.signal }).toEqual({ status: 0, signal: null });
    expect(Number(/products (\d+)/.exec(run.stdout)?.[1])).toBeGreaterThan(100);
    const [profile] = readdirSync(run.dir).filter((f) => f.endsWith(".cpuprofile"));
    expect((JSON.parse(readFileSync(join(run.dir, profile!), "utf8")) as { samples: number[] }).samples.length).toBeGreaterThan(1000);
  });

  it("runs under --heap-prof and writes the heap profile", () => {
    const run = runUnder(["--heap-prof"]);
    expect({ status: run.status, signal: run.signal, stderr: run.stderr }).toMatchObject({ status: 0, signal: null });
    const [profile] = readdirSync(run.dir).filter((f) => f.endsWith(".heapprofile"));
    expect(JSON.parse(readFileSync(join(run.dir, profile!), "utf8"))).toHaveProperty("head");
  });
});
