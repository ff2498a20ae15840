import type * as tfl from "@tensorflow/tfjs-layers";
import { countParams, getModel, listModels, selectBackend, type BuildOptions, type ModelSpec, type WeightRecord } from "@ft/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import "./index.js";
import { expectCaffeRecordFields, expectForwardPassDistribution, expectTopLayersAndFeatureLayer, expectUniqueRecordIdsAndFileNames } from "@ft/model-proofs/registry-schema";

/**
 * Registry-wide schema test (torchvision style): every model this package registers and every
 * weight record it carries is checked against the model actually built.
 */
const models = listModels().filter((m) => m.family === "resnet");

/** Published counts with the 1000-class top (Keras applications table). */
const PUBLISHED: Record<string, number> = {
  resnet50: 25_636_712,
  "resnet50.keras": 25_636_712,
  "resnet101.keras": 44_707_176,
  "resnet152.keras": 60_419_944,
};

/**
 * The Caffe conversions, counted by hand from their layer list (manifests/resnet101.txt, 152.txt):
 * - stem: conv1 7·7·3·64 = 9,408 (no bias) + bn_conv1 4·64 + scale_conv1 2·64 = 9,792;
 * - a bottleneck of width f reading c channels: 2a c·f + 2b 9·f² + 2c f·4f, no biases, and per
 *   BN+Scale pair 6 values per channel: 6·(f + f + 4f) = 36·f;
 * - the first block of a stage adds the projection branch1 c·4f + 6·4f;
 * - stage widths f = 64, 128, 256, 512 (c = 64 entering stage 2, then 4f of the previous stage);
 * - fc1000: 2048·1000 + 1000.
 */
function caffeParams(blocks: number[]): number {
  let total = 7 * 7 * 3 * 64 + 6 * 64;
  let c = 64;
  blocks.forEach((n, i) => {
    const f = 64 * 2 ** i;
    for (let b = 0; b < n; b++) {
      total += c * f + 9 * f * f + f * 4 * f + 36 * f;
      if (b === 0) total += c * 4 * f + 6 * 4 * f;
      c = 4 * f;
    }
  });
  return total + 2048 * 1000 + 1000;
}
const EXPECTED: Record<string, number> = {
  ...PUBLISHED,
  resnet101: caffeParams([3, 4, 23, 3]),
  resnet152: caffeParams([3, 8, 36, 3]),
};

/**
 * Builds are the slow part (ResNet-152: ~500 layers, 60 M initialised weights), so each distinct
 * (model, options) pair is built once and shared by the tests of that model.
 */
const built = new Map<string, tfl.LayersModel>();
function build(spec: ModelSpec, options: BuildOptions): tfl.LayersModel {
  const key = `${spec.name} ${JSON.stringify(options)}`;
  let model = built.get(key);
  if (!model) {
    model = spec.build(options);
    built.set(key, model);
  }
  return model;
}
const topModel = (spec: ModelSpec) => build(spec, { includeTop: true });
const notopModel = (spec: ModelSpec) => build(spec, { includeTop: false });
function releaseAll(): void {
  for (const m of built.values()) m.dispose();
  built.clear();
}

/** One model per style gets the option matrix; the depth does not change how options are handled. */
const OPTION_MATRIX = new Set(["resnet50", "resnet101", "resnet50.keras"]);

beforeAll(async () => {
  await selectBackend("wasm");
});
afterAll(releaseAll);

