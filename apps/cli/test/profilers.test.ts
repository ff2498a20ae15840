import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ftProcess } from "./cli-process.js";

const root = mkdtempSync(join(tmpdir(), "ft-profilers-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// `node --cpu-prof ft train resnet50 …` aborted with glibc heap corruption (oneDNN's GEMM and SIGPROF,
// see native/common.h): training steps on the native engine under each of Node's profilers.
describe("ft train under Node's profilers, on the native engine", () => {
  for (const profiler of ["cpu-prof", "heap-prof"]) {
    it(`--${profiler}: the run ends normally and the profile is written`, () => {
      const dir = join(root, profiler);
      const run = ftProcess(
        ["train", "resnet50", "--weights", "none", "--data", "examples/cifar10-sample", "--image-size", "64", "--batch-size", "8",
          "--train-size", "48", "--val-size", "8", "--epochs", "1", "--max-steps", "6", "--run-dir", join(dir, "run"), "--no-progress"],
        { nodeFlags: [`--${profiler}`, `--${profiler}-dir=${dir}`, ...(profiler === "cpu-prof" ? ["--cpu-prof-interval=200"] : [])] },
      );
      expect({ code: run.code, signal: run.signal, stderr: run.stderr }).toMatchObject({ code: 0, signal: null });
      expect(run.firstLine).toContain("on native");
      expect(run.stdout).toContain("stopped: max-steps");
      expect(readdirSync(dir).filter((f) => f.endsWith(`.${profiler === "cpu-prof" ? "cpuprofile" : "heapprofile"}`)).length).toBeGreaterThan(0);
    });
  }
});
