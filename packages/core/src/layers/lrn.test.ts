import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { LRN } from "./lrn.js";

interface LrnCase {
  config: { alpha: number; k: number; beta: number; n: number };
  shape: [number, number, number, number];
  input: number[];
  output: number[];
}
/** Written by test/fixtures/layers_reference.py (PyTorch local_response_norm, checked against NumPy). */
const reference = JSON.parse(readFileSync(new URL("../../test/fixtures/layers_reference.json", import.meta.url), "utf8")) as {
  cases: Record<string, LrnCase>;
};

function expectClose(actual: Float32Array | number[], expected: number[], tolerance = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!) / Math.max(1, Math.abs(expected[i]!)));
  expect(worst).toBeLessThan(tolerance);
}

describe("LRN layer", () => {
  for (const backend of ["cpu", "wasm"]) {
    for (const caseName of ["lrn_large", "lrn_small"]) {
      it(`matches PyTorch local_response_norm on ${backend} (${caseName})`, async () => {
        await tf.setBackend(backend);
        const c = reference.cases[caseName]!;
        const layer = new LRN({ name: "pool1/norm1", ...c.config });
        const y = layer.apply(tf.tensor4d(c.input, c.shape)) as tf.Tensor;
        expect(y.shape).toEqual(c.shape);
        expectClose(await y.data() as Float32Array, c.output);
      });
    }
  }

  it("defaults are GoogLeNet's (alpha 1e-4, k 1, beta 0.75, n 5)", async () => {
    await tf.setBackend("cpu");
    const c = reference.cases.lrn_large!;
    const y = new LRN().apply(tf.tensor4d(c.input, c.shape)) as tf.Tensor;
    expectClose(await y.data() as Float32Array, c.output);
  });

  it("is serialisable: getConfig, registered class, model JSON round trip with the same output", async () => {
    await tf.setBackend("cpu");
    const layer = new LRN({ name: "conv2/norm2", alpha: 2e-4, beta: 0.5, k: 2, n: 3 });
    expect(layer.getConfig()).toMatchObject({ name: "conv2/norm2", alpha: 2e-4, beta: 0.5, k: 2, n: 3 });
    expect(tf.serialization.SerializationMap.getMap().classNameMap.LRN?.[0]).toBe(LRN);

    const input = tfl.input({ shape: [3, 4, 7] });
    const model = tfl.model({ inputs: input, outputs: layer.apply(input) as tfl.SymbolicTensor });
    expect(model.outputs[0]!.shape).toEqual([null, 3, 4, 7]);
    const reloaded = await tfl.models.modelFromJSON({ modelTopology: model.toJSON(null, false) as tf.io.ModelJSON["modelTopology"] });
    const reloadedLayer = reloaded.getLayer("conv2/norm2");
    expect(reloadedLayer).toBeInstanceOf(LRN);
    expect((reloadedLayer as LRN).n).toBe(3);
    const x = tf.randomNormal([1, 3, 4, 7], 0, 30, "float32", 7);
    expectClose(await (reloaded.predict(x) as tf.Tensor).data() as Float32Array, Array.from(await (model.predict(x) as tf.Tensor).data()));
  });

  it("rejects an even window", () => {
    expect(() => new LRN({ name: "bad", n: 4 })).toThrow(/bad.*odd/);
  });

  it("has gradients on wasm (trainable network around it)", async () => {
    await tf.setBackend("wasm");
    const c = reference.cases.lrn_small!;
    const layer = new LRN();
    const g = tf.grad((x: tf.Tensor) => tf.sum(layer.apply(x) as tf.Tensor))(tf.tensor4d(c.input, c.shape));
    const values = await g.data();
    expect(values.every((v) => Number.isFinite(v))).toBe(true);
  });
});
