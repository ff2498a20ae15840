import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import "@tensorflow/tfjs-backend-cpu";
import * as ort from "onnxruntime-node";
import onnxProto from "onnx-proto";
import { hasTorch, PYTHON } from "@ft/test-support/system";
import { maxAbsDiff } from "@ft/test-support/tolerance";
import { FtError } from "../errors.js";
import { importKerasModel } from "../import/import-model.js";
import { LRN } from "../layers/lrn.js";
import { PoolHelper } from "../layers/pool-helper.js";
import { Scale } from "../layers/scale.js";
import { toOnnx } from "./onnx.js";

const GENERATOR = fileURLToPath(new URL("../../test/fixtures/keras_models.py", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "ft-onnx-"));
beforeAll(async () => {
  await tf.setBackend("cpu");
  const run = spawnSync(PYTHON, [GENERATOR, dir], { encoding: "utf8" });
  if (run.status !== 0) throw new Error(`keras_models.py failed: ${run.stderr}`);
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** ONNX Runtime's output for `input` (NHWC), against the tfjs model's own. */
async function compare(model: tfl.LayersModel, input: tf.Tensor): Promise<{ delta: number; scale: number; bytes: Uint8Array }> {
  const bytes = toOnnx(model, { metadata: { preprocessing: "caffe" } });
  const session = await ort.InferenceSession.create(bytes);
  const result = await session.run({ input: new ort.Tensor("float32", input.dataSync() as Float32Array, input.shape) });
  const got = result.output!.data as Float32Array;
  const want = tf.tidy(() => (model.predict(input) as tf.Tensor).dataSync() as Float32Array);
  expect([...result.output!.dims]).toEqual((model.outputs[0]!.shape as number[]).map((d, i) => (i === 0 ? input.shape[0] : d)));
  return { delta: maxAbsDiff(got, want), scale: Math.max(...want.map(Math.abs)), bytes };
}

function seeded(shape: number[], seed: number): tf.Tensor {
  return tf.randomUniform(shape, -1, 1, "float32", seed);
}

/** Every layer the registered architectures use, with odd sizes so "same" padding is uneven. */
function everyArchitectureLayer(): tfl.LayersModel {
  const input = tfl.input({ shape: [11, 13, 3] });
  const apply = (layer: tfl.layers.Layer, x: tfl.SymbolicTensor | tfl.SymbolicTensor[]) => layer.apply(x) as tfl.SymbolicTensor;
  let x = apply(tfl.layers.zeroPadding2d({ padding: [[1, 2], [0, 1]] }), input);
  x = apply(tfl.layers.conv2d({ filters: 6, kernelSize: [3, 5], strides: 2, padding: "same", activation: "relu", biasInitializer: "randomNormal" }), x);
  x = apply(tfl.layers.batchNormalization({ epsilon: 1.001e-5, movingMeanInitializer: "randomNormal", movingVarianceInitializer: "ones", betaInitializer: "randomNormal", gammaInitializer: "randomUniform" }), x);
  x = apply(new Scale({}), x);
  x = apply(new LRN({ n: 5, alpha: 1e-1, beta: 0.75, k: 2 }), x);
  const a = apply(tfl.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: "same" }), x);
  const b = apply(tfl.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: "same" }), x);
  const c = apply(tfl.layers.conv2d({ filters: 4, kernelSize: 1, strides: 2, useBias: false, dilationRate: 1 }), x);
  x = apply(tfl.layers.concatenate({ axis: -1 }), [a, b, c]);
  x = apply(tfl.layers.add(), [x, apply(tfl.layers.conv2d({ filters: 16, kernelSize: 3, padding: "same", dilationRate: 2 }), x)]);
  x = apply(tfl.layers.batchNormalization({ scale: false, movingMeanInitializer: "randomNormal" }), x);
  x = apply(tfl.layers.activation({ activation: "relu" }), x);
  x = apply(tfl.layers.zeroPadding2d({ padding: 1 }), x);
  x = apply(new PoolHelper({}), x);
  x = apply(tfl.layers.cropping2D({ cropping: [[0, 1], [1, 0]] }), x);
  const gap = apply(tfl.layers.globalAveragePooling2d({}), x);
  const gmp = apply(tfl.layers.globalMaxPooling2d({}), x);
  const flat = apply(tfl.layers.flatten(), apply(tfl.layers.dropout({ rate: 0.5 }), x));
  const merged = apply(tfl.layers.concatenate(), [gap, gmp, flat]);
  return tfl.model({ inputs: input, outputs: apply(tfl.layers.dense({ units: 7, activation: "softmax" }), merged) });
}

describe("toOnnx: ONNX Runtime computes what the tfjs model computes", () => {
  it("every layer of the registered architectures (conv same/strided/dilated, BN, Scale, LRN, pools, PoolHelper, padding, cropping, merges, Flatten order, softmax)", async () => {
    const model = everyArchitectureLayer();
    const { delta, scale } = await compare(model, seeded([2, 11, 13, 3], 7));
    expect(scale).toBeGreaterThan(0.01);
    expect(delta).toBeLessThan(1e-5);
    model.dispose();
  });

  it("writes opset 13 with the official schema, the metadata and the NHWC input", () => {
    const model = everyArchitectureLayer();
    const decoded = onnxProto.onnx.ModelProto.decode(toOnnx(model, { metadata: { preprocessing: "caffe", classNames: '["a","b"]' } }));
    expect(decoded.opsetImport!.map((o) => [o.domain, Number(o.version)])).toEqual([["", 13]]);
    expect(decoded.metadataProps!.map((p) => [p.key, p.value])).toEqual([["preprocessing", "caffe"], ["classNames", '["a","b"]']]);
    const dims = decoded.graph!.input![0]!.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue));
    expect(dims).toEqual(["batch", 11, 13, 3]);
    expect(new Set(decoded.graph!.node!.map((n) => n.opType))).toContain("LRN");
    model.dispose();
  });
});

describe.skipIf(!hasTorch)("toOnnx on models imported from Keras files", () => {
  for (const [name, shape] of [["k1_seq_tf", [2, 7, 7, 10]], ["k1_model_th", [2, 8, 8, 3]], ["k2_seq", [2, 9, 9, 2]], ["k2_model_cf", [2, 8, 8, 3]], ["tfk_nested", [2, 6, 6, 3]]] as const) {
    it(`${name}: ONNX Runtime agrees with ft within 1e-4`, async () => {
      const { model } = await importKerasModel(join(dir, `${name}.h5`));
      const { delta, scale } = await compare(model, seeded([...shape], 11));
      expect(scale).toBeGreaterThan(0.01);
      expect(delta).toBeLessThan(1e-4);
      model.dispose();
    });
  }

  it("a layer it does not handle is named: the Embedding of a recurrent model", async () => {
    const { model } = await importKerasModel(join(dir, "k2_rnn.h5"));
    expect(() => toOnnx(model)).toThrow(FtError);
    expect(() => toOnnx(model)).toThrow(/layer "embed" \(Embedding\): this layer class, which the ONNX export does not handle yet/);
    model.dispose();
  });
});

