import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import * as tfl from "@tensorflow/tfjs-layers";
import { kernelsRunBy } from "@ft/test-support/kernels";
import { afterEach, describe, expect, it } from "vitest";
import { batchNormTraining } from "../layers/batch-norm-training.js";
import { Scale } from "../layers/scale.js";
import { createOptimizer, resolveOptimizerConfig, SEED_SGD } from "../train/optimizers.js";
import { trainStep } from "../train/step.js";
import { weightKey } from "../train/checkpoint.js";
import { BATCH_NORM_TRAINING, BATCH_NORM_TRAINING_GRAD, CHANNEL_AFFINE, CHANNEL_AFFINE_GRAD, FT_KERNELS, KERAS_ADAM_UPDATE, KERAS_SGD_UPDATE, missingTrainingKernels, TRAINING_KERNELS } from "./contract.js";
import { finetune } from "../finetune/job.js";
import { UsageError } from "../errors.js";
import { selectBackend } from "./select.js";
import { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { WASM_TRAINING_KERNELS } from "./wasm-kernels/index.js";

/** conv (bias) → BN → relu → max pool → two branches (conv, avg pool) concatenated → flatten → dropout → softmax. */
function smallNet(): tfl.LayersModel {
  const input = tfl.input({ shape: [12, 10, 3] });
  let x = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: "same", biasInitializer: "randomNormal" }).apply(input) as tfl.SymbolicTensor;
  x = tfl.layers.batchNormalization({}).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.activation({ activation: "relu" }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.maxPooling2d({ poolSize: 2 }).apply(x) as tfl.SymbolicTensor;
  const a = tfl.layers.conv2d({ filters: 3, kernelSize: 1 }).apply(x) as tfl.SymbolicTensor;
  const b = tfl.layers.averagePooling2d({ poolSize: 3, strides: 1, padding: "same" }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.concatenate({}).apply([a, b]) as tfl.SymbolicTensor;
  x = tfl.layers.flatten({}).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.dropout({ rate: 0.5 }).apply(x) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 5, activation: "softmax" }).apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out });
}

describe("the kernel contract", () => {
  it("a training step (trainStep, seed SGD) and an evaluation pass on wasm run only contract kernels and wasm's own", async () => {
    await selectBackend("wasm");
    const model = smallNet();
    const optimizer = createOptimizer(SEED_SGD);
    const images = tf.randomUniform([4, 12, 10, 3], -1, 1, "float32", 3) as tf.Tensor4D;
    const labels = tf.cast(tf.oneHot(tf.tensor1d([0, 2, 4, 1], "int32"), 5), "float32") as tf.Tensor2D;
    const params = model.trainableWeights.map((w) => ({ key: weightKey(w), variable: w.read() as tf.Variable, lrScale: 1 }));
    const ran = await kernelsRunBy(async () => {
      const result = await trainStep(model, { images, labels, size: 4, index: 0 }, params, { optimizer, lr: SEED_SGD.lr });
      expect(typeof result, String(result)).toBe("object");
      tf.dispose(model.predict(images) as tf.Tensor);
    });
    expect(ran).toContain("Conv2DBackpropFilter");
    expect(ran.filter((k) => !TRAINING_KERNELS.includes(k) && !WASM_TRAINING_KERNELS.includes(k))).toEqual([]);
    tf.dispose([images, labels]);
    optimizer.dispose();
    model.dispose();
  });

  it("every engine that ships with core registers all of TRAINING_KERNELS; an unknown one misses all", async () => {
    for (const engine of ["wasm", "cpu"]) {
      const { tfName } = await selectBackend(engine);
      expect(missingTrainingKernels(tfName), engine).toEqual([]);
    }
    expect(missingTrainingKernels("no-such-engine")).toEqual([...TRAINING_KERNELS]);
    expect([...TRAINING_KERNELS].sort()).toEqual(TRAINING_KERNELS);
  });

  it("finetune refuses an engine that lacks a training kernel, naming it, before it opens anything", async () => {
    tf.registerBackend("contract-bare", () => new MathBackendCPU());
    for (const config of tf.getKernelsForBackend("cpu")) {
      if (config.kernelName !== "Conv2DBackpropFilter") tf.registerKernel({ ...config, backendName: "contract-bare" });
    }
    await tf.setBackend("contract-bare");
    try {
      expect(missingTrainingKernels("contract-bare")).toEqual(["Conv2DBackpropFilter"]);
      const error = await finetune({ model: "no-such-model", data: "/nonexistent" }, { runDir: "/nonexistent/run" }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UsageError);
      expect((error as Error).message).toMatch(/engine "contract-bare" lacks kernels that training runs \(Conv2DBackpropFilter\)/);
    } finally {
      await selectBackend("cpu");
      tf.removeBackend("contract-bare");
    }
  });
});

