/**
 * DenseNet (Huang et al. 2017) in the two layouts of its Keras weight files:
 * - Caffe-converted (shicai/DenseNet-Caffe via flyyufelix/DenseNet-Keras, the seed's files): BN eps 1.1e-5
 *   followed by a Caffe `Scale` layer, convolutions without bias, names `conv2_1_x1_bn`, `concat_2_1`, …
 * - Keras applications: BN eps 1.001e-5 without Scale, names `conv2_block1_1_conv`, `pool2_conv`, …
 *
 * Order of this file: configurations, building blocks, the generic builder.
 */
import * as tfl from "@tensorflow/tfjs-layers";
import { Scale, type BuildOptions, type InputShape } from "@ft/core";
import { resolveBuildOptions } from "@ft/core";
import { apply, validOut, type Tensor } from "./common.js";

export const DENSENET_INPUT_SHAPE: InputShape = [224, 224, 3];
export const DENSENET_CLASSES = 1000;
/** Smallest input side whose four stride-2 stages and three transitions leave a non-empty map (Keras `min_size`). */
export const DENSENET_MIN_INPUT_SIZE = 32;

/** One DenseNet depth. */
export interface DenseNetConfig {
  /** Registry name, e.g. `densenet121`, `densenet121.keras`. */
  name: string;
  /** `caffe`: Scale after every BN, Caffe names; `keras`: Keras-applications names. */
  layout: "caffe" | "keras";
  /** Filters of `conv1`. */
  initialFilters: number;
  /** Channels each dense layer adds. */
  growthRate: number;
  /** Dense layers in stages 2, 3, 4, 5. */
  blocks: [number, number, number, number];
}

export const DENSENET121: DenseNetConfig = { name: "densenet121", layout: "caffe", initialFilters: 64, growthRate: 32, blocks: [6, 12, 24, 16] };
export const DENSENET169: DenseNetConfig = { name: "densenet169", layout: "caffe", initialFilters: 64, growthRate: 32, blocks: [6, 12, 32, 32] };
export const DENSENET161: DenseNetConfig = { name: "densenet161", layout: "caffe", initialFilters: 96, growthRate: 48, blocks: [6, 12, 36, 24] };
export const DENSENET121_KERAS: DenseNetConfig = { name: "densenet121.keras", layout: "keras", initialFilters: 64, growthRate: 32, blocks: [6, 12, 24, 16] };
export const DENSENET169_KERAS: DenseNetConfig = { name: "densenet169.keras", layout: "keras", initialFilters: 64, growthRate: 32, blocks: [6, 12, 32, 32] };
export const DENSENET201_KERAS: DenseNetConfig = { name: "densenet201.keras", layout: "keras", initialFilters: 64, growthRate: 32, blocks: [6, 12, 48, 32] };

/** Transitions halve the channels (compression 0.5, `reduction` 0.5 in the original scripts). */
export const DENSENET_COMPRESSION = 0.5;

/** Head layers of each layout (present only with `includeTop`). */
export const DENSENET_TOP_LAYERS = { caffe: ["pool5", "fc6", "prob"], keras: ["avg_pool", "fc1000"] } as const;
/** The layer feeding the classifier: the global average pool. */
export const DENSENET_FEATURE_LAYER = { caffe: "pool5", keras: "avg_pool" } as const;

// ---------------------------------------------------------------------------------------------
// Building blocks

/** The pre-activation of one layout: BN (+ Scale for Caffe) + ReLU, with that layout's epsilon. */
interface Layout {
  bnRelu(x: Tensor, bnName: string, scaleName: string, reluName: string): Tensor;
}

function bn(x: Tensor, epsilon: number, name: string): Tensor {
  return apply(tfl.layers.batchNormalization({ axis: -1, epsilon, momentum: 0.99, name }), x);
}

