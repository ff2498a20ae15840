import * as tfl from "@tensorflow/tfjs-layers";
import { Scale, type BuildOptions, type InputShape, resolveBuildOptions } from "@ft/core";
import type { ResNetStyle, Unit } from "./styles.js";

type Tensor = tfl.SymbolicTensor;

/** One ResNet-v1 bottleneck network: a naming/numerics style and the number of blocks per stage. */
export interface ResNetConfig {
  /** Registry and tfjs model name, e.g. `resnet101.keras`. */
  name: string;
  style: ResNetStyle;
  /** Blocks in stages 2, 3, 4, 5 (ResNet-50 [3, 4, 6, 3], -101 [3, 4, 23, 3], -152 [3, 8, 36, 3]). */
  blocks: readonly [number, number, number, number];
}

export const RESNET_INPUT_SHAPE: InputShape = [224, 224, 3];
export const RESNET_CLASSES = 1000;
/** Bottleneck width of stage 2; it doubles per stage, and each block outputs 4× its width. */
const BASE_WIDTH = 64;
const EXPANSION = 4;

const apply = (layer: tfl.layers.Layer, x: Tensor): Tensor => layer.apply(x) as Tensor;

/**
 * conv → BatchNormalization → [Scale] → [ReLU]: the unit every ResNet layer is made of.
 * With `names.pad` a ZeroPadding2D((kernel-1)/2) precedes a valid conv (Caffe styles); otherwise
 * the conv pads `padding` itself (`same` for the 3×3 of a block, `valid` for the padded stem).
 */
/** Smallest height/width the five stride-2 stages accept (Keras applications' `min_size`). */
export const MIN_INPUT_SIZE = 32;

export function convUnit(
  x: Tensor,
  style: ResNetStyle,
  names: { conv: string; bn: string; scale?: string; relu?: string; pad?: string },
  filters: number,
  kernel: number,
  stride: number,
  relu: boolean,
  padding: "same" | "valid" = kernel > 1 ? "same" : "valid",
): Tensor {
  if (names.pad) {
    x = apply(tfl.layers.zeroPadding2d({ padding: (kernel - 1) / 2, name: names.pad }), x);
    padding = "valid";
  }
  x = apply(tfl.layers.conv2d({ filters, kernelSize: kernel, strides: stride, padding, useBias: style.convBias, name: names.conv }), x);
  x = apply(tfl.layers.batchNormalization({ axis: -1, epsilon: style.bnEpsilon, name: names.bn }), x);
  if (style.scaleAfterBn) {
    if (!names.scale) throw new Error(`style "${style.label}" needs a Scale name for ${names.bn}`);
    x = apply(new Scale({ axis: -1, name: names.scale }), x);
  }
  if (relu) x = apply(tfl.layers.activation({ activation: "relu", name: names.relu }), x);
  return x;
}

/**
 * A bottleneck block: 1×1 (carries the stride, as in the Caffe original) → 3×3 → 1×1 ×4, added to
 * the input, or to a strided 1×1 projection of it when `projection` (the first block of a stage),
 * then ReLU.
 */
export function bottleneck(x: Tensor, style: ResNetStyle, block: string, width: number, stride: number, projection: boolean): Tensor {
  const unit = (u: Unit) => style.unit(block, u);
  const project = (input: Tensor) => convUnit(input, style, unit("1"), width * EXPANSION, 1, stride, false);
  let shortcut = x;
  if (projection && style.shortcutFirst) shortcut = project(x);
  let y = convUnit(x, style, unit("2a"), width, 1, stride, true);
  y = convUnit(y, style, unit("2b"), width, 3, 1, true);
  y = convUnit(y, style, unit("2c"), width * EXPANSION, 1, 1, false);
  if (projection && !style.shortcutFirst) shortcut = project(x);
  // Operand order as in the originals: Keras applications adds [shortcut, x], the others [x, shortcut].
  const operands = style.shortcutFirst ? [shortcut, y] : [y, shortcut];
  const sum = tfl.layers.add({ name: style.add(block) }).apply(operands) as Tensor;
  return apply(tfl.layers.activation({ activation: "relu", name: style.out(block) }), sum);
}

