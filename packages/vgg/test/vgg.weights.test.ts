import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FtError, loadWeights, selectBackend } from "@ft/core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { vgg16, vgg16Spec, vgg19, vgg19Spec } from "../src/index.js";
import { expectMatchesTheanoReference, expectWeightsEqual, generateVggFiles, hasH5py, outputsOf, zeroWeights, type VggExpected } from "./helpers.js";
import { relativeError } from "@ft/test-support/tolerance";

/**
 * The published VGG files, re-created at a 64×64 input by `fixtures/make_vgg_files.py` (h5py, the
 * files' own structure): the real fc1/fc6 is 25088×4096 (411 MB); at 64 px the last map is
 * 2×2×512, so fc1 has 2048 rows and the (c, h, w) → (h, w, c) reorder still moves rows. Every
 * other array has its real shape. Files are generated into a temp dir once per depth.
 */
const SIZE = 64;
const INPUT: [number, number, number] = [SIZE, SIZE, 3];
const CONV_LAYERS = (convs: number[]) => convs.flatMap((n, b) => Array.from({ length: n }, (_, j) => `block${b + 1}_conv${j + 1}`));
const VGG16_CONVS = CONV_LAYERS([2, 2, 3, 3, 3]);
const VGG19_CONVS = CONV_LAYERS([2, 2, 4, 4, 4]);
const TOP = ["fc1", "fc2", "predictions"];

/** tfjs class names of the seed's Keras 0.x layers. */
const TFJS_CLASS: Record<string, string> = {
  ZeroPadding2D: "ZeroPadding2D",
  Convolution2D: "Conv2D",
  MaxPooling2D: "MaxPooling2D",
  Flatten: "Flatten",
  Dense: "Dense",
  Dropout: "Dropout",
};

beforeAll(async () => {
  await selectBackend("wasm");
});