function conv(x: Tensor, filters: number, kernel: number, name: string, stride = 1): Tensor {
  return apply(tfl.layers.conv2d({ filters, kernelSize: kernel, strides: stride, padding: "valid", useBias: false, name }), x);
}

function relu(x: Tensor, name: string): Tensor {
  return apply(tfl.layers.activation({ activation: "relu", name }), x);
}

function zeroPad(x: Tensor, padding: number, name: string): Tensor {
  return apply(tfl.layers.zeroPadding2d({ padding, name }), x);
}

/** Caffe-converted files: BN (eps 1.1e-5, gamma/beta fixed at 1/0 in the files) → Scale (the learned affine) → ReLU. */
const CAFFE: Layout = {
  bnRelu: (x, bnName, scaleName, reluName) => {
    const normalised = bn(x, 1.1e-5, bnName); // created before its Scale, as in the original scripts
    return relu(apply(new Scale({ axis: -1, name: scaleName }), normalised), reluName);
  },
};

/** Keras applications: BN (eps 1.001e-5) → ReLU. */
const KERAS: Layout = {
  bnRelu: (x, bnName, _scaleName, reluName) => relu(bn(x, 1.001e-5, bnName), reluName),
};

/**
 * One dense layer: BN-ReLU-conv 1×1 (4·growth) → BN-ReLU-conv 3×3 (growth), appended after the input
 * channels by the concatenation.
 */
export function denseLayer(x: Tensor, config: DenseNetConfig, stage: number, index: number): Tensor {
  const g = config.growthRate;
  if (config.layout === "caffe") {
    const base = `conv${stage}_${index}`;
    const relu = `relu${stage}_${index}`;
    let y = CAFFE.bnRelu(x, `${base}_x1_bn`, `${base}_x1_scale`, `${relu}_x1`);
    y = conv(y, 4 * g, 1, `${base}_x1`);
    y = CAFFE.bnRelu(y, `${base}_x2_bn`, `${base}_x2_scale`, `${relu}_x2`);
    y = conv(zeroPad(y, 1, `${base}_x2_zeropadding`), g, 3, `${base}_x2`);
    return apply(tfl.layers.concatenate({ axis: -1, name: `concat_${stage}_${index}` }), [x, y]);
  }
  const base = `conv${stage}_block${index}`;
  let y = KERAS.bnRelu(x, `${base}_0_bn`, "", `${base}_0_relu`);
  y = conv(y, 4 * g, 1, `${base}_1_conv`);
  y = KERAS.bnRelu(y, `${base}_1_bn`, "", `${base}_1_relu`);
  // Porting note: Keras uses a 'same' 3×3 convolution here; with stride 1 that is the same symmetric pad 1.
  y = apply(tfl.layers.conv2d({ filters: g, kernelSize: 3, padding: "same", useBias: false, name: `${base}_2_conv` }), y);
  return apply(tfl.layers.concatenate({ axis: -1, name: `${base}_concat` }), [x, y]);
}

/** Transition after stages 2–4: BN-ReLU-conv 1×1 (half the channels) → 2×2/2 average pool. */
export function transition(x: Tensor, config: DenseNetConfig, stage: number, channels: number): Tensor {
  const filters = Math.floor(channels * DENSENET_COMPRESSION);
  if (config.layout === "caffe") {
    const y = CAFFE.bnRelu(x, `conv${stage}_blk_bn`, `conv${stage}_blk_scale`, `relu${stage}_blk`);
    return apply(tfl.layers.averagePooling2d({ poolSize: 2, strides: 2, name: `pool${stage}` }), conv(y, filters, 1, `conv${stage}_blk`));
  }
  const y = KERAS.bnRelu(x, `pool${stage}_bn`, "", `pool${stage}_relu`);
  return apply(tfl.layers.averagePooling2d({ poolSize: 2, strides: 2, name: `pool${stage}_pool` }), conv(y, filters, 1, `pool${stage}_conv`));
}

// ---------------------------------------------------------------------------------------------
// The model