/** ZeroPadding 3 → 7×7/2 conv 64 → BN → [Scale] → ReLU → [ZeroPadding 1] → 3×3/2 max pool. */
export function stem(x: Tensor, style: ResNetStyle): Tensor {
  const s = style.stem;
  x = apply(tfl.layers.zeroPadding2d({ padding: 3, name: s.pad }), x);
  x = convUnit(x, style, { conv: s.conv, bn: s.bn, scale: s.scale, relu: s.relu }, BASE_WIDTH, 7, 2, true, "valid");
  if (style.padBeforeStemPool) x = apply(tfl.layers.zeroPadding2d({ padding: 1, name: s.poolPad }), x);
  return apply(tfl.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: "valid", name: s.pool }), x);
}

/** The four bottleneck stages (2..5); stage 2 keeps the resolution, the others halve it. */
export function stages(x: Tensor, config: ResNetConfig): Tensor {
  config.blocks.forEach((count, i) => {
    const stage = i + 2;
    const width = BASE_WIDTH * 2 ** i;
    for (let b = 0; b < count; b++) {
      const block = config.style.blockId(stage, b, count);
      x = bottleneck(x, config.style, block, width, b === 0 && stage > 2 ? 2 : 1, b === 0);
    }
  });
  return x;
}

/**
 * Builds a ResNet-v1 of any depth and style. With `includeTop` the head is the style's classifier;
 * without it the output is the stage-5 map (`2048` channels, stride 32), optionally reduced by
 * global `avg` (`avg_pool`) or `max` (`max_pool`) pooling.
 */
export function buildResNet(config: ResNetConfig, options: BuildOptions = {}): tfl.LayersModel {
  const { includeTop, classes, pooling, inputShape } = resolveBuildOptions(config.name, { inputShape: RESNET_INPUT_SHAPE, classes: RESNET_CLASSES, minSize: MIN_INPUT_SIZE }, options);
  const { style } = config;
  const input = tfl.input({ shape: inputShape, name: style.inputName });
  let x = stages(stem(input, style), config);
  if (includeTop) {
    if (style.head === "pool-flatten") {
      // Porting note: the files' scripts write AveragePooling2D((7, 7)), the whole stage-5 map at
      // 224×224; pooling over the whole map keeps that meaning at other input sizes.
      const [, h, w] = x.shape as number[];
      x = apply(tfl.layers.averagePooling2d({ poolSize: [h!, w!], strides: [h!, w!], padding: "valid", name: "avg_pool" }), x);
      x = apply(tfl.layers.flatten({ name: "flatten" }), x);
    } else {
      x = apply(tfl.layers.globalAveragePooling2d({ name: "avg_pool" }), x);
    }
    x = apply(tfl.layers.dense({ units: classes, activation: "softmax", name: style.classifier }), x);
  } else if (pooling === "avg") {
    // Porting note: the Keras-1 ResNet-50 notop model still ended in its 7×7 `avg_pool`
    // (1×1×2048 output); here `includeTop: false` gives the map and `pooling: "avg"` that vector.
    x = apply(tfl.layers.globalAveragePooling2d({ name: "avg_pool" }), x);
  } else if (pooling === "max") {
    x = apply(tfl.layers.globalMaxPooling2d({ name: "max_pool" }), x);
  }
  return tfl.model({ inputs: input, outputs: x, name: config.name });
}

/** Layers that exist only with `includeTop: true` for a style. */
export function topLayersOf(style: ResNetStyle): string[] {
  return style.head === "pool-flatten" ? ["avg_pool", "flatten", style.classifier] : ["avg_pool", style.classifier];
}

/** The layer whose output (a 2048-vector) feeds the classifier. */
export function featureLayerOf(style: ResNetStyle): string {
  return style.head === "pool-flatten" ? "flatten" : "avg_pool";
}
