import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import "@tensorflow/tfjs-backend-cpu";
import h5wasm from "h5wasm/node";
import { FtError } from "../errors.js";
import { Scale } from "../layers/scale.js";
import { flattenedFeatureShape } from "./convert.js";
import { loadWeights } from "./load.js";
import { maxAbsDiff } from "@ft/test-support/tolerance";

const fixture = (name: string) => fileURLToPath(new URL(`../../test/fixtures/${name}`, import.meta.url));

/**
 * Expected outputs computed by test/fixtures/generate.py with NumPy, implementing Theano/Keras-1
 * semantics directly (true convolution on the th kernel, channels-first Flatten) for `tiny`, and
 * Keras-2/TensorFlow semantics (cross-correlation, BN without gamma) for `tiny2`.
 */
const reference = JSON.parse(readFileSync(fixture("weights_reference.json"), "utf8")) as {
  tiny: { input_nhwc: number[]; input_shape: number[]; output: number[]; tf_weights: Record<string, number[][]> };
  tiny2: { input_nhwc: number[]; input_shape: number[]; output: number[] };
};

const tmp = mkdtempSync(join(tmpdir(), "ft-load-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
beforeAll(async () => {
  await tf.setBackend("cpu");
});

type TinyNames = Record<"conv1" | "bn1" | "scale1" | "relu1" | "pool1" | "flatten" | "fc", string>;
const KERAS1: TinyNames = { conv1: "conv1", bn1: "bn1", scale1: "scale1", relu1: "relu1", pool1: "pool1", flatten: "flatten", fc: "fc" };
const KERAS2: TinyNames = {
  conv1: "block1/conv1",
  bn1: "block1/bn1",
  scale1: "block1/scale1",
  relu1: "block1/relu1",
  pool1: "block1/pool1",
  flatten: "flatten",
  fc: "head/fc",
};

/** The tiny network of the generator, built the way an architecture package builds one (NHWC). */
function tinyModel(names: TinyNames = KERAS1, includeTop = true): tfl.LayersModel {
  const input = tfl.input({ shape: [8, 8, 3] });
  let x = tfl.layers.conv2d({ filters: 4, kernelSize: 3, name: names.conv1 }).apply(input) as tfl.SymbolicTensor;
  x = tfl.layers.batchNormalization({ epsilon: 1e-3, name: names.bn1 }).apply(x) as tfl.SymbolicTensor;
  x = new Scale({ name: names.scale1 }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.activation({ activation: "relu", name: names.relu1 }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.maxPooling2d({ poolSize: 2, name: names.pool1 }).apply(x) as tfl.SymbolicTensor;
  if (includeTop) {
    x = tfl.layers.flatten({ name: names.flatten }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.dense({ units: 5, name: names.fc }).apply(x) as tfl.SymbolicTensor;
  }
  return tfl.model({ inputs: input, outputs: x });
}

function tiny2Model(): tfl.LayersModel {
  const input = tfl.input({ shape: [6, 6, 2] });
  let x = tfl.layers.conv2d({ filters: 3, kernelSize: 3, useBias: false, name: "block1/conv" }).apply(input) as tfl.SymbolicTensor;
  x = tfl.layers.batchNormalization({ epsilon: 1e-3, scale: false, name: "block1/bn" }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.activation({ activation: "relu", name: "block1/relu" }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.globalAveragePooling2d({ name: "gap" }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.dense({ units: 4, name: "predictions" }).apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: x });
}

function predict(model: tfl.LayersModel, ref: { input_nhwc: number[]; input_shape: number[] }): Float32Array {
  return tf.tidy(() => (model.predict(tf.tensor(ref.input_nhwc, ref.input_shape)) as tf.Tensor).dataSync() as Float32Array);
}

const snapshot = (model: tfl.LayersModel) => model.getWeights().map((w) => Array.from(w.dataSync()));

async function loadError(model: tfl.LayersModel, path: string, options: Parameters<typeof loadWeights>[2] = {}): Promise<FtError> {
  const before = snapshot(model);
  const error = await loadWeights(model, path, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FtError);
  // nothing half-loaded
  expect(snapshot(model)).toEqual(before);
  return error as FtError;
}

describe("loadWeights: the tiny network against the NumPy Theano/Keras-1 reference", () => {
  const cases: [string, TinyNames, string, string][] = [
    ["legacy Keras 0.x th (by position)", KERAS1, "tiny_legacy_th.h5", "th"],
    ["Keras 1 th", KERAS1, "tiny_keras1_th.h5", "th"],
    ["Keras 1 tf", KERAS1, "tiny_keras1_tf.h5", "tf"],
    ["Keras 2 tf (nested, chunked)", KERAS2, "tiny_keras2_tf.h5", "tf"],
    ["Keras 2 saved under Theano", KERAS2, "tiny_keras2_theano.h5", "th"],
  ];
  for (const [label, names, file, ordering] of cases) {
    it(`${label}: output matches within 1e-4`, async () => {
      const model = tinyModel(names);
      const report = await loadWeights(model, fixture(file));
      expect(report.ordering).toBe(ordering);
      expect(report.orderingSource).toBe("detected");
      expect(report.loaded).toEqual([names.conv1, names.bn1, names.scale1, names.fc]);
      expect(report.skipped).toEqual([]);
      expect(report.skippedTop).toEqual([]);
      expect(report.tensors).toBe(10);
      expect(report.convertedKernels).toEqual(ordering === "th" ? [names.conv1] : []);
      expect(report.reorderedDense).toEqual(ordering === "th" && file !== "tiny_keras2_theano.h5" ? [names.fc] : []);
      expect(maxAbsDiff(predict(model, reference.tiny), reference.tiny.output)).toBeLessThan(1e-4);
    });
  }

  it("th and tf files of the same weights convert to identical tensors, equal to NumPy's conversion", async () => {
    const loaded = [];
    let fcKernel: number[] = [];
    for (const file of ["tiny_legacy_th.h5", "tiny_keras1_th.h5", "tiny_keras1_tf.h5"]) {
      const model = tinyModel();
      await loadWeights(model, fixture(file));
      loaded.push(snapshot(model));
      if (file === "tiny_keras1_th.h5") fcKernel = Array.from(model.getLayer("fc").getWeights()[0]!.dataSync());
    }
    expect(loaded[0]).toEqual(loaded[2]);
    expect(loaded[1]).toEqual(loaded[2]);
    expect(loaded[1]![0]).toEqual(reference.tiny.tf_weights.conv1![0]);
    expect(fcKernel).toEqual(reference.tiny.tf_weights.fc![0]);
  });

  it("loads a model.save file with a BN of scale=False (3 arrays) against the NumPy TF reference", async () => {
    const model = tiny2Model();
    const report = await loadWeights(model, fixture("tiny2_model_save.h5"));
    expect(report.layout).toBe("model");
    expect(report.kerasVersion).toBe("2.2.4");
    expect(report.loaded).toEqual(["block1/conv", "block1/bn", "predictions"]);
    expect(maxAbsDiff(predict(model, reference.tiny2), reference.tiny2.output)).toBeLessThan(1e-4);
  });

  it("finds the channels-first feature map behind a Dense layer", () => {
    const model = tinyModel();
    expect(flattenedFeatureShape(model.getLayer("fc"))).toEqual([3, 3, 4]);
    expect(flattenedFeatureShape(tiny2Model().getLayer("predictions"))).toBeUndefined();
  });
});

describe("loadWeights: top layers and partial loads", () => {
  it("includeTop false skips the file's top layers on purpose and reports them", async () => {
    const model = tinyModel(KERAS1, false);
    const report = await loadWeights(model, fixture("tiny_keras1_tf.h5"), { includeTop: false, topLayers: ["flatten", "fc"] });
    expect(report.skippedTop).toEqual(["fc"]);
    expect(report.loaded).toEqual(["conv1", "bn1", "scale1"]);
    expect(snapshot(model)[0]).toEqual(reference.tiny.tf_weights.conv1![0]);
  });

  it("includeTop false on a legacy file skips the trailing layers", async () => {
    const model = tinyModel(KERAS1, false);
    const report = await loadWeights(model, fixture("tiny_legacy_th.h5"), { includeTop: false });
    expect(report.skippedTop).toEqual(["layer_6"]);
    expect(snapshot(model)[0]).toEqual(reference.tiny.tf_weights.conv1![0]);
  });

  it("a notop file into a model with its top: an error naming the cause, nothing loaded", async () => {
    const error = await loadError(tinyModel(), fixture("tiny_keras1_tf_notop.h5"), { topLayers: ["flatten", "fc"] });
    expect(error.message).toMatch(/weighted layer\(s\) of the model are not in the file: fc/);
    expect(error.message).toMatch(/notop file .*includeTop false/);
    expect(error.message).toMatch(/allowPartial/);
  });

  it("topOptional (fine-tuning): a notop file fills a model with its top, whose top layers keep their initial weights", async () => {
    const model = tinyModel();
    const initialFc = model.getLayer("fc").getWeights()[0]!.dataSync().slice();
    const report = await loadWeights(model, fixture("tiny_keras1_tf_notop.h5"), { topLayers: ["flatten", "fc"], topOptional: true });
    expect(report.loaded).toEqual(["conv1", "bn1", "scale1"]);
    expect(report.initialTop).toEqual(["fc"]);
    expect(report.skipped).toEqual([]);
    expect(snapshot(model)[0]).toEqual(reference.tiny.tf_weights.conv1![0]);
    expect(model.getLayer("fc").getWeights()[0]!.dataSync()).toEqual(initialFc);
    // Only top layers may be missing: the same file for a model missing a body layer is still refused.
    const error = await loadError(tinyModel(), fixture("tiny_keras1_tf_notop.h5"), { topLayers: ["flatten"], topOptional: true });
    expect(error.message).toMatch(/weighted layer\(s\) of the model are not in the file: fc/);
  });

  it("allowPartial loads what matches and lists what was skipped", async () => {
    const model = tinyModel();
    const report = await loadWeights(model, fixture("tiny_keras1_tf_notop.h5"), { allowPartial: true });
    expect(report.loaded).toEqual(["conv1", "bn1", "scale1"]);
    expect(report.skipped).toEqual([{ layer: "fc", side: "model", reason: "no weights for this layer in the file" }]);
  });

  it("allowPartial never succeeds with nothing loaded: a file for another model is refused, the model untouched", async () => {
    const model = tinyModel();
    const before = snapshot(model);
    const error = await loadError(model, fixture("tiny2_model_save.h5"), { allowPartial: true });
    expect(error.message).toMatch(/tiny2_model_save\.h5: no layer of the file matches the model \(0 of the file's 3 weighted layers, 0 of the model's 4\); nothing would be loaded, even with allowPartial/);
    expect(snapshot(model)).toEqual(before);
  });
});

describe("loadWeights: bad input gives a clear FtError and leaves the model untouched", () => {
  it("missing path", async () => {
    const error = await loadError(tinyModel(), join(tmp, "nope.h5"));
    expect(error.message).toMatch(/weight file not found: .*nope\.h5/);
  });

  it("a file for another model", async () => {
    const error = await loadError(tinyModel(), fixture("tiny2_model_save.h5"));
    expect(error.message).toMatch(/layer\(s\) of the file are not in the model: block1\/conv, block1\/bn, predictions/);
    expect(error.message).toMatch(/the file is for another model/);
  });

  it("a th file declared as tf names the layer, the weight, both shapes and the wrong ordering", async () => {
    const error = await loadError(tinyModel(), fixture("tiny_keras1_th.h5"), { ordering: "tf" });
    expect(error.message).toContain('layer "conv1", weight "conv1_W": the file has shape [4, 3, 3, 3], the model needs [3, 3, 3, 4]');
    expect(error.message).toMatch(/wrong ordering.*the file looks th.*--ordering th/);
    expect(error.message).toMatch(/nothing was loaded/);
  });

  it("a tf file declared as th is refused the same way", async () => {
    const error = await loadError(tinyModel(), fixture("tiny_keras1_tf.h5"), { ordering: "th" });
    expect(error.message).toMatch(/conv1_W:0.*\[3, 3, 3, 4\].*wrong ordering.*--ordering tf/);
  });

  it("a layer whose weight count differs (BN without gamma vs with) is named", async () => {
    const input = tfl.input({ shape: [6, 6, 2] });
    let x = tfl.layers.conv2d({ filters: 3, kernelSize: 3, useBias: false, name: "block1/conv" }).apply(input) as tfl.SymbolicTensor;
    x = tfl.layers.batchNormalization({ name: "block1/bn" }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.globalAveragePooling2d({ name: "gap" }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.dense({ units: 4, name: "predictions" }).apply(x) as tfl.SymbolicTensor;
    const error = await loadError(tfl.model({ inputs: input, outputs: x }), fixture("tiny2_model_save.h5"));
    expect(error.message).toMatch(/layer "block1\/bn" \(BatchNormalization\): the file has 3 weight\(s\) \[beta \[3\], moving_mean \[3\], moving_variance \[3\]\] but the model has 4/);
    expect(error.message).toMatch(/scale\/center/);
  });

  it("a classifier with another number of classes", async () => {
    const input = tfl.input({ shape: [6, 6, 2] });
    let x = tfl.layers.conv2d({ filters: 3, kernelSize: 3, useBias: false, name: "block1/conv" }).apply(input) as tfl.SymbolicTensor;
    x = tfl.layers.batchNormalization({ scale: false, name: "block1/bn" }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.globalAveragePooling2d({ name: "gap" }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.dense({ units: 10, name: "predictions" }).apply(x) as tfl.SymbolicTensor;
    const error = await loadError(tfl.model({ inputs: input, outputs: x }), fixture("tiny2_model_save.h5"), { topLayers: ["predictions"] });
    expect(error.message).toMatch(/"predictions".*file has shape \[3, 4\], the model needs \[3, 10\].*4 outputs.*includeTop false/);
  });

  it("refuses to guess when the kernels fit both orderings, naming --ordering th|tf", async () => {
    // A legacy file records no backend or names; a 3x3x3x3 kernel reads the same either way.
    await h5wasm.ready;
    const path = join(tmp, "ambiguous.h5");
    const f = new h5wasm.File(path, "w");
    f.create_attribute("nb_layers", 1);
    const g = f.create_group("layer_0");
    g.create_attribute("nb_params", 2);
    const kernel = Float32Array.from({ length: 81 }, (_, i) => Math.sin(i + 1));
    g.create_dataset({ name: "param_0", data: kernel, shape: [3, 3, 3, 3] });
    g.create_dataset({ name: "param_1", data: new Float32Array([0.1, 0.2, 0.3]) });
    f.close();
    const build = () => {
      const input = tfl.input({ shape: [5, 5, 3] });
      return tfl.model({ inputs: input, outputs: tfl.layers.conv2d({ filters: 3, kernelSize: 3, name: "c" }).apply(input) as tfl.SymbolicTensor });
    };
    const error = await loadError(build(), path);
    expect(error.message).toMatch(/cannot tell whether this file holds Theano \(th\) or TensorFlow \(tf\) kernels.*--ordering th\|tf/);

    const model = build();
    const report = await loadWeights(model, path, { ordering: "th" });
    expect(report.orderingSource).toBe("option");
    // W_tf[i, j, c, o] = W_th[o, c, 2-i, 2-j]
    const loaded = snapshot(model)[0]!;
    for (const [i, j, c, o] of [[0, 0, 0, 0], [0, 1, 2, 1], [2, 0, 1, 2], [1, 2, 0, 1]] as const) {
      expect(loaded[((i * 3 + j) * 3 + c) * 3 + o]).toBe(kernel[((o * 3 + c) * 3 + (2 - i)) * 3 + (2 - j)]);
    }
    const fallback = await loadWeights(build(), path, { defaultOrdering: "tf" });
    expect([fallback.ordering, fallback.orderingSource]).toEqual(["tf", "default"]);
  });

  it("does not ask for an ordering when no weight depends on it", async () => {
    await h5wasm.ready;
    const path = join(tmp, "dense-only.h5");
    const f = new h5wasm.File(path, "w");
    f.create_attribute("nb_layers", 1);
    const g = f.create_group("layer_0");
    g.create_attribute("nb_params", 2);
    g.create_dataset({ name: "param_0", data: Float32Array.from({ length: 6 }, (_, i) => i - 2.5), shape: [3, 2] });
    g.create_dataset({ name: "param_1", data: new Float32Array([0.5, -0.5]) });
    f.close();
    const input = tfl.input({ shape: [3] });
    const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 2, name: "d" }).apply(input) as tfl.SymbolicTensor });
    const report = await loadWeights(model, path);
    expect(report.orderingSource).toMatch(/^irrelevant/);
    expect(snapshot(model)).toEqual([[-2.5, -1.5, -0.5, 0.5, 1.5, 2.5], [0.5, -0.5]]);
  });
});
