import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { applyBatchNormPolicy, getModel, hashSeed, listModels, mulberry32, seedDropout, selectBackend, withNewHead, type InputShape } from "@ft/core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { nativeUnavailable, relativeError, skipReason } from "../../../packages/backend-native/src/test-utils/compare.js";
import "../src/models.js";

/**
 * A small input at which every BatchNormalization layer, the last included, normalises over at least 2×2
 * positions of each of the two images. At a 1×1 feature map a batch of 2 gives two values per channel, and
 * their difference is mostly rounding error: at 32 px, ResNet-50's last BN output differs from wasm's by
 * 3e-1 on the cpu backend and 5e-1 on ft-native. GoogLeNet (no BN) needs 96 px for its auxiliary heads;
 * VGG (no BN) runs at CIFAR's 32 px.
 */
function smallInput(name: string): InputShape {
  if (name === "googlenet") return [96, 96, 3];
  if (name.startsWith("inception")) return [107, 107, 3];
  if (name.startsWith("resnet") || name.startsWith("densenet")) return [64, 64, 3];
  return [32, 32, 3];
}

/** The fine-tuning model of `name` (seed head, 3 classes) with the same random weights on every run. */
function buildModel(name: string, inputShape: InputShape): tfl.LayersModel {
  const spec = getModel(name);
  // tfjs initialisers without a seed draw one from Math.random.
  const random = vi.spyOn(Math, "random").mockImplementation(mulberry32(hashSeed(8, ...Array.from(name, (c) => c.charCodeAt(0)))));
  try {
    return withNewHead(spec.build({ includeTop: true, inputShape }), spec, { classes: 3, seed: 1 }).model;
  } finally {
    random.mockRestore();
  }
}

/** Every weight of the model, trainable and not (BatchNorm moving statistics included), as plain arrays. */
function readWeights(model: tfl.LayersModel): Float32Array[] {
  return model.weights.map((w) => w.read().dataSync().slice() as Float32Array);
}

/** Writes `values` into the model's own variables; the new values live on the active backend. */
function writeWeights(model: tfl.LayersModel, values: Float32Array[]): void {
  const tensors = model.weights.map((w, i) => tf.tensor(values[i]!, w.read().shape));
  model.setWeights(tensors);
  tf.dispose(tensors);
}

/** One SGD step (lr 0.05, batch 2) on the active backend: returns the loss and every weight afterwards. */
function trainStep(model: tfl.LayersModel, inputShape: InputShape, x: Float32Array) {
  const input = tf.tensor4d(x, [2, ...inputShape]);
  const y = tf.cast(tf.oneHot(tf.tensor1d([0, 2], "int32"), 3), "float32");
  const optimizer = tf.train.sgd(0.05);
  const loss = optimizer.minimize(() => {
    const outputs = ([] as tf.Tensor[]).concat(model.apply(input, { training: true }) as tf.Tensor | tf.Tensor[]);
    // GoogLeNet has three heads: the seed sums their losses.
    return tf.addN(outputs.map((p) => tf.losses.softmaxCrossEntropy(y, tf.log(tf.add(p, 1e-7))))) as tf.Scalar;
  }, true)!;
  const result = { loss: loss.dataSync()[0]!, weights: readWeights(model) };
  tf.dispose([input, y, loss]);
  optimizer.dispose();
  return result;
}

const maxAbs = (a: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
};
const difference = (a: Float32Array, b: Float32Array) => a.map((v, i) => v - b[i]!);

/**
 * Issue 8: one training step of every registered architecture on ft-native, at a small input and batch 2,
 * against wasm (with the project's training kernels; the cpu backend's filter gradient takes minutes for the
 * larger models). BatchNorm runs frozen at its initial statistics: through batch statistics, a batch-2 step
 * at random initialisation is chaotic (moving each input value by one float32 ulp changed wasm's own updates
 * of ResNet, Inception and DenseNet models by 1e-2 to 6e-1 of their size), so no two float32 engines agree
 * there; the fused training BatchNorm is proven against the cpu backend in @ft/backend-native and @ft/core.
 * Checked: the loss within 1e-3 relative, and the whole step (every weight's update, after − before) within
 * 5e-2 of the step's max-norm. Measured: losses within 1.4e-7; steps within 2.1e-3 except the Inception
 * models (1.8e-2 to 3.4e-2), whose early layers get vanishing updates (~1e-7) that are mostly rounding. Per variable,
 * such layers differ by up to 100 % of their own tiny update, so the update of each variable is only logged.
 */
