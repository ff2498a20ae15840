import * as tf from "@tensorflow/tfjs-core";

/** What the kernels with per-channel parameters (training BatchNorm, Caffe's Scale) share. */

/** Throws unless every parameter is a vector as long as the last axis of `x` (`op` names the caller). */
export function checkPerChannel(op: string, x: tf.Tensor, parameters: Readonly<Record<string, tf.Tensor>>): void {
  const channels = x.shape[x.rank - 1];
  for (const [name, t] of Object.entries(parameters)) {
    if (t.rank !== 1 || t.shape[0] !== channels) {
      throw new Error(`${op}: ${name} has shape [${t.shape}], expected [${channels}] (the last axis of x, shape [${x.shape}])`);
    }
  }
}

/**
 * The input-gradient thunks of a kernel whose backward pass computes the gradients of `x` and of its
 * per-channel parameters together (one call of a `…Grad` kernel that returns `[dx, ...parameterGradients]`).
 *
 * The engine calls each thunk in its own tidy, and skips inputs off the gradient path (a frozen
 * layer's parameters), so the parameter gradients are carried between thunks as plain arrays: a tensor
 * kept for a thunk that never runs would leak.
 */
export function onePassGradient<P extends string>(
  backward: () => tf.Tensor[],
  parameters: Readonly<Record<P, readonly number[]>>,
): Record<"x" | P, () => tf.Tensor> {
  const names = Object.keys(parameters) as P[];
  let carried: Float32Array[] | undefined;
  const dx = (): tf.Tensor => {
    const [x, ...rest] = backward();
    carried = rest.map((t) => (t.dataSync() as Float32Array).slice());
    return x!;
  };
  const thunks = { x: dx } as Record<"x" | P, () => tf.Tensor>;
  names.forEach((name, i) => {
    thunks[name] = () => {
      if (!carried) tf.dispose(dx());
      return tf.tensor(carried![i]!, parameters[name] as number[]);
    };
  });
  return thunks;
}
