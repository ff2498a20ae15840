import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { countParams, listModels, selectBackend, type ModelSpec, type WeightRecord } from "@ft/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import "../src/index.js";

/**
 * Registry-wide schema test (torchvision style): every model this package registers and every
 * weight record it carries is checked against the model actually built.
 */
const models = listModels().filter((m) => m.family === "vgg");

/** Published parameter counts with the 1000-class top (Keras applications / the papers). */
const PUBLISHED_PARAMS: Record<string, number> = { vgg16: 138_357_544, vgg19: 143_667_240 };

/** One full-size build per model with its ImageNet top, shared by the tests below (VGG builds are slow). */
const topModels = new Map<string, tfl.LayersModel>();
function topModel(spec: ModelSpec): tfl.LayersModel {
  let model = topModels.get(spec.name);
  if (!model) {
    model = spec.build({ includeTop: true });
    topModels.set(spec.name, model);
  }
  return model;
}

beforeAll(async () => {
  await selectBackend("wasm");
});
afterAll(() => {
  for (const m of topModels.values()) m.dispose();
});

describe("vgg registry", () => {
  it("registers vgg16 and vgg19", () => {
    expect(models.map((m) => m.name)).toEqual(["vgg16", "vgg19"]);
  });

  it("record ids and file names are unique", () => {
    const records = models.flatMap((m) => m.weights);
    expect(new Set(records.map((r) => r.id)).size).toBe(records.length);
    expect(new Set(records.map((r) => r.fileName)).size).toBe(records.length);
  });

  for (const spec of models) {
    describe(spec.name, () => {
      it("has the published parameter count, built and declared", () => {
        expect(spec.parameterCount).toBe(PUBLISHED_PARAMS[spec.name]);
        expect(countParams(topModel(spec))).toBe(PUBLISHED_PARAMS[spec.name]);
      });

      it("runs one forward pass at 224×224 (batch 1) and outputs a distribution over 1000 classes", () => {
        const model = topModel(spec);
        const y = tf.tidy(() => {
          const x = tf.randomUniform([1, ...spec.inputShape], -120, 150);
          return model.predict(x) as tf.Tensor;
        });
        expect(y.shape).toEqual([1, 1000]);
        const values = y.dataSync();
        expect(values.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
        expect(values.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
        y.dispose();
      });

      it("topLayers are exactly the layers a notop build lacks, featureLayer feeds the classifier", () => {
        const top = topModel(spec);
        const notop = spec.build({ includeTop: false });
        const notopNames = new Set(notop.layers.map((l) => l.name));
        expect(top.layers.map((l) => l.name).filter((n) => !notopNames.has(n))).toEqual(spec.topLayers);
        notop.dispose();
        const feature = top.getLayer(spec.featureLayer);
        expect(feature.outputShape).toEqual([null, 4096]);
        // The classifier is the last layer and reads featureLayer's output.
        const last = top.layers[top.layers.length - 1]!;
        expect(last.inboundNodes[0]!.inboundLayers.map((l) => l.name)).toEqual([spec.featureLayer]);
      });

      it("includeTop false gives the block5_pool map; pooling avg/max give vectors; classes and inputShape are honoured", () => {
        const cases: Array<[Parameters<ModelSpec["build"]>[0], (number | null)[]]> = [
          [{ includeTop: false }, [null, 7, 7, 512]],
          [{ includeTop: false, pooling: "avg" }, [null, 512]],
          [{ includeTop: false, pooling: "max" }, [null, 512]],
          [{ includeTop: false, inputShape: [96, 64, 3] }, [null, 3, 2, 512]],
          [{ includeTop: true, classes: 7, inputShape: [32, 32, 3] }, [null, 7]],
        ];
        for (const [options, shape] of cases) {
          const model = spec.build(options);
          expect(model.outputs[0]!.shape, JSON.stringify(options)).toEqual(shape);
          model.dispose();
        }
      });

      for (const record of spec.weights) {
        it(`record ${record.id}: mandatory fields and a model that matches it`, () => {
          checkRecordFields(spec, record);
          if (record.includeTop) {
            // The top records all have 1000 classes, the size of the shared build.
            expect(record.classes).toBe(1000);
            expect(topModel(spec).outputs[0]!.shape).toEqual([null, record.classes]);
          } else {
            const model = spec.build({ includeTop: false });
            // A notop file holds the 13/16 conv layers: the map after block5_pool, 512 channels, /32.
            expect(model.outputs[0]!.shape).toEqual([null, 7, 7, 512]);
            model.dispose();
          }
        });
      }
    });
  }
});

function checkRecordFields(spec: ModelSpec, r: WeightRecord): void {
  expect(r.id.startsWith(`${spec.name}.`)).toBe(true);
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
  if (r.includeTop) {
    expect(r.classes).toBeGreaterThan(0);
    expect(r.accuracy?.source).toBeTruthy();
    expect(r.accuracy!.top1).toBeGreaterThan(50);
  }
  if (r.layout === "legacy") expect(r.ordering).toBe("th");
}
