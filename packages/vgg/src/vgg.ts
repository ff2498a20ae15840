import * as tfl from "@tensorflow/tfjs-layers";
import { resolveBuildOptions, type BuildOptions, type InputShape } from "@ft/core";

type Tensor = tfl.SymbolicTensor;

/** Filters of the five convolution blocks, the same for every depth. */
export const VGG_BLOCK_FILTERS = [64, 128, 256, 512, 512] as const;

/** One depth of VGG: how many 3×3 convolutions each of the five blocks holds. */
export interface VggConfig {
  /** Registry and tfjs model name, e.g. `vgg16`. */
  name: string;
  /** Convolutions per block, five entries. */
  convsPerBlock: readonly [number, number, number, number, number];
}

export const VGG16: VggConfig = { name: "vgg16", convsPerBlock: [2, 2, 3, 3, 3] };
export const VGG19: VggConfig = { name: "vgg19", convsPerBlock: [2, 2, 4, 4, 4] };

export const VGG_INPUT_SHAPE: InputShape = [224, 224, 3];
export const VGG_CLASSES = 1000;

/** Layers that exist only with `includeTop: true`, in order (the legacy file's last six positions). */
export const VGG_TOP_LAYERS = ["flatten", "fc1", "fc1_dropout", "fc2", "fc2_dropout", "predictions"];
/** The last Dropout: the seed puts its new classifier on this layer's output. */
export const VGG_FEATURE_LAYER = "fc2_dropout";

/**
 * Number of layers of the legacy Sequential file (`nb_layers`) for a depth: per conv a ZeroPadding2D
 * and a Conv2D (ReLU fused), one MaxPooling2D per block, then Flatten, Dense, Dropout, Dense, Dropout,
 * Dense. VGG16: 2·13 + 5 + 6 = 37; VGG19: 2·16 + 5 + 6 = 43.
 */
/** Smallest height/width the five stride-2 stages accept (Keras applications' `min_size`). */
export const MIN_INPUT_SIZE = 32;

export function legacyLayerCount(config: VggConfig): number {
  const convs = config.convsPerBlock.reduce((a, b) => a + b, 0);
  return 2 * convs + config.convsPerBlock.length + VGG_TOP_LAYERS.length;
}

/**
 * A 3×3 convolution with ReLU, preceded by its own 1-pixel zero padding.
 *
 * Porting note: Keras applications writes `Conv2D(padding="same")`; the legacy Sequential file has
 * an explicit `ZeroPadding2D((1, 1))` layer before every `Convolution2D` and counts it as a layer.
 * Both compute the same thing for a 3×3 stride-1 kernel, so the explicit form serves both files:
 * the legacy one loads by position (the padding layers keep the positions right) and the
 * Keras-applications one by name (`block1_conv1` …; the padding layers hold no weights).
 */
export function conv3x3Relu(x: Tensor, filters: number, name: string): Tensor {
  const padded = tfl.layers.zeroPadding2d({ padding: 1, name: `${name}_pad` }).apply(x) as Tensor;
  return tfl.layers.conv2d({ filters, kernelSize: 3, padding: "valid", activation: "relu", name }).apply(padded) as Tensor;
}

/** Block `index` (1-based): its convolutions, then a 2×2/2 max pool `block{index}_pool`. */
export function vggBlock(x: Tensor, index: number, convs: number, filters: number): Tensor {
  for (let j = 1; j <= convs; j++) x = conv3x3Relu(x, filters, `block${index}_conv${j}`);
  return tfl.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: "valid", name: `block${index}_pool` }).apply(x) as Tensor;
}

/**
 * The classifier of the original VGG: Flatten → fc1 4096 ReLU → Dropout 0.5 → fc2 4096 ReLU →
 * Dropout 0.5 → predictions (softmax). Keras applications has no Dropout layers; they hold no
 * weights, so Keras-applications files still load by name.
 */
export function vggClassifier(x: Tensor, classes: number): Tensor {
  x = tfl.layers.flatten({ name: "flatten" }).apply(x) as Tensor;
  x = tfl.layers.dense({ units: 4096, activation: "relu", name: "fc1" }).apply(x) as Tensor;
  x = tfl.layers.dropout({ rate: 0.5, name: "fc1_dropout" }).apply(x) as Tensor;
  x = tfl.layers.dense({ units: 4096, activation: "relu", name: "fc2" }).apply(x) as Tensor;
  x = tfl.layers.dropout({ rate: 0.5, name: "fc2_dropout" }).apply(x) as Tensor;
  return tfl.layers.dense({ units: classes, activation: "softmax", name: "predictions" }).apply(x) as Tensor;
}

/**
 * Builds VGG of any depth. With `includeTop` the layer list after the input is exactly the legacy
 * Sequential file's (37 layers for VGG16, 43 for VGG19); without it the output is the `block5_pool`
 * map (`inputShape / 32` × 512), optionally reduced by global `avg`/`max` pooling.
 */
export function buildVgg(config: VggConfig, options: BuildOptions = {}): tfl.LayersModel {
  const { includeTop, classes, pooling, inputShape } = resolveBuildOptions(config.name, { inputShape: VGG_INPUT_SHAPE, classes: VGG_CLASSES, minSize: MIN_INPUT_SIZE }, options);
  const input = tfl.input({ shape: inputShape, name: "input_1" });
  let x: Tensor = input;
  config.convsPerBlock.forEach((convs, i) => {
    x = vggBlock(x, i + 1, convs, VGG_BLOCK_FILTERS[i]!);
  });
  if (includeTop) {
    x = vggClassifier(x, classes);
  } else if (pooling === "avg") {
    x = tfl.layers.globalAveragePooling2d({ name: "avg_pool" }).apply(x) as Tensor;
  } else if (pooling === "max") {
    x = tfl.layers.globalMaxPooling2d({ name: "max_pool" }).apply(x) as Tensor;
  }
  return tfl.model({ inputs: input, outputs: x, name: config.name });
}