describe.skipIf(!hasH5py)("vgg16: the seed's legacy th file and the Keras-applications tf files", () => {
  let dir = "";
  let expected: VggExpected;
  // Built once each and zeroed between loads: VGG's random initialisation costs seconds.
  let topModel: tfl.LayersModel | undefined;
  let notopModel: tfl.LayersModel | undefined;
  const withTop = () => (topModel ??= vgg16({ inputShape: INPUT }));
  const withoutTop = () => (notopModel ??= vgg16({ inputShape: INPUT, includeTop: false }));

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "ft-vgg16-files-"));
    expected = generateVggFiles(dir, 16, SIZE, 20240612, ["legacy_th", "keras1_tf", "keras1_tf_notop", "expected_bin"]);
  });
  afterAll(() => {
    topModel?.dispose();
    notopModel?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("legacy th (nb_layers 37): loads by position; kernels flipped + transposed, fc1 rows reordered; output equals NumPy's Theano forward", async () => {
    const model = withTop();
    // Position k of the file is layer k of the model, weightless layers included.
    expect(expected.legacy_layers).toHaveLength(37);
    expect(model.layers.slice(1).map((l) => l.getClassName())).toEqual(expected.legacy_layers.map((k) => TFJS_CLASS[k]));

    const report = await loadWeights(model, join(dir, "vgg16_legacy_th.h5"), { topLayers: vgg16Spec.topLayers });
    expect(report).toMatchObject({ layout: "legacy", ordering: "th", orderingSource: "detected", skipped: [], skippedTop: [] });
    expect(report.loaded).toEqual([...VGG16_CONVS, ...TOP]);
    expect(report.convertedKernels).toEqual(VGG16_CONVS);
    expect(report.reorderedDense).toEqual(["fc1"]);
    expect(report.tensors).toBe(32);

    expectWeightsEqual(model, expected, [...VGG16_CONVS, ...TOP], "legacy");
    expectMatchesTheanoReference(model, expected);
  });

  it("Keras-applications tf top file (Keras 1, `block1_conv1_W_1:0` names): by name, copied as stored, same output", async () => {
    const model = withTop();
    zeroWeights(model);
    const report = await loadWeights(model, join(dir, "vgg16_keras1_tf.h5"), { topLayers: vgg16Spec.topLayers });
    expect(report).toMatchObject({ layout: "keras1", ordering: "tf", orderingSource: "detected", skipped: [], skippedTop: [], convertedKernels: [], reorderedDense: [] });
    expect(report.loaded).toEqual([...VGG16_CONVS, ...TOP]);
    expectWeightsEqual(model, expected, [...VGG16_CONVS, ...TOP], "keras1 tf");
    expectMatchesTheanoReference(model, expected);
  });

  it("notop tf file into an includeTop: false model: the 13 convolutions, the same feature map as the full model's", async () => {
    const model = withoutTop();
    const report = await loadWeights(model, join(dir, "vgg16_keras1_tf_notop.h5"), { includeTop: false, topLayers: vgg16Spec.topLayers });
    expect(report).toMatchObject({ layout: "keras1", ordering: "tf", skipped: [], skippedTop: [] });
    expect(report.loaded).toEqual(VGG16_CONVS);
    expectWeightsEqual(model, expected, VGG16_CONVS, "notop");
    expect(model.outputs[0]!.shape).toEqual([null, 2, 2, 512]);
    const [mine] = outputsOf(model, ["block5_pool"], expected);
    const [full] = outputsOf(withTop(), ["block5_pool"], expected);
    expect(relativeError(mine!, full!)).toBeLessThan(1e-6);
  });

  it("top tf file into an includeTop: false model skips fc1, fc2, predictions on purpose and reports them; without includeTop: false it refuses", async () => {
    const model = withoutTop();
    zeroWeights(model);
    const file = join(dir, "vgg16_keras1_tf.h5");
    const refused = loadWeights(model, file, { topLayers: vgg16Spec.topLayers });
    await expect(refused).rejects.toThrow(FtError);
    await expect(refused).rejects.toThrow(/fc1, fc2, predictions[\s\S]*classifier the model lacks/);
    // A refused file leaves the model untouched.
    expect(Math.max(...model.getLayer("block1_conv1").weights[0]!.read().dataSync().map(Math.abs))).toBe(0);

    const report = await loadWeights(model, file, { includeTop: false, topLayers: vgg16Spec.topLayers });
    expect(report.skippedTop).toEqual(TOP);
    expect(report.skipped).toEqual([]);
    expect(report.loaded).toEqual(VGG16_CONVS);
    expectWeightsEqual(model, expected, VGG16_CONVS, "top file, no top");
  });

  it("legacy th file into an includeTop: false model: the first 31 positions load, the trailing Dense positions are skipped and reported", async () => {
    const model = withoutTop();
    zeroWeights(model);
    const report = await loadWeights(model, join(dir, "vgg16_legacy_th.h5"), { includeTop: false, topLayers: vgg16Spec.topLayers });
    expect(report).toMatchObject({ layout: "legacy", ordering: "th", skipped: [], reorderedDense: [] });
    // Legacy files name no layers: the skipped ones are reported by position (fc6, fc7, fc8).
    expect(report.skippedTop).toEqual(["layer_32", "layer_34", "layer_36"]);
    expect(report.convertedKernels).toEqual(VGG16_CONVS);
    expectWeightsEqual(model, expected, VGG16_CONVS, "legacy, no top");
  });
});

describe.skipIf(!hasH5py)("vgg19: the seed's legacy th file", () => {
  let dir = "";
  let expected: VggExpected;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "ft-vgg19-files-"));
    expected = generateVggFiles(dir, 19, SIZE, 20240613, ["legacy_th", "expected_bin"]);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("legacy th (nb_layers 43): loads by position; kernels flipped + transposed, fc1 rows reordered; output equals NumPy's Theano forward", async () => {
    const model = vgg19({ inputShape: INPUT });
    try {
      expect(expected.legacy_layers).toHaveLength(43);
      expect(model.layers.slice(1).map((l) => l.getClassName())).toEqual(expected.legacy_layers.map((k) => TFJS_CLASS[k]));
      const report = await loadWeights(model, join(dir, "vgg19_legacy_th.h5"), { topLayers: vgg19Spec.topLayers });
      expect(report).toMatchObject({ layout: "legacy", ordering: "th", skipped: [], skippedTop: [] });
      expect(report.convertedKernels).toEqual(VGG19_CONVS);
      expect(report.reorderedDense).toEqual(["fc1"]);
      expectWeightsEqual(model, expected, [...VGG19_CONVS, ...TOP], "vgg19 legacy");
      expectMatchesTheanoReference(model, expected);
    } finally {
      model.dispose();
    }
  });
});
