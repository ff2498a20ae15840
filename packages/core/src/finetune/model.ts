import type * as tfl from "@tensorflow/tfjs-layers";
import { UsageError } from "../errors.js";
import type { InputShape, ModelSpec } from "../spec.js";
import { headsForSpec, replaceHead, type FineTunableSpec, type ReplacedHead } from "./head.js";

export interface NewHeadOptions {
  classes: number;
  /** Dropout before the new Dense (default none). */
  dropout?: number;
  /** Seed of the new head's initialisation (default: unseeded). */
  seed?: number;
}

/** Puts the seed's new head(s) on a built model of `spec` (see `headsForSpec`). */
export function withNewHead(base: tfl.LayersModel, spec: FineTunableSpec, options: NewHeadOptions): ReplacedHead {
  return replaceHead(base, headsForSpec(spec), options);
}

/**
 * Builds `spec` with random weights and the new head: the skeleton a checkpoint is loaded into.
 * The model is built with its top so that a feature layer inside the top (a Flatten) exists.
 */
export function buildFineTuneSkeleton(spec: ModelSpec, inputShape: InputShape, options: NewHeadOptions): ReplacedHead {
  let base: tfl.LayersModel;
  try {
    base = spec.build({ includeTop: true, inputShape });
  } catch (e) {
    throw new UsageError(`cannot build ${spec.name} for input ${inputShape.join("×")}: ${(e as Error).message}`);
  }
  return withNewHead(base, spec, options);
}
