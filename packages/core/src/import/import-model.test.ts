import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { hasTorch, PYTHON } from "@ft/test-support/system";
import { maxAbsDiff } from "@ft/test-support/tolerance";
import { FtError } from "../errors.js";
import { readKerasWeights, type KerasWeightFile } from "../weights/keras-file.js";
import { importKerasModel, type ImportReport } from "./import-model.js";

/** Written by test/fixtures/keras_models.py with h5py; outputs computed there with PyTorch and NumPy. */
interface Reference {
  input: number[];
  inputShape: number[];
  output: number[];
  outputShape: number[];
}

const GENERATOR = fileURLToPath(new URL("../../test/fixtures/keras_models.py", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "ft-import-"));
let reference: Record<string, Reference>;
beforeAll(async () => {
  await tf.setBackend("cpu");
  const run = spawnSync(PYTHON, [GENERATOR, dir], { encoding: "utf8" });
  if (run.status !== 0) throw new Error(`keras_models.py failed: ${run.stderr}`);
  reference = JSON.parse(readFileSync(join(dir, "reference.json"), "utf8")) as Record<string, Reference>;
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function importAndRun(name: string): Promise<{ report: ImportReport; delta: number; output: number[] }> {
  const { model, report } = await importKerasModel(join(dir, `${name}.h5`));
  try {
    const ref = reference[name]!;
    const y = tf.tidy(() => (model.predict(tf.tensor(ref.input, ref.inputShape)) as tf.Tensor).dataSync());
    expect([...(model.outputs[0]!.shape.slice(1) as number[])]).toEqual(ref.outputShape.slice(1));
    return { report, delta: maxAbsDiff(Float32Array.from(y), Float32Array.from(ref.output)), output: [...y] };
  } finally {
    model.dispose();
  }
}

describe.skipIf(!hasTorch)("importKerasModel: a model.save file's own architecture, against PyTorch/NumPy", () => {
  it("Keras 1.2 Sequential CNN with dim_ordering tf: the config decides the ordering (no backend, 3x3x10x5 kernel, no :0 names)", async () => {
    const { report, delta } = await importAndRun("k1_seq_tf");
    expect(delta).toBeLessThan(1e-4);
    expect(report.load.ordering).toBe("tf");
    expect(report.load.orderingEvidence[0]).toMatch(/model_config says dim_ordering "tf"/);
    expect(report).toMatchObject({ modelClass: "Sequential", kerasMajor: 1, channelsFirst: false, inputShapes: [[null, 7, 7, 10]] });
    expect(report.load.convertedKernels).toEqual([]);
    expect(report.classes).toMatchObject({ Conv2D: 2, BatchNormalization: 1, LeakyReLU: 1, ZeroPadding2D: 1, Dense: 2 });
    expect(report.dropped.conv1).toEqual(expect.arrayContaining(["init"]));
  });

  it("Keras 1.2 functional Model with dim_ordering th: Theano kernels flipped, rebuilt channels-last, merges and the c,h,w Flatten kept", async () => {
    const { report, delta } = await importAndRun("k1_model_th");
    expect(delta).toBeLessThan(1e-4);
    expect(report).toMatchObject({ modelClass: "Model", channelsFirst: true, inputShapes: [[null, 8, 8, 3]] });
    expect(report.load).toMatchObject({ ordering: "th", convertedKernels: ["conv_a", "conv_b"], reorderedDense: ["fc"] });
    expect(report.classes).toMatchObject({ Add: 1, Concatenate: 1 });
  });

  it("Keras 1.2 recurrent Sequential: Embedding, Conv1D (length, 1, in, out), LSTM of 12 arrays and GRU of 9 become Keras 2's", async () => {
    const { report, delta } = await importAndRun("k1_rnn");
    expect(delta).toBeLessThan(1e-4);
    expect(report.load.loaded).toEqual(["embed", "conv1d", "lstm", "gru", "out"]);
  });

  it("Keras 2.2 Sequential: separable, depthwise and transposed convolutions, PReLU, cropping, upsampling, ELU, ReLU(6)", async () => {
    const { delta, report } = await importAndRun("k2_seq");
    expect(delta).toBeLessThan(1e-4);
    expect(report.load.ordering).toBe("tf");
  });

  it("Keras 2.2 functional channels_first: BatchNormalization over axis 1, Concatenate axis 1 and the Flatten order carried to channels-last", async () => {
    const { delta, report } = await importAndRun("k2_model_cf");
    expect(delta).toBeLessThan(1e-4);
    expect(report).toMatchObject({ channelsFirst: true, inputShapes: [[null, 8, 8, 3]] });
    expect(report.load).toMatchObject({ ordering: "tf", reorderedDense: ["fc"], convertedKernels: [] });
  });

  it("tf.keras 2.11 Functional with a nested Sequential, dtype policies, Multiply/Maximum/Average, Reshape and Permute", async () => {
    const { delta, report } = await importAndRun("tfk_nested");
    expect(delta).toBeLessThan(1e-4);
    expect(report.modelClass).toBe("Functional");
    expect(report.inlined).toEqual({ block: ["dense", "dense_1"] });
    expect(report.load.loaded).toEqual(expect.arrayContaining(["conv", "gap_flat", "dense", "dense_1"]));
  });

  it("Keras 2.2 recurrent: Embedding, LSTM with sequences, Bidirectional GRU", async () => {
    const { delta } = await importAndRun("k2_rnn");
    expect(delta).toBeLessThan(1e-4);
  });
});

describe.skipIf(!hasTorch)("importKerasModel: what cannot be imported is refused, naming the file and the layer", () => {
  async function withConfig(name: string, edit: (config: any) => void): Promise<FtError> {
    const file = await readKerasWeights(join(dir, `${name}.h5`));
    try {
      const modelConfig = structuredClone(file.modelConfig) as any;
      edit(modelConfig);
      const edited: KerasWeightFile = { ...file, modelConfig };
      const error = await importKerasModel(edited).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(FtError);
      expect((error as FtError).message).toContain(join(dir, `${name}.h5`));
      return error as FtError;
    } finally {
      file.close();
    }
  }

  it("a weights-only file has no architecture: use --model", async () => {
    const path = fileURLToPath(new URL("../../test/fixtures/tiny_keras2_tf.h5", import.meta.url));
    await expect(importKerasModel(path)).rejects.toThrow(/tiny_keras2_tf\.h5: the file has no model_config .* --model/);
  });

  it("a Lambda layer (Python code), an unknown class, a grouped convolution, a reset_after GRU", async () => {
    const lambda = await withConfig("k2_seq", (c) => c.config.layers.splice(3, 0, { class_name: "Lambda", config: { name: "scale_by_two", function: ["4wEAAAAAAAAA", null, null] } }));
    expect(lambda.message).toMatch(/layer "scale_by_two" \(Lambda\): it runs Python code/);
    const unknown = await withConfig("k2_seq", (c) => (c.config.layers[2].class_name = "DeformableConv2D"));
    expect(unknown.message).toMatch(/layer "dw" \(DeformableConv2D\): this layer class cannot be imported/);
    const grouped = await withConfig("k2_seq", (c) => (c.config.layers[0].config.groups = 2));
    expect(grouped.message).toMatch(/layer "c1" \(Conv2D\): groups 2/);
    const elu = await withConfig("k2_seq", (c) => (c.config.layers[8].config.alpha = 0.7));
    expect(elu.message).toMatch(/layer "elu" \(ELU\): alpha 0\.7/);
    const resetAfter = await withConfig("k2_rnn", (c) => (c.config.layers[2].config.layer.config.reset_after = true));
    expect(resetAfter.message).toMatch(/layer "gru" \(GRU\): reset_after true/);
  });

  it("Keras 1: BatchNormalization mode 2, a Merge with a Python function, an unknown class", async () => {
    const mode2 = await withConfig("k1_seq_tf", (c) => (c.config[1].config.mode = 2));
    expect(mode2.message).toMatch(/layer "bn1": BatchNormalization mode 2 .* only mode 0/);
    const lambdaMerge = await withConfig("k1_model_th", (c) => (c.config.layers[4].config.mode = ["4wEAAAAA", null, null]));
    expect(lambdaMerge.message).toMatch(/layer "add_1": Merge with a Python function as its mode cannot be imported/);
    const unknown = await withConfig("k1_seq_tf", (c) => (c.config[6].class_name = "SReLU"));
    expect(unknown.message).toMatch(/layer "leaky" \(SReLU\): no Keras 2 counterpart/);
  });

  it("channels-first steps without an exact channels-last equivalent, and mixed layouts", async () => {
    const reshape = await withConfig("k2_model_cf", (c) => {
      const layers = c.config.layers;
      layers.splice(8, 0, { class_name: "Reshape", name: "squash", config: { name: "squash", target_shape: [8, 16] }, inbound_nodes: [[["pool", 0, 0, {}]]] });
      layers[9].inbound_nodes = [[["squash", 0, 0, {}]]];
    });
    expect(reshape.message).toMatch(/layer "squash" \(Reshape\) of a channels-first model: it reshapes a 4-D tensor into a 3-D one/);
    const mixed = await withConfig("k2_model_cf", (c) => (c.config.layers[7].config.data_format = "channels_last"));
    expect(mixed.message).toMatch(/mixes channels-first and channels-last layers/);
  });
});
