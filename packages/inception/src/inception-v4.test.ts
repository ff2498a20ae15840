import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { countParams, selectBackend } from "@ft/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INCEPTION_V4_TOP_LAYERS, PARAMETER_COUNTS, buildInceptionV4, dropBackgroundClass, inceptionV4Spec } from "./index.js";
import { describeWeightedLayers, manifestRows, readManifest, spatial, weightedLayersInCreationOrder } from "@ft/test-support/layers";

/**
 * Independent reference written from TF-slim's inception_v4.py / kentsommer's inception_v4.py (release 2.0):
 * every `conv2d_bn` in creation order as [kh, kw, in, out], block by block.
 */
function convTable(): Array<[number, number, number, number]> {
  const t: Array<[number, number, number, number]> = [];
  // Stem: 299 → 35×35×384.
  t.push([3, 3, 3, 32], [3, 3, 32, 32], [3, 3, 32, 64], [3, 3, 64, 96]); // concat 64 + 96 = 160
  t.push([1, 1, 160, 64], [3, 3, 64, 96], [1, 1, 160, 64], [1, 7, 64, 64], [7, 1, 64, 64], [3, 3, 64, 96]); // concat 192
  t.push([3, 3, 192, 192]); // concat 192 + 192 = 384
  for (let i = 0; i < 4; i++) {
    t.push([1, 1, 384, 96], [1, 1, 384, 64], [3, 3, 64, 96], [1, 1, 384, 64], [3, 3, 64, 96], [3, 3, 96, 96], [1, 1, 384, 96]);
  }
  t.push([3, 3, 384, 384], [1, 1, 384, 192], [3, 3, 192, 224], [3, 3, 224, 256]); // 384 + 256 + 384 = 1024
  for (let i = 0; i < 7; i++) {
    t.push([1, 1, 1024, 384], [1, 1, 1024, 192], [1, 7, 192, 224], [7, 1, 224, 256]);
    t.push([1, 1, 1024, 192], [7, 1, 192, 192], [1, 7, 192, 224], [7, 1, 224, 224], [1, 7, 224, 256], [1, 1, 1024, 128]);
  }
  t.push([1, 1, 1024, 192], [3, 3, 192, 192], [1, 1, 1024, 256], [1, 7, 256, 256], [7, 1, 256, 320], [3, 3, 320, 320]); // 192 + 320 + 1024 = 1536
  for (let i = 0; i < 3; i++) {
    t.push([1, 1, 1536, 256], [1, 1, 1536, 384], [1, 3, 384, 256], [3, 1, 384, 256]);
    t.push([1, 1, 1536, 384], [3, 1, 384, 448], [1, 3, 448, 512], [1, 3, 512, 256], [3, 1, 512, 256], [1, 1, 1536, 256]);
  }
  return t;
}

let model: tfl.LayersModel;
beforeAll(async () => {
  await selectBackend("wasm");
  model = buildInceptionV4();
});
afterAll(() => model?.dispose());

describe("inception_v4 (kentsommer 2.0)", () => {
  it("parameters = Σ kh·kw·in·out (no bias) + 4·out BN (gamma, beta, mean, variance) + 1536·1001 + 1001", () => {
    const table = convTable();
    expect(table).toHaveLength(149);
    const expected = table.reduce((s, [kh, kw, i, o]) => s + kh * kw * i * o + 4 * o, 0) + 1536 * 1001 + 1001;
    expect(countParams(model)).toBe(expected);
    expect(PARAMETER_COUNTS.inception_v4).toBe(expected);
    expect(inceptionV4Spec.parameterCount).toBeUndefined();
  });

  it("weighted layers have the manifest's names, kinds and order (convolution2d_1…149, batchnormalization_1…149, dense_1)", () => {
    expect(describeWeightedLayers(model)).toEqual(manifestRows(readManifest("inception_v4")));
  });

  it("auto-numbered convolutions have the TF-slim kernel shapes in the original creation order", () => {
    const convs = weightedLayersInCreationOrder(model).filter((l) => l.getClassName() === "Conv2D");
    expect(convs.map((l) => [l.name, l.weights[0]!.shape])).toEqual(convTable().map((k, i) => [`convolution2d_${i + 1}`, k]));
    expect(model.getLayer("dense_1").getWeights()[0]!.shape).toEqual([1536, 1001]);
  });

  it("stages are 35×35×384 → 17×17×1024 → 8×8×1536, head pool 8×8 → 1×1", () => {
    expect(model.getLayer("merge_3").outputShape).toEqual([null, 35, 35, 384]);
    expect(model.getLayer("merge_8").outputShape).toEqual([null, 17, 17, 1024]);
    expect(model.getLayer("merge_16").outputShape).toEqual([null, 8, 8, 1536]);
    expect(model.getLayer("merge_25").outputShape).toEqual([null, 8, 8, 1536]);
    expect(spatial(model, INCEPTION_V4_TOP_LAYERS[0]!)).toEqual([1, 1]);
    expect((model.getLayer("dropout_1").getConfig() as { rate: number }).rate).toBe(0.2);
  });

  it("one forward pass at 299×299 on wasm: 1001-way softmax, background dropped for ImageNet labels", async () => {
    expect(tf.getBackend()).toBe("wasm");
    const y = model.predict(tf.randomUniform([1, 299, 299, 3], -1, 1, "float32", 4)) as tf.Tensor2D;
    expect(y.shape).toEqual([1, 1001]);
    expect((await tf.sum(y).data())[0]).toBeCloseTo(1, 4);
    const imagenet = dropBackgroundClass(y);
    expect(imagenet.shape).toEqual([1, 1000]);
    const all = await y.data();
    expect(Array.from(await imagenet.data())).toEqual(Array.from(all.slice(1)));
  });

  it("builds headless with 1536 features", () => {
    const notop = buildInceptionV4({ includeTop: false, pooling: "avg", inputShape: [75, 75, 3] });
    expect(notop.outputs[0]!.shape).toEqual([null, 1536]);
    notop.dispose();
    // The head pools the whole final map, so smaller inputs keep the 1536-wide classifier input.
    const small = buildInceptionV4({ inputShape: [150, 150, 3], classes: 3 });
    expect(small.getLayer("dense_1").getWeights()[0]!.shape).toEqual([1536, 3]);
    small.dispose();
    expect(() => buildInceptionV4({ inputShape: [60, 60, 3] })).toThrow(/inception_v4: inputShape/);
  });
});