describe("resnet registry", () => {
  it("registers the six variants", () => {
    expect(models.map((m) => m.name)).toEqual(["resnet101", "resnet101.keras", "resnet152", "resnet152.keras", "resnet50", "resnet50.keras"]);
  });

  it("the hand counts of the Caffe variants are what the layer lists add up to", () => {
    // Same arithmetic with conv biases and without Scale gives the published Keras counts back,
    // which checks the formula itself; the Caffe numbers then follow from it.
    expect(caffeParams([3, 4, 23, 3])).toBe(44_759_848);
    expect(caffeParams([3, 8, 36, 3])).toBe(60_495_656);
  });

  it("record ids and file names are unique", () => {
    expectUniqueRecordIdsAndFileNames(models);
  });

  for (const spec of models) {
    describe(spec.name, () => {
      afterAll(releaseAll);

      it("parameter count: built model equals the published / hand-computed count", () => {
        expect(countParams(topModel(spec))).toBe(EXPECTED[spec.name]);
        if (spec.parameterCount !== undefined) expect(spec.parameterCount).toBe(PUBLISHED[spec.name]);
      });

      it("topLayers are exactly the layers a notop build lacks; featureLayer feeds the classifier", () => {
        expectTopLayersAndFeatureLayer(spec, topModel(spec), notopModel(spec), [null, 2048]);
      });

      for (const record of spec.weights) {
        it(`record ${record.id}: mandatory fields and a model that matches it`, () => {
          checkRecordFields(spec, record);
          if (record.includeTop) {
            expect(record.classes).toBe(1000);
            expect(topModel(spec).outputs[0]!.shape).toEqual([null, record.classes]);
          } else {
            // A notop file holds everything up to stage 5: a 7×7×2048 map at 224×224.
            expect(notopModel(spec).outputs[0]!.shape).toEqual([null, 7, 7, 2048]);
          }
        });
      }

      it("runs one forward pass at 224×224 (batch 1): a distribution over 1000 classes", () => {
        expectForwardPassDistribution(spec, topModel(spec));
      });

      if (OPTION_MATRIX.has(spec.name)) {
        it("honours includeTop, pooling, classes and inputShape", () => {
          const cases: Array<[BuildOptions, (number | null)[]]> = [
            [{ includeTop: false, inputShape: [64, 96, 3] }, [null, 2, 3, 2048]],
            [{ includeTop: false, pooling: "avg", inputShape: [64, 64, 3] }, [null, 2048]],
            [{ includeTop: false, pooling: "max", inputShape: [64, 64, 3] }, [null, 2048]],
            [{ includeTop: true, classes: 7, inputShape: [64, 64, 3] }, [null, 7]],
          ];
          for (const [options, shape] of cases) {
            expect(build(spec, options).outputs[0]!.shape, JSON.stringify(options)).toEqual(shape);
          }
        });

        it("stem, stride, epsilon, bias and Scale follow the file's code", () => {
          checkStructure(spec, build(spec, { includeTop: false, inputShape: [64, 96, 3] }));
        });
      }
    });
  }
});

it("rejects bad options with a usage error naming the model", () => {
  expect(() => getModel("resnet152").build({ inputShape: [24, 24, 3] })).toThrow(/resnet152: inputShape/);
  expect(() => getModel("resnet50.keras").build({ classes: -1 })).toThrow(/resnet50\.keras: classes/);
});

/** What each code base does, per style, checked on a 64×96 build (stem pool 32×48 → 15×23 or 16×24). */
function checkStructure(spec: ModelSpec, model: tfl.LayersModel): void {
  const config = (name: string) => model.getLayer(name).getConfig() as { strides: number[]; epsilon: number };
  const keras = spec.name.endsWith(".keras");
  const caffe = spec.name === "resnet101";
  // Stride on the first 1×1 of a conv block and on the projection, not on the 3×3.
  const [a, b, proj] = keras ? ["conv3_block1_1_conv", "conv3_block1_2_conv", "conv3_block1_0_conv"] : ["res3a_branch2a", "res3a_branch2b", "res3a_branch1"];
  expect(config(a).strides).toEqual([2, 2]);
  expect(config(b).strides).toEqual([1, 1]);
  expect(config(proj).strides).toEqual([2, 2]);
  // Stem max pool: valid (conv 32×48 → 15×23) in the Keras 1 and Caffe files, padded (→ 16×24) in Keras applications.
  expect(model.getLayer(keras ? "pool1_pool" : "pool1").outputShape).toEqual(keras ? [null, 16, 24, 64] : [null, 15, 23, 64]);
  // BN epsilon, conv bias, Scale after every BN, input name.
  const lastBnOfStage4 = keras ? "conv4_block6_3_bn" : caffe ? "bn4b22_branch2c" : "bn4f_branch2c";
  expect(config(lastBnOfStage4).epsilon).toBe(keras ? 1.001e-5 : caffe ? 1.1e-5 : 1e-3);
  expect(model.getLayer(keras ? "conv1_conv" : "conv1").weights.length).toBe(caffe ? 1 : 2);
  const count = (cls: string) => model.layers.filter((l) => l.getClassName() === cls).length;
  expect(count("Scale")).toBe(caffe ? count("BatchNormalization") : 0);
  expect(model.inputLayers[0]!.name).toBe(caffe ? "data" : "input_1");
}

function checkRecordFields(spec: ModelSpec, r: WeightRecord): void {
  expect(r.id.startsWith(`${spec.name}.`) || r.id === spec.name).toBe(true);
  expectCaffeRecordFields(r);
  if (r.bytesApproximate) expect(r.notes).toBeTruthy();
  if (r.includeTop) {
    expect(r.classes).toBe(1000);
    expect(r.accuracy?.source).toBeTruthy();
    expect(r.accuracy!.top1).toBeGreaterThan(70);
    expect(r.accuracy!.top5).toBeGreaterThan(90);
  }
  // Keras-applications files are Keras 2 and tf-only; the others are Keras 1.
  expect(r.layout).toBe(spec.name.endsWith(".keras") ? "keras2" : "keras1");
  if (spec.name.endsWith(".keras")) expect(r.ordering).toBe("tf");
}
