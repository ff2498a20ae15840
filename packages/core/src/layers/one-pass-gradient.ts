import * as tf from "@tensorflow/tfjs-core";

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
