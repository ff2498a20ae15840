import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { countParams, selectBackend } from "@ft/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INCEPTION_V3_KERAS1, INCEPTION_V3_KERAS2, PARAMETER_COUNTS, buildInceptionV3, inceptionV3KerasSpec, inceptionV3Spec } from "./index.js";
import { size, spatial, weightedLayersInCreationOrder } from "@ft/test-support/layers";

/**
 * Independent reference written from the original scripts (deep-learning-models inception_v3.py): every
 * `conv2d_bn` in creation order as [kh, kw, in, out]; `pool012` are the pool-branch filters of mixed0–2.
 */
function convTable(pool012: [number, number, number]): Array<[number, number, number, number]> {
  const t: Array<[number, number, number, number]> = [[3, 3, 3, 32], [3, 3, 32, 32], [3, 3, 32, 64], [1, 1, 64, 80], [3, 3, 80, 192]];
  let c = 192;
  for (const p of pool012) {
    t.push([1, 1, c, 64], [1, 1, c, 48], [5, 5, 48, 64], [1, 1, c, 64], [3, 3, 64, 96], [3, 3, 96, 96], [1, 1, c, p]);
    c = 64 + 64 + 96 + p;
  }
  t.push([3, 3, c, 384], [1, 1, c, 64], [3, 3, 64, 96], [3, 3, 96, 96]); // mixed3
  c = 384 + 96 + c;
  for (const c7 of [128, 160, 160, 192]) {
    t.push([1, 1, c, 192], [1, 1, c, c7], [1, 7, c7, c7], [7, 1, c7, 192]);
    t.push([1, 1, c, c7], [7, 1, c7, c7], [1, 7, c7, c7], [7, 1, c7, c7], [1, 7, c7, 192], [1, 1, c, 192]);
    c = 4 * 192;
  }
  t.push([1, 1, c, 192], [3, 3, 192, 320], [1, 1, c, 192], [1, 7, 192, 192], [7, 1, 192, 192], [3, 3, 192, 192]); // mixed8
  c = 320 + 192 + c;
  for (let i = 0; i < 2; i++) {
    t.push([1, 1, c, 320], [1, 1, c, 384], [1, 3, 384, 384], [3, 1, 384, 384]);
    t.push([1, 1, c, 448], [3, 3, 448, 384], [1, 3, 384, 384], [3, 1, 384, 384], [1, 1, c, 192]);
    c = 320 + 768 + 768 + 192;
  }
  expect(c).toBe(2048);
  return t;
}

const KERAS1_TABLE = () => convTable([32, 32, 32]);
const KERAS2_TABLE = () => convTable([32, 64, 64]);

const models = new Map<string, tfl.LayersModel>();
beforeAll(async () => {
  await selectBackend("wasm");
  models.set("keras1", buildInceptionV3(INCEPTION_V3_KERAS1));
  models.set("keras2", buildInceptionV3(INCEPTION_V3_KERAS2));
});
afterAll(() => models.forEach((m) => m.dispose()));

describe("inception_v3 (deep-learning-models v0.2, Keras 1)", () => {
  it("parameters = Σ (kh·kw·in·out + out bias) + 4·out BN + 2048·1000 + 1000", () => {
    const table = KERAS1_TABLE();
    expect(table).toHaveLength(94);
    const expected = table.reduce((s, [kh, kw, i, o]) => s + kh * kw * i * o + o + 4 * o, 0) + 2048 * 1000 + 1000;
    expect(countParams(models.get("keras1")!)).toBe(expected);
    expect(PARAMETER_COUNTS.inception_v3).toBe(expected);
    expect(inceptionV3Spec.parameterCount).toBeUndefined();
  });

  it("weighted layers are convolution2d_k (with bias) + batchnormalization_k in creation order, then predictions", () => {
    const layers = weightedLayersInCreationOrder(models.get("keras1")!);
    const expected = KERAS1_TABLE().flatMap(([kh, kw, i, o], k) => [
      [`convolution2d_${k + 1}`, [[kh, kw, i, o], [o]]],
      [`batchnormalization_${k + 1}`, [[o], [o], [o], [o]]],
    ]);
    expected.push(["predictions", [[2048, 1000], [1000]]]);
    expect(layers.map((l) => [l.name, l.weights.map((w) => w.shape)])).toEqual(expected);
    // BN after the ReLU: the conv itself carries the activation.
    expect((layers[0]!.getConfig() as { activation: string }).activation).toBe("relu");
  });

  it("has the merges mixed0…mixed10, mixed9_0, mixed9_1 and the Keras 1 head avg_pool → flatten → predictions", () => {
    const m = models.get("keras1")!;
    for (const n of ["mixed0", "mixed1", "mixed2", "mixed3", "mixed4", "mixed5", "mixed6", "mixed7", "mixed8", "mixed9", "mixed9_0", "mixed9_1", "mixed10", "merge_1", "merge_2"]) {
      expect(m.getLayer(n).getClassName()).toBe("Concatenate");
    }
    expect(m.getLayer("mixed2").outputShape).toEqual([null, 35, 35, 256]);
    expect(m.getLayer("avg_pool").getClassName()).toBe("AveragePooling2D");
    expect(m.getLayer("flatten").outputShape).toEqual([null, 2048]);
  });
});

