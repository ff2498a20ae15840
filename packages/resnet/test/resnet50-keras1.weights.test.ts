import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { loadWeights, selectBackend } from "@ft/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resnet50, resnet50Spec } from "../src/index.js";
import { readManifest } from "@ft/test-support/layers";
import { hasH5py, PYTHON } from "@ft/test-support/system";

const GENERATOR = fileURLToPath(new URL("./fixtures/make_resnet50_keras1.py", import.meta.url));

interface Expected {
  [layer: string]: Array<{ shape: number[]; probes: Array<[number, number]> }>;
}

/**
 * ResNet-50 Keras-1 files (deep-learning-models v0.2 structure), written by an independent h5py
 * script from one set of random weights, once with Theano kernels and once with TensorFlow kernels
 * (~100 MB each, a few seconds; generated into a temp dir, never committed).
 */
describe.skipIf(!hasH5py)("resnet50: generated Keras-1 th and tf files", () => {
  let dir = "";
  let expected: Expected;

  beforeAll(async () => {
    await selectBackend("wasm");
    dir = mkdtempSync(join(tmpdir(), "ft-resnet50-keras1-"));
    const run = spawnSync(PYTHON, [GENERATOR, dir, "20240611"], { encoding: "utf8" });
    if (run.status !== 0) throw new Error(`fixture generator failed: ${run.stderr}`);
    expected = JSON.parse(readFileSync(join(dir, "expected.json"), "utf8")) as Expected;
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("the generated files have the manifest's weighted layers", () => {
    expect(Object.keys(expected)).toEqual(readManifest("resnet50").map((m) => m.name));
  });

  it("loads both by name; every value lands where the tf layout says; th and tf predict the same", async () => {
    const models: Record<"th" | "tf", tfl.LayersModel> = { th: resnet50(), tf: resnet50() };
    for (const ordering of ["th", "tf"] as const) {
      const report = await loadWeights(models[ordering], join(dir, `resnet50_${ordering}.h5`), { topLayers: resnet50Spec.topLayers });
      expect(report.layout).toBe("keras1");
      expect(report.ordering).toBe(ordering);
      expect(report.loaded.length).toBe(Object.keys(expected).length);
      expect(report.skipped).toEqual([]);
      if (ordering === "th") expect(report.convertedKernels.length).toBe(53);
      checkProbes(models[ordering], expected, ordering);
    }

    // Identical predictions: the 2048 features before the classifier and the class probabilities.
    const features = (m: tfl.LayersModel) => tfl.model({ inputs: m.inputs, outputs: [m.getLayer(resnet50Spec.featureLayer).output as tfl.SymbolicTensor, m.outputs[0]!] });
    const x = tf.randomUniform([1, 224, 224, 3], -120, 150, "float32", 7);
    const [fTh, pTh] = features(models.th).predict(x) as tf.Tensor[];
    const [fTf, pTf] = features(models.tf).predict(x) as tf.Tensor[];
    const a = fTh!.dataSync();
    const b = fTf!.dataSync();
    const scale = Math.max(...b.map(Math.abs));
    expect(scale).toBeGreaterThan(0);
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    expect(worst / scale).toBeLessThan(1e-5);
    const pa = pTh!.dataSync();
    const pb = pTf!.dataSync();
    for (let i = 0; i < pa.length; i++) expect(Math.abs(pa[i]! - pb[i]!)).toBeLessThan(1e-6);
    // The random weights must give a non-trivial answer, or equality would prove nothing.
    expect(Math.max(...pb)).toBeGreaterThan(3 / 1000);
    tf.dispose([x, fTh!, pTh!, fTf!, pTf!]);
    models.th.dispose();
    models.tf.dispose();
  });
});

/** Every weight's shape and its probe values (flat indices of the tf layout) equal the generator's. */
function checkProbes(model: tfl.LayersModel, expected: Expected, label: string): void {
  for (const [layer, weights] of Object.entries(expected)) {
    const vars = model.getLayer(layer).weights;
    expect(vars.length, `${label} ${layer}`).toBe(weights.length);
    weights.forEach((w, i) => {
      expect(vars[i]!.shape, `${label} ${layer}[${i}]`).toEqual(w.shape);
      const values = vars[i]!.read().dataSync();
      for (const [index, value] of w.probes) {
        expect(values[index], `${label} ${layer}[${i}] @${index}`).toBeCloseTo(value, 6);
      }
    });
  }
}
