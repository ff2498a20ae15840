import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { KerasAdam, KerasSgd, SEED_SGD, resolveOptimizerConfig, type ParamUpdate } from "./optimizers.js";
import { useCpu } from "./test-utils/fixtures.js";

beforeAll(useCpu);

function run(opt: KerasSgd | KerasAdam, start: number[], grads: number[][], lr: number): number[][] {
  const p = tf.variable(tf.tensor1d(start));
  const out: number[][] = [];
  for (const g of grads) {
    const grad = tf.tensor1d(g);
    const u: ParamUpdate = { key: "p", variable: p, grad, lrScale: 1 };
    opt.apply([u], lr);
    grad.dispose();
    out.push(Array.from(p.dataSync()));
  }
  p.dispose();
  return out;
}

describe("Keras-1 SGD", () => {
  it("matches the hand-computed Nesterov update with per-batch decay", () => {
    // lr 0.1, momentum 0.9, decay 0.1, p0 = [1, -2].
    // Step 1, iterations 0: lr_t = 0.1 / (1 + 0.1·0) = 0.1; g = [0.5, -1]
    //   v = 0.9·0 − 0.1·0.5 = −0.05;  p = 1 + 0.9·(−0.05) − 0.05 = 0.905
    //   v = 0.9·0 − 0.1·(−1) = 0.1;   p = −2 + 0.9·0.1 + 0.1 = −1.81
    // Step 2, iterations 1: lr_t = 0.1 / 1.1 = 0.090909…; g = [0.2, 0.3]
    //   v = 0.9·(−0.05) − 0.090909·0.2 = −0.0631818;  p = 0.905 + 0.9·(−0.0631818) − 0.0181818 = 0.8299545
    //   v = 0.9·0.1 − 0.090909·0.3 = 0.0627273;       p = −1.81 + 0.9·0.0627273 − 0.0272727 = −1.7808182
    const opt = new KerasSgd({ kind: "sgd", lr: 0.1, momentum: 0.9, nesterov: true, decay: 0.1 });
    const [s1, s2] = run(opt, [1, -2], [[0.5, -1], [0.2, 0.3]], 0.1);
    expect(s1![0]).toBeCloseTo(0.905, 6);
    expect(s1![1]).toBeCloseTo(-1.81, 6);
    expect(s2![0]).toBeCloseTo(0.8299545, 6);
    expect(s2![1]).toBeCloseTo(-1.7808182, 6);
    expect(opt.iterations).toBe(2);
    opt.dispose();
  });

  it("matches a scalar re-statement of the Keras 1.2.2 rule over 6 steps, with and without Nesterov", () => {
    const grads = [[0.3, -0.7, 1.1], [-0.2, 0.4, 0.9], [0.05, 0.6, -1.3], [1.5, -0.1, 0.2], [-0.9, 0.8, 0.0], [0.4, 0.4, -0.4]];
    for (const nesterov of [true, false]) {
      const lr = 0.05;
      const momentum = 0.8;
      const decay = 0.03;
      const opt = new KerasSgd({ kind: "sgd", lr, momentum, nesterov, decay });
      const got = run(opt, [0.5, -1.5, 2], grads, lr);
      // keras/optimizers.py (1.2.2) SGD.get_updates, written out per scalar.
      const p = [0.5, -1.5, 2];
      const v = [0, 0, 0];
      grads.forEach((g, it) => {
        const lrT = lr * (1 / (1 + decay * it));
        for (let i = 0; i < 3; i++) {
          v[i] = momentum * v[i]! - lrT * g[i]!;
          p[i] = nesterov ? p[i]! + momentum * v[i]! - lrT * g[i]! : p[i]! + v[i]!;
        }
        for (let i = 0; i < 3; i++) expect(got[it]![i]).toBeCloseTo(p[i]!, 5);
      });
      opt.dispose();
    }
  });

  it("has the seed's defaults and decays per update", () => {
    expect(resolveOptimizerConfig({})).toEqual(SEED_SGD);
    expect(SEED_SGD).toEqual({ kind: "sgd", lr: 1e-3, momentum: 0.9, nesterov: true, decay: 1e-6 });
    const opt = new KerasSgd(SEED_SGD);
    opt.iterations = 1000;
    expect(opt.decayedLr(1e-3)).toBeCloseTo(1e-3 / 1.001, 12);
    expect(() => resolveOptimizerConfig({ kind: "rmsprop" } as never)).toThrow(/unknown optimizer "rmsprop"/);
    expect(() => resolveOptimizerConfig({ kind: "sgd", lr: -1 })).toThrow(/lr must be a non-negative/);
  });

  it("scales the step by lrScale (0 freezes a parameter in effect)", () => {
    const opt = new KerasSgd({ kind: "sgd", lr: 0.1, momentum: 0, nesterov: false, decay: 0 });
    const a = tf.variable(tf.tensor1d([1]));
    const b = tf.variable(tf.tensor1d([1]));
    const g = tf.tensor1d([2]);
    opt.apply([{ key: "a", variable: a, grad: g, lrScale: 0.5 }, { key: "b", variable: b, grad: g, lrScale: 0 }], 0.1);
    expect(a.dataSync()[0]).toBeCloseTo(1 - 0.1 * 0.5 * 2, 6);
    expect(b.dataSync()[0]).toBe(1);
    tf.dispose([a, b, g]);
    opt.dispose();
  });
});

describe("Keras-1 Adam", () => {
  it("matches the scalar rule (bias correction folded into lr_t)", () => {
    const cfg = resolveOptimizerConfig({ kind: "adam", lr: 0.01 });
    const opt = new KerasAdam(cfg as never);
    const grads = [[0.3, -2], [0.1, 1], [-0.4, 0.5]];
    const got = run(opt, [1, 1], grads, 0.01);
    const p = [1, 1];
    const m = [0, 0];
    const v = [0, 0];
    grads.forEach((g, it) => {
      const t = it + 1;
      const lrT = (0.01 * Math.sqrt(1 - 0.999 ** t)) / (1 - 0.9 ** t);
      for (let i = 0; i < 2; i++) {
        m[i] = 0.9 * m[i]! + 0.1 * g[i]!;
        v[i] = 0.999 * v[i]! + 0.001 * g[i]! ** 2;
        p[i] = p[i]! - (lrT * m[i]!) / (Math.sqrt(v[i]!) + 1e-8);
        expect(got[it]![i]).toBeCloseTo(p[i]!, 5);
      }
    });
    opt.dispose();
  });
});

describe("optimizer state", () => {
  it("restores so that the next update equals an uninterrupted one", () => {
    const cfg = { kind: "sgd" as const, lr: 0.1, momentum: 0.9, nesterov: true, decay: 0.01 };
    const a = new KerasSgd(cfg);
    const full = run(a, [1, 2], [[1, 1], [0.5, -0.5], [0.2, 0.1]], 0.1);
    const b = new KerasSgd(cfg);
    const p = tf.variable(tf.tensor1d([1, 2]));
    for (const g of [[1, 1], [0.5, -0.5]]) {
      const grad = tf.tensor1d(g);
      b.apply([{ key: "p", variable: p, grad, lrScale: 1 }], 0.1);
      grad.dispose();
    }
    const c = new KerasSgd(cfg);
    c.setState(b.getState());
    b.dispose();
    const grad = tf.tensor1d([0.2, 0.1]);
    c.apply([{ key: "p", variable: p, grad, lrScale: 1 }], 0.1);
    expect(Array.from(p.dataSync())).toEqual(full[2]);
    expect(c.iterations).toBe(3);
    tf.dispose([grad, p]);
    a.dispose();
    c.dispose();
  });
});
