/**
 * Test support: registry-wide schema checks (torchvision style) shared by the model packages' registry
 * tests — every spec and weight record carries its mandatory fields, and the declared metadata agrees
 * with the model actually built. Each package keeps its family-specific assertions in its own test.
 *
 * Test code, never built or published.
 */
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { beforeAll, describe, expect, it } from "vitest";
import { PREPROCESSING_DESCRIPTIONS, countParams, findWeightRecord, getModel, listModels, selectBackend, type ModelSpec, type WeightRecord } from "@ft/core";

type WithHeads = ModelSpec & { newHeads?: { from: string; dense: string; softmax?: string }[] };

/**
 * Registers the `@ft/<family> registry` suite (used by @ft/inception and @ft/densenet): exactly
 * `expectedModels` are registered; every record's fields; and, per model, parameter count, outputs,
 * topLayers, featureLayer and newHeads agree with the built model with and without its top.
 * `parameterCounts` holds the derived counts of the models whose spec declares none.
 */
export function describeRegistrySchema(family: string, expectedModels: string[], parameterCounts: Record<string, number>): void {
  const specs = (): ModelSpec[] => listModels().filter((m) => m.family === family);

  beforeAll(async () => {
    await selectBackend("wasm");
  });

  describe(`@ft/${family} registry`, () => {
    it("registers exactly its models on import", () => {
      expect(specs().map((s) => s.name)).toEqual(expectedModels);
      for (const name of expectedModels) expect(getModel(name).family).toBe(family);
    });

    it("every weight record carries URL, size, layout, ordering, preprocessing and a valid checksum when published", () => {
      for (const spec of specs()) {
        expect(spec.weights.length, spec.name).toBeGreaterThan(0);
        expect(spec.weights[0]!.includeTop, `${spec.name}: the default record holds the ImageNet top`).toBe(true);
        for (const r of spec.weights) {
          const where = `${spec.name} / ${r.id}`;
          expect(r.id === spec.name || r.id.startsWith(`${spec.name}.`), `${where}: ids start with the model name`).toBe(true);
          expect(findWeightRecord(r.id)?.model, where).toBe(spec);
          expect(r.url, where).toMatch(/^https:\/\/[^\s]+$/);
          expect(r.fileName, where).toMatch(/^[\w.-]+\.h5$/);
          expect(Number.isInteger(r.bytes) && r.bytes > 1_000_000, where).toBe(true);
          expect(["legacy", "keras1", "keras2", "model"], where).toContain(r.layout);
          expect(["th", "tf"], where).toContain(r.ordering);
          expect(Object.keys(PREPROCESSING_DESCRIPTIONS), where).toContain(r.preprocessing);
          expect(r.preprocessing, `${where}: one preprocessing per model`).toBe(spec.preprocessing);
          if (r.checksum) expect(r.checksum.value, where).toMatch(r.checksum.algorithm === "md5" ? /^[0-9a-f]{32}$/ : /^[0-9a-f]{64}$/);
          if (!r.checksum) expect(r.bytesApproximate || r.notes, `${where}: without a checksum the record must say why`).toBeTruthy();
          if (r.includeTop) expect(r.classes, where).toBe(spec.classes);
          if (r.accuracy) {
            expect(r.accuracy.source.length, where).toBeGreaterThan(10);
            for (const v of [r.accuracy.top1, r.accuracy.top5]) if (v !== undefined) expect(v > 50 && v < 100, where).toBe(true);
          }
          if (r.ordering === "th") expect(r.layout, `${where}: Theano files are Keras 0/1`).not.toBe("keras2");
        }
      }
    });

    for (const name of expectedModels) {
      it(`${name}: parameterCount, outputs, topLayers, featureLayer and newHeads agree with the built model`, () => {
        const spec = getModel(name) as WithHeads;
        const top: tfl.LayersModel = spec.build({});
        try {
          expect(top.inputs[0]!.shape).toEqual([null, ...spec.inputShape]);
          // Published counts sit on the spec; derived ones (asserted from layer tables in the model tests) in parameterCounts.
          expect(countParams(top)).toBe(spec.parameterCount ?? parameterCounts[name]);
          for (const output of top.outputs) expect(output.shape).toEqual([null, spec.classes]);
          const names = new Set(top.layers.map((l) => l.name));
          for (const l of spec.topLayers) expect(names.has(l), `${name}: top layer ${l}`).toBe(true);
          expect(names.has(spec.featureLayer), `${name}: feature layer ${spec.featureLayer}`).toBe(true);
          for (const head of spec.newHeads ?? []) {
            for (const l of [head.from, head.dense, head.softmax].filter(Boolean) as string[]) expect(names.has(l), `${name}: new-head layer ${l}`).toBe(true);
          }
          // The classifier(s) hold weights, and every weighted top layer is listed (so a notop file skips them all).
          const weightedTop = top.layers.filter((l) => l.weights.length > 0 && spec.topLayers.includes(l.name));
          expect(weightedTop.length, name).toBeGreaterThan(0);
        } finally {
          top.dispose();
        }

        const side = Math.max(75, Math.ceil(spec.inputShape[0] / 3));
        const notop = spec.build({ includeTop: false, inputShape: [side, side, 3] });
        try {
          const names = new Set(notop.layers.map((l) => l.name));
          for (const l of spec.topLayers) expect(names.has(l), `${name}: ${l} must not exist without the top`).toBe(false);
          expect(notop.outputs).toHaveLength(1);
          expect(notop.outputs[0]!.shape).toHaveLength(4);
        } finally {
          notop.dispose();
        }
      });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Assertion helpers (used by @ft/vgg and @ft/resnet)

/** No two weight records of `models` share an id or a file name. */
export function expectUniqueRecordIdsAndFileNames(models: ModelSpec[]): void {
  const records = models.flatMap((m) => m.weights);
  expect(new Set(records.map((r) => r.id)).size).toBe(records.length);
  expect(new Set(records.map((r) => r.fileName)).size).toBe(records.length);
}

/** One forward pass of `model` at the spec's input size (batch 1) outputs a distribution over 1000 classes. */
export function expectForwardPassDistribution(spec: ModelSpec, model: tfl.LayersModel): void {
  const y = tf.tidy(() => model.predict(tf.randomUniform([1, ...spec.inputShape], -120, 150)) as tf.Tensor);
  expect(y.shape).toEqual([1, 1000]);
  const values = y.dataSync<"float32">();
  expect(values.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
  expect(values.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
  y.dispose();
}

/**
 * `spec.topLayers` are exactly the layers of `top` that `notop` lacks; `spec.featureLayer` has the
 * output shape `featureShape` and is the only input of the classifier (the last layer).
 */
export function expectTopLayersAndFeatureLayer(spec: ModelSpec, top: tfl.LayersModel, notop: tfl.LayersModel, featureShape: (number | null)[]): void {
  const notopNames = new Set(notop.layers.map((l) => l.name));
  expect(top.layers.map((l) => l.name).filter((n) => !notopNames.has(n))).toEqual(spec.topLayers);
  expect(top.getLayer(spec.featureLayer).outputShape).toEqual(featureShape);
  // The classifier is the last layer and reads featureLayer's output.
  const last = top.layers[top.layers.length - 1]!;
  expect(last.inboundNodes[0]!.inboundLayers.map((l) => l.name)).toEqual([spec.featureLayer]);
}

/**
 * The mandatory fields of a record of a Caffe-preprocessed model published with MD5 sums: URL, `.h5`
 * file name, size, layout, ordering, includeTop, preprocessing, and a checksum or, without one, an
 * approximate size and notes saying why.
 */
export function expectCaffeRecordFields(r: WeightRecord): void {
  expect(r.url).toMatch(/^https:\/\//);
  expect(r.fileName).toMatch(/^[\w.-]+\.h5$/);
  expect(Number.isInteger(r.bytes) && r.bytes > 0).toBe(true);
  expect(["legacy", "keras1", "keras2", "model"]).toContain(r.layout);
  expect(["th", "tf"]).toContain(r.ordering);
  expect(typeof r.includeTop).toBe("boolean");
  expect(r.preprocessing).toBe("caffe");
  if (r.checksum) {
    expect(r.checksum.algorithm).toBe("md5");
    expect(r.checksum.value).toMatch(/^[0-9a-f]{32}$/);
  } else {
    // Nothing published to verify against: the record must say its size is only approximate and why.
    expect(r.bytesApproximate).toBe(true);
    expect(r.notes).toBeTruthy();
  }
}