describe.skipIf(nativeUnavailable)(`one training step of every registered architecture on ft-native matches wasm${skipReason}`, () => {
  beforeAll(async () => {
    expect((await selectBackend("wasm")).name).toBe("wasm");
  });
  afterAll(async () => {
    await selectBackend("wasm");
  });

  // Not proven here (issue 8 stays open on them): with BatchNorm frozen, their early layers' updates
  // underflow to zero on wasm at this size (no gradient reaches the stem). Their losses agreed within
  // 1.1e-7 and whole steps within 1.8e-2 and 3.4e-2.
  const unproven = (name: string) => name === "inception_v3" || name === "inception_v4";
  const names = listModels().map((m) => m.name).filter((name) => !unproven(name));
  it.skip.each(listModels().map((m) => m.name).filter(unproven))("%s (not proven: vanishing updates at small inputs)", () => {});

  it.each(names)("%s", async (name) => {
    await selectBackend("wasm");
    const inputShape = smallInput(name);
    const model = buildModel(name, inputShape);
    seedDropout(model, { seed: 1, pass: 0 });
    const x = tf.tidy(() => tf.randomUniform([2, ...inputShape], -1, 1, "float32", 7).dataSync().slice() as Float32Array);
    applyBatchNormPolicy(model, "frozen");
    const variables = model.weights;
    const labels = variables.map((w) => `${name}: ${w.originalName}`);
    const trainable = new Set(model.trainableWeights);
    const before = readWeights(model);

    let wasm: ReturnType<typeof trainStep>;
    let native: ReturnType<typeof trainStep>;
    try {
      wasm = trainStep(model, inputShape, x);
      expect((await selectBackend("native")).tfName).toBe("ft-native");
      writeWeights(model, before);
      const restored = readWeights(model);
      expect(labels.filter((_, i) => relativeError(restored[i]!, before[i]!) !== 0), `${name}: weights not restored on ft-native`).toEqual([]);
      native = trainStep(model, inputShape, x);
    } finally {
      await selectBackend("wasm");
      model.dispose();
    }

    expect(Number.isFinite(wasm.loss) && wasm.loss > 0, `${name}: wasm loss ${wasm.loss}`).toBe(true);
    // As on wasm alone (train-every-model.test.ts): the step reaches the first convolution.
    const firstConv = variables.findIndex((w) => w.shape.length === 4);
    const changed = wasm.weights[firstConv]!.filter((v, i) => v !== before[firstConv]![i]).length;
    expect(changed / before[firstConv]!.length, `${labels[firstConv]} moved`).toBeGreaterThan(0.5);

    const lossError = Math.abs(native.loss - wasm.loss) / Math.abs(wasm.loss);
    let step = 0, stepError = 0, worstVariable = 0;
    const unmoved: string[] = [];
    variables.forEach((variable, i) => {
      const dw = difference(wasm.weights[i]!, before[i]!), off = maxAbs(difference(native.weights[i]!, wasm.weights[i]!));
      if (trainable.has(variable) && maxAbs(dw) === 0) unmoved.push(labels[i]!);
      step = Math.max(step, maxAbs(dw));
      stepError = Math.max(stepError, off);
      if (maxAbs(dw) > 0) worstVariable = Math.max(worstVariable, off / maxAbs(dw));
    });
    console.info(`${name}: loss ${lossError.toExponential(1)}, whole step ${(stepError / step).toExponential(1)}, worst variable's update ${worstVariable.toExponential(1)} (relative)`);
    expect(unmoved, `${name}: trainable weights the step did not move on wasm`).toEqual([]);
    expect(lossError, `${name}: loss ${native.loss} on ft-native, ${wasm.loss} on wasm`).toBeLessThan(1e-3);
    expect(stepError / step, `${name}: largest update difference over the largest update`).toBeLessThan(5e-2);
  });
});
