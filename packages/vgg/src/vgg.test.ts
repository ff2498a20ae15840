import { UsageError, selectBackend } from "@ft/core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { beforeAll, describe, expect, it } from "vitest";
import { legacyLayerCount, vgg16, vgg19, VGG16, VGG19 } from "./index.js";

beforeAll(async () => {
  await selectBackend("wasm");
});

/**
 * The seed's legacy Sequential file, written out from the original script: per conv a
 * ZeroPadding2D((1,1)) and a Convolution2D 3×3 with fused ReLU, a 2×2 MaxPooling2D per block,
 * then Flatten, Dense 4096, Dropout, Dense 4096, Dropout, Dense 1000. Weighted entries carry the
 * tfjs shapes of their params (kernel [3, 3, in, out] + bias, dense [in, out] + bias).
 */
function legacyLayers(convsPerBlock: number[], flatten: number): Array<{ className: string; shapes: number[][] }> {
  const filters = [64, 128, 256, 512, 512];
  const layers: Array<{ className: string; shapes: number[][] }> = [];
  let channels = 3;
  convsPerBlock.forEach((n, b) => {
    for (let i = 0; i < n; i++) {
      layers.push({ className: "ZeroPadding2D", shapes: [] });
      layers.push({ className: "Conv2D", shapes: [[3, 3, channels, filters[b]!], [filters[b]!]] });
      channels = filters[b]!;
    }
    layers.push({ className: "MaxPooling2D", shapes: [] });
  });
  layers.push({ className: "Flatten", shapes: [] });
  layers.push({ className: "Dense", shapes: [[flatten, 4096], [4096]] });
  layers.push({ className: "Dropout", shapes: [] });
  layers.push({ className: "Dense", shapes: [[4096, 4096], [4096]] });
  layers.push({ className: "Dropout", shapes: [] });
  layers.push({ className: "Dense", shapes: [[4096, 1000], [1000]] });
  return layers;
}

function describeLayers(model: tfl.LayersModel) {
  return model.layers.slice(1).map((l) => ({ className: l.getClassName(), shapes: l.weights.map((w) => w.shape as number[]) }));
}

/** Weighted layers of the Keras-applications files (deep-learning-models v0.1), in file order. */
function kerasNames(convsPerBlock: number[]): string[] {
  const names = convsPerBlock.flatMap((n, b) => Array.from({ length: n }, (_, i) => `block${b + 1}_conv${i + 1}`));
  return [...names, "fc1", "fc2", "predictions"];
}

describe.each([
  ["vgg16", vgg16, [2, 2, 3, 3, 3], 37],
  ["vgg19", vgg19, [2, 2, 4, 4, 4], 43],
] as const)("%s layer list", (name, build, convs, legacyCount) => {
  // A 32×32 input keeps fc1 small (512 inputs); the layer list is the same as at 224.
  it(`has the legacy file's ${legacyCount} layers after the InputLayer, in order, with matching weight shapes`, () => {
    const model = build({ inputShape: [32, 32, 3] });
    expect(model.layers[0]!.getClassName()).toBe("InputLayer");
    expect(model.layers.length - 1).toBe(legacyCount);
    expect(describeLayers(model)).toEqual(legacyLayers([...convs], 512));
    model.dispose();
  });

  it("names its weighted layers exactly as the Keras-applications file, in the same order", () => {
    const model = build({ inputShape: [32, 32, 3] });
    expect(model.layers.filter((l) => l.weights.length > 0).map((l) => l.name)).toEqual(kerasNames([...convs]));
    model.dispose();
  });

  it("notop has the same conv layers and names as the top model", () => {
    const model = build({ includeTop: false, inputShape: [32, 32, 3] });
    expect(model.layers.filter((l) => l.weights.length > 0).map((l) => l.name)).toEqual(kerasNames([...convs]).slice(0, -3));
    model.dispose();
  });

  it("legacyLayerCount states the same count", () => {
    expect(legacyLayerCount(name === "vgg16" ? VGG16 : VGG19)).toBe(legacyCount);
  });
});

describe("build options", () => {
  it("rejects bad options with a usage error naming the model and option", () => {
    expect(() => vgg16({ classes: 0 })).toThrow(UsageError);
    expect(() => vgg16({ classes: 0 })).toThrow(/vgg16: classes/);
    expect(() => vgg16({ includeTop: false, pooling: "sum" as never })).toThrow(/vgg16: pooling/);
    expect(() => vgg19({ inputShape: [16, 16, 3] })).toThrow(/vgg19: inputShape/);
    expect(() => vgg19({ inputShape: [64, 64] as never })).toThrow(UsageError);
  });

  it("accepts a non-RGB channel count (random weights)", () => {
    const model = vgg16({ includeTop: false, inputShape: [32, 32, 1] });
    expect(model.layers.find((l) => l.name === "block1_conv1")!.weights[0]!.shape).toEqual([3, 3, 1, 64]);
    model.dispose();
  });
});
