import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { createModel, loadModelDir, registerModel, unregisterModel } from "@ft/core";
import { VGG16, buildVgg, vgg16Spec } from "@ft/vgg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectMatchesTheanoReference, generateVggFiles, hasH5py, PYTHON, type VggExpected } from "../../../packages/vgg/test/helpers.js";
import { runCli } from "./capture.js";
import type { ConvertSummary } from "../src/commands/convert.js";

/**
 * `ft convert` on a generated file of each Keras layout, each in the structure of a published file
 * (generators shared with the package tests): legacy th (the seed's VGG-16), Keras-1 th and tf
 * (ResNet-50 v0.2), Keras-2 tf (keras-applications ResNet-50). Each converted directory is
 * reloaded with `loadModelDir` and must compute what the weights compute.
 */
const RESNET_FIXTURES = fileURLToPath(new URL("../../../packages/resnet/test/fixtures/", import.meta.url));

/**
 * VGG-16 at a 64×64 input, registered for this test only: `ft convert` builds the registered
 * model at its default input, and the full-size legacy file (fc1 25088×4096) is 553 MB. At 64 px
 * the fc1 rows (2×2×512) still need the channels-first reorder.
 */
const VGG_SMALL = "vgg16.px64";
const SMALL_INPUT: [number, number, number] = [64, 64, 3];

function python(script: string, args: string[]): void {
  const run = spawnSync(PYTHON, [script, ...args], { encoding: "utf8" });
  if (run.status !== 0) throw new Error(`fixture generator ${script} failed: ${run.stderr}`);
}

async function convert(file: string, model: string, out: string): Promise<ConvertSummary> {
  const r = await runCli(["--backend", "wasm", "convert", file, "--model", model, "--out", out, "--json"]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as ConvertSummary;
}

type Probes = Record<string, Array<{ shape: number[]; probes: Array<[number, number]>; values?: number[] }>>;

/** The reloaded model holds the generator's values (tfjs layout) at every probe of every layer. */
function expectProbes(model: tfl.LayersModel, expected: Probes): void {
  for (const [layer, weights] of Object.entries(expected)) {
    const vars = model.getLayer(layer).weights;
    expect(vars.length, layer).toBe(weights.length);
    weights.forEach((w, i) => {
      expect(vars[i]!.shape, `${layer}[${i}]`).toEqual(w.shape);
      const values = vars[i]!.read().dataSync();
      for (const [index, value] of w.probes) expect(values[index], `${layer}[${i}] @${index}`).toBe(Math.fround(value));
      if (w.values) expect(w.values.filter((v, k) => values[k] !== Math.fround(v)).length, `${layer}[${i}] differing values`).toBe(0);
    });
  }
}

/** Features before the classifier and probabilities at 224×224 for a fixed input. */
function outputs(model: tfl.LayersModel, featureLayer: string): Float32Array[] {
  const probe = tfl.model({ inputs: model.inputs, outputs: [model.getLayer(featureLayer).output as tfl.SymbolicTensor, model.outputs[0]!] });
  const x = tf.randomUniform([1, 224, 224, 3], -120, 150, "float32", 5);
  const ys = probe.predict(x) as tf.Tensor[];
  const values = ys.map((y) => y.dataSync() as Float32Array);
  tf.dispose([x, ...ys]);
  return values;
}

function expectSameOutputs(a: Float32Array[], b: Float32Array[]): void {
  const [fa, pa] = a as [Float32Array, Float32Array];
  const [fb, pb] = b as [Float32Array, Float32Array];
  const scale = Math.max(...fb.map(Math.abs));
  expect(scale).toBeGreaterThan(0);
  let worst = 0;
  fa.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - fb[i]!))));
  expect(worst / scale).toBeLessThan(1e-5);
  pa.forEach((v, i) => expect(Math.abs(v - pb[i]!)).toBeLessThan(1e-6));
  // Non-trivial probabilities, or equality would prove little.
  expect(Math.max(...pb)).toBeGreaterThan(3 / 1000);
}

