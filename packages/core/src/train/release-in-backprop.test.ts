import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { random } from "@ft/test-support/random";
import { releaseInBackprop } from "./release-in-backprop.js";
import { useCpu } from "./test-utils/fixtures.js";

beforeAll(useCpu);

/**
 * Gradients of a residual chain (every node's gradient reads saved tensors, the shortcut adds two
 * gradients, one custom gradient hands back its own dy) with the tensor bytes alive when the backward
 * pass reaches the chain's first node, measured by a custom gradient there.
 */
function chainGradients(release: boolean, w: tf.Variable, x: tf.Tensor) {
  let bytesAtBottom = 0;
  const probe = tf.customGrad(((input: tf.Tensor, save: tf.GradSaveFunc) => {
    save([input]);
    return { value: tf.clone(input), gradFunc: (dy: tf.Tensor | tf.Tensor[]) => ((bytesAtBottom = tf.memory().numBytes), tf.mul(dy as tf.Tensor, 2)) };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  const passThrough = tf.customGrad(((input: tf.Tensor) => ({ value: tf.clone(input), gradFunc: (dy: tf.Tensor | tf.Tensor[]) => dy as tf.Tensor })) as unknown as Parameters<typeof tf.customGrad>[0]);
  const { value, grads } = tf.variableGrads(() => {
    let h = probe(tf.matMul(x, w)) as tf.Tensor; // on the path to w, so its gradient runs (second to last)
    for (let i = 0; i < 6; i++) h = tf.add(tf.relu(tf.matMul(h, w)), tf.relu(passThrough(tf.mul(h, 0.5)) as tf.Tensor));
    const loss = tf.sum(tf.square(h)) as tf.Scalar;
    if (release) releaseInBackprop();
    return loss;
  }, [w]);
  const out = { loss: value.dataSync()[0]!, grad: grads[w.name]!.dataSync().slice(), bytesAtBottom };
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

describe("releaseInBackprop", () => {
  it("frees each node's saved tensors and gradients once the pass is past it: the same gradients, no leak", () => {
    const w = tf.variable(tf.tensor2d(random(256 * 256).map((v) => v / 16), [256, 256]));
    const x = tf.tensor2d(random(32 * 256), [32, 256]);
    chainGradients(false, w, x); // warm-up: the backend's first scalars
    const tensorsBefore = tf.memory().numTensors;
    const kept = chainGradients(false, w, x);
    const released = chainGradients(true, w, x);
    expect(tf.memory().numTensors, "no tensor left behind, none disposed twice").toBe(tensorsBefore);
    expect(released.loss).toBe(kept.loss);
    expect(Array.from(released.grad)).toEqual(Array.from(kept.grad));
    // Kept: every layer's activations and gradients (about 30 arrays of 32 KB); released: those of the last node.
    expect(released.bytesAtBottom, `bytes alive at the first node: ${released.bytesAtBottom} released, ${kept.bytesAtBottom} kept`).toBeLessThan(kept.bytesAtBottom / 2);
    tf.dispose([w, x]);
  });

  it("does nothing outside a gradient computation", () => {
    expect(() => releaseInBackprop()).not.toThrow();
  });
});
