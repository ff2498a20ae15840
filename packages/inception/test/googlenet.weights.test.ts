import { expect } from "vitest";
import "../src/index.js";
import { describeLoadingProof } from "@ft/model-proofs/layout-proof";

/**
 * GoogLeNet's only published file is Joe Marino's Keras-1 Theano port: names with "/" (nested groups),
 * Theano kernels, and the two auxiliary `loss1/fc`, `loss2/fc` Dense layers after a channels-first Flatten (128×4×4).
 */
describeLoadingProof({
  model: "googlenet",
  files: ["googlenet_th"],
  generator: "generate_inception.py",
  input: [-120, 150],
  probeLayers: ["conv1/7x7_s2", "loss1/fc", "loss1/classifier", "loss2/fc", "loss2/classifier", "loss3/classifier"],
  reloadedClasses: ["LRN", "PoolHelper"],
  numpyFiles: ["googlenet_th"],
  check: (model, _structure, report) => {
    expect([...report.reorderedDense].sort()).toEqual(["loss1/fc", "loss2/fc"]);
    expect(model.getLayer("loss1/fc").weights[0]!.shape).toEqual([2048, 1024]);
    expect(model.getLayer("conv1/7x7_s2").weights[0]!.shape).toEqual([7, 7, 3, 64]);
  },
});
