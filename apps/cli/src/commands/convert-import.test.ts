import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import * as ort from "onnxruntime-node";
import { loadModelDir, readModelDirMetadata } from "@ft/core";
import { hasTorch, PYTHON } from "@ft/test-support/system";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../../test/cli-process.js";
import { runCli } from "../../test/capture.js";
import { registerTiny, TINY_TF } from "../../test/tiny-model.js";

/** h5py-written model.save files and their PyTorch/NumPy outputs (packages/core/test/fixtures/keras_models.py). */
const GENERATOR = join(ROOT, "packages/core/test/fixtures/keras_models.py");
const dir = mkdtempSync(join(tmpdir(), "ft-cli-import-"));
let reference: Record<string, { input: number[]; inputShape: number[]; output: number[] }>;
let unregister: () => void;
beforeAll(() => {
  const run = spawnSync(PYTHON, [GENERATOR, dir], { encoding: "utf8" });
  if (run.status !== 0) throw new Error(`keras_models.py failed: ${run.stderr}`);
  reference = JSON.parse(readFileSync(join(dir, "reference.json"), "utf8"));
  unregister = registerTiny("http://127.0.0.1:9");
}, 60_000);
afterAll(() => {
  unregister();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!hasTorch)("ft convert FILE.h5 without --model: the file's own architecture", () => {
  it("a Keras 1 channels-first functional model: summary, metadata, and the written model computes the reference", async () => {
    const out = join(dir, "k1_model_th");
    const r = await runCli(["convert", join(dir, "k1_model_th.h5"), "--out", out, "--preprocessing", "caffe"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^model {7}model_1: the file's own Model, 9 layers \(1 InputLayer, 2 Conv2D, 1 BatchNormalization, 1 Add, 1 Concatenate, 1 MaxPooling2D, 1 Flatten, 1 Dense\)/m);
    expect(r.stdout).toMatch(/^input {7}\[8, 8, 3\] \(channels-last; the file's model was channels-first\)$/m);
    expect(r.stdout).toMatch(/ordering th \(detected\)/);
    expect(r.stdout).toMatch(/2 Theano kernels flipped; rows of fc reordered from channels-first/);
    expect(await readModelDirMetadata(out)).toMatchObject({ model: "model_1", preprocessing: "caffe", inputShape: [8, 8, 3], convertedFrom: { file: "k1_model_th.h5", channelsFirst: true, ordering: "th" } });
    const model = await loadModelDir(out);
    const ref = reference.k1_model_th!;
    const y = tf.tidy(() => [...(model.predict(tf.tensor(ref.input, ref.inputShape)) as tf.Tensor).dataSync()]);
    expect(Math.max(...y.map((v, i) => Math.abs(v - ref.output[i]!)))).toBeLessThan(1e-4);
    model.dispose();
  });

  it("ft weights inspect: the config's ordering is decisive, every array's dtype is shown", async () => {
    const r = await runCli(["weights", "inspect", join(dir, "k1_seq_tf.h5")]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ordering {4}tf \(decided by the decisive evidence: model_config says dim_ordering "tf" \(conv1, pool1 and 2 more\)\)$/m);
    expect(r.stdout).toMatch(/^ {12}weak {5}th: weight names have no ":0" suffix/m);
    expect(r.stdout).toMatch(/^conv1\s+conv1_W\s+\(3, 3, 10, 5\)\s+float32\s+450$/m);
    const mixed = await runCli(["weights", "inspect", join(dir, "k2_seq.h5"), "--json"]);
    const info = JSON.parse(mixed.stdout);
    expect(info.layers.find((l: { name: string }) => l.name === "out").weights.map((w: { dtype: string }) => w.dtype)).toEqual(["float32", "float64"]);
    const text = await runCli(["weights", "inspect", join(dir, "k2_seq.h5")]);
    expect(text.stdout).toMatch(/^dtypes {6}float32 \(14 arrays\), float64 \(1 array\); read as float32$/m);
  });

  it("ft export --format onnx of an imported model: ONNX Runtime computes the PyTorch reference, metadata included", async () => {
    const converted = join(dir, "cf");
    expect((await runCli(["convert", join(dir, "k2_model_cf.h5"), "--out", converted, "--preprocessing", "tf"])).code).toBe(0);
    const out = join(dir, "cf-onnx");
    const r = await runCli(["export", converted, "--format", "onnx", "--out", out]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^exported model_cf as ONNX \(opset 13, .* input NHWC \[null,8,8,3\]\) to .*model\.onnx$/m);
    const session = await ort.InferenceSession.create(join(out, "model.onnx"));
    const ref = reference.k2_model_cf!;
    const result = await session.run({ input: new ort.Tensor("float32", Float32Array.from(ref.input), ref.inputShape) });
    const got = [...(result.output!.data as Float32Array)];
    expect(Math.max(...got.map((v, i) => Math.abs(v - ref.output[i]!)))).toBeLessThan(1e-4);
    expect(JSON.parse(readFileSync(join(out, "ft.json"), "utf8"))).toMatchObject({ model: "model_cf", preprocessing: "tf", inputShape: [8, 8, 3] });
  });

  it("--json for a tf.keras model with a nested Sequential", async () => {
    const r = await runCli(["convert", join(dir, "tfk_nested.h5"), "--out", join(dir, "nested"), "--json"]);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ model: "nested", layout: "model", ordering: "tf", imported: { modelClass: "Functional", inlined: { block: ["dense", "dense_1"] }, channelsFirst: false } });
  });

  it("refusals name the file and the layer: a Lambda, a weights-only file, options that apply only with --model", async () => {
    const lambda = await runCli(["convert", join(dir, "k2_lambda.h5"), "--out", join(dir, "lambda")]);
    expect(lambda.code).toBe(1);
    expect(lambda.stderr).toMatch(/^ft: .*k2_lambda\.h5: layer "times_two" \(Lambda\): it runs Python code/);
    expect(lambda.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(join(dir, "lambda"))).toBe(false);
    const weightsOnly = await runCli(["convert", TINY_TF, "--out", join(dir, "w")]);
    expect(weightsOnly.code).toBe(1);
    expect(weightsOnly.stderr).toMatch(/tiny_tf\.h5: the file has no model_config .*name it with --model/);
    const partial = await runCli(["convert", join(dir, "k2_seq.h5"), "--allow-partial", "--out", join(dir, "p")]);
    expect(partial.code).toBe(2);
    expect(partial.stderr).toMatch(/--allow-partial .* apply with --model/);
    const badShape = await runCli(["convert", join(dir, "k2_seq.h5"), "--input-shape", "9,9", "--out", join(dir, "s")]);
    expect(badShape.code).toBe(2);
    expect(badShape.stderr).toMatch(/inputShape \[9, 9\]: the model's input .* has 3 dimensions/);
  });

  it("--allow-partial with nothing matching fails instead of writing a random model", async () => {
    const out = join(dir, "nothing");
    const r = await runCli(["convert", join(dir, "k2_seq.h5"), "--model", "clitiny", "--allow-partial", "--out", out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/k2_seq\.h5: no layer of the file matches the model \(0 of the file's 7 weighted layers, 0 of the model's \d+\); nothing would be loaded, even with allowPartial/);
    expect(existsSync(out)).toBe(false);
  });
});
