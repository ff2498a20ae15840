import type * as tfl from "@tensorflow/tfjs-layers";

/** Input normalisation a set of weights was trained with (see `preprocessing.ts`). */
export type PreprocessingMode = "caffe" | "densenet" | "inception" | "tf" | "torch" | "none";

/**
 * How the weights are stored in the HDF5 file:
 * - `legacy`: Keras 0.x Sequential (`nb_layers`, `layer_k/param_p`), loaded by position;
 * - `keras1` / `keras2`: `save_weights` files, loaded by layer name;
 * - `model`: a `model.save` file (`model_weights` group), loaded by layer name.
 */
export type ContainerLayout = "legacy" | "keras1" | "keras2" | "model";

/** `th`: Theano kernels `(out, in, kh, kw)`, true convolution; `tf`: `(kh, kw, in, out)`, cross-correlation. */
export type DimOrdering = "th" | "tf";

export type Pooling = "avg" | "max" | null;

/** `[height, width, channels]`, NHWC without the batch axis. */
export type InputShape = [number, number, number];

export interface Checksum {
  algorithm: "md5" | "sha256";
  /** Lower-case hex digest as published by the weights' authors. */
  value: string;
}

export interface ReportedAccuracy {
  /** ImageNet validation top-1 accuracy in percent. */
  top1?: number;
  /** ImageNet validation top-5 accuracy in percent. */
  top5?: number;
  /** Where the number comes from (paper, README, keras-applications table). */
  source: string;
}

/** One published weight file of a model, with everything needed to fetch, verify and use it. */
export interface WeightRecord {
  /** Unique across the registry, e.g. `resnet50.th`, `vgg16.keras.notop`. */
  id: string;
  /** Where the file is published. */
  url: string;
  /** File name used in the cache. */
  fileName: string;
  /** Exact size in bytes where known; otherwise the size the seed reports, with `bytesApproximate`. */
  bytes: number;
  /** True when `bytes` is the size the publisher rounded (e.g. "553 MB"), not an exact byte count. */
  bytesApproximate?: boolean;
  /** Published checksum, when one was published. Absent means nothing can be verified but the size. */
  checksum?: Checksum;
  layout: ContainerLayout;
  ordering: DimOrdering;
  /** Whether the file holds the 1000-way (or 1001-way) classifier. */
  includeTop: boolean;
  preprocessing: PreprocessingMode;
  /** Number of classes of the file's top layer, when `includeTop`. */
  classes?: number;
  accuracy?: ReportedAccuracy;
  /** Anything a user must know: dead host, Google-Drive confirm page, known conversion faults. */
  notes?: string;
  /** Set when the publishing host is known to be gone; downloads then fail with this explanation. */
  dead?: string;
}

export interface BuildOptions {
  /** Keep the ImageNet classifier (default true). */
  includeTop?: boolean;
  /** Classes of the top layer when `includeTop` (default: the model's). */
  classes?: number;
  /** Global pooling of the feature map when `includeTop` is false. */
  pooling?: Pooling;
  /** Input shape `[h, w, c]` (default: the model's). */
  inputShape?: InputShape;
  /**
   * A weight record id, a path to a weight file, `"imagenet"` for the model's default record,
   * or `null`/`"none"` for random initialisation. Resolved by `createModel`, ignored by `build`.
   */
  weights?: string | null;
}

/**
 * One new classifier put on a feature tensor when fine-tuning: `from` → [Flatten] → [Dropout] →
 * Dense(classes) → softmax. Names are the seed's, so a fine-tuned model has the original scripts' layer names.
 */
export interface NewHead {
  /** Layer whose output feeds the head (usually the spec's `featureLayer`). */
  from: string;
  /** Name of the Dense layer with `classes` units, e.g. `fc10`, `predictions`. */
  dense: string;
  /** Name of a Flatten layer, inserted when `from`'s output is not flat (default `<dense>_flatten`). */
  flatten?: string;
  /** Name of a separate softmax Activation layer (DenseNet `prob`); without it the Dense applies the softmax. */
  softmax?: string;
  /** L2 weight decay on the new Dense kernel, as the seed's script put on it (GoogLeNet: 2e-4). */
  l2?: number;
}

/** Values of the seed's training recipe that differ per model. */
export interface SeedRecipe {
  /** Batch size the seed's script used (16 unless stated; 8 for ResNet-152 and DenseNet-161). */
  batchSize?: number;
}

/** A model family package describes a network once; everything else in `ft` reads this. */
export interface ModelSpec {
  /** Registry name, e.g. `resnet50`, `resnet101.keras`. */
  name: string;
  /** Family package, e.g. `resnet`. */
  family: string;
  description: string;
  /** Default input `[h, w, c]`. */
  inputShape: InputShape;
  /** Classes of the published top (1000, or 1001 with a background class). */
  classes: number;
  /** Preprocessing of the default weights. */
  preprocessing: PreprocessingMode;
  /** Published parameter count with the default top, when one was published. */
  parameterCount?: number;
  /**
   * Builds the architecture with fresh weights. Layer names equal those in the weight files,
   * and layers are created in the file's order so that legacy files load by position.
   */
  build(options: BuildOptions): tfl.LayersModel;
  /** Names of the layers that exist only with `includeTop: true` (skipped when loading a top file into a notop model). */
  topLayers: string[];
  /** Name of the layer whose output feeds the classifier (where fine-tuning attaches a new head). */
  featureLayer: string;
  /** Published weight files; the first is the default (`"imagenet"`). */
  weights: WeightRecord[];
  /**
   * The seed's new classifier(s) for fine-tuning (several for GoogLeNet's three heads).
   * Without them one head named `predictions` is put on `featureLayer`.
   */
  newHeads?: NewHead[];
  /** Per-model values of the seed's recipe. */
  recipe?: SeedRecipe;
}
