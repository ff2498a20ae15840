import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { LRN, PoolHelper, UsageError, countParams, selectBackend } from "@ft/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GOOGLENET_HEADS, PARAMETER_COUNTS, averageGoogLeNetPredictions, buildGoogLeNet, googlenetSpec } from "./index.js";
import { describeWeightedLayers, manifestRows, readManifest, size, spatial, weightedLayersInCreationOrder } from "@ft/test-support/layers";

/**
 * Independent reference, copied from architectures.md (not from googlenet.ts): the inception filter table
 * (1x1, 3x3r, 3x3, 5x5r, 5x5, pool_proj) in network order; aux heads after 4a and 4d.
 */
const TABLE: Array<[string, number, number, number, number, number, number]> = [
  ["inception_3a", 64, 96, 128, 16, 32, 32],
  ["inception_3b", 128, 128, 192, 32, 96, 64],
  ["inception_4a", 192, 96, 208, 16, 48, 64],
  ["inception_4b", 160, 112, 224, 24, 64, 64],
  ["inception_4c", 128, 128, 256, 24, 64, 64],
  ["inception_4d", 112, 144, 288, 32, 64, 64],
  ["inception_4e", 256, 160, 320, 32, 128, 128],
  ["inception_5a", 256, 160, 320, 32, 128, 128],
  ["inception_5b", 384, 192, 384, 48, 128, 128],
];

/** Expected `[name, tfjs kernel shape]` of every weighted layer in creation order, with 1000 classes at 224×224. */
function expectedKernels(): Array<[string, number[]]> {
  const out: Array<[string, number[]]> = [
    ["conv1/7x7_s2", [7, 7, 3, 64]],
    ["conv2/3x3_reduce", [1, 1, 64, 64]],
    ["conv2/3x3", [3, 3, 64, 192]],
  ];
  let channels = 192;
  for (const [m, b1, r3, b3, r5, b5, pp] of TABLE) {
    out.push([`${m}/1x1`, [1, 1, channels, b1]], [`${m}/3x3_reduce`, [1, 1, channels, r3]], [`${m}/3x3`, [3, 3, r3, b3]]);
    out.push([`${m}/5x5_reduce`, [1, 1, channels, r5]], [`${m}/5x5`, [5, 5, r5, b5]], [`${m}/pool_proj`, [1, 1, channels, pp]]);
    channels = b1 + b3 + b5 + pp;
    const loss = m === "inception_4a" ? "loss1" : m === "inception_4d" ? "loss2" : undefined;
    // Aux head: 14×14 → 5×5/3 avg pool → 4×4 × 128 = 2048 → 1024 → 1000.
    if (loss) out.push([`${loss}/conv`, [1, 1, channels, 128]], [`${loss}/fc`, [2048, 1024]], [`${loss}/classifier`, [1024, 1000]]);
  }
  out.push(["loss3/classifier", [channels, 1000]]);
  return out;
}

/** Parameters = Σ over weighted layers of (kernel size + one bias per output). */
function expectedParams(): number {
  return expectedKernels().reduce((sum, [, k]) => sum + size(k) + k[k.length - 1]!, 0);
}

let model: tfl.LayersModel;
beforeAll(async () => {
  await selectBackend("wasm");
  model = buildGoogLeNet();
});
afterAll(() => model?.dispose());