/**
 * Core's call sites against FT_KERNELS: a stand-in kernel on cpu records the inputs and attributes it is
 * called with, and answers with outputs of the shapes the signature promises (copies of inputs).
 */
describe("ft's own kernels are called as FT_KERNELS describes them", () => {
  const registered: string[] = [];
  afterEach(() => {
    for (const name of registered.splice(0)) tf.unregisterKernel(name, "cpu");
  });
  const calls = new Map<string, { inputs: string[]; attrs: string[] }>();
  const standIn = (kernelName: string, outputsLike: string[]) => {
    registered.push(kernelName);
    tf.registerKernel({
      kernelName,
      backendName: "cpu",
      kernelFunc: ({ inputs, attrs, backend }) => {
        calls.set(kernelName, { inputs: Object.keys(inputs), attrs: Object.keys(attrs ?? {}) });
        const identity = tf.getKernel("Identity", "cpu")!.kernelFunc;
        return outputsLike.map((name) => identity({ inputs: { x: inputs[name]! }, backend, attrs: {} }) as tf.TensorInfo);
      },
    });
  };
  const expectCalledAsSigned = (kernelName: string) => {
    const signature = FT_KERNELS[kernelName]!;
    expect(calls.get(kernelName), kernelName).toEqual({ inputs: [...signature.inputs], attrs: [...signature.attrs] });
  };

  it("the SGD and Adam updates", async () => {
    await selectBackend("cpu");
    standIn(KERAS_SGD_UPDATE, ["param", "velocity"]);
    standIn(KERAS_ADAM_UPDATE, ["param", "m", "v"]);
    const variable = tf.variable(tf.tensor1d([0.5, -1, 2]));
    const grad = tf.tensor1d([0.1, 0.2, -0.3]);
    for (const kind of ["sgd", "adam"] as const) {
      const optimizer = createOptimizer(resolveOptimizerConfig({ kind }));
      optimizer.apply([{ key: "w", variable, grad, lrScale: 1 }], 0.01);
      optimizer.dispose();
    }
    expectCalledAsSigned(KERAS_SGD_UPDATE);
    expectCalledAsSigned(KERAS_ADAM_UPDATE);
    expect(FT_KERNELS[KERAS_SGD_UPDATE]!.outputs).toHaveLength(2);
    expect(FT_KERNELS[KERAS_ADAM_UPDATE]!.outputs).toHaveLength(3);
    tf.dispose([variable, grad]);
  });

  it("training-mode BatchNorm and its gradient", async () => {
    await selectBackend("cpu");
    standIn(BATCH_NORM_TRAINING, ["x", "scale", "offset"]);
    standIn(BATCH_NORM_TRAINING_GRAD, ["dy", "scale", "scale"]);
    const x = tf.randomUniform([2, 3, 3, 4], -1, 1, "float32", 5);
    const scale = tf.tensor1d([1, 0.5, 2, 1.5]);
    const offset = tf.tensor1d([0, 0.1, -0.1, 0.2]);
    const grads = tf.grads((a: tf.Tensor, s: tf.Tensor, o: tf.Tensor) => tf.sum(batchNormTraining(a, s, o, 1e-3)[0]))([x, scale, offset]);
    expect(grads.map((g) => g.shape)).toEqual([x.shape, scale.shape, offset.shape]);
    expectCalledAsSigned(BATCH_NORM_TRAINING);
    expectCalledAsSigned(BATCH_NORM_TRAINING_GRAD);
    tf.dispose([x, scale, offset, ...grads]);
  });

  it("Caffe's Scale as one per-channel affine kernel, and its gradient", async () => {
    await selectBackend("cpu");
    standIn(CHANNEL_AFFINE, ["x"]);
    standIn(CHANNEL_AFFINE_GRAD, ["dy", "scale", "scale"]);
    const layer = new Scale({ name: "contract_scale" });
    const x = tf.randomUniform([2, 3, 3, 4], -1, 1, "float32", 6);
    layer.build(x.shape);
    const f = (a: tf.Tensor) => tf.sum(layer.apply(a) as tf.Tensor);
    const { grads } = tf.variableGrads(() => f(x) as tf.Scalar, layer.trainableWeights.map((w) => w.read() as tf.Variable));
    expect(Object.values(grads).map((g) => g.shape)).toEqual([[4], [4]]);
    expectCalledAsSigned(CHANNEL_AFFINE);
    expectCalledAsSigned(CHANNEL_AFFINE_GRAD);
    tf.dispose([x, ...Object.values(grads)]);
    layer.weights.forEach((w) => w.dispose());
  });
});
