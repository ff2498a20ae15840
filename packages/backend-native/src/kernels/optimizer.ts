import * as tf from "@tensorflow/tfjs-core";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { KERAS_ADAM_UPDATE, KERAS_SGD_UPDATE, type KerasAdamUpdateAttrs, type KerasSgdUpdateAttrs } from "@ft/core";
import { allocateOutput, f32, overwritable, sameData, type KernelContext } from "./util.js";

/**
 * @ft/core's optimiser updates (Keras-1 SGD and Adam), one addon pass per parameter. The new parameter
 * and slots are written over the old ones where no other tensor holds them (from the second update
 * on, in a training loop): VGG-19 otherwise keeps two spare fc6-sized arrays (822 MB) for the next
 * update's outputs. The addon's loops read each element before writing it, so aliasing is exact.
 */
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
    const [values, outputs] = updated(cpu, inputs, ["param", "velocity"], n);
    ctx.addon.sgdUpdate(floats(cpu, inputs, "param", n), floats(cpu, inputs, "velocity", n), floats(cpu, inputs, "grad", n), lr, momentum, nesterov,
      values[0]!, values[1]!);
    return outputs();
  };
  const adam: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const cpu = backend as MathBackendCPU;
    const { param } = inputs as Record<string, tf.TensorInfo>;
    const n = tf.util.sizeFromShape(param!.shape);
    const { lrCorrected, beta1, beta2, epsilon } = attrs as unknown as KerasAdamUpdateAttrs;
    const [values, outputs] = updated(cpu, inputs, ["param", "m", "v"], n);
    ctx.addon.adamUpdate(floats(cpu, inputs, "param", n), floats(cpu, inputs, "m", n), floats(cpu, inputs, "v", n), floats(cpu, inputs, "grad", n),
      lrCorrected, beta1, 1 - beta1, beta2, 1 - beta2, epsilon, values[0]!, values[1]!, values[2]!);
    return outputs();
  };
  return [
    { kernelName: KERAS_SGD_UPDATE, backendName: "", kernelFunc: sgd },
    { kernelName: KERAS_ADAM_UPDATE, backendName: "", kernelFunc: adam },
  ];
}

/**
 * The arrays an update writes its new values of `names` into (each input's own where it may be
 * overwritten, a pooled array otherwise), and the outputs that then hold them, to call after the write.
 */
function updated(cpu: MathBackendCPU, inputs: tf.NamedTensorInfoMap, names: readonly string[], n: number): [Float32Array[], () => tf.TensorInfo[]] {
  const targets = names.map((name) => {
    const input = inputs[name]!;
    const own = overwritable(cpu, input);
    return { input, own, values: own ?? allocateOutput(cpu, n) };
  });
  const outputs = () => targets.map(({ input, own, values }) => (own ? sameData(cpu, input) : cpu.makeTensorInfo(input.shape, "float32", values)));
  return [targets.map((t) => t.values), outputs];
}
