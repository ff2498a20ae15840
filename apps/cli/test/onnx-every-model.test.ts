import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import * as ort from "onnxruntime-node";
import { getModel, headsForSpec, listModels, selectBackend, toOnnx, withNewHead } from "@ft/core";
import { maxAbsDiff } from "@ft/test-support/tolerance";
import { beforeAll, describe, expect, it } from "vitest";
import "../src/models.js";
import { smallInput } from "./small-input.js";

async function onnxOutputs(model: tfl.LayersModel, x: tf.Tensor): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(toOnnx(model));
  const result = await session.run({ input: new ort.Tensor("float32", x.dataSync() as Float32Array, x.shape) });
  return model.outputs.map((_, i) => result[model.outputs.length === 1 ? "output" : `output_${i}`]!.data as Float32Array);
}

/**
 * ONNX export of every registered architecture, as a fine-tuned run holds it (seed head, 3 classes), at a
 * small input: ONNX Runtime (which checks the graph's types and shapes when it loads it) must compute the
 * probabilities ft computes within 1e-4. With random weights those are close to uniform, so the features
 * the head reads are compared too, within 1e-4 of their own scale.
 */
describe("ONNX export of every registered architecture, against ONNX Runtime", () => {
  beforeAll(async () => {
    expect((await selectBackend("wasm")).name).toBe("wasm");
  });

  it.each(listModels().map((m) => m.name))("%s", async (name) => {
    const spec = getModel(name);
    const inputShape = smallInput(name);
    const { model } = withNewHead(spec.build({ includeTop: true, inputShape }), spec, { classes: 3, seed: 1 });
    const x = tf.randomUniform([2, ...inputShape], -1, 1, "float32", 5);
    try {
      const want = tf.tidy(() => [model.predict(x)].flat().map((t) => (t as tf.Tensor).dataSync() as Float32Array));
      (await onnxOutputs(model, x)).forEach((got, i) => expect(maxAbsDiff(got, want[i]!), `${name} output ${i}`).toBeLessThan(1e-4));

      const features = tfl.model({ inputs: model.inputs, outputs: model.getLayer(headsForSpec(spec)[0]!.from).output as tfl.SymbolicTensor });
      const wantFeatures = tf.tidy(() => (features.predict(x) as tf.Tensor).dataSync() as Float32Array);
      const scale = Math.max(...wantFeatures.map(Math.abs));
      expect(scale, `${name}: features are not all zero`).toBeGreaterThan(0);
      const [gotFeatures] = await onnxOutputs(features, x);
      expect(maxAbsDiff(gotFeatures!, wantFeatures) / scale, `${name} features, relative to their largest`).toBeLessThan(1e-4);
    } finally {
      x.dispose();
      model.dispose();
    }
  }, 120_000);
});
