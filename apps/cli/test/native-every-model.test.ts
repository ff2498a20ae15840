import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { applyBatchNormPolicy, createModel, getModel, hashSeed, listModels, Scale, seedDropout, selectBackend, withNewHead, type InputShape } from "@ft/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadNativeAddon, registerNativeBackend } from "@ft/backend-native";
import { failureOf, requirement } from "@ft/test-support/system";
import { random } from "@ft/test-support/random";
import { relativeError } from "@ft/test-support/tolerance";
import "../src/models.js";
import { seedSgdStep } from "./seed-step.js";
import { smallInput } from "./small-input.js";

const whyNativeUnavailable = failureOf(() => {
  loadNativeAddon();
  registerNativeBackend();
});
const nativeUnavailable = !requirement("the native engine (@ft/backend-native's addon)", whyNativeUnavailable);
const skipReason = nativeUnavailable ? ` (SKIPPED: ${whyNativeUnavailable})` : "";

/**
 * The variance every BatchNormalization layer is frozen at (mean 0) for the step. Glorot-initialised
 * convolutions followed by relu halve the signal's variance, so at the initial variance of 1 the deep
 * plain-chain models (Inception) pass no gradient to their first layers: their updates underflow to
 * zero. A frozen variance of 0.5 (a gain of √2, He's correction) keeps signal and gradient at scale.
 * ResNets keep 1: their identity shortcuts already carry the signal, and a gain of √2 per block
 * overflows ResNet-152's logits.
 */
function frozenVariance(name: string): number {
  return name.startsWith("resnet") ? 1 : 0.5;
}

const isBatchNorm = (layer: tfl.layers.Layer) => layer.getClassName() === "BatchNormalization";

/** Freezes every BN layer of `model` at mean 0 and `variance`. */
function freezeBatchNorm(model: tfl.LayersModel, variance: number): void {
  applyBatchNormPolicy(model, "frozen");
  for (const layer of model.layers.filter(isBatchNorm) as unknown as BatchNormState[]) {
    tf.tidy(() => {
      layer.movingMean.write(tf.zerosLike(layer.movingMean.read()));
      layer.movingVariance.write(tf.fill(layer.movingVariance.read().shape, variance));
    });
  }
}

interface BatchNormState {
  name: string;
  momentum: number;
  epsilon: number;
  gamma: tfl.LayerVariable | null;
  beta: tfl.LayerVariable | null;
  movingMean: tfl.LayerVariable;
  movingVariance: tfl.LayerVariable;
}

