import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { Scale, countParams, selectBackend } from "@ft/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DENSENET121,
  DENSENET121_KERAS,
  DENSENET161,
  DENSENET169,
  DENSENET169_KERAS,
  DENSENET201_KERAS,
  PARAMETER_COUNTS,
  buildDenseNet,
  type DenseNetConfig,
} from "./index.js";
import { describeWeightedLayers, manifestRows, readManifest, spatial, weightedLayersInCreationOrder } from "@ft/test-support/layers";

/** Configurations from architectures.md: (initial filters, growth, blocks), compression 0.5. */
const REFERENCE: Record<string, { f0: number; g: number; blocks: number[] }> = {
  densenet121: { f0: 64, g: 32, blocks: [6, 12, 24, 16] },
  densenet169: { f0: 64, g: 32, blocks: [6, 12, 32, 32] },
  densenet161: { f0: 96, g: 48, blocks: [6, 12, 36, 24] },
  densenet201: { f0: 64, g: 32, blocks: [6, 12, 48, 32] },
};

/**
 * Parameters from the configuration: a BN has 4 weights per channel (gamma, beta, mean, variance), a Caffe
 * Scale 2 more; convolutions have no bias. conv1 7×7·3·f0; each dense layer on c channels: norm(c) +
 * c·4g + norm(4g) + 9·4g·g; each transition on c channels: norm(c) + c·⌊c/2⌋; final norm(c) + c·1000 + 1000.
 */
function expectedParams(depth: string, caffe: boolean): number {
  const { f0, g, blocks } = REFERENCE[depth]!;
  const norm = (c: number) => (caffe ? 6 : 4) * c;
  let total = 7 * 7 * 3 * f0 + norm(f0);
  let c = f0;
  blocks.forEach((n, i) => {
    for (let k = 0; k < n; k++) {
      total += norm(c) + c * 4 * g + norm(4 * g) + 9 * 4 * g * g;
      c += g;
    }
    if (i < 3) {
      total += norm(c) + c * Math.floor(c / 2);
      c = Math.floor(c / 2);
    }
  });
  return total + norm(c) + c * 1000 + 1000;
}

/** Keras-applications weighted-layer names (keras/applications/densenet.py) in creation order. */
function kerasNames(depth: string): string[] {
  const names = ["conv1/conv", "conv1/bn"];
  REFERENCE[depth]!.blocks.forEach((n, i) => {
    const s = i + 2;
    for (let k = 1; k <= n; k++) names.push(`conv${s}_block${k}_0_bn`, `conv${s}_block${k}_1_conv`, `conv${s}_block${k}_1_bn`, `conv${s}_block${k}_2_conv`);
    if (s < 5) names.push(`pool${s}_bn`, `pool${s}_conv`);
  });
  return [...names, "bn", "fc1000"];
}

const CONFIGS: Array<[DenseNetConfig, string, boolean]> = [
  [DENSENET121, "densenet121", true],
  [DENSENET169, "densenet169", true],
  [DENSENET161, "densenet161", true],
  [DENSENET121_KERAS, "densenet121", false],
  [DENSENET169_KERAS, "densenet169", false],
  [DENSENET201_KERAS, "densenet201", false],
];

beforeAll(async () => {
  await selectBackend("wasm");
});

