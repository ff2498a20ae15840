import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import "@tensorflow/tfjs-backend-cpu";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FtError } from "../errors.js";
import { loadModelDir, readModelDirMetadata, saveModelDir } from "./model-dir.js";

/** Test-only custom layer: `y = gamma * x^power + beta` per channel, with a config field to round-trip. */
class FtTestAffine extends tfl.layers.Layer {
  static className = "FtTestAffine";
  readonly power: number;
  private gamma?: tfl.LayerVariable;
  private beta?: tfl.LayerVariable;
  constructor(args: { power?: number; name?: string }) {
    super(args);
    this.power = args.power ?? 1;
  }
  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const channels = (inputShape as tfl.Shape).at(-1)!;
    this.gamma = this.addWeight("gamma", [channels], "float32", tfl.initializers.randomNormal({ seed: 3 }));
    this.beta = this.addWeight("beta", [channels], "float32", tfl.initializers.randomNormal({ seed: 4 }));
    this.built = true;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      return tf.add(tf.mul(tf.pow(x, this.power), this.gamma!.read()), this.beta!.read());
    });
  }
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), power: this.power };
  }
}
tf.serialization.registerClass(FtTestAffine);

function buildModel(): tfl.LayersModel {
  const input = tfl.input({ shape: [6, 6, 3] });
  let x = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: "same", name: "conv1", kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }), biasInitializer: "ones" }).apply(input) as tfl.SymbolicTensor;
  x = new FtTestAffine({ power: 2, name: "affine" }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.batchNormalization({ name: "bn", movingMeanInitializer: tfl.initializers.constant({ value: 0.3 }), movingVarianceInitializer: tfl.initializers.constant({ value: 2 }) }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.maxPooling2d({ poolSize: 2, name: "pool" }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.flatten({ name: "flatten" }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.dense({ units: 5, activation: "softmax", name: "predictions", kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }).apply(x) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: x, name: "tiny" });
  // Values no initializer reproduces: a reload that skipped the weights could not pass.
  model.setWeights(model.getWeights().map((w, i) => tf.randomUniform(w.shape, 0.5, 1.5, "float32", 100 + i)));
  return model;
}

let dir: string;
beforeAll(async () => {
  await tf.setBackend("cpu");
});
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ft-model-dir-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("saveModelDir / loadModelDir", () => {
  it("round-trips topology, weights (custom layer included) and metadata; predictions are identical", async () => {
    const model = buildModel();
    const x = tf.randomUniform([2, 6, 6, 3], -1, 1, "float32", 11);
    const before = model.predict(x) as tf.Tensor;
    const saved = await saveModelDir(model, dir, { metadata: { preprocessing: "caffe", classNames: ["a", "b", "c", "d", "e"] }, shardBytes: 256 });
    const weightBytes = model.getWeights().reduce((n, w) => n + w.size * 4, 0);
    expect(saved.weightBytes).toBe(weightBytes);
    expect(saved.shards).toHaveLength(Math.ceil(weightBytes / 256));
    expect(readdirSync(dir).sort()).toEqual(["model.json", ...saved.shards].sort());
    expect(saved.shards[0]).toBe(`group1-shard1of${saved.shards.length}.bin`);

    const json = JSON.parse(readFileSync(join(dir, "model.json"), "utf8"));
    expect(json.format).toBe("layers-model");
    expect(json.weightsManifest[0].paths).toEqual(saved.shards);
    expect(JSON.stringify(json.modelTopology)).toContain('"class_name":"FtTestAffine"');

    const loaded = await loadModelDir(dir);
    const after = loaded.predict(x) as tf.Tensor;
    expect(Array.from(after.dataSync())).toEqual(Array.from(before.dataSync()));
    expect(loaded.getLayer("affine")).toBeInstanceOf(FtTestAffine);
    expect((loaded.getLayer("affine") as FtTestAffine).power).toBe(2);
    expect(loaded.getUserDefinedMetadata()).toEqual({ preprocessing: "caffe", classNames: ["a", "b", "c", "d", "e"] });
    expect(await readModelDirMetadata(join(dir, "model.json"))).toEqual({ preprocessing: "caffe", classNames: ["a", "b", "c", "d", "e"] });
    tf.dispose([x, before, after]);
    model.dispose();
    loaded.dispose();
  });

  it("writes exactly what tf.loadLayersModel reads over HTTP", async () => {
    const model = buildModel();
    await saveModelDir(model, dir, { shardBytes: 300 });
    const server = http.createServer((req, res) => {
      try {
        res.end(readFileSync(join(dir, (req.url ?? "/").slice(1))));
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const { port } = server.address() as AddressInfo;
      const loaded = await tfl.loadLayersModel(`http://127.0.0.1:${port}/model.json`, { fetchFunc: fetch });
      const x = tf.randomUniform([1, 6, 6, 3], 0, 1, "float32", 5);
      expect(Array.from((loaded.predict(x) as tf.Tensor).dataSync())).toEqual(Array.from((model.predict(x) as tf.Tensor).dataSync()));
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it("saving again with fewer shards removes the stale ones and leaves no temp files", async () => {
    const model = buildModel();
    await saveModelDir(model, dir, { shardBytes: 128 });
    writeFileSync(join(dir, "notes.txt"), "mine");
    const second = await saveModelDir(model, dir);
    expect(second.shards).toEqual(["group1-shard1of1.bin"]);
    expect(readdirSync(dir).sort()).toEqual(["group1-shard1of1.bin", "model.json", "notes.txt"]);
    const loaded = await loadModelDir(dir);
    expect(loaded.countParams()).toBe(model.countParams());
  });

  it("clear errors for a missing directory, a missing shard and a truncated shard", async () => {
    await expect(loadModelDir(join(dir, "nope"))).rejects.toThrow(new FtError(`no model at ${join(dir, "nope")}: the path does not exist`));
    await expect(loadModelDir(dir)).rejects.toThrow(/model\.json is missing/);
    const saved = await saveModelDir(buildModel(), dir, { shardBytes: 256 });
    const last = join(dir, saved.shards.at(-1)!);
    writeFileSync(last, readFileSync(last).subarray(1));
    await expect(loadModelDir(dir)).rejects.toThrow(/hold \d+ bytes, but its manifest describes \d+: a shard is truncated/);
    rmSync(last);
    await expect(loadModelDir(dir)).rejects.toThrow(new RegExp(`lists the weight shard ${saved.shards.at(-1)}`));
    writeFileSync(join(dir, "model.json"), "{}");
    await expect(loadModelDir(dir)).rejects.toThrow(/not a TensorFlow\.js layers model/);
  });

  it("an unregistered custom layer gives a clear error", async () => {
    await saveModelDir(buildModel(), dir);
    const json = readFileSync(join(dir, "model.json"), "utf8").replaceAll("FtTestAffine", "FtUnknownLayer");
    writeFileSync(join(dir, "model.json"), json);
    const e = await loadModelDir(dir).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(FtError);
    expect((e as Error).message).toMatch(/Unknown layer: FtUnknownLayer\. Import the package that defines this layer/);
  });
});

