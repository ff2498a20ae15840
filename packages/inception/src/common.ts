import * as tfl from "@tensorflow/tfjs-layers";
import { UsageError, type BuildOptions, type InputShape, type Pooling } from "@ft/core";

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

/** Build options with every default filled in and every value checked. */
export interface ResolvedBuildOptions {
  includeTop: boolean;
  classes: number;
  pooling: Pooling;
  inputShape: InputShape;
}

/**
 * Fills in a model's defaults and rejects options the builder cannot honour, naming the model and the
 * option at fault. `minSize` is the smallest height/width whose feature maps stay non-empty (with the
 * top, the fixed-size pools need more: `minSizeWithTop`).
 */
export function resolveBuildOptions(
  model: string,
  defaults: { inputShape: InputShape; classes: number; minSize: number; minSizeWithTop?: number },
  options: BuildOptions,
): ResolvedBuildOptions {
  const includeTop = options.includeTop ?? true;
  const classes = options.classes ?? defaults.classes;
  if (!Number.isInteger(classes) || classes < 1) throw new UsageError(`${model}: classes must be a positive integer (got ${String(classes)})`);
  const pooling = options.pooling ?? null;
  if (pooling !== null && pooling !== "avg" && pooling !== "max") {
    throw new UsageError(`${model}: pooling must be "avg", "max" or null (got ${JSON.stringify(pooling)})`);
  }
  const inputShape = options.inputShape ?? defaults.inputShape;
  const minSize = includeTop ? (defaults.minSizeWithTop ?? defaults.minSize) : defaults.minSize;
  if (
    !Array.isArray(inputShape) ||
    inputShape.length !== 3 ||
    !inputShape.every((d) => Number.isInteger(d) && d > 0) ||
    inputShape[0] < minSize ||
    inputShape[1] < minSize
  ) {
    throw new UsageError(
      `${model}: inputShape must be [height, width, channels] with height and width ≥ ${minSize}${includeTop ? " with the top" : ""} (got ${JSON.stringify(inputShape)})`,
    );
  }
  return { includeTop, classes, pooling, inputShape: [inputShape[0], inputShape[1], inputShape[2]] };
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