describe.skipIf(!hasH5py)("ft convert: a generated file of each Keras layout → a tfjs directory that reloads with the same outputs", () => {
  let dir = "";

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "ft-convert-families-"));
    registerModel({
      ...vgg16Spec,
      name: VGG_SMALL,
      description: "VGG-16 at 64×64 (test only)",
      inputShape: SMALL_INPUT,
      parameterCount: undefined,
      build: (options) => buildVgg(VGG16, { ...options, inputShape: SMALL_INPUT }),
      weights: [],
    });
  });
  afterAll(() => {
    unregisterModel(VGG_SMALL);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("legacy th (the seed's vgg16_weights.h5 structure): 13 kernels flipped, fc1 rows reordered; the reloaded model matches NumPy's Theano forward", async () => {
    const files = mkdtempSync(join(dir, "vgg-"));
    const expected: VggExpected = generateVggFiles(files, 16, 64, 20240616, ["legacy_th"]);
    const out = join(dir, "vgg16-legacy");
    const summary = await convert(join(files, "vgg16_legacy_th.h5"), VGG_SMALL, out);
    rmSync(files, { recursive: true, force: true });
    expect(summary).toMatchObject({ includeTop: true, layout: "legacy", ordering: "th", orderingSource: "detected", loadedLayers: 16, tensors: 32, flippedKernels: 13, reorderedDense: ["fc1"], skipped: [], skippedTop: [] });

    const model = await loadModelDir(out);
    try {
      expect(model.layers.length).toBe(38);
      expectMatchesTheanoReference(model, expected);
    } finally {
      model.dispose();
    }
  });

  it("Keras-1 th and tf (ResNet-50 v0.2 structure): both directories hold the file's values and predict the same", async () => {
    const files = mkdtempSync(join(dir, "resnet50-"));
    python(join(RESNET_FIXTURES, "make_resnet50_keras1.py"), [files, "20240617"]);
    const expected = JSON.parse(readFileSync(join(files, "expected.json"), "utf8")) as Probes;
    const predictions: Float32Array[][] = [];
    for (const ordering of ["th", "tf"] as const) {
      const out = join(dir, `resnet50-${ordering}`);
      const summary = await convert(join(files, `resnet50_${ordering}.h5`), "resnet50", out);
      expect(summary).toMatchObject({ includeTop: true, layout: "keras1", ordering, orderingSource: "detected", loadedLayers: 107, flippedKernels: ordering === "th" ? 53 : 0, skipped: [], skippedTop: [] });
      const model = await loadModelDir(out);
      try {
        expectProbes(model, expected);
        predictions.push(outputs(model, "flatten"));
      } finally {
        model.dispose();
      }
    }
    rmSync(files, { recursive: true, force: true });
    expectSameOutputs(predictions[0]!, predictions[1]!);
  });

  it("Keras-2 tf (keras-applications ResNet-50 structure): the directory holds the file's values and predicts what the file loaded in-process predicts", async () => {
    const files = mkdtempSync(join(dir, "resnet50-keras2-"));
    python(join(RESNET_FIXTURES, "make_resnet_files.py"), ["keras2", files, "50", "20240618"]);
    const expected = JSON.parse(readFileSync(join(files, "expected.json"), "utf8")) as Probes;
    const file = join(files, "resnet50_keras2_tf.h5");
    const out = join(dir, "resnet50-keras2");
    const summary = await convert(file, "resnet50.keras", out);
    expect(summary).toMatchObject({ includeTop: true, layout: "keras2", kerasVersion: "2.2.4", ordering: "tf", loadedLayers: 107, flippedKernels: 0, skipped: [], skippedTop: [] });

    const reloaded = await loadModelDir(out);
    const direct = await createModel("resnet50.keras", { weights: file });
    try {
      expectProbes(reloaded, expected);
      expectSameOutputs(outputs(reloaded, "avg_pool"), outputs(direct, "avg_pool"));
    } finally {
      reloaded.dispose();
      direct.dispose();
      rmSync(files, { recursive: true, force: true });
    }
  });
});
