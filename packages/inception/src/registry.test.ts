import type * as tfl from "@tensorflow/tfjs-layers";
import { PREPROCESSING_DESCRIPTIONS, countParams, findWeightRecord, getModel, listModels, selectBackend, type ModelSpec } from "@ft/core";
import { beforeAll, describe, expect, it } from "vitest";
import { PARAMETER_COUNTS } from "./index.js";

/**
 * Schema test over every model this package registers (torchvision style): each spec and weight record
 * carries its mandatory fields, and the declared metadata agrees with the model actually built.
 */
const FAMILY = "inception";
const EXPECTED_MODELS = ["googlenet", "inception_v3", "inception_v3.keras", "inception_v4"];
const specs = (): ModelSpec[] => listModels().filter((m) => m.family === FAMILY);
type WithHeads = ModelSpec & { newHeads?: { from: string; dense: string; softmax?: string }[] };

beforeAll(async () => {
  await selectBackend("wasm");
});

describe(`@ft/${FAMILY} registry`, () => {
  it("registers exactly its models on import", () => {
    expect(specs().map((s) => s.name)).toEqual(EXPECTED_MODELS);
    for (const name of EXPECTED_MODELS) expect(getModel(name).family).toBe(FAMILY);
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

  for (const name of EXPECTED_MODELS) {
    it(`${name}: parameterCount, outputs, topLayers, featureLayer and newHeads agree with the built model`, () => {
      const spec = getModel(name) as WithHeads;
      const top: tfl.LayersModel = spec.build({});
      try {
        expect(top.inputs[0]!.shape).toEqual([null, ...spec.inputShape]);
        // Published counts sit on the spec; derived ones (asserted from layer tables in the model tests) in PARAMETER_COUNTS.
        expect(countParams(top)).toBe(spec.parameterCount ?? PARAMETER_COUNTS[name as keyof typeof PARAMETER_COUNTS]);
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
