import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { loadWeights, selectBackend } from "@ft/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resnet101, resnet101Spec, resnet50Keras, resnet50KerasSpec } from "../src/index.js";
import { readManifest } from "@ft/test-support/layers";
import { hasH5py, PYTHON } from "@ft/test-support/system";

const GENERATOR = fileURLToPath(new URL("./fixtures/make_resnet_files.py", import.meta.url));
/** Small input: the weights do not depend on it (the head pools the whole final map). */
const INPUT: [number, number, number] = [64, 64, 3];

interface ExpectedWeight {
  shape: number[];
  probes: Array<[number, number]>;
  /** The whole array in the tfjs layout, for the generator's FULL layers. */
  values?: number[];
}
type Expected = Record<string, ExpectedWeight[]>;

function generate(kind: "caffe" | "keras2", dir: string, depth: number, seed: number): Expected {
  const run = spawnSync(PYTHON, [GENERATOR, kind, dir, String(depth), String(seed)], { encoding: "utf8" });
  if (run.status !== 0) throw new Error(`fixture generator failed: ${run.stderr}`);
  return JSON.parse(readFileSync(join(dir, "expected.json"), "utf8")) as Expected;
}

/** Every weight's shape and probe values equal the generator's; FULL layers compared value by value. */
function checkValues(model: tfl.LayersModel, expected: Expected, label: string): void {
  for (const [layer, weights] of Object.entries(expected)) {
    const vars = model.getLayer(layer).weights;
    expect(vars.length, `${label} ${layer}`).toBe(weights.length);
    weights.forEach((w, i) => {
      expect(vars[i]!.shape, `${label} ${layer}[${i}]`).toEqual(w.shape);
      const values = vars[i]!.read().dataSync();
      for (const [index, value] of w.probes) expect(values[index], `${label} ${layer}[${i}] @${index}`).toBe(Math.fround(value));
      if (w.values) {
        const differing = w.values.filter((v, k) => values[k] !== Math.fround(v)).length;
        expect(differing, `${label} ${layer}[${i}]: values that differ from the converted array`).toBe(0);
      }
    });
  }
}

/** Sets every weight to zero, so a second load into the same model must write every value. */
function zeroWeights(model: tfl.LayersModel): void {
  for (const v of model.weights) {
    const zeros = tf.zeros(v.shape as number[]);
    v.write(zeros);
    zeros.dispose();
  }
}

/** The 2048 features before the classifier and the class probabilities for a fixed input. */
function predict(model: tfl.LayersModel, featureLayer: string): { features: Float32Array; probs: Float32Array } {
  const probe = tfl.model({ inputs: model.inputs, outputs: [model.getLayer(featureLayer).output as tfl.SymbolicTensor, model.outputs[0]!] });
  const x = tf.randomUniform([1, ...INPUT], -120, 150, "float32", 11);
  const [f, p] = probe.predict(x) as tf.Tensor[];
  const out = { features: f!.dataSync() as Float32Array, probs: p!.dataSync() as Float32Array };
  tf.dispose([x, f!, p!]);
  return out;
}

beforeAll(async () => {
  await selectBackend("wasm");
});

describe.skipIf(!hasH5py)("resnet101 (the seed's Caffe conversion): generated Keras-1 th and tf files", () => {
  let dir = "";
  let expected: Expected;
  let model: tfl.LayersModel | undefined;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "ft-resnet101-caffe-"));
    expected = generate("caffe", dir, 101, 20240614);
  });
  afterAll(() => {
    model?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("the generated files have the manifest's weighted layers, in order", () => {
    expect(Object.keys(expected)).toEqual(readManifest("resnet101").map((m) => m.name));
  });

  it("th and tf files land every value where the tf layout says (conv without bias, BN, Scale) and predict the same", async () => {
    // One model loaded twice (zeroed in between): building ResNet-101 costs seconds.
    model = resnet101({ inputShape: INPUT });
    const convs = readManifest("resnet101").filter((m) => m.kind === "conv").map((m) => m.name);
    expect(convs).toHaveLength(104);
    const results: Record<string, { features: Float32Array; probs: Float32Array }> = {};
    for (const ordering of ["th", "tf"] as const) {
      zeroWeights(model);
      const report = await loadWeights(model, join(dir, `resnet101_${ordering}.h5`), { topLayers: resnet101Spec.topLayers });
      expect(report).toMatchObject({ layout: "keras1", ordering, orderingSource: "detected", skipped: [], skippedTop: [] });
      expect(report.loaded).toEqual(Object.keys(expected));
      expect(report.convertedKernels).toEqual(ordering === "th" ? convs : []);
      expect(report.reorderedDense).toEqual([]);
      checkValues(model, expected, ordering);
      // The Caffe numerics: no conv bias, BN epsilon 1.1e-5, a Scale after every BN.
      expect(model.getLayer("res4b22_branch2b").weights).toHaveLength(1);
      expect((model.getLayer("bn4b22_branch2b").getConfig() as { epsilon: number }).epsilon).toBeCloseTo(1.1e-5, 12);
      expect(model.getLayer("scale4b22_branch2b").getClassName()).toBe("Scale");
      results[ordering] = predict(model, resnet101Spec.featureLayer);
    }
    const { th, tf: tfr } = results as Record<"th" | "tf", { features: Float32Array; probs: Float32Array }>;
    const scale = Math.max(...tfr.features.map(Math.abs));
    expect(scale).toBeGreaterThan(0);
    expect(Number.isFinite(scale)).toBe(true);
    let worst = 0;
    th.features.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - tfr.features[i]!))));
    expect(worst / scale).toBeLessThan(1e-5);
    th.probs.forEach((v, i) => expect(Math.abs(v - tfr.probs[i]!)).toBeLessThan(1e-6));
    // Non-trivial probabilities, or equality would prove little.
    expect(Math.max(...tfr.probs)).toBeGreaterThan(3 / 1000);
  });
});

describe.skipIf(!hasH5py)("resnet50.keras: a generated Keras-2 tf file (keras-applications `resnet` release)", () => {
  let dir = "";
  let expected: Expected;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "ft-resnet50-keras2-"));
    expected = generate("keras2", dir, 50, 20240615);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("loads by nested `layer/kernel:0` names, classifier `probs` included; every value lands; the forward pass gives a non-trivial answer", async () => {
    expect(resnet50KerasSpec.topLayers).toContain("probs");
    const model = resnet50Keras({ inputShape: INPUT });
    try {
      // The model has exactly the file's weighted layers.
      expect(new Set(model.layers.filter((l) => l.weights.length > 0).map((l) => l.name))).toEqual(new Set(Object.keys(expected)));
      const report = await loadWeights(model, join(dir, "resnet50_keras2_tf.h5"), { topLayers: resnet50KerasSpec.topLayers });
      expect(report).toMatchObject({ layout: "keras2", kerasVersion: "2.2.4", backend: "tensorflow", ordering: "tf", skipped: [], skippedTop: [], convertedKernels: [], reorderedDense: [] });
      expect(new Set(report.loaded)).toEqual(new Set(Object.keys(expected)));
      checkValues(model, expected, "keras2");
      const { features, probs } = predict(model, resnet50KerasSpec.featureLayer);
      expect(features.every(Number.isFinite)).toBe(true);
      expect(Math.max(...features.map(Math.abs))).toBeGreaterThan(0);
      expect(Math.max(...probs)).toBeGreaterThan(3 / 1000);
    } finally {
      model.dispose();
    }
  });
});