/** The fine-tuning model of `name` (seed head, 3 classes) with the same random weights on every run. */
async function buildModel(name: string, inputShape: InputShape): Promise<tfl.LayersModel> {
  const seed = hashSeed(8, ...Array.from(name, (c) => c.charCodeAt(0)));
  const body = await createModel(name, { weights: "none", seed, includeTop: true, inputShape });
  return withNewHead(body, getModel(name), { classes: 3, seed: 1 }).model;
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

/** One seed SGD step (batch 2) on the active backend: returns the loss and every weight afterwards. */
function trainStep(model: tfl.LayersModel, inputShape: InputShape, x: Float32Array) {
  const input = tf.tensor4d(x, [2, ...inputShape]);
  const loss = seedSgdStep(model, input);
  input.dispose();
  return { loss, weights: readWeights(model) };
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
 * larger models). BatchNorm runs frozen (see `frozenVariance`): through batch statistics, a batch-2 step
 * at random initialisation is chaotic (moving each input value by one float32 ulp changed wasm's own updates
 * of ResNet, Inception and DenseNet models by 1e-2 to 6e-1 of their size), so no two float32 engines agree
 * there; the training-mode BatchNorm of every architecture is checked in the next suite instead.
 * Checked: the loss within 1e-3 relative, every trainable weight moved, the weights after the step within
 * 1e-3 of the largest weight (the issue's bound), and, much stricter, within 5e-3 of the step's largest
 * update. Measured: losses within 5e-7, whole steps within 2.0e-3 (ResNet-101.keras), 9.2e-4 for the others.
 * Per variable, where a layer's own update is tiny next to the step's (vanishing gradients), rounding is up
 * to 5e-2 of that update (VGG-16; 1e-1 for ResNet-152 with other random weights), so per-variable errors
 * are only logged. This suite found the AvgPoolGrad border bug (Inception blocks' "same" average
 * pools): with the bug put back, Inception steps differ by 3.9e-2 to 5.8e-2.
 */
describe.skipIf(nativeUnavailable)(`one training step of every registered architecture on ft-native matches wasm${skipReason}`, () => {
  beforeAll(async () => {
    expect((await selectBackend("wasm")).name).toBe("wasm");
  });
  afterAll(async () => {
    await selectBackend("wasm");
  });

  const names = listModels().map((m) => m.name);
  it.each(names)("%s", async (name) => {
    await selectBackend("wasm");
    const inputShape = smallInput(name);
    const model = await buildModel(name, inputShape);
    seedDropout(model, { seed: 1, pass: 0 });
    const x = tf.tidy(() => tf.randomUniform([2, ...inputShape], -1, 1, "float32", 7).dataSync().slice() as Float32Array);
    freezeBatchNorm(model, frozenVariance(name));
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
    let step = 0, stepError = 0, worstVariable = 0, worstWeights = 0, largestWeight = 0;
    const unmoved: string[] = [];
    variables.forEach((variable, i) => {
      const dw = difference(wasm.weights[i]!, before[i]!), off = maxAbs(difference(native.weights[i]!, wasm.weights[i]!));
      if (trainable.has(variable) && maxAbs(dw) === 0) unmoved.push(labels[i]!);
      step = Math.max(step, maxAbs(dw));
      largestWeight = Math.max(largestWeight, maxAbs(wasm.weights[i]!));
      stepError = Math.max(stepError, off);
      if (maxAbs(dw) > 0) worstVariable = Math.max(worstVariable, off / maxAbs(dw));
      if (maxAbs(wasm.weights[i]!) > 0) worstWeights = Math.max(worstWeights, off / maxAbs(wasm.weights[i]!));
    });
    console.info(`${name}: loss ${lossError.toExponential(1)}, whole step ${(stepError / step).toExponential(1)}, weights after ${(stepError / largestWeight).toExponential(1)}; per variable: update ${worstVariable.toExponential(1)}, weights after ${worstWeights.toExponential(1)}`);
    expect(unmoved, `${name}: trainable weights the step did not move on wasm`).toEqual([]);
    expect(lossError, `${name}: loss ${native.loss} on ft-native, ${wasm.loss} on wasm`).toBeLessThan(1e-3);
    expect(stepError / largestWeight, `${name}: largest difference of the weights after the step over the largest weight`).toBeLessThan(1e-3);
    expect(stepError / step, `${name}: largest update difference over the largest update`).toBeLessThan(5e-3);
  });
});

/** Per channel (last axis) mean and biased variance of `x`, in float64. */
function channelMoments(x: Float32Array, channels: number): { mean: Float64Array; variance: Float64Array } {
  const mean = new Float64Array(channels), variance = new Float64Array(channels);
  const rows = x.length / channels;
  for (let i = 0; i < x.length; i++) mean[i % channels] += x[i]!;
  for (let c = 0; c < channels; c++) mean[c]! /= rows;
  for (let i = 0; i < x.length; i++) variance[i % channels] += (x[i]! - mean[i % channels]!) ** 2;
  for (let c = 0; c < channels; c++) variance[c]! /= rows;
  return { mean, variance };
}

/**
 * The training-mode BatchNorm of every architecture that has one, on ft-native: one forward pass with batch
 * statistics runs the fused kernel (FtBatchNormTraining) once per BN layer, and each layer's statistics
 * (read back as its moving statistics, momentum 0) and normalised output match float64 computed from that
 * layer's own input in the same pass. Every layer shape of every model is covered this way; comparing whole
 * models across engines instead would measure the chaos described above, not the kernel. The kernel's
 * gradient is proven against the cpu backend in @ft/backend-native (fused-training.test.ts) and through the
 * trainer in @ft/core.
 */
describe.skipIf(nativeUnavailable)(`training-mode BatchNorm of every architecture on ft-native matches float64${skipReason}`, () => {
  afterAll(async () => {
    await selectBackend("wasm");
  });
  const withoutBatchNorm = new Set(["vgg16", "vgg19", "googlenet"]);

  it.each(listModels().map((m) => m.name).filter((name) => !withoutBatchNorm.has(name)))("%s", async (name) => {
    expect((await selectBackend("native")).tfName).toBe("ft-native");
    const inputShape = smallInput(name);
    const model = await buildModel(name, inputShape);
    try {
      const layers = model.layers.filter(isBatchNorm);
      const states = layers as unknown as BatchNormState[];
      for (const layer of states) layer.momentum = 0;
      applyBatchNormPolicy(model, "train");
      const probe = tfl.model({ inputs: model.inputs, outputs: layers.flatMap((l) => [l.input, l.output] as tfl.SymbolicTensor[]) });
      const x = tf.randomUniform([2, ...inputShape], -1, 1, "float32", 7);
      let values: Float32Array[] = [];
      const profile = await tf.profile(() => {
        const outputs = probe.apply(x, { training: true }) as tf.Tensor[];
        values = outputs.map((t) => t.dataSync().slice() as Float32Array);
        tf.dispose(outputs);
      });
      x.dispose();
      expect(profile.kernels.filter((k) => k.name === "FtBatchNormTraining").length, `${name}: fused BN kernel calls`).toBe(layers.length);

      let worstStatistic = 0, worstOutput = 0;
      states.forEach((layer, i) => {
        const input = values[2 * i]!, output = values[2 * i + 1]!;
        const channels = layer.movingMean.shape.at(-1)!;
        const { mean, variance } = channelMoments(input, channels);
        const gamma = layer.gamma?.read().dataSync(), beta = layer.beta?.read().dataSync();
        const normalised = Float64Array.from(input, (v, j) => {
          const c = j % channels;
          return (gamma?.[c] ?? 1) * (v - mean[c]!) / Math.sqrt(variance[c]! + layer.epsilon) + (beta?.[c] ?? 0);
        });
        const statistic = Math.max(relativeError(layer.movingMean.read().dataSync(), mean), relativeError(layer.movingVariance.read().dataSync(), variance));
        const out = relativeError(output, normalised);
        expect(statistic, `${name}: ${layer.name} batch mean/variance`).toBeLessThan(1e-5);
        expect(out, `${name}: ${layer.name} normalised output`).toBeLessThan(1e-5);
        worstStatistic = Math.max(worstStatistic, statistic);
        worstOutput = Math.max(worstOutput, out);
      });
      console.info(`${name}: ${layers.length} BN layers, statistics within ${worstStatistic.toExponential(1)}, outputs within ${worstOutput.toExponential(1)}`);
    } finally {
      model.dispose();
    }
  });
});

/**
 * A Caffe Scale that alone reads a training BatchNorm's output is folded into it on ft-native (one
 * FtBatchNormTraining with scale·gamma and scale·beta + offset, no FtChannelAffine), with the loss,
 * every weight's gradient and the moving statistics of tfjs-layers' own BatchNorm then Scale on the
 * cpu backend. A Scale whose BN output has another reader is not folded, and a second model sharing
 * the layers sees the BN's own output.
 */
describe.skipIf(nativeUnavailable)(`Caffe Scale folded into training BatchNorm on ft-native${skipReason}`, () => {
  afterAll(async () => {
    await selectBackend("wasm");
  });

  it("gives the cpu backend's loss, gradients and moving statistics; only a sole reader is folded", async () => {
    await selectBackend("cpu");
    const input = tfl.input({ shape: [6, 5, 4] });
    const conv = (filters: number, name: string) => tfl.layers.conv2d({ filters, kernelSize: 3, padding: "same", useBias: false, name });
    const bn = (name: string) => tfl.layers.batchNormalization({ momentum: 0.5, epsilon: 1.1e-5, name });
    const bn1 = bn("bn1"), bn2 = bn("bn2");
    const folded = apply(new Scale({ name: "scale1" }), apply(bn1, apply(conv(8, "conv1"), input)));
    const normalised = apply(bn2, apply(conv(6, "conv2"), apply(tfl.layers.activation({ activation: "relu" }), folded)));
    const both = tfl.layers.add().apply([apply(new Scale({ name: "scale2" }), normalised), normalised]) as tfl.SymbolicTensor; // bn2 has two readers
    const output = apply(tfl.layers.dense({ units: 3, activation: "softmax" }), apply(tfl.layers.globalAveragePooling2d({}), both));
    const model = tfl.model({ inputs: input, outputs: output });
    const probe = tfl.model({ inputs: input, outputs: bn1.output as tfl.SymbolicTensor });
    applyBatchNormPolicy(model, "train");
    // Asymmetric weights: Scale and BN parameters away from 1 and 0.
    const start = model.weights.map((w) => random(w.read().size).map((v) => (w.originalName.includes("gamma") ? 1 + 0.5 * v : w.originalName.includes("variance") ? 1 + Math.abs(v) : v)));
    const x = random(2 * 6 * 5 * 4), labels = [[1, 0, 0], [0, 0, 1]];

    const run = async (backend: "cpu" | "native") => {
      await selectBackend(backend);
      writeWeights(model, start);
      const xs = tf.tensor4d(x, [2, 6, 5, 4]), ys = tf.tensor2d(labels);
      let bnOnly: Float32Array | undefined;
      const profile = await tf.profile(() => {
        const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(ys, model.apply(xs, { training: true }) as tf.Tensor) as tf.Scalar,
          model.trainableWeights.map((w) => w.read() as tf.Variable));
        const out = [value, ...model.trainableWeights.map((w) => grads[(w.read() as tf.Variable).name]!)].map((t) => t.dataSync().slice() as Float32Array);
        tf.dispose([value, ...Object.values(grads)]);
        return out;
      });
      const [loss, ...gradients] = profile.result as unknown as Float32Array[];
      tf.tidy(() => void (bnOnly = (probe.apply(xs, { training: true }) as tf.Tensor).dataSync().slice() as Float32Array));
      tf.dispose([xs, ys]);
      const kernels = (name: string) => profile.kernels.filter((k) => k.name === name).length;
      return { loss: loss!, gradients, statistics: readWeights(model).filter((_, i) => model.weights[i]!.originalName.includes("moving")), bnOnly: bnOnly!, kernels };
    };
    const cpu = await run("cpu");
    const native = await run("native");
    expect(native.kernels("FtBatchNormTraining"), "two training BNs").toBe(2);
    expect(native.kernels("FtChannelAffine"), "scale1 folded, scale2 not (bn2's output has another reader)").toBe(1);
    expect(relativeError(native.loss, cpu.loss)).toBeLessThan(1e-5);
    model.trainableWeights.forEach((w, i) => expect(relativeError(native.gradients[i]!, cpu.gradients[i]!), `gradient of ${w.originalName}`).toBeLessThan(1e-4));
    native.statistics.forEach((s, i) => expect(relativeError(s, cpu.statistics[i]!), `moving statistic ${i}`).toBeLessThan(1e-5));
    expect(relativeError(native.bnOnly, cpu.bnOnly), "a model sharing bn1 reads its own output").toBeLessThan(1e-5);
    model.dispose();
  });
});

function apply(layer: tfl.layers.Layer, x: tfl.SymbolicTensor): tfl.SymbolicTensor {
  return layer.apply(x) as tfl.SymbolicTensor;
}
