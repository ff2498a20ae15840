import { selectBackend } from "@ft/core";
import { beforeAll, describe, expect, it } from "vitest";
import { resnet101, resnet152, resnet50 } from "./index.js";
import { describeWeightedLayers, manifestRows, readManifest } from "@ft/test-support/layers";

beforeAll(async () => {
  await selectBackend("wasm");
});

describe.each([
  ["resnet50", resnet50],
  ["resnet101", resnet101],
  ["resnet152", resnet152],
] as const)("%s against test/fixtures/manifests", (name, build) => {
  it("has the manifest's weighted layers: same names, kinds, weight counts, order", () => {
    // 32×32 input: the layer list does not depend on the input size, and the build is fast.
    const model = build({ inputShape: [32, 32, 3] });
    expect(describeWeightedLayers(model)).toEqual(manifestRows(readManifest(name)));
    model.dispose();
  });
});
