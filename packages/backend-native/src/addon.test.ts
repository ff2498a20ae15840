import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import { listBackendCandidates, selectBackend } from "@ft/core";
import { describe, expect, it } from "vitest";
import { BUILD_HINT, loadNativeAddon } from "./addon.js";
import "./index.js";
import { nativeUnavailable, skipReason } from "./test-utils/compare.js";

const packageRoot = fileURLToPath(new URL("..", import.meta.url));

describe("backend candidate", () => {
  it("registers `native` with @ft/core between tfjs-node and wasm, with how to get it", () => {
    const names = listBackendCandidates().map((c) => c.name);
    expect(names.indexOf("native")).toBeGreaterThan(names.indexOf("node"));
    expect(names.indexOf("native")).toBeLessThan(names.indexOf("wasm"));
    const native = listBackendCandidates().find((c) => c.name === "native")!;
    expect(native).toMatchObject({ tfName: "ft-native", priority: 30 });
    expect(native.howToGet).toBe(BUILD_HINT);
    // In the repository the fix is its set-up script; an installed package names the prebuilt package.
    expect(BUILD_HINT).toContain("bash scripts/setup.sh");
  });

  it("says, for each place it looked, why the addon did not load, and the fix", () => {
    const load = (addon: string) =>
      spawnSync(process.execPath, ["--conditions=source", "--import", "tsx", "-e", `import("./src/addon.ts").then((m) => m.loadNativeAddon())`], {
        cwd: packageRoot,
        encoding: "utf8",
        env: { ...process.env, FT_NATIVE_ADDON: addon },
      }).stderr;
    const dir = mkdtempSync(join(tmpdir(), "ft-addon-"));
    const missing = join(dir, "missing.node");
    expect(load(missing)).toContain(`Error: the native engine is unavailable: FT_NATIVE_ADDON=${missing} does not exist. Fix: ${BUILD_HINT}`);
    const notAnAddon = join(dir, "text.node");
    writeFileSync(notAnAddon, "not a shared object");
    expect(load(notAnAddon)).toMatch(/the native engine is unavailable: FT_NATIVE_ADDON=\S+ did not load \(\S+text\.node: file too short\)\. Fix: /);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe.skipIf(nativeUnavailable)(`native addon${skipReason}`, () => {
  it("is what backend selection picks when it loads", async () => {
    const selection = await selectBackend(undefined);
    expect(selection.name).toBe("native");
    expect(tf.getBackend()).toBe("ft-native");
    expect(selection.threads).toBeGreaterThanOrEqual(1);
    await tf.setBackend("cpu");
  });

  it("throws a JS error, never crashes, on bad calls", () => {
    const a = loadNativeAddon();
    const f = (n: number) => new Float32Array(n);
    const geom = [1, 1, 1, 1, 1, 1, 1, 1, 4, 4]; // 3×3 same on 4×4
    const ok = () => a.conv2d(f(2 * 4 * 4 * 3), [2, 4, 4, 3], [3, 3, 3, 5], geom, f(135), null, f(2 * 4 * 4 * 5), false, 0);
    expect(ok).not.toThrow();
    const bad: Array<[string, () => void, RegExp]> = [
      ["x too short", () => a.conv2d(f(10), [2, 4, 4, 3], [3, 3, 3, 5], geom, f(135), null, f(160), false, 0), /x has 10 elements, expected 96/],
      ["y too short", () => a.conv2d(f(96), [2, 4, 4, 3], [3, 3, 3, 5], geom, f(135), null, f(159), false, 0), /y has 159/],
      ["bias length", () => a.conv2d(f(96), [2, 4, 4, 3], [3, 3, 3, 5], geom, f(135), f(4), f(160), false, 0), /bias has 4/],
      ["channel mismatch", () => a.conv2d(f(96), [2, 4, 4, 3], [3, 3, 4, 5], geom, f(180), null, f(160), false, 0), /input channels/],
      ["inconsistent output size", () => a.conv2d(f(96), [2, 4, 4, 3], [3, 3, 3, 5], [1, 1, 1, 1, 0, 0, 0, 0, 4, 4], f(135), null, f(160), false, 0), /does not follow/],
      ["not a Float32Array", () => a.conv2d(new Float64Array(96) as unknown as Float32Array, [2, 4, 4, 3], [3, 3, 3, 5], geom, f(135), null, f(160), false, 0), /Float32Array/],
      ["short shape", () => a.conv2d(f(96), [2, 4, 4], [3, 3, 3, 5], geom, f(135), null, f(160), false, 0), /xShape must have 4/],
      ["negative dim", () => a.conv2d(f(96), [2, -4, 4, 3], [3, 3, 3, 5], geom, f(135), null, f(160), false, 0), /not an integer in/],
      ["fractional dim", () => a.conv2d(f(96), [2, 4.5, 4, 3], [3, 3, 3, 5], geom, f(135), null, f(160), false, 0), /not an integer in/],
      ["huge dims", () => a.conv2d(f(96), [2 ** 31 - 1, 2 ** 31 - 1, 4, 3], [3, 3, 3, 5], geom, f(135), null, f(160), false, 0), /too large/],
      ["missing args", () => (a.conv2d as unknown as () => void)(), /must be/],
      ["backprop input dx length", () => a.conv2dBackpropInput(f(160), [2, 4, 4, 3], [3, 3, 3, 5], geom, f(135), f(95), 0), /dx has 95/],
      ["backprop filter dw length", () => a.conv2dBackpropFilter(f(96), [2, 4, 4, 3], [3, 3, 3, 5], geom, f(160), f(134)), /dw has 134/],
      ["matmul inner dims", () => a.batchMatMul(f(12), [1, 3, 4], f(15), [1, 5, 3], false, false, f(9), null, false), /inner dimensions/],
      ["matmul batch broadcast", () => a.batchMatMul(f(24), [2, 3, 4], f(36), [3, 4, 3], false, false, f(18), null, false), /do not broadcast/],
      ["matmul out length", () => a.batchMatMul(f(12), [1, 3, 4], f(12), [1, 4, 3], false, false, f(8), null, false), /out has 8/],
      ["pool zero stride", () => a.maxPool(f(96), [2, 4, 4, 3], [2, 2, 0, 2, 0, 0, 2, 2], f(24)), /must be >= 1/],
      ["pool y length", () => a.avgPool(f(96), [2, 4, 4, 3], [2, 2, 2, 2, 0, 0, 2, 2], f(23)), /y has 23/],
      ["pool grad x length", () => a.maxPoolGrad(f(24), [2, 4, 4, 3], [2, 2, 2, 2, 0, 0, 2, 2], f(95), f(96)), /x has 95/],
      ["batchnorm out length", () => a.batchNorm(f(12), f(3), f(3), null, null, 1e-3, f(11)), /out has 11/],
      ["batchnorm empty mean", () => a.batchNorm(f(12), f(0), f(3), null, null, 1e-3, f(12)), /mean is empty/],
    ];
    for (const [name, call, message] of bad) expect(call, name).toThrow(message);
    expect(ok).not.toThrow();
  });
});
