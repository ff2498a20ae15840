import * as tfl from "@tensorflow/tfjs-layers";
import type { Pooling } from "@ft/core";

/** A symbolic tensor of the functional API. */
export type Tensor = tfl.SymbolicTensor;

/** Applies a layer to one or several symbolic tensors and returns its single output. */
export function apply(layer: tfl.layers.Layer, input: Tensor | Tensor[]): Tensor {
  return layer.apply(input) as Tensor;
}

/**
 * Reproduces the automatic layer names of Keras (`convolution2d_7`, `batch_normalization_12`): one
 * counter per prefix, counted in creation order from 1, as in a fresh Keras session. Files saved
 * from auto-named models carry these names, so the builder must create layers in the original order.
 */
export class AutoNames {
  private readonly counters = new Map<string, number>();

  /** The next name for `prefix`, e.g. `next("convolution2d")` → `convolution2d_1`, then `_2`, … */
  next(prefix: string): string {
    const k = (this.counters.get(prefix) ?? 0) + 1;
    this.counters.set(prefix, k);
    return `${prefix}_${k}`;
  }
}

/** Global average or max pooling of a headless model's feature map (`pooling` of the build options). */
export function globalPooling(x: Tensor, pooling: Pooling, names = { avg: "avg_pool", max: "max_pool" }): Tensor {
  if (pooling === "avg") return apply(tfl.layers.globalAveragePooling2d({ name: names.avg }), x);
  if (pooling === "max") return apply(tfl.layers.globalMaxPooling2d({ name: names.max }), x);
  return x;
}

/**
 * The smallest input side for which `chain` (a function from an input side to the sides that must stay
 * at least as large as the paired minimum) is satisfied; used to derive `minSize` from the stride arithmetic.
 */
export function smallestInputSide(check: (side: number) => boolean, upTo = 1024): number {
  for (let side = 1; side <= upTo; side++) if (check(side)) return side;
  throw new Error(`no input side up to ${upTo} satisfies the check`);
}

/** Output side of a `valid` convolution or pooling window. */
export function validOut(side: number, kernel: number, stride: number): number {
  return Math.floor((side - kernel) / stride) + 1;
}
