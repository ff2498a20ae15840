import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { beforeAll, describe, expect, it } from "vitest";
import { trainableKeys } from "../train/checkpoint.js";
import { Trainer } from "../train/trainer.js";
import { memorySource, snapshot, tinyModel, useCpu } from "../train/test-utils/fixtures.js";
import { applyBatchNormPolicy } from "./batchnorm.js";
import { applyFreeze, layerStages, parseFreezeSpec } from "./freeze.js";
import { replaceHead } from "./head.js";
import { layerLrScales, parseLrGroups } from "./lr-groups.js";
import { withNewHead } from "./model.js";

beforeAll(useCpu);

const sgd = { kind: "sgd" as const, lr: 0.05, momentum: 0.9, nesterov: true, decay: 1e-6 };

describe("replaceHead", () => {
  it("puts a classes-way softmax on the feature layer and disposes the old top", () => {
    const base = tinyModel();
    const oldTop = base.getLayer("fc_old");
    const { model, headLayers, removedLayers } = withNewHead(base, { name: "tiny", featureLayer: "flatten", newHeads: [{ from: "flatten", dense: "fc10" }] }, { classes: 3 });
    expect(model.outputs[0]!.shape).toEqual([null, 3]);
    expect(headLayers).toEqual(["fc10"]);
    expect(removedLayers).toEqual(["fc_old"]);
    expect(() => oldTop.weights[0]!.read()).toThrow(/disposed/);
    expect(model.layers.map((l) => l.name)).toContain("conv1");
    const y = model.predict(tf.ones([2, 8, 8, 3])) as tf.Tensor;
    expect(Array.from(tf.sum(y, -1).dataSync()).map((v) => v.toFixed(5))).toEqual(["1.00000", "1.00000"]);
  });

  it("inserts Flatten for a spatial feature layer, optional dropout and a separate softmax layer; several heads give several outputs", () => {
    const base = tinyModel();
    const { model, headLayers } = replaceHead(
      base,
      [
        { from: "relu2", dense: "fc6", softmax: "prob" },
        { from: "relu1", dense: "aux", flatten: "aux_flat" },
      ],
      { classes: 4, dropout: 0.5 },
    );
    expect(headLayers).toEqual(["fc6_flatten", "fc6_dropout", "fc6", "prob", "aux_flat", "aux_dropout", "aux"]);
    expect(model.outputs.map((o) => o.shape)).toEqual([[null, 4], [null, 4]]);
    expect(model.getLayer("prob").getClassName()).toBe("Activation");
  });

  it("puts the seed's L2 weight decay on a new head's kernel (GoogLeNet: 2e-4)", () => {
    const { model } = replaceHead(tinyModel(), [{ from: "flatten", dense: "fc10", l2: 2e-4 }], { classes: 3 });
    // What the trainer adds to the loss.
    const losses = model.calculateLosses();
    expect(losses).toHaveLength(1);
    const kernel = model.getLayer("fc10").getWeights()[0]!;
    const expected = 2e-4 * tf.sum(tf.square(kernel)).dataSync()[0]!;
    expect(losses[0]!.dataSync()[0]).toBeCloseTo(expected, 9);
  });

  it("names the missing feature layer", () => {
    expect(() => replaceHead(tinyModel(), [{ from: "pool5", dense: "x" }], { classes: 2 })).toThrow(/no layer "pool5"/);
  });
});

describe("freezing", () => {
  it("freezes the first N layers in Keras order (input excluded), up to a name, by stage, or the body", () => {
    const { model, headLayers } = withNewHead(tinyModel(), { name: "tiny", featureLayer: "flatten" }, { classes: 3 });
    // Keras order without input: conv1 bn1 relu1 conv2 bn2 relu2 flatten predictions
    expect(applyFreeze(model, { kind: "count", layers: 2 })).toEqual(["conv1", "bn1"]);
    expect(trainableKeys(model)).toEqual(["conv2/kernel", "conv2/bias", "bn2/gamma", "bn2/beta", "predictions/kernel", "predictions/bias"]);
    expect(applyFreeze(model, { kind: "upTo", layer: "conv2" })).toEqual(["conv1", "bn1", "relu1", "conv2"]);
    expect(Object.fromEntries(layerStages(model))).toEqual({ conv1: 1, bn1: 1, conv2: 2, bn2: 2, predictions: 3 });
    expect(applyFreeze(model, { kind: "stages", stages: 1 })).toEqual(["conv1", "bn1"]);
    expect(applyFreeze(model, { kind: "body" }, headLayers)).toEqual(["conv1", "bn1", "relu1", "conv2", "bn2", "relu2", "flatten"]);
    expect(trainableKeys(model)).toEqual(["predictions/kernel", "predictions/bias"]);
    expect(applyFreeze(model, { kind: "none" })).toEqual([]);
    expect(() => applyFreeze(model, { kind: "upTo", layer: "res9z" })).toThrow(/no layer of that name/);
    expect(() => applyFreeze(model, { kind: "count", layers: 99 })).toThrow(/the model has 8/);
    expect(() => applyFreeze(model, { kind: "stages", stages: 4 })).toThrow(/has 3/);
  });

  it("parses the CLI forms", () => {
    expect(parseFreezeSpec("10")).toEqual({ kind: "count", layers: 10 });
    expect(parseFreezeSpec("stage:2")).toEqual({ kind: "stages", stages: 2 });
    expect(parseFreezeSpec("up-to:res4a_branch2a")).toEqual({ kind: "upTo", layer: "res4a_branch2a" });
    expect(parseFreezeSpec("body")).toEqual({ kind: "body" });
    expect(parseFreezeSpec("none")).toEqual({ kind: "none" });
  });

  it("frozen layers do not change in training", async () => {
    const { model } = withNewHead(tinyModel(), { name: "tiny", featureLayer: "flatten" }, { classes: 3 });
    const before = snapshot(model);
    const trainer = new Trainer({ model, train: memorySource({ examples: 12, batchSize: 4 }), epochs: 1, optimizer: sgd, freeze: { kind: "count", layers: 2 } });
    await trainer.fit();
    const after = snapshot(model);
    expect(after.get("conv1/kernel")).toEqual(before.get("conv1/kernel"));
    expect(after.get("bn1/gamma")).toEqual(before.get("bn1/gamma"));
    expect(after.get("conv2/kernel")).not.toEqual(before.get("conv2/kernel"));
    trainer.dispose();
  });
});