describe("googlenet", () => {
  it("has the parameter count of its layer table (13,378,280 = Σ kernels + biases)", () => {
    expect(expectedParams()).toBe(13_378_280);
    expect(countParams(model)).toBe(expectedParams());
    expect(PARAMETER_COUNTS.googlenet).toBe(expectedParams());
    expect(googlenetSpec.parameterCount, "no published count for the Caffe GoogLeNet").toBeUndefined();
  });

  it("weighted layers have the manifest's names, kinds and order", () => {
    expect(describeWeightedLayers(model)).toEqual(manifestRows(readManifest("googlenet")));
  });

  it("kernel shapes follow the filter table (concat order 1x1, 3x3, 5x5, pool_proj)", () => {
    const actual = weightedLayersInCreationOrder(model).map((l) => [l.name, l.weights[0]!.shape]);
    expect(actual).toEqual(expectedKernels());
  });

  it("keeps names with '/' as tfjs layer and weight names, and 4b's concat is inception_4b_output", () => {
    expect(model.getLayer("conv1/7x7_s2").weights.map((w) => w.originalName)).toEqual(["conv1/7x7_s2/kernel", "conv1/7x7_s2/bias"]);
    expect(model.getLayer("inception_4b_output").getClassName()).toBe("Concatenate");
    expect(model.getLayer("inception_4c/output").getClassName()).toBe("Concatenate");
    expect(model.layers.some((l) => l.name === "inception_4b/output")).toBe(false);
    expect(model.getLayer("pool1/norm1")).toBeInstanceOf(LRN);
    expect(model.getLayer("conv2/norm2")).toBeInstanceOf(LRN);
    expect(model.layers.filter((l) => l instanceof PoolHelper).map((l) => l.name).sort()).toEqual(["poolhelper_1", "poolhelper_2", "poolhelper_3", "poolhelper_4"]);
  });

  it("stages go 112 → 56 → 28 → 14 → 7 (symmetric pad-3 conv1, Caffe ceil-mode pools)", () => {
    expect(spatial(model, "conv1/7x7_s2")).toEqual([112, 112]);
    expect(spatial(model, "pool1/3x3_s2")).toEqual([56, 56]);
    expect(spatial(model, "pool2/3x3_s2")).toEqual([28, 28]);
    expect(spatial(model, "pool3/3x3_s2")).toEqual([14, 14]);
    expect(spatial(model, "pool4/3x3_s2")).toEqual([7, 7]);
    expect(spatial(model, "loss1/ave_pool")).toEqual([4, 4]);
    expect(spatial(model, "pool5/7x7_s2")).toEqual([1, 1]);
    expect(model.getLayer("inception_5b/output").outputShape).toEqual([null, 7, 7, 1024]);
  });

  it("conv1 pads 3 on every side like Theano 'same' (not TF SAME's 2 before / 3 after)", async () => {
    const probe = tfl.model({ inputs: model.inputs, outputs: model.getLayer("conv1/7x7_s2").output as tfl.SymbolicTensor });
    // An input that is zero except the top-left pixel: with pad 3 before, output (0, 0) sees input
    // (0, 0) at kernel tap (3, 3); with pad 2 it would be tap (2, 2).
    const [kernel, bias] = model.getLayer("conv1/7x7_s2").getWeights() as [tf.Tensor, tf.Tensor];
    const x = tf.tidy(() => tf.pad(tf.ones([1, 1, 1, 3]), [[0, 0], [0, 223], [0, 223], [0, 0]]));
    const y = probe.predict(x) as tf.Tensor;
    const got = (await tf.slice(y, [0, 0, 0, 0], [1, 1, 1, 64]).data()) as Float32Array;
    const tapAt = async (i: number) => (await tf.relu(tf.add(tf.sum(tf.slice(kernel, [i, i, 0, 0], [1, 1, 3, 64]), [0, 1, 2]), bias)).data()) as Float32Array;
    const tap3 = await tapAt(3);
    const tap2 = await tapAt(2);
    expect(Math.max(...Array.from(got, (v, i) => Math.abs(v - tap3[i]!)))).toBeLessThan(1e-5);
    expect(Math.max(...Array.from(got, (v, i) => Math.abs(v - tap2[i]!)))).toBeGreaterThan(1e-3);
  });

  it("has three softmax outputs (loss1, loss2, loss3) whose mean is the prediction, at 224×224 on wasm", async () => {
    expect(tf.getBackend()).toBe("wasm");
    expect(model.outputNames).toEqual(GOOGLENET_HEADS.map((h) => h.softmax));
    const x = tf.randomUniform([1, 224, 224, 3], -120, 120, "float32", 1);
    const outputs = model.predict(x) as tf.Tensor[];
    expect(outputs.map((o) => o.shape)).toEqual([[1, 1000], [1, 1000], [1, 1000]]);
    const sums = await Promise.all(outputs.map(async (o) => (await tf.sum(o).data())[0]!));
    for (const s of sums) expect(s).toBeCloseTo(1, 4);
    const mean = averageGoogLeNetPredictions(outputs);
    const expected = tf.div(tf.add(tf.add(outputs[0]!, outputs[1]!), outputs[2]!), 3);
    expect(Array.from(await mean.data())).toEqual(Array.from(await expected.data()));
    expect(Array.from(await mean.data()).every(Number.isFinite)).toBe(true);
  });

  it("the spec's new heads name the seed's three classifiers and the layers feeding them", () => {
    for (const head of googlenetSpec.newHeads!) {
      expect(model.getLayer(head.from).getClassName()).toBe("Dropout");
      expect(model.getLayer(head.dense).getClassName()).toBe("Dense");
      expect(model.getLayer(head.softmax!).getClassName()).toBe("Activation");
    }
    expect(googlenetSpec.featureLayer).toBe(GOOGLENET_HEADS[2].from);
  });

  it("builds without the top (one output, optional pooling) and with other class counts", () => {
    const notop = buildGoogLeNet({ includeTop: false, inputShape: [96, 96, 3] });
    expect(notop.outputs.map((o) => o.shape)).toEqual([[null, 3, 3, 1024]]);
    expect(notop.layers.some((l) => l.name.startsWith("loss"))).toBe(false);
    notop.dispose();
    const pooled = buildGoogLeNet({ includeTop: false, pooling: "max", inputShape: [64, 64, 3] });
    expect(pooled.outputs[0]!.shape).toEqual([null, 1024]);
    pooled.dispose();
    const ten = buildGoogLeNet({ classes: 10 });
    expect(ten.outputs.map((o) => o.shape)).toEqual([[null, 10], [null, 10], [null, 10]]);
    // Each of the three classifiers shrinks from 1024×1000 + 1000 to 1024×10 + 10 parameters.
    expect(countParams(ten)).toBe(expectedParams() - 3 * (1024 * 1000 + 1000) + 3 * (1024 * 10 + 10));
    ten.dispose();
  });

  it("rejects bad options, naming the option", () => {
    expect(() => buildGoogLeNet({ classes: 0 })).toThrow(UsageError);
    // The auxiliary heads pool 5×5 at 1/16 of the input: 64 px leaves 4×4.
    expect(() => buildGoogLeNet({ inputShape: [64, 64, 3] })).toThrow(/googlenet: inputShape .*≥ \d+ with the top/);
    // The main head pools the whole final map, so a 96 px model still has the 1024-wide classifier input.
    const small = buildGoogLeNet({ inputShape: [96, 96, 3], classes: 4 });
    expect(small.getLayer("loss3/classifier").getWeights()[0]!.shape).toEqual([1024, 4]);
    small.dispose();
    expect(() => buildGoogLeNet({ includeTop: false, pooling: "mean" as never })).toThrow(/pooling/);
  });

  it("reloads from its JSON topology (LRN and PoolHelper are registered classes)", async () => {
    const small = buildGoogLeNet({ includeTop: false, inputShape: [64, 64, 3] });
    const json = small.toJSON(null, false) as tf.io.ModelJSON["modelTopology"];
    const reloaded = await tfl.models.modelFromJSON({ modelTopology: json });
    expect(reloaded.layers.map((l) => l.name)).toEqual(small.layers.map((l) => l.name));
    expect(reloaded.getLayer("pool1/norm1")).toBeInstanceOf(LRN);
    small.dispose();
    reloaded.dispose();
  });
});
