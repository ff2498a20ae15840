import { UsageError, type BuildOptions, type InputShape, type Pooling } from "@ft/core";

/** Build options with every default filled in and every value checked. */
export interface ResolvedBuildOptions {
  includeTop: boolean;
  classes: number;
  pooling: Pooling;
  inputShape: InputShape;
}

/** Smallest height/width the five stride-2 stages accept (Keras applications' `min_size`). */
export const MIN_INPUT_SIZE = 32;

/**
 * Fills in a model's defaults and rejects options the builder cannot honour, naming the model
 * and the option at fault.
 */
export function resolveBuildOptions(model: string, defaults: { inputShape: InputShape; classes: number }, options: BuildOptions): ResolvedBuildOptions {
  const includeTop = options.includeTop ?? true;
  const classes = options.classes ?? defaults.classes;
  if (!Number.isInteger(classes) || classes < 1) {
    throw new UsageError(`${model}: classes must be a positive integer (got ${String(classes)})`);
  }
  const pooling = options.pooling ?? null;
  if (pooling !== null && pooling !== "avg" && pooling !== "max") {
    throw new UsageError(`${model}: pooling must be "avg", "max" or null (got ${JSON.stringify(pooling)})`);
  }
  const inputShape = options.inputShape ?? defaults.inputShape;
  if (
    !Array.isArray(inputShape) ||
    inputShape.length !== 3 ||
    !inputShape.every((d) => Number.isInteger(d) && d > 0) ||
    inputShape[0] < MIN_INPUT_SIZE ||
    inputShape[1] < MIN_INPUT_SIZE
  ) {
    throw new UsageError(
      `${model}: inputShape must be [height, width, channels] with height and width ≥ ${MIN_INPUT_SIZE} (got ${JSON.stringify(inputShape)})`,
    );
  }
  return { includeTop, classes, pooling, inputShape: [inputShape[0], inputShape[1], inputShape[2]] };
}
