import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { beforeAll, describe, expect, it } from "vitest";
import { registerWasmTrainingKernels } from "./index.js";
import { maxAbs, relativeError } from "@ft/test-support/tolerance";

let seed = 987654;
function random(n: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed / 2 ** 31 - 1) * scale;
  });
}

/** conv → BN → relu → maxpool → dense, the net of the finite-difference check. */
function smallConvNet(): tfl.LayersModel {
  const model = tfl.sequential();
  model.add(tfl.layers.conv2d({ inputShape: [10, 9, 2], filters: 4, kernelSize: [3, 2], padding: "same", kernelInitializer: "glorotNormal", biasInitializer: "randomNormal" }));
  model.add(tfl.layers.batchNormalization({ axis: -1, gammaInitializer: "randomNormal", betaInitializer: "randomNormal" }));
  model.add(tfl.layers.activation({ activation: "relu" }));
  model.add(tfl.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
  model.add(tfl.layers.flatten());
  model.add(tfl.layers.dense({ units: 3 }));
  return model;
}

function crossEntropy(model: tfl.LayersModel, x: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  const logits = model.apply(x, { training: true }) as tf.Tensor;
  return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
}

describe("training on wasm with the added kernels", () => {
  beforeAll(async () => {
    await tf.setBackend("wasm");
    await tf.ready();
    registerWasmTrainingKernels();
  });

  it("gives gradients of conv → BN → relu → maxpool → dense that agree with finite differences and with the cpu backend", () => {
    tf.setBackend("wasm");
    const model = smallConvNet();
    // Deterministic weights (not tfjs' unseeded initialisers), so whether a relu or max-pool kink
    // lands inside the finite-difference step does not change between runs; BN's beta ≈ 1 keeps most
    // relu inputs away from their kink, which would otherwise dominate the float32 differences.
    model.setWeights(
      model.getWeights().map((w, i) => {
        const name = model.weights[i]!.name;
        const offset = /beta|gamma|variance/.test(name) ? 1 : 0;
        return tf.tensor(random(w.size, 0.5).map((v) => v + offset), w.shape);
      }),
    );
    const x = tf.tensor4d(random(3 * 10 * 9 * 2), [3, 10, 9, 2]);
    const labels = tf.oneHot([0, 2, 1], 3);
    const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const loss = () => crossEntropy(model, x, labels);

    const wasmGrads = tf.variableGrads(loss, variables);
    const gradients = variables.map((v) => wasmGrads.grads[v.name]!.dataSync().slice());
    expect(wasmGrads.value.dataSync()[0]).toBeGreaterThan(0);

    // Directional derivatives by central differences (float32, so a few directions rather than per-entry).
    const eps = 3e-4;
    const original = variables.map((v) => v.dataSync().slice() as Float32Array);
    for (let trial = 0; trial < 3; trial++) {
      const directions = variables.map((v) => random(v.size));
      const shifted = (sign: number) => {
        variables.forEach((v, i) => v.assign(tf.tensor(original[i]!.map((w, j) => w + sign * eps * directions[i]![j]!), v.shape)));
        return tf.tidy(() => loss().dataSync()[0]!);
      };
      const numeric = (shifted(1) - shifted(-1)) / (2 * eps);
      let analytic = 0;
      gradients.forEach((g, i) => g.forEach((gj, j) => (analytic += gj * directions[i]![j]!)));
      expect(Math.abs(numeric - analytic), `trial ${trial}: numeric ${numeric} analytic ${analytic}`).toBeLessThan(2e-3 * Math.max(1, Math.abs(analytic)));
    }
    variables.forEach((v, i) => v.assign(tf.tensor(original[i]!, v.shape)));

    tf.setBackend("cpu");
    const cpuGrads = tf.variableGrads(loss, variables);
    const cpuGradients = variables.map((v) => cpuGrads.grads[v.name]!.dataSync());
    const scale = Math.max(...cpuGradients.map(maxAbs));
    variables.forEach((v, i) => expect(relativeError(gradients[i]!, cpuGradients[i]!, Math.max(maxAbs(cpuGradients[i]!), 1e-2 * scale)), v.name).toBeLessThan(1e-4));
    tf.setBackend("wasm");
  });

  it("trains one SGD step of a net with every layer type of the registered CNNs, equal to the cpu backend's step", async () => {
    // Zero padding (asymmetric), strided non-square conv, BN, relu, 1×1 / 3×3 branches, a same-padded
    // max pool, concat, residual add, cropping (GoogLeNet's PoolHelper), average pools, flatten and
    // global pooling, dense + softmax cross-entropy.
    const build = () => {
      const inp = tfl.input({ shape: [13, 11, 3] });
      let x = tfl.layers.zeroPadding2d({ padding: [[1, 2], [3, 0]] }).apply(inp) as tfl.SymbolicTensor;
      x = tfl.layers.conv2d({ filters: 6, kernelSize: [3, 5], strides: 2, padding: "valid" }).apply(x) as tfl.SymbolicTensor;
      x = tfl.layers.batchNormalization({ axis: -1 }).apply(x) as tfl.SymbolicTensor;
      x = tfl.layers.activation({ activation: "relu" }).apply(x) as tfl.SymbolicTensor;
      const a = tfl.layers.conv2d({ filters: 4, kernelSize: 1, useBias: false }).apply(x) as tfl.SymbolicTensor;
      const b = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: "same", activation: "relu" }).apply(x) as tfl.SymbolicTensor;
      const p = tfl.layers.maxPooling2d({ poolSize: 3, strides: 1, padding: "same" }).apply(x) as tfl.SymbolicTensor;
      let y = tfl.layers.concatenate().apply([a, b, p]) as tfl.SymbolicTensor;
      const y2 = tfl.layers.conv2d({ filters: 14, kernelSize: 1, strides: 1 }).apply(y) as tfl.SymbolicTensor;
      y = tfl.layers.add().apply([y, y2]) as tfl.SymbolicTensor;
      y = tfl.layers.cropping2D({ cropping: [[1, 0], [1, 0]] }).apply(y) as tfl.SymbolicTensor;
      y = tfl.layers.averagePooling2d({ poolSize: 2, strides: 1, padding: "valid" }).apply(y) as tfl.SymbolicTensor;
      y = tfl.layers.conv2d({ filters: 5, kernelSize: 1, strides: 2 }).apply(y) as tfl.SymbolicTensor;
      const g = tfl.layers.globalAveragePooling2d({}).apply(y) as tfl.SymbolicTensor;
      const f = tfl.layers.flatten().apply(y) as tfl.SymbolicTensor;
      const out = tfl.layers.dense({ units: 4, activation: "softmax" }).apply(tfl.layers.concatenate().apply([f, g])) as tfl.SymbolicTensor;
      const model = tfl.model({ inputs: inp, outputs: out });
      model.compile({ optimizer: tf.train.sgd(0.1), loss: "categoricalCrossentropy" });
      return model;
    };
    tf.setBackend("wasm");
    const xs = tf.tensor4d(random(2 * 13 * 11 * 3), [2, 13, 11, 3]);
    const ys = tf.oneHot([1, 3], 4);
    const onWasm = build();
    const initial = onWasm.getWeights().map((w) => w.dataSync().slice());
    await onWasm.fit(xs, ys, { epochs: 1, batchSize: 2, verbose: 0, shuffle: false });
    const afterWasm = onWasm.getWeights().map((w) => w.dataSync().slice());

    tf.setBackend("cpu");
    const onCpu = build();
    onCpu.setWeights(onCpu.getWeights().map((w, i) => tf.tensor(initial[i]!, w.shape)));
    await onCpu.fit(xs, ys, { epochs: 1, batchSize: 2, verbose: 0, shuffle: false });
    const afterCpu = onCpu.getWeights().map((w) => w.dataSync().slice());
    tf.setBackend("wasm");

    let changed = 0;
    const scale = Math.max(...afterCpu.map((w, i) => maxAbs(w.map((v, j) => v - initial[i]![j]!))));
    afterWasm.forEach((w, i) => {
      const stepWasm = w.map((v, j) => v - initial[i]![j]!);
      const stepCpu = afterCpu[i]!.map((v, j) => v - initial[i]![j]!);
      if (stepCpu.some((v) => v !== 0)) {
        changed++;
        expect(relativeError(stepWasm, stepCpu, Math.max(maxAbs(stepCpu), 1e-3 * scale)), onWasm.weights[i]!.name).toBeLessThan(1e-3);
      }
    });
    expect(changed).toBeGreaterThan(10);
  });

  it("differentiates LRN, depthwise and fused convolutions on wasm like the cpu backend", () => {
    const x = random(2 * 7 * 6 * 4);
    const w = random(3 * 2 * 4 * 6);
    const dw = random(3 * 3 * 4 * 2);
    const grads = (backend: string) => {
      tf.setBackend(backend);
      return tf.tidy(() => {
        const xt = tf.tensor4d(x, [2, 7, 6, 4]);
        const f = (wt: tf.Tensor, dwt: tf.Tensor, xv: tf.Tensor) => {
          const fused = tf.fused.conv2d({ x: xv as tf.Tensor4D, filter: wt as tf.Tensor4D, strides: [2, 1], pad: "same", bias: tf.ones([6]), activation: "relu" });
          const lrn = tf.localResponseNormalization(fused, 2, 1, 2e-2, 0.75);
          const depthwise = tf.depthwiseConv2d(xv as tf.Tensor4D, dwt as tf.Tensor4D, 1, "same");
          return tf.add(tf.sum(tf.square(lrn)), tf.sum(tf.mul(depthwise, depthwise)));
        };
        const g = tf.grads(f)([tf.tensor4d(w, [3, 2, 4, 6]), tf.tensor4d(dw, [3, 3, 4, 2]), xt]);
        return g.map((t) => t.dataSync().slice());
      });
    };
    const onWasm = grads("wasm");
    const onCpu = grads("cpu");
    tf.setBackend("wasm");
    onWasm.forEach((g, i) => expect(relativeError(g, onCpu[i]!), `gradient ${i}`).toBeLessThan(1e-4));
  });
});
