import { selectBackend } from "@ft/core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { beforeAll, describe, expect, it } from "vitest";
import { resnet101, resnet152, resnet50 } from "../src/index.js";
import { readManifest } from "./manifests.js";

beforeAll(async () => {
  await selectBackend("wasm");
});

/** The manifest kind of a tfjs layer, from its class and its weights. */
function kindOf(layer: tfl.layers.Layer): string {
  switch (layer.getClassName()) {
    case "Conv2D":
      return layer.weights.length === 2 ? "conv_b" : "conv";
    case "BatchNormalization":
      return "bn";
    case "Scale":
      return "scale";
    case "Dense":
      return "dense";
    default:
      return `?${layer.getClassName()}`;
  }
}

/** Weighted layers in creation order (tfjs layer ids increase as layers are constructed). */
function weightedLayers(model: tfl.LayersModel) {
  return model.layers
    .filter((l) => l.weights.length > 0)
    .sort((a, b) => a.id - b.id)
    .map((l) => ({ name: l.name, kind: kindOf(l), weights: l.weights.length }));
}

describe.each([
  ["resnet50", resnet50, "resnet50.txt"],
  ["resnet101", resnet101, "resnet101.txt"],
  ["resnet152", resnet152, "resnet152.txt"],
] as const)("%s against shared/manifests", (_name, build, file) => {
  it("has the manifest's weighted layers: same names, kinds, weight counts, order", () => {
    const manifest = readManifest(file);
    // 32×32 input: the layer list does not depend on the input size, and the build is fast.
    const model = build({ inputShape: [32, 32, 3] });
    const expected = manifest.map((m) => ({ name: m.name, kind: m.kind, weights: m.weights.length }));
    expect(weightedLayers(model)).toEqual(expected);
    model.dispose();
  });
});
