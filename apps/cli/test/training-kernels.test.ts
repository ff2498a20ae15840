import * as tf from "@tensorflow/tfjs-core";
import { applyBatchNormPolicy, createOptimizer, FT_KERNELS, getModel, listModels, missingTrainingKernels, SEED_SGD, selectBackend, TRAINING_KERNELS, trainStep, weightKey } from "@ft/core";
import { nativeKernelNames } from "@ft/backend-native";
import { kernelsRunBy } from "@ft/test-support/kernels";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import "../src/models.js";
import { smallInput } from "./small-input.js";

/**
 * The kernel contract of @ft/core (backend/contract.ts) against every registered architecture on the
 * default engine: the training step `ft train` runs (core's trainStep, seed SGD, batch statistics) and an
 * evaluation pass run only kernels the contract lists, ft's own kernels, or ft-native's private ones.
 * A new architecture that needs a kernel outside the contract fails here until the contract names it.
 */
describe("every architecture trains on the kernels of the contract", () => {
  const allowed = new Set([...TRAINING_KERNELS, ...Object.keys(FT_KERNELS)]);
  let native: Set<string>;
  beforeAll(async () => {
    expect((await selectBackend("native")).tfName).toBe("ft-native");
    // ft-native's private kernels (its gradients in fewer passes); the stock ones it replaces must be in the contract.
    native = new Set(nativeKernelNames().filter((k) => k.startsWith("Ft")));
  });
  afterAll(async () => {
    await selectBackend("wasm");
  });

  it("ft-native registers every kernel of TRAINING_KERNELS", () => {
    expect(missingTrainingKernels("ft-native")).toEqual([]);
  });

  it.each(listModels().map((m) => m.name))("%s", async (name) => {
    const inputShape = smallInput(name);
    const model = getModel(name).build({ includeTop: true, inputShape });
    applyBatchNormPolicy(model, "train");
    const optimizer = createOptimizer(SEED_SGD);
    const images = tf.randomUniform([2, ...inputShape], -1, 1, "float32", 11) as tf.Tensor4D;
    const classes = model.outputs[0]!.shape[1]!;
    const labels = tf.cast(tf.oneHot(tf.tensor1d([0, 2], "int32"), classes), "float32") as tf.Tensor2D;
    const params = model.trainableWeights.map((w) => ({ key: weightKey(w), variable: w.read() as tf.Variable, lrScale: 1 }));
    try {
      const ran = await kernelsRunBy(async () => {
        const result = await trainStep(model, { images, labels, size: 2, index: 0 }, params, { optimizer, lr: SEED_SGD.lr });
        expect(typeof result, `${name}: ${String(result)}`).toBe("object");
        tf.dispose(model.predict(images) as tf.Tensor | tf.Tensor[]);
      });
      expect(ran, name).toContain("Conv2DBackpropFilter");
      expect(ran.filter((k) => !allowed.has(k) && !native.has(k)), `${name}: kernels outside the contract`).toEqual([]);
    } finally {
      tf.dispose([images, labels]);
      optimizer.dispose();
      model.dispose();
    }
  });
});