/** Channels after stage 5 (before the classifier): 1024 for 121, 1664 for 169, 1920 for 201, 2208 for 161. */
export function denseNetChannels(config: DenseNetConfig): number {
  let c = config.initialFilters;
  config.blocks.forEach((n, i) => {
    c += n * config.growthRate;
    if (i < 3) c = Math.floor(c * DENSENET_COMPRESSION);
  });
  return c;
}

/** Feature-map sides after conv1, pool1 and the transitions pool2–pool4. */
export function denseNetStageSides(side: number): number[] {
  const conv1 = validOut(side + 6, 7, 2);
  const sides = [conv1, validOut(conv1 + 2, 3, 2)];
  for (let i = 0; i < 3; i++) sides.push(validOut(sides.at(-1)!, 2, 2));
  return sides;
}

/**
 * Builds a DenseNet: stem (ZeroPadding 3 → 7×7/2 conv → BN(-Scale)-ReLU → ZeroPadding 1 → 3×3/2 max pool),
 * four dense blocks with three transitions, a final BN(-Scale)-ReLU, then global average pool →
 * classifier (`pool5` → `fc6` → `prob` for the Caffe layout, `avg_pool` → `fc1000` for Keras). Without the
 * top the output is the final ReLU (`relu5_blk` / `relu`, 7×7 at 224), optionally pooled.
 */
export function buildDenseNet(config: DenseNetConfig, options: BuildOptions = {}): tfl.LayersModel {
  const { includeTop, classes, pooling, inputShape } = resolveBuildOptions(
    config.name,
    { inputShape: DENSENET_INPUT_SHAPE, classes: DENSENET_CLASSES, minSize: DENSENET_MIN_INPUT_SIZE },
    options,
  );
  const caffe = config.layout === "caffe";
  const input = tfl.input({ shape: inputShape, name: caffe ? "data" : "input_1" });

  let x = zeroPad(input, 3, caffe ? "conv1_zeropadding" : "zero_padding2d_1");
  x = conv(x, config.initialFilters, 7, caffe ? "conv1" : "conv1/conv", 2);
  x = caffe ? CAFFE.bnRelu(x, "conv1_bn", "conv1_scale", "relu1") : KERAS.bnRelu(x, "conv1/bn", "", "conv1/relu");
  x = zeroPad(x, 1, caffe ? "pool1_zeropadding" : "zero_padding2d_2");
  x = apply(tfl.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: "valid", name: "pool1" }), x);

  let channels = config.initialFilters;
  config.blocks.forEach((layers, i) => {
    const stage = i + 2;
    for (let k = 1; k <= layers; k++) x = denseLayer(x, config, stage, k);
    channels += layers * config.growthRate;
    if (stage < 5) {
      x = transition(x, config, stage, channels);
      channels = Math.floor(channels * DENSENET_COMPRESSION);
    }
  });
  x = caffe ? CAFFE.bnRelu(x, "conv5_blk_bn", "conv5_blk_scale", "relu5_blk") : KERAS.bnRelu(x, "bn", "", "relu");

  const avgName = caffe ? "pool5" : "avg_pool";
  if (includeTop) {
    x = apply(tfl.layers.globalAveragePooling2d({ name: avgName }), x);
    if (caffe) {
      x = apply(tfl.layers.dense({ units: classes, name: "fc6" }), x);
      x = apply(tfl.layers.activation({ activation: "softmax", name: "prob" }), x);
    } else {
      x = apply(tfl.layers.dense({ units: classes, activation: "softmax", name: "fc1000" }), x);
    }
  } else if (pooling === "avg") {
    x = apply(tfl.layers.globalAveragePooling2d({ name: avgName }), x);
  } else if (pooling === "max") {
    x = apply(tfl.layers.globalMaxPooling2d({ name: "max_pool" }), x);
  }
  return tfl.model({ inputs: input, outputs: x, name: caffe ? "densenet" : config.name.replace(".keras", "") });
}
