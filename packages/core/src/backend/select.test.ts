import { afterEach, describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { listBackendCandidates, registerBackendCandidate, selectBackend } from "./select.js";
import { FtError, UsageError } from "../errors.js";

function removeCandidate(name: string) {
  const list = listBackendCandidates() as ReturnType<typeof listBackendCandidates> & unknown[];
  const i = list.findIndex((c) => c.name === name);
  if (i >= 0) (list as unknown as unknown[]).splice(i, 1);
}

describe("backend selection", () => {
  afterEach(() => {
    removeCandidate("broken");
    delete process.env.FT_BACKEND;
  });

  it("prefers node-gpu, then node, then wasm, then cpu", () => {
    expect(listBackendCandidates().map((c) => c.name)).toEqual(["node-gpu", "node", "wasm", "cpu"]);
  });

  it("falls through engines that do not load and says why", async () => {
    const selection = await selectBackend(undefined);
    // tfjs-node(-gpu) are optional peers that this repository never installs.
    expect(selection.attempts.map((a) => [a.name, a.detail])).toEqual([
      ["node-gpu", "not installed"],
      ["node", "not installed"],
    ]);
    expect(selection.name).toBe("wasm");
    expect(tf.getBackend()).toBe("wasm");
    expect(selection.reason).toMatch(/not available: node-gpu, node/);
  });

  it("skips a candidate whose load throws, keeping its message", async () => {
    registerBackendCandidate({
      name: "broken",
      tfName: "broken",
      priority: 1,
      description: "always fails",
      load: async () => {
        throw new Error("libbroken.so: cannot open shared object file\nsecond line");
      },
    });
    const selection = await selectBackend(undefined);
    expect(selection.attempts[0]).toEqual({ name: "broken", ok: false, detail: "libbroken.so: cannot open shared object file" });
  });

  it("warns, with the slowdown and the fix, when a slow fallback runs because an installed engine failed", async () => {
    const quiet = await selectBackend(undefined);
    // Absent optional peers (tfjs-node) are nobody's mistake: no warning.
    expect(quiet.name).toBe("wasm");
    expect(quiet.warning).toBeUndefined();
    registerBackendCandidate({
      name: "broken",
      tfName: "broken",
      priority: 1,
      description: "always fails",
      howToGet: "apt-get install libbroken",
      load: async () => {
        throw new Error("libbroken.so: cannot open shared object file");
      },
    });
    const warned = await selectBackend(undefined);
    expect(warned.name).toBe("wasm");
    expect(warned.warning).toBe(
      "warning: using wasm, which trains 6–11× slower than native (ResNet-50 at 64–224 px; wasm runs on one core), " +
        "because broken failed to load: libbroken.so: cannot open shared object file. Fix: apt-get install libbroken. " +
        "Pass --backend wasm to choose it and silence this.",
    );
    // Asked for by name: the user knows.
    expect((await selectBackend("wasm")).warning).toBeUndefined();
  });

  it("honours an explicit choice and FT_BACKEND", async () => {
    expect((await selectBackend("cpu")).name).toBe("cpu");
    expect(tf.getBackend()).toBe("cpu");
    process.env.FT_BACKEND = "wasm";
    const selection = await selectBackend();
    expect(selection.name).toBe("wasm");
    expect(selection.reason).toMatch(/FT_BACKEND/);
  });

  it("fails clearly when a forced engine cannot load, with how to get it", async () => {
    const error = await selectBackend("node-gpu").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FtError);
    expect((error as Error).message).toMatch(/backend "node-gpu" was requested but cannot be loaded: not installed\. To get it: pnpm add @tensorflow\/tfjs-node-gpu/);
  });

  it("rejects an unknown engine name as a usage error", async () => {
    const error = await selectBackend("tpu").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(/unknown backend "tpu"; choose one of node-gpu, node, wasm, cpu/);
  });
});
