import * as tfl from "@tensorflow/tfjs-layers";
import { UsageError, type BuildOptions, type InputShape, type Pooling } from "@ft/core";

/** A symbolic tensor of the functional API. */
export type Tensor = tfl.SymbolicTensor;

/** Applies a layer to one or several symbolic tensors and returns its single output. */
export function apply(layer: tfl.layers.Layer, input: Tensor | Tensor[]): Tensor {
  return layer.apply(input) as Tensor;
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
 * option at fault. `minSize` is the smallest height/width whose feature maps stay non-empty.
 */
export function resolveBuildOptions(model: string, defaults: { inputShape: InputShape; classes: number; minSize: number }, options: BuildOptions): ResolvedBuildOptions {
  const includeTop = options.includeTop ?? true;
  const classes = options.classes ?? defaults.classes;
  if (!Number.isInteger(classes) || classes < 1) throw new UsageError(`${model}: classes must be a positive integer (got ${String(classes)})`);
  const pooling = options.pooling ?? null;
  if (pooling !== null && pooling !== "avg" && pooling !== "max") {
    throw new UsageError(`${model}: pooling must be "avg", "max" or null (got ${JSON.stringify(pooling)})`);
  }
  const inputShape = options.inputShape ?? defaults.inputShape;
  if (
    !Array.isArray(inputShape) ||
    inputShape.length !== 3 ||
    !inputShape.every((d) => Number.isInteger(d) && d > 0) ||
    inputShape[0] < defaults.minSize ||
    inputShape[1] < defaults.minSize
  ) {
    throw new UsageError(`${model}: inputShape must be [height, width, channels] with height and width ≥ ${defaults.minSize} (got ${JSON.stringify(inputShape)})`);
  }
  return { includeTop, classes, pooling, inputShape: [inputShape[0], inputShape[1], inputShape[2]] };
}

/** Output side of a `valid` convolution or pooling window. */
export function validOut(side: number, kernel: number, stride: number): number {
  return Math.floor((side - kernel) / stride) + 1;
}
