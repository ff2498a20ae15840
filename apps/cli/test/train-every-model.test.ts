import * as tf from "@tensorflow/tfjs-core";
import { applyBatchNormPolicy, getModel, listModels, selectBackend, withNewHead, type InputShape } from "@ft/core";
import { beforeAll, describe, expect, it } from "vitest";
import "../src/models.js";
import { seedSgdStep } from "./seed-step.js";

/**
 * Smallest input each family's architecture accepts with its seed head: GoogLeNet's auxiliary heads pool
 * 5×5 at 1/16 of the input; Inception-V3/V4 stems need 75 px. Everything else runs at CIFAR's 32 px.
 */
function smallInput(name: string): InputShape {
  if (name === "googlenet") return [96, 96, 3];
  if (name.startsWith("inception")) return [75, 75, 3];
  return [32, 32, 3];
}

/**
 * Issue 7: every registered architecture trains on wasm. One SGD step, batch 2, of the fine-tuning model
 * (seed head, 3 classes) must produce a finite loss and move the first convolution's kernel, which needs
 * every gradient kernel from the loss back to the input (Conv2DBackpropFilter included).
 */
describe("one training step of every registered architecture on wasm", () => {
  beforeAll(async () => {
    expect((await selectBackend("wasm")).name).toBe("wasm");
  });

  const names = listModels().map((m) => m.name);

  it("covers all families", () => {
    expect(new Set(listModels().map((m) => m.family))).toEqual(new Set(["vgg", "resnet", "inception", "densenet"]));
  });

  it.each(names)("%s", (name) => {
    const spec = getModel(name);
    const inputShape = smallInput(name);
    const { model } = withNewHead(spec.build({ includeTop: true, inputShape }), spec, { classes: 3, seed: 1 });
    // The seed's BatchNorm behaviour (batch statistics), as the trainer applies it.
    applyBatchNormPolicy(model, "train");
    const firstConv = model.layers.find((l) => l.getClassName() === "Conv2D")!;
    const kernel = firstConv.getWeights()[0]!;
    const before = kernel.dataSync().slice();

    const x = tf.randomUniform([2, ...inputShape], -1, 1, "float32", 7);
    const value = seedSgdStep(model, x);
    const after = (firstConv.getWeights()[0] as tf.Tensor).dataSync();

    expect(Number.isFinite(value)).toBe(true);
    expect(value).toBeGreaterThan(0);
    let changed = 0;
    for (let i = 0; i < before.length; i++) if (before[i] !== after[i]) changed++;
    expect(changed / before.length).toBeGreaterThan(0.5);

    x.dispose();
    model.dispose();
  });
});


