import { describe, expect, it } from "vitest";
import { loadNativeAddon } from "@ft/backend-native";
import { runCli } from "../test/capture.js";

/** The oneDNN engine comes first when its addon is built (CI builds it); otherwise wasm. */
function nativeBuilt(): boolean {
  try {
    loadNativeAddon();
    return true;
  } catch {
    return false;
  }
}

describe("ft CLI skeleton", () => {
  it("`ft models --json` prints only valid JSON on stdout", async () => {
    const { code, stdout } = await runCli(["models", "--json"]);
    expect(code).toBe(0);
    const models = JSON.parse(stdout) as { name: string; parameters: number }[];
    expect(Array.isArray(models)).toBe(true);
    for (const m of models) expect(m.parameters).toBeGreaterThan(0);
  });

  it("`ft env` says which backend runs and why", async () => {
    const { code, stdout } = await runCli(["env", "--json"]);
    expect(code).toBe(0);
    const env = JSON.parse(stdout) as { backend: string; reason: string; tfjsVersion: string; cacheDir: string; missingTrainingKernels: string[] };
    expect(env.backend).toBe(nativeBuilt() ? "native" : "wasm");
    expect(env.reason).toMatch(/first engine that loads/);
    expect(env.tfjsVersion).toBe("4.22.0");
    expect(env.cacheDir).toMatch(/ft/);
    expect(env.missingTrainingKernels).toEqual([]);
  });

  it("`ft --backend cpu env` forces an engine", async () => {
    const { code, stdout } = await runCli(["--backend", "cpu", "env"]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^backend\s+cpu \(tfjs "cpu"\): requested with --backend/m);
    expect(stdout).toMatch(/^kernels\s+all \d+ that training runs$/m);
  });

  it("a forced engine that cannot load fails with one line and exit 1", async () => {
    const { code, stderr } = await runCli(["--backend", "node", "env"]);
    expect(code).toBe(1);
    expect(stderr.trim().split("\n")).toHaveLength(1);
    expect(stderr).toMatch(/^ft: backend "node" was requested but cannot be loaded: not installed/);
  });

  it("bad options give one clear line, a usage hint and exit 2", async () => {
    const bad = await runCli(["models", "--frobnicate"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown option '--frobnicate'/);
    expect(bad.stderr).toMatch(/ft --help/);
    const backend = await runCli(["--backend", "tpu", "env"]);
    expect(backend.code).toBe(2);
    expect(backend.stderr).toMatch(/unknown backend "tpu"/);
  });
});
