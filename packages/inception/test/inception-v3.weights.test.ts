import { expect } from "vitest";
import "../src/index.js";
import { describeLoadingProof } from "@ft/model-proofs/layout-proof";

/** The seed's deep-learning-models v0.2 file: Keras 1 auto names, conv with bias → ReLU → BN, Theano kernels. */
describeLoadingProof({
  model: "inception_v3",
  files: ["inception_v3_th"],
  generator: "generate_inception.py",
  input: [-1, 1],
  probeLayers: ["mixed2", "mixed7", "flatten"],
  check: (model) => {
    expect(model.getLayer("convolution2d_94").weights.map((w) => w.shape)).toEqual([[1, 1, 2048, 192], [192]]);
    expect(model.getLayer("batchnormalization_94").weights).toHaveLength(4);
  },
});

/** The Keras-applications v0.5 file: Keras 2 nested `conv2d_k/kernel:0` datasets, BN scale=False (no gamma). */
describeLoadingProof({
  model: "inception_v3.keras",
  files: ["inception_v3.keras_tf"],
  generator: "generate_inception.py",
  input: [-1, 1],
  probeLayers: ["mixed2", "mixed7", "avg_pool"],
  notopFile: "inception_v3.keras_tf_notop",
  check: (model, _structure, report) => {
    expect(report.kerasVersion).toMatch(/^2\./);
    expect(report.backend).toBe("tensorflow");
    expect(report.convertedKernels).toEqual([]);
    expect(model.getLayer("batch_normalization_1").weights.map((w) => w.shape)).toEqual([[32], [32], [32]]);
  },
});
