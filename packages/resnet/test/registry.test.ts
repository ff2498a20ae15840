import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { countParams, getModel, listModels, selectBackend, type BuildOptions, type ModelSpec, type WeightRecord } from "@ft/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import "../src/index.js";

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

/** One full-size build with the ImageNet top per model, shared by the tests below. */
const topModels = new Map<string, tfl.LayersModel>();
function topModel(spec: ModelSpec): tfl.LayersModel {
  let model = topModels.get(spec.name);
  if (!model) {
    model = spec.build({ includeTop: true });
    topModels.set(spec.name, model);
  }
  return model;
}
function release(spec: ModelSpec): void {
  topModels.get(spec.name)?.dispose();
  topModels.delete(spec.name);
}

beforeAll(async () => {
  await selectBackend("wasm");
});
afterAll(() => {
  for (const m of topModels.values()) m.dispose();
});

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
    const records = models.flatMap((m) => m.weights);
    expect(new Set(records.map((r) => r.id)).size).toBe(records.length);
    expect(new Set(records.map((r) => r.fileName)).size).toBe(records.length);
  });

  for (const spec of models) {
    describe(spec.name, () => {
      it("parameter count: built model equals the published / hand-computed count", () => {
        expect(countParams(topModel(spec))).toBe(EXPECTED[spec.name]);
        if (spec.parameterCount !== undefined) expect(spec.parameterCount).toBe(PUBLISHED[spec.name]);
      });

      it("topLayers are exactly the layers a notop build lacks; featureLayer feeds the classifier", () => {
        const top = topModel(spec);
        const notop = spec.build({ includeTop: false });
        const notopNames = new Set(notop.layers.map((l) => l.name));
        expect(top.layers.map((l) => l.name).filter((n) => !notopNames.has(n))).toEqual(spec.topLayers);
        notop.dispose();
        expect(top.getLayer(spec.featureLayer).outputShape).toEqual([null, 2048]);
        const last = top.layers[top.layers.length - 1]!;
        expect(last.inboundNodes[0]!.inboundLayers.map((l) => l.name)).toEqual([spec.featureLayer]);
      });

      for (const record of spec.weights) {
        it(`record ${record.id}: mandatory fields and a model that matches it`, () => {
          checkRecordFields(spec, record);
          if (record.includeTop) {
            expect(record.classes).toBe(1000);
            expect(topModel(spec).outputs[0]!.shape).toEqual([null, record.classes]);
          } else {
            const model = spec.build({ includeTop: false });
            // A notop file holds everything up to stage 5: a 7×7×2048 map at 224×224.
            expect(model.outputs[0]!.shape).toEqual([null, 7, 7, 2048]);
            model.dispose();
          }
        });
      }

      it("runs one forward pass at 224×224 (batch 1): a distribution over 1000 classes", () => {
        const model = topModel(spec);
        const y = tf.tidy(() => model.predict(tf.randomUniform([1, ...spec.inputShape], -120, 150)) as tf.Tensor);
        expect(y.shape).toEqual([1, 1000]);
        const values = y.dataSync();
        expect(values.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
        expect(values.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
        y.dispose();
        release(spec);
      });

      it("honours includeTop, pooling, classes and inputShape", () => {
        const cases: Array<[BuildOptions, (number | null)[]]> = [
          [{ includeTop: false, inputShape: [64, 96, 3] }, [null, 2, 3, 2048]],
          [{ includeTop: false, pooling: "avg", inputShape: [64, 64, 3] }, [null, 2048]],
          [{ includeTop: false, pooling: "max", inputShape: [64, 64, 3] }, [null, 2048]],
          [{ includeTop: true, classes: 7, inputShape: [64, 64, 3] }, [null, 7]],
        ];
        for (const [options, shape] of cases) {
          const model = spec.build(options);
          expect(model.outputs[0]!.shape, JSON.stringify(options)).toEqual(shape);
          model.dispose();
        }
      });
    });
  }
});

describe("ResNet structure details", () => {
  it("puts the stride on the first 1×1 of a conv block and on the projection, not on the 3×3", () => {
    const model = getModel("resnet50").build({ includeTop: false, inputShape: [64, 64, 3] });
    const strides = (name: string) => (model.getLayer(name).getConfig() as { strides: number[] }).strides;
    expect(strides("res3a_branch2a")).toEqual([2, 2]);
    expect(strides("res3a_branch2b")).toEqual([1, 1]);
    expect(strides("res3a_branch1")).toEqual([2, 2]);
    expect(strides("res2a_branch2a")).toEqual([1, 1]);
    model.dispose();
  });

  it("stem max pool: valid 112→55 for the Keras 1 and Caffe files, padded 112→56 for Keras applications", () => {
    for (const [name, pool, size] of [
      ["resnet50", "pool1", 55],
      ["resnet101", "pool1", 55],
      ["resnet50.keras", "pool1_pool", 56],
    ] as const) {
      const model = getModel(name).build({ includeTop: false });
      expect(model.getLayer(pool).outputShape, name).toEqual([null, size, size, 64]);
      model.dispose();
    }
  });

  it("uses each file's BN epsilon, bias and Scale convention", () => {
    const check = (name: string, bn: string, conv: string, eps: number, bias: boolean) => {
      const model = getModel(name).build({ includeTop: false, inputShape: [32, 32, 3] });
      expect((model.getLayer(bn).getConfig() as { epsilon: number }).epsilon).toBe(eps);
      expect(model.getLayer(conv).weights.length).toBe(bias ? 2 : 1);
      const scales = model.layers.filter((l) => l.getClassName() === "Scale").length;
      const bns = model.layers.filter((l) => l.getClassName() === "BatchNormalization").length;
      expect(scales).toBe(name === "resnet101" ? bns : 0);
      if (name === "resnet101") expect(model.inputLayers[0]!.name).toBe("data");
      model.dispose();
    };
    check("resnet50", "bn_conv1", "conv1", 1e-3, true);
    check("resnet101", "bn4b22_branch2c", "res4b22_branch2c", 1.1e-5, false);
    check("resnet50.keras", "conv4_block6_3_bn", "conv4_block6_3_conv", 1.001e-5, true);
  });

  it("rejects bad options with a usage error naming the model", () => {
    expect(() => getModel("resnet152").build({ inputShape: [24, 24, 3] })).toThrow(/resnet152: inputShape/);
    expect(() => getModel("resnet50.keras").build({ classes: -1 })).toThrow(/resnet50\.keras: classes/);
  });
});

function checkRecordFields(spec: ModelSpec, r: WeightRecord): void {
  expect(r.id.startsWith(`${spec.name}.`) || r.id === spec.name).toBe(true);
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
    expect(r.bytesApproximate).toBe(true);
    expect(r.notes).toBeTruthy();
  }
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
