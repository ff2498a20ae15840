import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import "@tensorflow/tfjs-backend-cpu";
import { Scale } from "./scale.js";

/** Written by test/fixtures/generate.py with NumPy (`x * gamma + beta` broadcast on the channel axis). */
const reference = JSON.parse(readFileSync(new URL("../../test/fixtures/weights_reference.json", import.meta.url), "utf8")) as {
  scale: {
    x: number[];
    shape: [number, number, number, number];
    gamma: number[];
    beta: number[];
    out: number[];
    gamma_axis1: number[];
    beta_axis1: number[];
    out_axis1: number[];
  };
};
const ref = reference.scale;

function expectClose(actual: Float32Array, expected: number[], tolerance = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  expect(worst).toBeLessThanOrEqual(tolerance);
}

describe("Scale (Caffe per-channel affine)", () => {
  beforeAll(async () => {
    await tf.setBackend("cpu");
  });

  it("computes gamma * x + beta on the last axis like the NumPy reference", () => {
    const layer = new Scale({ name: "scale_conv1" });
    const x = tf.tensor(ref.x, ref.shape);
    layer.build(ref.shape);
    layer.setWeights([tf.tensor(ref.gamma), tf.tensor(ref.beta)]);
    const y = layer.apply(x) as tf.Tensor;
    expectClose(y.dataSync() as Float32Array, ref.out);
    expect(layer.weights.map((w) => [w.name.split("/").pop(), w.shape])).toEqual([
      ["gamma", [5]],
      ["beta", [5]],
    ]);
  });

  it("broadcasts on another axis (channels-first tensors)", () => {
    const layer = new Scale({ axis: 1 });
    layer.build(ref.shape);
    layer.setWeights([tf.tensor(ref.gamma_axis1), tf.tensor(ref.beta_axis1)]);
    const y = layer.apply(tf.tensor(ref.x, ref.shape)) as tf.Tensor;
    expectClose(y.dataSync() as Float32Array, ref.out_axis1);
  });

  it("starts as the identity (gamma 1, beta 0)", () => {
    const layer = new Scale();
    const x = tf.tensor(ref.x, ref.shape);
    expectClose((layer.apply(x) as tf.Tensor).dataSync() as Float32Array, ref.x, 0);
  });

  it("is a registered, serializable tfjs layer that survives a save/load round trip", async () => {
    expect(Scale.className).toBe("Scale");
    const input = tfl.input({ shape: [4, 5, 3] });
    const output = new Scale({ name: "scale1", axis: -1 }).apply(input) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: output });
    model.getLayer("scale1").setWeights([tf.tensor([1.5, -2, 0.25]), tf.tensor([0.1, 0.2, -0.3])]);
    let saved: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        saved = artifacts;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
      }),
    );
    const topology = JSON.stringify(saved!.modelTopology);
    expect(topology).toContain('"class_name":"Scale"');
    expect(topology).toContain('"axis":-1');
    const restored = await tfl.loadLayersModel(tf.io.fromMemory(saved!));
    const x = tf.randomNormal([2, 4, 5, 3], 0, 1, "float32", 7);
    const a = (model.predict(x) as tf.Tensor).dataSync();
    const b = (restored.predict(x) as tf.Tensor).dataSync();
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(restored.getLayer("scale1")).toBeInstanceOf(Scale);
  });
});
