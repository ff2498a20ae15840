import type * as tfl from "@tensorflow/tfjs-layers";

/** Number of scalar weights (trainable and not) of a model, as Keras' `count_params`. */
export function countParams(model: tfl.LayersModel): number {
  let total = 0;
  for (const w of model.weights) total += w.shape.reduce<number>((a, b) => a * (b ?? 1), 1);
  return total;
}
