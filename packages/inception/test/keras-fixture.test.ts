import { describe, expect, it } from "vitest";
import { describeFixtureWriterChecks } from "@ft/test-support/fixture-writer-checks";
import { readStructure, weightedLayers } from "@ft/test-support/keras-fixture";

describeFixtureWriterChecks({
  family: "inception",
  generator: "generate_inception.py",
  files: ["googlenet_th", "inception_v3_th", "inception_v3.keras_tf", "inception_v3.keras_tf_notop", "inception_v4_th", "inception_v4_tf"],
  h5pyCopies: [
    ["googlenet_th", "tiny_googlenet_th.h5"],
    ["inception_v3.keras_tf", "tiny_inception_v3.keras_tf.h5"],
  ],
  manifests: [
    ["googlenet_th", "googlenet"],
    ["inception_v4_th", "inception_v4"],
    ["inception_v4_tf", "inception_v4"],
  ],
});

describe("the committed file structures", () => {
  it("use the Keras weight names of each layout (Keras 1 `_W`, with `:0` when saved under TensorFlow; Keras 2 `layer/kernel:0`)", () => {
    const first = (file: string) => weightedLayers(readStructure(file))[0]!.weights.map((w) => w.name);
    expect(first("googlenet_th")).toEqual(["conv1/7x7_s2_W", "conv1/7x7_s2_b"]);
    expect(first("inception_v3_th")).toEqual(["convolution2d_1_W", "convolution2d_1_b"]);
    expect(first("inception_v4_th")).toEqual(["convolution2d_1_W"]);
    expect(first("inception_v4_tf")).toEqual(["convolution2d_1_W:0"]);
    expect(first("inception_v3.keras_tf")).toEqual(["conv2d_1/kernel:0"]);
    const bn = weightedLayers(readStructure("inception_v3.keras_tf"))[1]!;
    expect(bn.weights.map((w) => w.name)).toEqual(["batch_normalization_1/beta:0", "batch_normalization_1/moving_mean:0", "batch_normalization_1/moving_variance:0"]);
    expect(readStructure("inception_v3.keras_tf").attrs.backend).toBe("tensorflow");
  });
});
