import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-layers";
import { registerWasmTrainingKernels } from "./index.js";
await tf.setBackend("wasm"); await tf.ready();
registerWasmTrainingKernels();
function run(be: string, name: string, inputs: Record<string, Float32Array>, shapes: Record<string, number[]>, attrs: any) {
  tf.setBackend(be);
  const ins: Record<string, tf.Tensor> = {};
  for (const k in inputs) ins[k] = tf.tensor(inputs[k]!, shapes[k]);
  const out = tf.engine().runKernel(name, ins, attrs) as tf.Tensor;
  const d = out.dataSync().slice(); const sh = out.shape;
  tf.dispose([out, ...Object.values(ins)]);
  return { d, sh };
}
const rnd = (n: number) => Float32Array.from({ length: n }, () => Math.random() * 2 - 1);
function cmp(name: string, inputs: any, shapes: any, attrs: any) {
  const a = run("wasm", name, inputs, shapes, attrs), b = run("cpu", name, inputs, shapes, attrs);
  let maxd = 0, maxr = 0; for (let i = 0; i < b.d.length; i++) { maxd = Math.max(maxd, Math.abs(a.d[i]! - b.d[i]!)); maxr = Math.max(maxr, Math.abs(b.d[i]!)); }
  console.log(name, JSON.stringify(attrs.pad), attrs.strides, a.sh.join("x"), b.sh.join("x"), "rel", (maxd / maxr).toExponential(2));
}
for (const [n, h, w, c, kh, kw, co, s, pad] of [[2, 9, 7, 3, 3, 2, 4, 1, "same"], [2, 9, 7, 3, 3, 2, 4, 2, "same"], [3, 8, 11, 5, 3, 3, 6, 2, "valid"], [2, 6, 5, 4, 1, 1, 3, 1, "valid"], [2, 6, 5, 4, 1, 1, 3, 2, "valid"], [2, 7, 6, 3, 3, 2, 4, 1, [[0, 0], [2, 0], [1, 2], [0, 0]]], [2, 7, 6, 3, 3, 2, 4, 2, [[0, 0], [2, 0], [1, 2], [0, 0]]]] as any[]) {
  const x = rnd(n * h * w * c), f = rnd(kh * kw * c * co);
  tf.setBackend("cpu");
  const y = tf.conv2d(tf.tensor4d(x, [n, h, w, c]), tf.tensor4d(f, [kh, kw, c, co]), s, pad);
  const dy = rnd(y.size); const ysh = y.shape;
  cmp("Conv2DBackpropFilter", { x, dy }, { x: [n, h, w, c], dy: ysh }, { strides: s, pad, dataFormat: "NHWC", filterShape: [kh, kw, c, co] });
  cmp("Conv2DBackpropInput", { dy, filter: f }, { dy: ysh, filter: [kh, kw, c, co] }, { strides: s, pad, dataFormat: "NHWC", inputShape: [n, h, w, c] });
}
