import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import * as ort from "onnxruntime-node";
import { finetune, loadRunModel, readCheckpoint, registerModel, resolveFineTuneConfig, SEED_RECIPE, SEED_SGD, unregisterModel, type ModelSpec } from "@ft/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../test/capture.js";

/** The real CIFAR-10 JPEG sample shipped in the repository (examples/cifar10-sample). */
const SAMPLE = fileURLToPath(new URL("../../../../examples/cifar10-sample", import.meta.url));

/** `trainy`: conv (3×3, 4) → BN → ReLU → conv (3×3 /2, 8) → BN → ReLU → flatten → predictions (1000). */
const spec: ModelSpec = {
  name: "trainy",
  family: "test",
  description: "tiny model for CLI training tests",
  inputShape: [16, 16, 3],
  classes: 1000,
  preprocessing: "tf",
  topLayers: ["flatten", "predictions"],
  featureLayer: "flatten",
  weights: [],
  // Unseeded initialisers, as in the real architectures: two "--weights none" runs start from the same
  // weights only because --seed seeds the random initialisation (the resume test below relies on it).
  build: ({ inputShape = [16, 16, 3], includeTop = true }) => {
    const input = tfl.input({ shape: inputShape, name: "data" });
    let x = tfl.layers.conv2d({ filters: 4, kernelSize: 3, name: "conv1" }).apply(input) as tfl.SymbolicTensor;
    x = tfl.layers.batchNormalization({ name: "bn1" }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.activation({ activation: "relu", name: "relu1" }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, name: "conv2" }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.batchNormalization({ name: "bn2" }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.activation({ activation: "relu", name: "relu2" }).apply(x) as tfl.SymbolicTensor;
    if (includeTop) {
      x = tfl.layers.flatten({ name: "flatten" }).apply(x) as tfl.SymbolicTensor;
      x = tfl.layers.dense({ units: 1000, activation: "softmax", name: "predictions" }).apply(x) as tfl.SymbolicTensor;
    }
    return tfl.model({ inputs: input, outputs: x, name: "trainy" });
  },
};

let root: string;
beforeAll(() => {
  registerModel(spec);
  root = mkdtempSync(join(tmpdir(), "ft-cli-train-"));
});
afterAll(() => {
  unregisterModel("trainy");
  rmSync(root, { recursive: true, force: true });
});

const common = ["--backend", "cpu", "--weights", "none", "--data", SAMPLE, "--image-size", "16", "--train-size", "24", "--val-size", "20", "--batch-size", "8", "--seed", "3", "--no-progress"];

describe("ft train / eval / predict / export", () => {
  it("trains on the real CIFAR-10 sample, then evaluates, predicts and exports the run", async () => {
    expect(existsSync(join(SAMPLE, "train", "cat"))).toBe(true);
    const runDir = join(root, "run");
    const r = await runCli(["trainy", ...common, "--epochs", "2", "--run-dir", runDir]);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^done; run directory/);
    expect(r.stderr).toMatch(/epoch 2\/2: loss [\d.]+ acc [\d.]+% val_log_loss/);
    expect(readdirSync(runDir).sort()).toEqual(["checkpoints", "config.json", "metrics.csv", "metrics.jsonl", "report.html"]);
    const config = JSON.parse(readFileSync(join(runDir, "config.json"), "utf8"));
    expect(config).toMatchObject({ model: "trainy", weights: null, inputShape: [16, 16, 3], preprocess: "tf", epochs: 2, batchSize: 8, optimizer: { kind: "sgd", lr: 1e-3, momentum: 0.9, nesterov: true, decay: 1e-6 } });
    expect(config.classNames).toHaveLength(10);
    expect(readFileSync(join(runDir, "metrics.csv"), "utf8").trim().split("\n")).toHaveLength(3);

    const ev = await runCli(["--backend", "cpu", "eval", runDir, "--json"]);
    expect(ev.code).toBe(0);
    const m = JSON.parse(ev.stdout);
    expect(m.examples).toBe(20);
    expect(m.confusion).toHaveLength(10);
    // best.ckpt is the epoch with the lowest validation log-loss; eval recomputes that number.
    const history = readFileSync(join(runDir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { val_loss: number });
    expect(m.checkpoint).toMatch(/best\.ckpt$/);
    expect(m.logLoss).toBeCloseTo(Math.min(...history.map((h) => h.val_loss)), 5);

    const cat = join(SAMPLE, "test", "cat", "0000.jpg");
    const pr = await runCli(["--backend", "cpu", "predict", runDir, cat, "--top", "2", "--json"]);
    expect(pr.code).toBe(0);
    const preds = JSON.parse(pr.stdout);
    expect(preds[0].image).toBe(cat);
    expect(preds[0].predictions).toHaveLength(2);
    expect(config.classNames).toContain(preds[0].predictions[0].class);

    const out = join(root, "export");
    const ex = await runCli(["--backend", "cpu", "export", runDir, "--out", out]);
    expect(ex.code).toBe(0);
    const loaded = await tfl.loadLayersModel(`file://${join(out, "model.json")}`).catch(async () => {
      // tfjs-layers without tfjs-node has no file:// handler: load through core's reader instead.
      const { loadModelDir } = await import("@ft/core");
      return loadModelDir(out);
    });
    expect(loaded.outputs[0]!.shape).toEqual([null, 10]);
    expect(JSON.parse(readFileSync(join(out, "ft.json"), "utf8"))).toMatchObject({ preprocessing: "tf", classNames: config.classNames });

    // ONNX: the same run's model under ONNX Runtime gives ft's probabilities, and says how to feed it.
    const onnxOut = join(root, "export-onnx");
    const onnx = await runCli(["--backend", "cpu", "export", runDir, "--format", "onnx", "--out", onnxOut]);
    expect(onnx.code).toBe(0);
    const session = await ort.InferenceSession.create(join(onnxOut, "model.onnx"));
    expect(session.inputNames).toEqual(["input"]);
    const { model } = await loadRunModel(runDir);
    const x = tf.randomUniform([3, 16, 16, 3], -1, 1, "float32", 3);
    const want = (model.predict(x) as tf.Tensor).dataSync();
    const got = (await session.run({ input: new ort.Tensor("float32", x.dataSync() as Float32Array, [3, 16, 16, 3]) })).output!.data as Float32Array;
    expect(Math.max(...got.map((v, i) => Math.abs(v - want[i]!)))).toBeLessThan(1e-4);
    tf.dispose(x);
    model.dispose();
  });

  it("resumes an interrupted run to the same final weights as an uninterrupted one", async () => {
    const full = join(root, "full");
    const part = join(root, "part");
    expect((await runCli(["trainy", ...common, "--epochs", "2", "--run-dir", full])).code).toBe(0);
    const first = await runCli(["trainy", ...common, "--epochs", "2", "--max-steps", "4", "--run-dir", part]);
    expect(first.stdout).toMatch(/stopped: max-steps/);
    const again = await runCli(["--backend", "cpu", "train", "--resume", part, "--no-progress"]);
    expect(again.code).toBe(0);
    const a = await readCheckpoint(join(full, "checkpoints", "last.ckpt"));
    const b = await readCheckpoint(join(part, "checkpoints", "last.ckpt"));
    expect([...b.tensors.keys()]).toEqual([...a.tensors.keys()]);
    expect(a.tensors.size).toBeGreaterThan(10);
    for (const [k, t] of a.tensors) expect(Array.from(b.tensors.get(k)!.dataSync()), k).toEqual(Array.from(t.dataSync()));
    a.dispose();
    b.dispose();
    const metrics = (dir: string) => readFileSync(join(dir, "metrics.csv"), "utf8").trim().split("\n").map((l) => l.split(",").slice(0, 6).join(","));
    expect(metrics(part)).toEqual(metrics(full));
  });

  it("the library entry alone runs the same job: finetune() writes the config.json and the weights that `ft train` writes", async () => {
    const viaCli = join(root, "via-cli");
    expect((await runCli(["trainy", ...common, "--epochs", "1", "--augment", "--run-dir", viaCli])).code).toBe(0);
    const viaLibrary = join(root, "via-library");
    const result = await finetune(
      { model: "trainy", weights: null, data: SAMPLE, imageSize: 16, trainSize: 24, valSize: 20, batchSize: 8, seed: 3, epochs: 1, augment: true },
      { runDir: viaLibrary },
    );
    expect(result.stopReason).toBe("completed");
    const config = (dir: string) => {
      const { createdAt, ...rest } = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as Record<string, unknown>;
      expect(Date.parse(createdAt as string)).toBeGreaterThan(0);
      return rest;
    };
    expect(config(viaLibrary)).toEqual(config(viaCli));
    const a = await readCheckpoint(join(viaCli, "checkpoints", "last.ckpt"));
    const b = await readCheckpoint(join(viaLibrary, "checkpoints", "last.ckpt"));
    for (const [k, t] of a.tensors) expect(Array.from(b.tensors.get(k)!.dataSync()), k).toEqual(Array.from(t.dataSync()));
    a.dispose();
    b.dispose();
  });

  it("the seed recipe is what a job leaves out: CIFAR-10's 3000/100 subset, the weights' preprocessing, SGD, batch 16 (8 for ResNet-152)", () => {
    const vgg19 = resolveFineTuneConfig({ model: "vgg19", data: "cifar10" }, "native");
    expect(vgg19).toMatchObject({
      model: "vgg19",
      weights: "imagenet",
      data: { source: "cifar10", trainSize: 3000, valSize: 100, valFraction: 0.2, augment: false },
      inputShape: [224, 224, 3],
      preprocess: "caffe",
      epochs: 10,
      batchSize: 16,
      accumulate: 0,
      optimizer: SEED_SGD,
      schedule: { kind: "constant", warmupSteps: 0 },
      freeze: { kind: "none" },
      batchNorm: "train",
      monitor: "val_loss",
      seed: 0,
    });
    expect(vgg19.epochs).toBe(SEED_RECIPE.epochs);
    expect(resolveFineTuneConfig({ model: "resnet152", data: "cifar10" }, "native").batchSize).toBe(8);
    // A folder has no seed subset: all of it.
    expect(resolveFineTuneConfig({ model: "vgg19", data: SAMPLE }, "native").data).toMatchObject({ source: SAMPLE, trainSize: null, valSize: null });
    expect(() => resolveFineTuneConfig({ model: "vgg19", data: SAMPLE, epochs: 0 }, "native")).toThrow(/epochs must be an integer ≥ 1 \(got 0\)/);
  });

  it("refuses run settings beside --resume instead of ignoring them", async () => {
    const r = await runCli(["--backend", "cpu", "train", "--resume", join(root, "part"), "--epochs", "5", "--no-nesterov", "--no-progress", "--max-steps", "1"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--resume continues a run with the settings in its config\.json, so --epochs, --no-nesterov would be ignored/);
    const named = await runCli(["--backend", "cpu", "train", "trainy", "--resume", join(root, "part")]);
    expect(named.code).toBe(2);
    expect(named.stderr).toMatch(/the model name "trainy" would be ignored/);
  });

  it("leaves no run directory behind when the data cannot be opened, and names the problem", async () => {
    const runDir = join(root, "nodata");
    const r = await runCli(["trainy", "--backend", "cpu", "--weights", "none", "--data", join(root, "missing"), "--run-dir", runDir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/missing does not exist/);
    expect(existsSync(runDir)).toBe(false);
    const bad = await runCli(["trainy", "--backend", "cpu", "--weights", "none", "--data", SAMPLE, "--accumulate", "0", "--run-dir", runDir]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--accumulate: invalid value "0"/);
    expect(existsSync(runDir)).toBe(false);
  });
});
