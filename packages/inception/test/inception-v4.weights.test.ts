import { expect } from "vitest";
import "../src/index.js";
import { describeLoadingProof } from "@ft/model-proofs/layout-proof";

/**
 * kentsommer/keras-inceptionV4 release 2.0: Keras 1 files in both layouts with auto names only
 * (`convolution2d_1 … 149`, `batchnormalization_1 … 149`, `dense_1`); the tf file was saved under
 * TensorFlow, so its weight names end in ":0". Many kernels are 1×7, 7×1, 1×3 and 3×1.
 */
describeLoadingProof({
  model: "inception_v4",
  files: ["inception_v4_th", "inception_v4_tf"],
  generator: "generate_inception.py",
  input: [-1, 1],
  probeLayers: ["merge_3", "merge_12", "flatten_1"],
  numpyFiles: ["inception_v4_th"],
  check: (model) => {
    expect(model.getLayer("convolution2d_148").weights[0]!.shape).toEqual([3, 1, 512, 256]);
    expect(model.getLayer("convolution2d_149").weights[0]!.shape).toEqual([1, 1, 1536, 256]);
    expect(model.getLayer("dense_1").weights[0]!.shape).toEqual([1536, 1001]);
  },
});
