import { describe, expect, it } from "vitest";
import { describeFixtureWriterChecks } from "@ft/test-support/fixture-writer-checks";
import { readStructure } from "@ft/test-support/keras-fixture";

const CAFFE = ["densenet121", "densenet169", "densenet161"];
const KERAS = ["densenet121", "densenet169", "densenet201"];

describeFixtureWriterChecks({
  family: "densenet",
  generator: "generate_densenet.py",
  files: [...CAFFE.flatMap((d) => [`${d}_th`, `${d}_tf`]), ...KERAS.map((d) => `${d}.keras_tf`), "densenet121.keras_tf_notop"],
  h5pyCopies: [
    ["densenet121_tf", "tiny_densenet121_tf.h5"],
    ["densenet121.keras_tf", "tiny_densenet121.keras_tf.h5"],
  ],
  manifests: CAFFE.flatMap((d): [string, string][] => [[`${d}_th`, d], [`${d}_tf`, d]]),
});

describe("the committed file structures", () => {
  it("use the Keras weight names of each layout (Keras 1 `_W`, `_gamma` for Scale, `:0` under TensorFlow; Keras 2 nested `conv1/conv/kernel:0`)", () => {
    const named = (file: string, layer: string) => readStructure(file).layers.find((l) => l.name === layer)!.weights.map((w) => w.name);
    expect(named("densenet121_th", "conv1")).toEqual(["conv1_W"]);
    expect(named("densenet121_th", "conv1_scale")).toEqual(["conv1_scale_gamma", "conv1_scale_beta"]);
    expect(named("densenet121_tf", "conv1_bn")).toEqual(["conv1_bn_gamma:0", "conv1_bn_beta:0", "conv1_bn_running_mean:0", "conv1_bn_running_std:0"]);
    expect(named("densenet121.keras_tf", "conv1/conv")).toEqual(["conv1/conv/kernel:0"]);
    expect(named("densenet121.keras_tf", "conv2_block1_0_bn")).toEqual([
      "conv2_block1_0_bn/gamma:0",
      "conv2_block1_0_bn/beta:0",
      "conv2_block1_0_bn/moving_mean:0",
      "conv2_block1_0_bn/moving_variance:0",
    ]);
    expect(readStructure("densenet121.keras_tf").attrs.backend).toBe("tensorflow");
  });
});
