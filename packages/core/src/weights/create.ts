/**
 * `createModel`: builds a registered architecture and fills it with the requested weights
 * (a published record, downloaded and verified on demand, or a local file).
 */
import { existsSync } from "node:fs";
import type * as tfl from "@tensorflow/tfjs-layers";
import { FtError, UsageError } from "../errors.js";
import { getModel } from "../registry/registry.js";
import type { BuildOptions, DimOrdering, ModelSpec, WeightRecord } from "../spec.js";
import { hashSeed, mulberry32 } from "../data/random.js";
import { ensureWeightFile } from "../hub/cache.js";
import { loadWeights, type LoadReport } from "./load.js";
import { recordIds, selectWeightRecord } from "./records.js";

export interface CreateModelOptions extends BuildOptions {
  /** Kernel ordering of the weight file; detected when omitted (a record's own ordering breaks ties). */
  ordering?: DimOrdering;
  /** Load what matches and list the rest instead of refusing a partial match. */
  allowPartial?: boolean;
  /** Accept a notop file (or record) for a model built with its top: see `LoadWeightsOptions.topOptional`. */
  topOptional?: boolean;
  /**
   * Seed of the random initialisation with weights `"none"`: the same seed builds the same weights.
   * Without it they differ on every call.
   */
  seed?: number;
  /** Download progress, when the weights must be fetched. */
  onProgress?: (p: { received: number; total?: number; rate: number; etaSeconds?: number }) => void;
}

export interface CreatedModel {
  model: tfl.LayersModel;
  spec: ModelSpec;
  /** The weight record used, when the weights came from one. */
  record?: WeightRecord;
  /** Path of the weight file loaded, when any. */
  weightsPath?: string;
  /** What was loaded, skipped and converted; absent for random weights. */
  report?: LoadReport;
}

/**
 * Builds the model `name` and loads `options.weights`: `"imagenet"` (the default, as in Keras) picks
 * the model's first record with the same `includeTop` (or a top record whose classifier is skipped);
 * a record id picks that record; a path loads that file; `"none"` or `null` keeps random weights.
 */
export async function createModel(name: string, options: CreateModelOptions = {}): Promise<tfl.LayersModel> {
  return (await createModelWithReport(name, options)).model;
}

/** `createModel`, also returning the spec, the record, the file and the load report. */
export async function createModelWithReport(name: string, options: CreateModelOptions = {}): Promise<CreatedModel> {
  const spec = getModel(name);
  const includeTop = options.includeTop ?? true;
  const weights = options.weights === undefined ? "imagenet" : options.weights;

  if (weights === null || weights === "none") {
    const build = () => spec.build(options);
    return { model: options.seed === undefined ? build() : withSeededMathRandom(options.seed, build), spec };
  }

  const record = selectWeightRecord(spec, weights, includeTop);
  let path: string;
  if (record) {
    checkRecordFits(spec, record, options);
    path = await ensureWeightFile(record, { onProgress: options.onProgress });
  } else if (existsSync(weights)) {
    path = weights;
  } else if (/[\\/]|\.(h5|hdf5|keras)$/i.test(weights)) {
    throw new FtError(`weight file not found: ${weights}`);
  } else {
    throw new UsageError(
      `weights "${weights}" is neither a weight record of "${spec.name}" (${recordIds(spec)}), "imagenet", "none", nor an existing file`,
    );
  }

  const model = spec.build(options);
  try {
    const report = await loadWeights(model, path, {
      ordering: options.ordering,
      defaultOrdering: record?.ordering,
      includeTop,
      topLayers: spec.topLayers,
      allowPartial: options.allowPartial,
      topOptional: options.topOptional,
    });
    return { model, spec, record, weightsPath: path, report };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/**
 * Runs `fn` with `Math.random` drawn from `seed`. tfjs initialisers built without a seed (those of every
 * architecture) draw theirs from `Math.random`, and building is synchronous, so nothing else sees the swap.
 */
function withSeededMathRandom<T>(seed: number, fn: () => T): T {
  const original = Math.random;
  Math.random = mulberry32(hashSeed(seed, WEIGHT_INIT_STREAM));
  try {
    return fn();
  } finally {
    Math.random = original;
  }
}

/** Tag of the weight-initialisation stream, so that it is unrelated to the data streams of the same seed. */
const WEIGHT_INIT_STREAM = 0x77696e69;

/** Refuses, before any download, a record that cannot fill the model as built. */
function checkRecordFits(spec: ModelSpec, record: WeightRecord, options: CreateModelOptions): void {
  const includeTop = options.includeTop ?? true;
  if (includeTop && !record.includeTop && !options.topOptional) {
    throw new UsageError(`weights "${record.id}" have no classifier (notop file): build "${spec.name}" with includeTop false, or pick a record with the top`);
  }
  if (includeTop && options.classes !== undefined && record.classes !== undefined && options.classes !== record.classes) {
    throw new UsageError(
      `weights "${record.id}" have a ${record.classes}-class top but ${options.classes} classes were asked for: build with includeTop false and add a new head, or leave classes at ${record.classes}`,
    );
  }
}
