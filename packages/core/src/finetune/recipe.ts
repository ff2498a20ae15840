import { UsageError } from "../errors.js";
import { PREPROCESSING_DESCRIPTIONS } from "../preprocessing.js";
import { getModel } from "../registry/registry.js";
import type { InputShape, PreprocessingMode } from "../spec.js";
import { dataLocation, dataSourceFor, type DataConfig } from "../data/sources.js";
import { resolveOptimizerConfig, SEED_SGD, type OptimizerConfig } from "../train/optimizers.js";
import { resolveSchedule, type ScheduleConfig } from "../train/schedules.js";
import { selectWeightRecord } from "../weights/records.js";
import type { BatchNormPolicy } from "./batchnorm.js";
import type { FreezeSpec } from "./freeze.js";
import { headsForSpec } from "./head.js";
import type { LrGroups } from "./lr-groups.js";

/**
 * The seed's fine-tuning recipe (cnn_finetune), every constant in one place: its ImageNet weights, a new
 * softmax head, SGD lr 1e-3 momentum 0.9 Nesterov with Keras-1 per-batch decay 1e-6, batch 16 (a model's
 * `recipe.batchSize` overrides it: 8 for ResNet-152 and DenseNet-161), 10 epochs, nothing frozen,
 * BatchNorm in training mode. The data set's own seed subset (CIFAR-10: the first 3000 training and 100
 * test images) comes from its data source.
 */
export const SEED_RECIPE = {
  weights: "imagenet",
  epochs: 10,
  batchSize: 16,
  optimizer: SEED_SGD,
  schedule: { kind: "constant" } as ScheduleConfig,
  freeze: { kind: "none" } as FreezeSpec,
  batchNorm: "train" as BatchNormPolicy,
  monitor: "val_loss" as Monitor,
  seed: 0,
  valFraction: 0.2,
  augment: false,
} as const;

export type Monitor = "val_loss" | "val_acc" | "loss" | "acc";

/** A fine-tuning job; everything left out is the seed's recipe. */
export interface FineTuneOptions {
  /** Registered model name, e.g. `vgg19`. */
  model: string;
  /** `"imagenet"` (default: the model's first record), a record id, a `.h5` path, or `null`/`"none"` for random weights. */
  weights?: string | null;
  /** A registered data set (`cifar10`, with `@ft/cifar10` imported) or an image folder. */
  data: string;
  /** First N training / validation examples (default: the data set's seed subset, else all; 0 validation = none). */
  trainSize?: number | null;
  valSize?: number | null;
  /** Fraction of `train/` held out when an image folder has no `val/` or `test/` (default 0.2). */
  valFraction?: number;
  /** Random crop and horizontal flip (default false). */
  augment?: boolean;
  /** Input height = width (default: the model's, e.g. 224; 299 for Inception). */
  imageSize?: number;
  /** Input normalisation (default: the weights' own). */
  preprocess?: PreprocessingMode;
  epochs?: number;
  batchSize?: number;
  /** Micro-batches per batch with accumulated gradients; "auto" splits only when the batch does not fit the engine. */
  accumulate?: number | "auto";
  optimizer?: Partial<OptimizerConfig>;
  schedule?: ScheduleConfig;
  lrGroups?: LrGroups;
  freeze?: FreezeSpec;
  /** Unfreeze everything from this epoch (1-based). */
  unfreezeAt?: number;
  batchNorm?: BatchNormPolicy;
  /** Dropout before the new head. */
  dropout?: number;
  monitor?: Monitor;
  /** Stop when the monitored metric has not improved for this many epochs. */
  earlyStopping?: number;
  /** Stop after this many updates (resumable, like an interruption). */
  maxSteps?: number;
  /** Seed of data order, augmentation, dropout, the new head and random weights. */
  seed?: number;
}

