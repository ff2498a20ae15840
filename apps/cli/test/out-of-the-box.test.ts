import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT, ftProcess } from "./cli-process.js";

const root = mkdtempSync(join(tmpdir(), "ft-out-of-the-box-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const ft = (args: string[], env: Record<string, string> = {}) => ftProcess(args, { env });

const tiny = ["resnet50", "--weights", "none", "--data", "examples/cifar10-sample", "--image-size", "32", "--train-size", "8", "--val-size", "8", "--batch-size", "8", "--max-steps", "1", "--no-progress"];

describe("without the native engine", () => {
  const broken = { FT_NATIVE_ADDON: join(root, "missing", "ft_native.node") };

  it("a training command's first line names the reason, the slowdown and the fix", () => {
    const run = ft(["train", ...tiny, "--run-dir", join(root, "warned")], broken);
    expect(run.code, run.stderr).toBe(0);
    expect(run.firstLine).toMatch(/^ft: warning: using wasm, which trains 6–11× slower than native/);
    expect(run.firstLine).toContain(`because native failed to load: the native engine is unavailable: FT_NATIVE_ADDON=${broken.FT_NATIVE_ADDON} does not exist`);
    expect(run.firstLine).toContain("Fix: run `bash scripts/setup.sh` at the repository root");
    expect(run.firstLine).toMatch(/Pass --backend wasm to choose it and silence this\.$/);
  });

  it("--backend wasm silences it", () => {
    const run = ft(["--backend", "wasm", "train", ...tiny, "--run-dir", join(root, "quiet")], broken);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).not.toMatch(/warning/);
    expect(run.firstLine).toMatch(/^ft: training resnet50 on wasm \(requested with --backend\)/);
  });
});

describe("README", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");

  it("`ft --help` and `ft train --help` list every engine --backend accepts", () => {
    for (const help of [ft(["--help"]).stdout, ft(["train", "--help"]).stdout]) {
      expect(help).toMatch(/--backend <name>\s+compute engine: node-gpu, node, native, wasm, cpu/);
    }
  });

  it("the offline example runs in a clone, with nothing outside the repository", () => {
    const line = readme.split("\n").find((l) => l.startsWith("pnpm ft train") && l.includes("--weights none"));
    expect(line, "README has an offline `pnpm ft train … --weights none` example").toBeDefined();
    const args = line!.replace(/#.*$/, "").trim().split(/\s+/).slice(2);
    expect(args[args.indexOf("--data") + 1]).toBe("examples/cifar10-sample");
    const run = ft([...args, "--run-dir", join(root, "readme"), "--no-progress"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/^epoch 2\/2: loss \d/m);
    const config = JSON.parse(readFileSync(join(root, "readme", "config.json"), "utf8")) as { classNames: string[] };
    expect(config.classNames).toHaveLength(10);
  });
});
