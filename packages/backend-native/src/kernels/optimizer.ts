import * as tf from "@tensorflow/tfjs-core";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { KERAS_ADAM_UPDATE, KERAS_SGD_UPDATE, type KerasAdamUpdateAttrs, type KerasSgdUpdateAttrs } from "@ft/core";
import { allocateOutput, f32, type KernelContext } from "./util.js";

/** @ft/core's optimiser updates (Keras-1 SGD and Adam), one addon pass per parameter. */
export function optimizerKernels(ctx: KernelContext): tf.KernelConfig[] {
  const floats = (backend: MathBackendCPU, inputs: tf.NamedTensorInfoMap, name: string, length: number): Float32Array => {
    const t = inputs[name]!;
    const values = f32(backend, t);
    if (!values || values.length !== length) throw new Error(`ft-native optimizer update: ${name} must be float32 with ${length} elements, got ${t.dtype} [${t.shape}]`);
    return values;
  };
  const sgd: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const cpu = backend as MathBackendCPU;
    const { param } = inputs as Record<string, tf.TensorInfo>;
    const n = tf.util.sizeFromShape(param!.shape);
    const { lr, momentum, nesterov } = attrs as unknown as KerasSgdUpdateAttrs;
    const next = allocateOutput(cpu, n), velocity = allocateOutput(cpu, n);
    ctx.addon.sgdUpdate(floats(cpu, inputs, "param", n), floats(cpu, inputs, "velocity", n), floats(cpu, inputs, "grad", n), lr, momentum, nesterov,
      next, velocity);
    return [cpu.makeTensorInfo(param!.shape, "float32", next), cpu.makeTensorInfo(param!.shape, "float32", velocity)];
  };
  const adam: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const cpu = backend as MathBackendCPU;
    const { param } = inputs as Record<string, tf.TensorInfo>;
    const n = tf.util.sizeFromShape(param!.shape);
    const { lrCorrected, beta1, beta2, epsilon } = attrs as unknown as KerasAdamUpdateAttrs;
    const next = allocateOutput(cpu, n), m = allocateOutput(cpu, n), v = allocateOutput(cpu, n);
    ctx.addon.adamUpdate(floats(cpu, inputs, "param", n), floats(cpu, inputs, "m", n), floats(cpu, inputs, "v", n), floats(cpu, inputs, "grad", n),
      lrCorrected, beta1, 1 - beta1, beta2, 1 - beta2, epsilon, next, m, v);
    return [next, m, v].map((values) => cpu.makeTensorInfo(param!.shape, "float32", values));
  };
  return [
    { kernelName: KERAS_SGD_UPDATE, backendName: "", kernelFunc: sgd },
    { kernelName: KERAS_ADAM_UPDATE, backendName: "", kernelFunc: adam },
  ];
}