for (const [config, depth, caffe] of CONFIGS) {
  describe(config.name, () => {
    let model: tfl.LayersModel;
    beforeAll(() => {
      model = buildDenseNet(config);
    });
    afterAll(() => model?.dispose());

    it("has the parameter count of its configuration", () => {
      const expected = expectedParams(depth, caffe);
      expect(countParams(model)).toBe(expected);
      expect(PARAMETER_COUNTS[config.name as keyof typeof PARAMETER_COUNTS]).toBe(expected);
      const published: Record<string, number> = { "densenet121.keras": 8_062_504, "densenet169.keras": 14_307_880, "densenet201.keras": 20_242_984 };
      if (!caffe) expect(expected).toBe(published[config.name]);
    });

    if (caffe) {
      it("weighted layers have the manifest's names, kinds and order (Scale after every BN)", () => {
        expect(describeWeightedLayers(model)).toEqual(manifestRows(readManifest(depth)));
        const layers = weightedLayersInCreationOrder(model);
        layers.forEach((l, i) => {
          if (l.getClassName() === "BatchNormalization") {
            expect(layers[i + 1]).toBeInstanceOf(Scale);
            expect((l.getConfig() as { epsilon: number }).epsilon).toBeCloseTo(1.1e-5, 12);
          }
        });
      });
    } else {
      it("weighted layers have the Keras-applications names in creation order, BN eps 1.001e-5", () => {
        const layers = weightedLayersInCreationOrder(model);
        expect(layers.map((l) => l.name)).toEqual(kerasNames(depth));
        expect(layers.some((l) => l instanceof Scale)).toBe(false);
        for (const l of layers.filter((x) => x.getClassName() === "BatchNormalization")) {
          expect((l.getConfig() as { epsilon: number }).epsilon).toBeCloseTo(1.001e-5, 12);
        }
      });
    }

    it("stages: conv1 112, pool1 56 (114 → 56), transitions 28, 14, 7", () => {
      expect(spatial(model, caffe ? "conv1" : "conv1/conv")).toEqual([112, 112]);
      expect(spatial(model, caffe ? "pool1_zeropadding" : "zero_padding2d_2")).toEqual([114, 114]);
      expect(spatial(model, "pool1")).toEqual([56, 56]);
      const pools = caffe ? ["pool2", "pool3", "pool4"] : ["pool2_pool", "pool3_pool", "pool4_pool"];
      expect(pools.map((p) => spatial(model, p))).toEqual([[28, 28], [14, 14], [7, 7]]);
      const final = model.getLayer(caffe ? "relu5_blk" : "relu").outputShape as number[];
      const { f0, g, blocks } = REFERENCE[depth]!;
      let c = f0;
      blocks.forEach((n, i) => (c = i < 3 ? Math.floor((c + n * g) / 2) : c + n * g));
      expect(final).toEqual([null, 7, 7, c]);
    });

    it("one forward pass at 224×224 on wasm gives a probability vector", async () => {
      expect(tf.getBackend()).toBe("wasm");
      const y = model.predict(tf.randomUniform([1, 224, 224, 3], -2, 2, "float32", 5)) as tf.Tensor;
      expect(y.shape).toEqual([1, 1000]);
      expect(Array.from(await y.data()).every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
      expect((await tf.sum(y).data())[0]).toBeCloseTo(1, 4);
    });
  });
}

describe("DenseNet options", () => {
  it("channel flow of DenseNet-121 is 64 → 256 → 128 → 512 → 256 → 1024 → 512 → 1024, and 161 ends at 2208", () => {
    const m = buildDenseNet(DENSENET121, { includeTop: false, inputShape: [32, 32, 3] });
    const channels = ["pool1", "concat_2_6", "pool2", "concat_3_12", "pool3", "concat_4_24", "pool4", "concat_5_16"].map((n) => (m.getLayer(n).outputShape as number[])[3]);
    expect(channels).toEqual([64, 256, 128, 512, 256, 1024, 512, 1024]);
    m.dispose();
    const d161 = buildDenseNet(DENSENET161, { includeTop: false, pooling: "avg", inputShape: [32, 32, 3] });
    expect(d161.outputs[0]!.shape).toEqual([null, 2208]);
    expect(d161.outputLayers[0]!.name).toBe("pool5");
    d161.dispose();
  });

  it("builds with other classes and max pooling, and rejects bad options naming them", () => {
    const m = buildDenseNet(DENSENET121_KERAS, { classes: 10, inputShape: [64, 64, 3] });
    expect(m.outputs[0]!.shape).toEqual([null, 10]);
    expect(countParams(m)).toBe(8_062_504 - 1024 * 1000 - 1000 + 1024 * 10 + 10);
    m.dispose();
    const pooled = buildDenseNet(DENSENET121_KERAS, { includeTop: false, pooling: "max", inputShape: [64, 64, 3] });
    expect(pooled.outputs[0]!.shape).toEqual([null, 1024]);
    pooled.dispose();
    expect(() => buildDenseNet(DENSENET121, { inputShape: [16, 16, 3] })).toThrow(/densenet121: inputShape/);
    expect(() => buildDenseNet(DENSENET121, { classes: 1.5 })).toThrow(/densenet121: classes/);
  });

  it("a Caffe-layout model reloads from its JSON topology (Scale is a registered class)", async () => {
    const m = buildDenseNet(DENSENET121, { includeTop: false, inputShape: [32, 32, 3] });
    const reloaded = await tfl.models.modelFromJSON({ modelTopology: m.toJSON(null, false) as tf.io.ModelJSON["modelTopology"] });
    expect(reloaded.getLayer("conv2_1_x1_scale")).toBeInstanceOf(Scale);
    expect(reloaded.layers.map((l) => l.name)).toEqual(m.layers.map((l) => l.name));
    m.dispose();
    reloaded.dispose();
  });
});