describe("inception_v3.keras (Keras applications, v0.5)", () => {
  it("has 23,851,784 parameters = Σ kh·kw·in·out + 3·out BN (scale=False) + 2048·1000 + 1000", () => {
    const expected = KERAS2_TABLE().reduce((s, [kh, kw, i, o]) => s + kh * kw * i * o + 3 * o, 0) + 2048 * 1000 + 1000;
    expect(expected).toBe(23_851_784);
    expect(countParams(models.get("keras2")!)).toBe(23_851_784);
    expect(inceptionV3KerasSpec.parameterCount).toBe(23_851_784);
  });

  it("weighted layers are conv2d_k (no bias) + batch_normalization_k (beta, mean, variance), then predictions", () => {
    const layers = weightedLayersInCreationOrder(models.get("keras2")!);
    const expected = KERAS2_TABLE().flatMap(([kh, kw, i, o], k) => [
      [`conv2d_${k + 1}`, [[kh, kw, i, o]]],
      [`batch_normalization_${k + 1}`, [[o], [o], [o]]],
    ]);
    expected.push(["predictions", [[2048, 1000], [1000]]]);
    expect(layers.map((l) => [l.name, l.weights.map((w) => w.shape)])).toEqual(expected);
    expect(models.get("keras2")!.getLayer("mixed2").outputShape).toEqual([null, 35, 35, 288]);
  });
});

describe("both Inception-V3 layouts", () => {
  for (const variant of ["keras1", "keras2"]) {
    it(`${variant}: stages are 35 → 17 → 8 at 299×299`, () => {
      const m = models.get(variant)!;
      expect(spatial(m, "mixed2")).toEqual([35, 35]);
      expect(spatial(m, "mixed7")).toEqual([17, 17]);
      expect(spatial(m, "mixed10")).toEqual([8, 8]);
      expect(m.getLayer("mixed10").outputShape).toEqual([null, 8, 8, 2048]);
    });

    it(`${variant}: one forward pass at 299×299 on wasm gives a probability vector`, async () => {
      expect(tf.getBackend()).toBe("wasm");
      const y = models.get(variant)!.predict(tf.randomUniform([1, 299, 299, 3], -1, 1, "float32", 3)) as tf.Tensor;
      expect(y.shape).toEqual([1, 1000]);
      const values = await y.data();
      expect(values.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
      expect((await tf.sum(y).data())[0]).toBeCloseTo(1, 4);
    });
  }

  it("'same' average pooling excludes the padding from the mean on wasm (Keras average_exc_pad)", async () => {
    // Corner of a 3×3/1 same pool sees 4 valid inputs: the mean must be their sum / 4, not / 9.
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]);
    const y = tfl.layers.averagePooling2d({ poolSize: 3, strides: 1, padding: "same" }).apply(x) as tf.Tensor;
    expect(Array.from(await y.data())).toEqual([3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7]);
  });

  it("builds headless with pooling, and with the top on inputs smaller than 299 (the head pools the whole map)", () => {
    const notop = buildInceptionV3(INCEPTION_V3_KERAS1, { includeTop: false, pooling: "avg", inputShape: [139, 139, 3] });
    expect(notop.outputs[0]!.shape).toEqual([null, 2048]);
    expect(countParams(notop)).toBe(countParams(models.get("keras1")!) - (2048 * 1000 + 1000));
    notop.dispose();
    const v02 = buildInceptionV3(INCEPTION_V3_KERAS1, { inputShape: [200, 200, 3], classes: 5 });
    expect(v02.getLayer("predictions").getWeights()[0]!.shape).toEqual([2048, 5]);
    v02.dispose();
    expect(() => buildInceptionV3(INCEPTION_V3_KERAS1, { inputShape: [60, 60, 3] })).toThrow(/inception_v3: inputShape must be .* ≥ \d+ \(got \[60,60,3\]\)/);
    const small = buildInceptionV3(INCEPTION_V3_KERAS2, { inputShape: [75, 75, 3], classes: 5 });
    expect(small.outputs[0]!.shape).toEqual([null, 5]);
    expect(size(small.getLayer("predictions").getWeights()[0]!.shape)).toBe(2048 * 5);
    small.dispose();
  });
});
