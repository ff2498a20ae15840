import { resolve } from "node:path";
import { FtError } from "../errors.js";
import type { InputShape, PreprocessingMode } from "../spec.js";
import type { DownloadProgress } from "../hub/download.js";
import type { BatchSource, ImageDataset } from "./dataset.js";
import { imageFolderDataset, type SkippedFile } from "./image-folder.js";
import { createBatchSource } from "./pipeline.js";

/** Options of one split as a data source opens it. */
export interface OpenSplitOptions {
  /** The first `count` examples (null: all). */
  count: number | null;
  /** Class names in a fixed order (a trained run's), when known. */
  classes?: string[];
  /** Fraction of the training images held out when the source has no validation split of its own. */
  valFraction: number;
  seed: number;
  /** The split may be missing (validation beside training): resolve to undefined instead of failing. */
  optional?: boolean;
  /** Download progress, when the data set is fetched. */
  onProgress?: (progress: DownloadProgress) => void;
  /** Each file left out of the data set (unreadable, not an image), with the reason. */
  onSkip?: (file: SkippedFile) => void;
}

/**
 * A kind of data `ft` trains on, opened by name (`cifar10`) or by the path of a folder it recognises.
 * Packages register theirs (`@ft/cifar10`); a folder no source claims is read as an image folder.
 */
export interface DataSource {
  name: string;
  /** Whether `source` (a name, or an absolute folder path) is data of this kind. */
  matches(source: string): boolean;
  /** The seed recipe's subset of this data set (CIFAR-10: the first 3000 training and 100 test images). */
  seedSubset?: { train: number; val: number };
  /** Opens a split; `undefined` only for a missing optional split. */
  open(source: string, split: "train" | "val", options: OpenSplitOptions): Promise<ImageDataset | undefined>;
}

/** Image folders: `DIR/train/<class>/…` with `val/` or `test/`, or a held-out fraction of `train/`. */
export const IMAGE_FOLDER_SOURCE: DataSource = {
  name: "image folder",
  matches: () => true,
  async open(source, split, options) {
    const dataset = await imageFolderDataset(source, { split, valFraction: options.valFraction, seed: options.seed, ...(options.classes ? { classes: options.classes } : {}) }).catch((e) => {
      if (options.optional && e instanceof FtError && /no validation images/.test(e.message)) return undefined;
      throw e;
    });
    dataset?.skipped.forEach((file) => options.onSkip?.(file));
    return dataset && firstRoundRobin(dataset, options.count);
  },
};

const sources: DataSource[] = [];

export function registerDataSource(source: DataSource): void {
  const i = sources.findIndex((s) => s.name === source.name);
  if (i >= 0) sources.splice(i, 1);
  sources.push(source);
}

/** How a run records its data: a registered data set's name as it is, a folder as an absolute path. */
export function dataLocation(source: string): string {
  return sources.some((s) => s.name === source) ? source : resolve(source);
}

/** The registered source that claims `source`, else the image folder. */
export function dataSourceFor(source: string): DataSource {
  return sources.find((s) => s.matches(source)) ?? IMAGE_FOLDER_SOURCE;
}

/** Where a run's data comes from, as written in `config.json`. */
export interface DataConfig {
  /** A registered data set's name (`cifar10`) or a folder path (absolute). */
  source: string;
  /** Examples of the training split used (first N); null = all. */
  trainSize: number | null;
  /** Examples of the validation split used (first N); null = all; 0 = no validation. */
  valSize: number | null;
  /** Fraction of train/ held out when an image folder has no val/ or test/. */
  valFraction: number;
  augment: boolean;
}

export interface OpenDataConfig {
  data: DataConfig;
  batchSize: number;
  inputShape: InputShape;
  preprocess: PreprocessingMode;
  seed: number;
  /** A trained run's classes, in its order. */
  classNames?: string[];
}

export interface OpenDataOptions {
  /** Open the training split (default true); false for evaluation. */
  train?: boolean;
  onProgress?: (progress: DownloadProgress) => void;
  /** Called once for each file left out: not an image, unreadable while listing, or failing to decode later. */
  onSkip?: (file: SkippedFile) => void;
}

export interface OpenedData {
  /** The training batches (the validation ones when the training split was not asked for). */
  train: BatchSource;
  val: BatchSource | undefined;
  datasets: { train?: ImageDataset; val?: ImageDataset };
}

/** Opens a run's training and validation splits as batch sources (validation in order, never augmented). */
export async function openData(config: OpenDataConfig, options: OpenDataOptions = {}): Promise<OpenedData> {
  const { data } = config;
  const source = dataSourceFor(data.source);
  // A file is reported once, though listing each split of a folder meets the folder's every file.
  const reported = new Set<string>();
  const onSkip = (file: SkippedFile) => {
    if (reported.has(file.path)) return;
    reported.add(file.path);
    options.onSkip?.(file);
  };
  const split = { valFraction: data.valFraction, seed: config.seed, onProgress: options.onProgress, onSkip };
  const known = config.classNames?.length ? config.classNames : undefined;
  const wantTrain = options.train !== false;
  const trainSet = wantTrain ? await source.open(data.source, "train", { ...split, count: data.trainSize, classes: known }) : undefined;
  const valSet =
    data.valSize === 0 ? undefined : await source.open(data.source, "val", { ...split, count: data.valSize, classes: trainSet?.classes ?? known, optional: wantTrain });
  const common = { batchSize: config.batchSize, imageSize: [config.inputShape[0], config.inputShape[1]] as [number, number], preprocessing: config.preprocess, seed: config.seed, onSkip };
  const train = trainSet ? createBatchSource(trainSet, { ...common, shuffle: true, augment: data.augment }) : undefined;
  const val = valSet ? createBatchSource(valSet, { ...common, shuffle: false }) : undefined;
  return { train: (train ?? val)!, val, datasets: { train: trainSet, val: valSet } };
}

/**
 * The first `n` examples. An image folder is listed class by class, so its examples are taken round-robin
 * over the classes (each class's first images) to keep every class.
 */
function firstRoundRobin(dataset: ImageDataset, n: number | null): ImageDataset {
  if (n === null || n >= dataset.examples.length) return dataset;
  const byClass = dataset.classes.map((_, c) => dataset.examples.filter((e) => e.label === c));
  const mixed: ImageDataset["examples"] = [];
  for (let i = 0; mixed.length < dataset.examples.length; i++) for (const list of byClass) if (i < list.length) mixed.push(list[i]!);
  return { ...dataset, name: `${dataset.name}[first ${n}, round-robin over classes]`, examples: mixed.slice(0, n) };
}
