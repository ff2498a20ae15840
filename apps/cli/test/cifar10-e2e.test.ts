import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureCifar10 } from "@ft/cifar10";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cifarTestArchive, testLabel } from "@ft/test-support/cifar10-archive";
import { serveFiles, type TestServer } from "@ft/test-support/http-server";
import { runCli } from "./capture.js";
import * as tfl from "@tensorflow/tfjs-layers";
import { registerModel, unregisterModel } from "@ft/core";

/** conv 3×3 → flatten → predictions: just enough model to train on 16 px images. */
function registerTinyModel(name: string): () => void {
  registerModel({
    name,
    family: "test",
    description: "CIFAR end-to-end test model",
    inputShape: [16, 16, 3],
    classes: 1000,
    preprocessing: "tf",
    topLayers: ["flatten", "predictions"],
    featureLayer: "flatten",
    weights: [],
    build: ({ inputShape = [16, 16, 3], includeTop = true }) => {
      const input = tfl.input({ shape: inputShape });
      let x = tfl.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, activation: "relu", name: "conv1" }).apply(input) as tfl.SymbolicTensor;
      if (includeTop) {
        x = tfl.layers.flatten({ name: "flatten" }).apply(x) as tfl.SymbolicTensor;
        x = tfl.layers.dense({ units: 1000, activation: "softmax", name: "predictions" }).apply(x) as tfl.SymbolicTensor;
      }
      return tfl.model({ inputs: input, outputs: x, name });
    },
  });
  return () => unregisterModel(name);
}

/**
 * End to end on CIFAR-10's own format: a generated binary archive (known pixels and labels) is served by
 * a local HTTP server, downloaded, verified and extracted into the cache by @ft/cifar10, and `ft train`
 * fine-tunes on the extracted batches, then `ft eval` scores the run.
 */
describe("ft train on a CIFAR-10 binary archive served over HTTP", () => {
  let server: TestServer;
  let home: string;
  const archive = cifarTestArchive();
  const oldHome = process.env.FT_HOME;
  let unregister: () => void;

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), "ft-cifar-e2e-"));
    process.env.FT_HOME = home;
    server = await serveFiles({ "/cifar-10-binary.tar.gz": archive });
    unregister = registerTinyModel("cifar_tiny");
  });
  afterAll(async () => {
    unregister();
    await server.close();
    if (oldHome === undefined) delete process.env.FT_HOME;
    else process.env.FT_HOME = oldHome;
    rmSync(home, { recursive: true, force: true });
  });

  it("downloads, verifies, extracts, trains, evaluates", async () => {
    const expected = { md5: createHash("md5").update(archive).digest("hex"), bytes: archive.length };
    const batches = await ensureCifar10({ url: server.url("/cifar-10-binary.tar.gz"), expected });
    expect(batches.startsWith(home)).toBe(true);
    expect(server.requests.map((r) => r.path)).toEqual(["/cifar-10-binary.tar.gz"]);

    const runDir = join(home, "run");
    const args = ["--backend", "cpu", "train", "cifar_tiny", "--weights", "none", "--data", batches, "--image-size", "16", "--train-size", "32", "--val-size", "16", "--batch-size", "8", "--epochs", "1", "--no-progress", "--run-dir", runDir];
    const train = await runCli(args);
    expect(train.stderr).not.toMatch(/\n\s+at /);
    expect(train.code).toBe(0);
    const config = JSON.parse(readFileSync(join(runDir, "config.json"), "utf8"));
    expect(config.classNames).toEqual(["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]);
    expect(config.data).toMatchObject({ source: batches, trainSize: 32, valSize: 16 });

    const ev = await runCli(["--backend", "cpu", "eval", runDir, "--json"]);
    expect(ev.code).toBe(0);
    const metrics = JSON.parse(ev.stdout) as { examples: number; confusion: number[][] };
    expect(metrics.examples).toBe(16);
    // Rows of the confusion matrix are the true labels of the first 16 test records (indices from 100000).
    const trueCounts = Array.from({ length: 10 }, (_, c) => Array.from({ length: 16 }, (_, i) => testLabel(100_000 + i)).filter((l) => l === c).length);
    expect(metrics.confusion.map((row) => row.reduce((a, b) => a + b, 0))).toEqual(trueCounts);
  });
});