/** Everything a run resolved, written to its `config.json`. */
export interface FineTuneConfig {
  model: string;
  weights: string | null;
  weightsFile?: string;
  data: DataConfig;
  classNames: string[];
  inputShape: InputShape;
  preprocess: PreprocessingMode;
  preprocessDescription: string;
  heads: ReturnType<typeof headsForSpec>;
  dropout?: number;
  epochs: number;
  batchSize: number;
  /** Micro-batches per batch; 0 until the model is built and the engine's memory decides. */
  accumulate: number;
  optimizer: OptimizerConfig;
  schedule: ScheduleConfig;
  lrGroups?: LrGroups;
  freeze: FreezeSpec;
  unfreezeAt?: number;
  batchNorm: BatchNormPolicy;
  monitor: Monitor;
  earlyStopping?: number;
  maxSteps?: number;
  seed: number;
  backend: string;
  createdAt: string;
}

/** Fills in the seed recipe and checks every value, naming the option at fault. */
export function resolveFineTuneConfig(options: FineTuneOptions, backend: string): FineTuneConfig {
  const spec = getModel(options.model);
  const weights = options.weights === undefined ? SEED_RECIPE.weights : options.weights === "none" ? null : options.weights;
  const record = weights === null ? undefined : selectWeightRecord(spec, weights, true);
  const size = optionalInt("imageSize", options.imageSize, 1);
  const inputShape: InputShape = size ? [size, size, spec.inputShape[2]] : spec.inputShape;
  const preprocess = options.preprocess ?? record?.preprocessing ?? spec.preprocessing;
  if (!(preprocess in PREPROCESSING_DESCRIPTIONS)) throw new UsageError(`preprocess: unknown mode "${preprocess}"`);
  const data = dataLocation(options.data);
  const seedSubset = dataSourceFor(data).seedSubset;
  const dropout = options.dropout;
  if (dropout !== undefined && !(dropout >= 0 && dropout < 1)) throw new UsageError(`dropout must be in [0, 1) (got ${dropout})`);
  const valFraction = options.valFraction ?? SEED_RECIPE.valFraction;
  if (!(valFraction >= 0 && valFraction < 1)) throw new UsageError(`valFraction must be in [0, 1) (got ${valFraction})`);
  const accumulate = options.accumulate ?? "auto";
  return {
    model: spec.name,
    weights,
    data: {
      source: data,
      trainSize: options.trainSize === undefined ? (seedSubset?.train ?? null) : optionalInt("trainSize", options.trainSize ?? undefined, 1) ?? null,
      valSize: options.valSize === undefined ? (seedSubset?.val ?? null) : optionalInt("valSize", options.valSize ?? undefined, 0) ?? null,
      valFraction,
      augment: options.augment ?? SEED_RECIPE.augment,
    },
    classNames: [],
    inputShape,
    preprocess,
    preprocessDescription: PREPROCESSING_DESCRIPTIONS[preprocess],
    heads: headsForSpec(spec),
    ...(dropout ? { dropout } : {}),
    epochs: optionalInt("epochs", options.epochs, 1) ?? SEED_RECIPE.epochs,
    batchSize: optionalInt("batchSize", options.batchSize, 1) ?? spec.recipe?.batchSize ?? SEED_RECIPE.batchSize,
    accumulate: accumulate === "auto" ? 0 : optionalInt("accumulate", accumulate, 1)!,
    optimizer: resolveOptimizerConfig(options.optimizer ?? SEED_RECIPE.optimizer),
    schedule: resolveSchedule(options.schedule ?? SEED_RECIPE.schedule),
    ...(options.lrGroups ? { lrGroups: options.lrGroups } : {}),
    freeze: options.freeze ?? SEED_RECIPE.freeze,
    ...(options.unfreezeAt ? { unfreezeAt: optionalInt("unfreezeAt", options.unfreezeAt, 1)! } : {}),
    batchNorm: options.batchNorm ?? SEED_RECIPE.batchNorm,
    monitor: options.monitor ?? SEED_RECIPE.monitor,
    ...(options.earlyStopping ? { earlyStopping: optionalInt("earlyStopping", options.earlyStopping, 1)! } : {}),
    ...(options.maxSteps ? { maxSteps: optionalInt("maxSteps", options.maxSteps, 1)! } : {}),
    seed: optionalInt("seed", options.seed, 0) ?? SEED_RECIPE.seed,
    backend,
    createdAt: new Date().toISOString(),
  };
}

function optionalInt(name: string, value: number | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (!(Number.isInteger(value) && value >= min)) throw new UsageError(`${name} must be an integer ≥ ${min} (got ${value})`);
  return value;
}
