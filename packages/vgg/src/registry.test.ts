import type * as tfl from "@tensorflow/tfjs-layers";
import { countParams, listModels, selectBackend, type ModelSpec, type WeightRecord } from "@ft/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import "./index.js";
import { expectCaffeRecordFields, expectForwardPassDistribution, expectTopLayersAndFeatureLayer, expectUniqueRecordIdsAndFileNames } from "@ft/model-proofs/registry-schema";

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
    expectUniqueRecordIdsAndFileNames(models);
  });

  for (const spec of models) {
    describe(spec.name, () => {
      it("has the published parameter count, built and declared", () => {
        expect(spec.parameterCount).toBe(PUBLISHED_PARAMS[spec.name]);
        expect(countParams(topModel(spec))).toBe(PUBLISHED_PARAMS[spec.name]);
      });

      it("runs one forward pass at 224×224 (batch 1) and outputs a distribution over 1000 classes", () => {
        expectForwardPassDistribution(spec, topModel(spec));
      });

      it("topLayers are exactly the layers a notop build lacks, featureLayer feeds the classifier", () => {
        const notop = spec.build({ includeTop: false });
        expectTopLayersAndFeatureLayer(spec, topModel(spec), notop, [null, 4096]);
        notop.dispose();
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
  expectCaffeRecordFields(r);
  if (r.includeTop) {
    expect(r.classes).toBeGreaterThan(0);
    expect(r.accuracy?.source).toBeTruthy();
    expect(r.accuracy!.top1).toBeGreaterThan(50);
  }
  if (r.layout === "legacy") expect(r.ordering).toBe("th");
}
