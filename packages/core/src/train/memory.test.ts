import { describe, expect, it } from "vitest";
import * as tfl from "@tensorflow/tfjs-layers";
import "@tensorflow/tfjs-backend-cpu";
import { activationsPerImage, planMicroBatches } from "./memory.js";

/** A conv net whose activation count is easy to state: 64×64×C maps. */
function convNet(size: number, channels: number, layers: number): tfl.LayersModel {
  const input = tfl.input({ shape: [size, size, 3] });
  let x = input as tfl.SymbolicTensor;
  for (let i = 0; i < layers; i++) x = tfl.layers.conv2d({ filters: channels, kernelSize: 3, padding: "same" }).apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: x });
}

describe("micro-batch planning", () => {
  it("counts every layer's output floats per image", () => {
    // Input layer 64·64·3 plus two conv outputs of 64·64·16.
    expect(activationsPerImage(convNet(64, 16, 2))).toBe(64 * 64 * 3 + 2 * 64 * 64 * 16);
  });

  it("splits a batch only on an engine with a heap cap, and only when it does not fit", () => {
    // 224×224×256 floats per layer × 8 layers ≈ 103 M floats ≈ 1.8 GB per image at 18 bytes per float.
    const big = convNet(224, 256, 8);
    expect(planMicroBatches(big, 16, "cpu")).toMatchObject({ accumulate: 1, microBatch: 16 });
    const plan = planMicroBatches(big, 16, "wasm");
    expect(plan.microBatch).toBe(1);
    expect(plan.accumulate).toBe(16);
    expect(plan.reason).toMatch(/over the 4\.0 GiB wasm heap: 16 micro-batches of 1/);
    const small = convNet(32, 8, 2);
    expect(planMicroBatches(small, 16, "wasm")).toMatchObject({ accumulate: 1, microBatch: 16 });
  });

  it("rounds to the fewest micro-batches that fit", () => {
    // ≈ 12.9 M floats ≈ 231 MB per image: 15 fit in 0.85 × 4 GiB less the weights, so 16 needs 2 micro-batches of 8.
    const mid = convNet(112, 256, 4);
    expect(planMicroBatches(mid, 16, "wasm")).toMatchObject({ accumulate: 2, microBatch: 8 });
  });
});
