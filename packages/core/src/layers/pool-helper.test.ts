import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { PoolHelper } from "./pool-helper.js";

/** Written by test/fixtures/layers_reference.py (NumPy `x[:, 1:, 1:, :]`). */
const reference = JSON.parse(readFileSync(new URL("../../test/fixtures/layers_reference.json", import.meta.url), "utf8")) as {
  cases: { pool_helper: { shape: [number, number, number, number]; input: number[]; output_shape: number[]; output: number[] } };
};

describe("PoolHelper layer", () => {
  for (const backend of ["cpu", "wasm"]) {
    it(`drops the first row and column like NumPy x[:, 1:, 1:, :] on ${backend}`, async () => {
      await tf.setBackend(backend);
      const c = reference.cases.pool_helper;
      const y = new PoolHelper({ name: "poolhelper_1" }).apply(tf.tensor4d(c.input, c.shape)) as tf.Tensor;
      expect(y.shape).toEqual(c.output_shape);
      expect(Array.from(await y.data())).toEqual(c.output.map((v) => Math.fround(v)));
    });
  }

  it("computes the symbolic output shape and reproduces Caffe ceil-mode pooling 112 → 56", async () => {
    await tf.setBackend("cpu");
    const input = tfl.input({ shape: [112, 112, 2] });
    const padded = tfl.layers.zeroPadding2d({ padding: 1 }).apply(input) as tfl.SymbolicTensor;
    const helped = new PoolHelper().apply(padded) as tfl.SymbolicTensor;
    expect(helped.shape).toEqual([null, 113, 113, 2]);
    const pooled = tfl.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: "valid" }).apply(helped) as tfl.SymbolicTensor;
    expect(pooled.shape).toEqual([null, 56, 56, 2]);
    expect(new PoolHelper().computeOutputShape([null, 5, 7, 3])).toEqual([null, 4, 6, 3]);
    expect(() => new PoolHelper({ name: "ph" }).computeOutputShape([null, 5, 3])).toThrow(/ph.*4-D/);
  });

  it("is serialisable through the model JSON", async () => {
    await tf.setBackend("cpu");
    const input = tfl.input({ shape: [4, 5, 3] });
    const model = tfl.model({ inputs: input, outputs: new PoolHelper({ name: "poolhelper_3" }).apply(input) as tfl.SymbolicTensor });
    expect(tf.serialization.SerializationMap.getMap().classNameMap.PoolHelper?.[0]).toBe(PoolHelper);
    const reloaded = await tfl.models.modelFromJSON({ modelTopology: model.toJSON(null, false) as tf.io.ModelJSON["modelTopology"] });
    expect(reloaded.getLayer("poolhelper_3")).toBeInstanceOf(PoolHelper);
    const c = reference.cases.pool_helper;
    const y = reloaded.predict(tf.tensor4d(c.input, c.shape)) as tf.Tensor;
    expect(Array.from(await y.data())).toEqual(c.output.map((v) => Math.fround(v)));
  });
});
