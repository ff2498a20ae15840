import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Scale, createModelWithReport, selectBackend } from "@ft/core";
import { describe, expect, it } from "vitest";
import "../src/index.js";
import { canonicalWeights, readStructure, writeKerasFile } from "@ft/test-support/keras-fixture";
import { describeLoadingProof } from "@ft/model-proofs/layout-proof";
import { weightMismatches } from "@ft/model-proofs/proofs";

/**
 * flyyufelix's Caffe-converted DenseNet-121, Keras 1, in both published layouts: a Scale layer after
 * every BN (weights `{layer}_gamma`, `{layer}_beta`), convolutions without bias; the tf file was saved
 * under TensorFlow (names end in ":0").
 */
describeLoadingProof({
  model: "densenet121",
  files: ["densenet121_th", "densenet121_tf"],
  generator: "generate_densenet.py",
  input: [-2.2, 2.2],
  probeLayers: ["concat_2_6", "pool3", "relu5_blk", "fc6"],
  reloadedClasses: ["Scale"],
  numpyFiles: ["densenet121_th", "densenet121_tf"],
  check: (model) => {
    expect(model.getLayer("conv5_blk_scale")).toBeInstanceOf(Scale);
    expect(model.getLayer("conv5_blk_scale").weights.map((w) => w.shape)).toEqual([[1024], [1024]]);
    expect(model.getLayer("conv2_1_x2").weights.map((w) => w.shape)).toEqual([[3, 3, 128, 32]]);
  },
});

/** The Keras-applications DenseNet-121 file: Keras 2, layer names with "/" (`conv1/conv`) nested twice. */
describeLoadingProof({
  model: "densenet121.keras",
  files: ["densenet121.keras_tf"],
  generator: "generate_densenet.py",
  input: [-2.2, 2.7],
  probeLayers: ["conv2_block6_concat", "pool3_pool", "relu", "avg_pool"],
  notopFile: "densenet121.keras_tf_notop",
  check: (model, _structure, report) => {
    expect(report.backend).toBe("tensorflow");
    expect(report.convertedKernels).toEqual([]);
    expect(model.getLayer("conv1/conv").weights.map((w) => w.shape)).toEqual([[7, 7, 3, 64]]);
    expect(model.getLayer("conv1/bn").weights).toHaveLength(4);
  },
});

/**
 * That the TensorFlow-layout Caffe files name their weights with ":0" is inferred (they were saved
 * under TensorFlow); a copy without the suffix must load the same, its kernel shapes deciding the layout.
 */
describe("densenet121_tf without the \":0\" suffix", () => {
  it("is still read as a tf file (kernel shapes outvote the names) and loads the same values", async () => {
    await selectBackend("wasm");
    const withSuffix = readStructure("densenet121_tf");
    const plain = {
      ...withSuffix,
      layers: withSuffix.layers.map((l) => ({ ...l, weights: l.weights.map((w) => ({ ...w, name: w.name.replace(/:0$/, "") })) })),
    };
    expect(plain.layers.flatMap((l) => l.weights).every((w) => !w.name.endsWith(":0"))).toBe(true);
    const values = canonicalWeights(plain, 99);
    const dir = mkdtempSync(join(tmpdir(), "ft-densenet121-plain-"));
    try {
      const path = join(dir, "densenet121_weights_tf.h5");
      await writeKerasFile(plain, values, path);
      const { model, report } = await createModelWithReport("densenet121", { weights: path });
      try {
        expect(report?.ordering).toBe("tf");
        expect(report?.convertedKernels).toEqual([]);
        expect(weightMismatches(model, plain, values).problems).toEqual([]);
      } finally {
        model.dispose();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
