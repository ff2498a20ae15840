import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { loadModelDir } from "@ft/core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runCli } from "../../test/capture.js";
import { registerTiny, TINY_TF, TINY_TH, tinyReference } from "../../test/tiny-model.js";

let unregister: () => void;
let dir: string;

beforeAll(() => {
  unregister = registerTiny("http://127.0.0.1:9");
});
afterAll(() => unregister());
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ft-cli-convert-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the converted model on the reference input; compares with NumPy's Theano-semantics output. */
async function expectMatchesReference(modelDir: string): Promise<void> {
  const ref = tinyReference();
  const model = await loadModelDir(modelDir);
  const x = tf.tensor(ref.input, ref.inputShape);
  const y = model.predict(x) as tf.Tensor;
  const got = Array.from(y.dataSync());
  expect(got).toHaveLength(ref.output.length);
  const worst = Math.max(...got.map((v, i) => Math.abs(v - ref.output[i]!)));
  expect(worst).toBeLessThan(1e-5);
  tf.dispose([x, y]);
  model.dispose();
}

describe("ft convert", () => {
  it("converts a Keras 1 Theano file: flipped kernels, reordered Dense rows, output equal to the reference", async () => {
    const out = join(dir, "th");
    const r = await runCli(["convert", TINY_TH, "--model", "clitiny", "--out", out]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^model {7}clitiny \(with its classifier, 1,397 parameters\)$/m);
    expect(r.stdout).toMatch(/^ {12}keras1, ordering th \(detected\)/m);
    expect(r.stdout).toMatch(/^loaded {6}2 layers, 4 arrays, 1,397 values; 1 Theano kernel flipped; rows of predictions reordered from channels-first$/m);
    expect(r.stdout).toMatch(new RegExp(`^wrote {7}${out}: model\\.json \\+ 1 shard \\(5\\.59 kB\\)$`, "m"));
    await expectMatchesReference(out);
    const meta = JSON.parse(readFileSync(join(out, "model.json"), "utf8")).userDefinedMetadata;
    expect(meta).toMatchObject({ model: "clitiny", preprocessing: "caffe", classes: 5, convertedFrom: { file: "tiny_th.h5", record: "clitiny.th", layout: "keras1", ordering: "th", includeTop: true } });
  });

  it("converts the Keras 2 TensorFlow file of the same weights to the same outputs (--json summary)", async () => {
    const out = join(dir, "tf");
    const r = await runCli(["convert", TINY_TF, "--model", "clitiny", "--out", out, "--json"]);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ model: "clitiny", layout: "keras2", kerasVersion: "2.1.5", ordering: "tf", flippedKernels: 0, reorderedDense: [], tensors: 4, values: 1397, shards: 1 });
    await expectMatchesReference(out);
    expect(JSON.parse(readFileSync(join(out, "model.json"), "utf8")).userDefinedMetadata.preprocessing).toBe("tf");
  });

  it("--no-include-top builds the model without its classifier and skips the file's top on purpose", async () => {
    const out = join(dir, "notop");
    const r = await runCli(["convert", TINY_TF, "--model", "clitiny", "--no-include-top", "--out", out, "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ includeTop: false, skippedTop: ["predictions"], parameters: 112, tensors: 2 });
    const model = await loadModelDir(out);
    expect(model.outputs[0]!.shape).toEqual([null, 8, 8, 4]);
    model.dispose();
  });

  it("a Theano file declared as tf fails without writing anything; no stack trace", async () => {
    const out = join(dir, "wrong");
    const r = await runCli(["convert", TINY_TH, "--model", "clitiny", "--ordering", "tf", "--out", out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^ft: .*tiny_th\.h5/);
    expect(r.stderr).toMatch(/conv1/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(out)).toBe(false);
  });

  it("bad input: unknown model (exit 2), missing file (exit 1), missing --out (exit 2)", async () => {
    const unknown = await runCli(["convert", TINY_TH, "--model", "nosuch", "--out", dir]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^ft: unknown model "nosuch"/);
    const missing = await runCli(["convert", join(dir, "none.h5"), "--model", "clitiny", "--out", join(dir, "o")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/none\.h5/);
    expect(missing.stderr).not.toMatch(/\n\s+at /);
    const noOut = await runCli(["convert", TINY_TH, "--model", "clitiny"]);
    expect(noOut.code).toBe(2);
    expect(noOut.stderr).toMatch(/--out <dir>/);
  });
});