describe("BatchNorm policy", () => {
  async function trainWith(policy: "train" | "frozen" | "auto", freezeCount = 0) {
    const { model } = withNewHead(tinyModel(), { name: "tiny", featureLayer: "flatten" }, { classes: 3 });
    const before = snapshot(model);
    const trainer = new Trainer({
      model,
      train: memorySource({ examples: 12, batchSize: 4 }),
      epochs: 1,
      optimizer: sgd,
      batchNorm: policy,
      freeze: freezeCount ? { kind: "count", layers: freezeCount } : undefined,
    });
    await trainer.fit();
    trainer.dispose();
    return { before, after: snapshot(model) };
  }
  const stats = ["bn1/moving_mean", "bn1/moving_variance", "bn2/moving_mean", "bn2/moving_variance"];

  it("frozen: moving statistics are unchanged, gamma/beta still learn", async () => {
    const { before, after } = await trainWith("frozen");
    for (const k of stats) expect(after.get(k), k).toEqual(before.get(k));
    expect(after.get("bn1/gamma")).not.toEqual(before.get("bn1/gamma"));
  });

  it("train (the seed's, and tfjs' default): moving statistics move", async () => {
    const { before, after } = await trainWith("train");
    for (const k of stats) expect(after.get(k), k).not.toEqual(before.get(k));
  });

  it("train ignores trainable=false for statistics (tfjs behaviour); auto runs frozen BN in inference mode", async () => {
    const seed = await trainWith("train", 2);
    expect(seed.after.get("bn1/moving_mean")).not.toEqual(seed.before.get("bn1/moving_mean"));
    const auto = await trainWith("auto", 2);
    expect(auto.after.get("bn1/moving_mean")).toEqual(auto.before.get("bn1/moving_mean"));
    expect(auto.after.get("bn1/moving_variance")).toEqual(auto.before.get("bn1/moving_variance"));
    expect(auto.after.get("bn2/moving_mean")).not.toEqual(auto.before.get("bn2/moving_mean"));
  });

  it.each(["train", "frozen"] as const)("a BN without scale (Keras-applications Inception-V3) trains under policy %s", (policy) => {
    const input = tfl.input({ shape: [4, 4, 3] });
    const conv = tfl.layers.conv2d({ filters: 2, kernelSize: 3, name: "c" });
    const bn = tfl.layers.batchNormalization({ scale: false, name: "bn" });
    const out = tfl.layers.globalAveragePooling2d({}).apply(bn.apply(conv.apply(input))) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: out });
    applyBatchNormPolicy(model, policy);
    const x = tf.randomNormal([2, 4, 4, 3], 0, 1, "float32", 5);
    const { grads: g } = tf.variableGrads(() => tf.sum(tf.square(model.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar, model.trainableWeights.map((w) => w.read() as tf.Variable));
    expect(Object.keys(g).length).toBe(3); // conv kernel, conv bias, BN beta
    expect(Object.values(g).some((t) => t.dataSync().some((v) => v !== 0))).toBe(true);
  });

  it("frozen BN in training mode gives the same output as inference", () => {
    const model = tinyModel();
    applyBatchNormPolicy(model, "frozen");
    const x = tf.randomNormal([3, 8, 8, 3], 0, 1, "float32", 3);
    const train = model.apply(x, { training: true }) as tf.Tensor;
    const infer = model.apply(x, { training: false }) as tf.Tensor;
    expect(Array.from(train.dataSync())).toEqual(Array.from(infer.dataSync()));
    expect(() => applyBatchNormPolicy(model, "sometimes" as never)).toThrow(/unknown BatchNorm policy/);
  });
});

describe("discriminative learning rates", () => {
  it("spreads factors geometrically over stages, or by named groups", () => {
    const { model } = withNewHead(tinyModel(), { name: "tiny", featureLayer: "flatten" }, { classes: 3 });
    const stages = layerLrScales(model, parseLrGroups("stages:0.01"));
    expect(stages.get("conv1")).toBeCloseTo(0.01, 12); // stage 1 of 3: 0.01^(2/2)
    expect(stages.get("bn2")).toBeCloseTo(0.1, 12); // stage 2: 0.01^(1/2)
    expect(stages.get("predictions")).toBe(1);
    const named = layerLrScales(model, parseLrGroups("bn1:0,conv2:0.5"));
    expect(Object.fromEntries(named)).toEqual({ conv1: 0, bn1: 0, conv2: 0.5, bn2: 1, predictions: 1 });
    expect(() => layerLrScales(model, parseLrGroups("nope:1"))).toThrow(/no layer of that name/);
  });
});
