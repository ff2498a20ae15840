import { UsageError } from "../errors.js";
import type { BuildOptions, InputShape, Pooling } from "../spec.js";

/** Build options with every default filled in and every value checked. */
export interface ResolvedBuildOptions {
  includeTop: boolean;
  classes: number;
  pooling: Pooling;
  inputShape: InputShape;
}

export interface BuildDefaults {
  inputShape: InputShape;
  classes: number;
  /** Smallest height/width whose feature maps stay non-empty. */
  minSize: number;
  /** Smallest height/width with the top, when the classifier needs more than the body. */
  minSizeWithTop?: number;
}

/**
 * Fills in a model's defaults and rejects options its builder cannot honour, naming the model and the
 * option at fault. Every family's builder starts with this, so all models validate options alike.
 */
export function resolveBuildOptions(model: string, defaults: BuildDefaults, options: BuildOptions): ResolvedBuildOptions {
  const includeTop = options.includeTop ?? true;
  const classes = options.classes ?? defaults.classes;
  if (!Number.isInteger(classes) || classes < 1) throw new UsageError(`${model}: classes must be a positive integer (got ${String(classes)})`);
  const pooling = options.pooling ?? null;
  if (pooling !== null && pooling !== "avg" && pooling !== "max") {
    throw new UsageError(`${model}: pooling must be "avg", "max" or null (got ${JSON.stringify(pooling)})`);
  }
  const inputShape = options.inputShape ?? defaults.inputShape;
  const topNeedsMore = includeTop && defaults.minSizeWithTop !== undefined;
  const minSize = topNeedsMore ? defaults.minSizeWithTop! : defaults.minSize;
  if (
    !Array.isArray(inputShape) ||
    inputShape.length !== 3 ||
    !inputShape.every((d) => Number.isInteger(d) && d > 0) ||
    inputShape[0] < minSize ||
    inputShape[1] < minSize
  ) {
    throw new UsageError(
      `${model}: inputShape must be [height, width, channels] with height and width ≥ ${minSize}${topNeedsMore ? " with the top" : ""} (got ${JSON.stringify(inputShape)})`,
    );
  }
  return { includeTop, classes, pooling, inputShape: [inputShape[0], inputShape[1], inputShape[2]] };
}
