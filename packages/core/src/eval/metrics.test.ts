import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { beforeAll, describe, expect, it } from "vitest";
import type { Batch, BatchSource } from "../data/dataset.js";
import { useCpu } from "../train/test-utils/fixtures.js";
import { evaluate } from "./evaluate.js";
import { MetricsAccumulator } from "./metrics.js";

beforeAll(useCpu);

// 6 classes, 4 examples; rows sum to 1.
const classes = ["a", "b", "c", "d", "e", "f"];
const probs = [
  [0.5, 0.1, 0.1, 0.1, 0.1, 0.1], // true a: top-1 hit, p = 0.5
  [0.05, 0.05, 0.1, 0.2, 0.3, 0.3], // true a: argmax e (first of the tie), rank of a = 5 (a ties b, a first) → in top 5... see below
  [0.3, 0.4, 0.1, 0.1, 0.05, 0.05], // true c: predicted b, rank 2 → top-5 hit
  [0.0, 0.0, 0.0, 0.0, 0.0, 1.0], // true f: hit, p = 1
];
const labels = [0, 0, 2, 5];

describe("MetricsAccumulator", () => {
  it("computes top-1, top-5, log-loss, per-class accuracy and the confusion matrix as by hand", () => {
    const acc = new MetricsAccumulator(classes);
    acc.add(probs.flat(), labels);
    const m = acc.result();
    expect(m.examples).toBe(4);
    // top-1: rows 0 and 3 → 2/4
    expect(m.top1).toBe(0.5);
    // row 1: classes above a (0.05): c 0.1, d 0.2, e 0.3, f 0.3 = 4, tie with b ranks after a → rank 4 < 5 → hit.
    // row 2: rank 2 → hit. So top-5 = 4/4.
    expect(m.top5).toBe(1);
    // log-loss = −(ln 0.5 + ln 0.05 + ln 0.1 + ln(1 − 1e-15)) / 4 after clipping; row 3 renormalised:
    // clipped row 3 sums to 5e-15 + (1 − 1e-15) → p = (1 − 1e-15)/(1 + 4e-15) ≈ 1 − 5e-15, ln ≈ −5e-15 (negligible).
    const expected = -(Math.log(0.5) + Math.log(0.05) + Math.log(0.1)) / 4; // = (0.693147 + 2.995732 + 2.302585) / 4 = 1.497866
    expect(m.logLoss).toBeCloseTo(expected, 10);
    expect(m.logLoss).toBeCloseTo(1.497866, 5);
    expect(m.confusion[0]).toEqual([1, 0, 0, 0, 1, 0]);
    expect(m.confusion[2]).toEqual([0, 1, 0, 0, 0, 0]);
    expect(m.confusion[5]).toEqual([0, 0, 0, 0, 0, 1]);
    expect(m.perClassAccuracy[0]).toBe(0.5);
    expect(m.perClassAccuracy[2]).toBe(0);
    expect(m.perClassAccuracy[5]).toBe(1);
    expect(Number.isNaN(m.perClassAccuracy[1]!)).toBe(true);
  });

  it("uses top-k = number of classes when there are fewer than 5", () => {
    const acc = new MetricsAccumulator(["x", "y"]);
    acc.add([0.9, 0.1], [1]);
    expect(acc.result()).toMatchObject({ topK: 2, top1: 0, top5: 1 });
  });
});

describe("evaluate", () => {
  it("runs a model over a BatchSource and averages several heads' softmaxes", async () => {
    // A model whose two outputs are fixed softmaxes of the input: mean = the input itself.
    const input = tfl.input({ shape: [6] });
    const a = tfl.layers.activation({ activation: "linear" }).apply(input) as tfl.SymbolicTensor;
    const b = tfl.layers.activation({ activation: "linear" }).apply(input) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: [a, b] });
    const source: BatchSource = {
      size: 4,
      batchSize: 3,
      classes,
      async *batches(): AsyncIterable<Batch> {
        for (const [from, to] of [[0, 3], [3, 4]] as const) {
          yield {
            images: tf.tensor2d(probs.slice(from, to)) as unknown as tf.Tensor4D,
            labels: tf.oneHot(tf.tensor1d(labels.slice(from, to), "int32"), 6) as tf.Tensor2D,
            size: to - from,
          };
        }
      },
    };
    const m = await evaluate(model, source);
    expect(m.top1).toBe(0.5);
    expect(m.logLoss).toBeCloseTo(-(Math.log(0.5) + Math.log(0.05) + Math.log(0.1)) / 4, 6);
  });
});
