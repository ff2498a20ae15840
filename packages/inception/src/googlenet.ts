/**
 * GoogLeNet (Inception-V1, Szegedy et al. 2014) as the BVLC Caffe model ported to Keras 1 by Joe Marino
 * and used by the seed: name-exact to `googlenet_weights.h5` (Theano layout only).
 * TensorFlow.js accepts the file's `/` in layer names, so layers keep them (`conv1/7x7_s2`, weights
 * `conv1/7x7_s2/kernel`, `…/bias`) and no name mapping is needed.
 *
 * Order of this file: building blocks, the generic builder, the weight records.
 */
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { LRN, PoolHelper, type BuildOptions, type InputShape } from "@ft/core";
import { resolveBuildOptions } from "@ft/core";
import { AutoNames, apply, globalPooling, smallestInputSide, validOut, type Tensor } from "./common.js";

export const GOOGLENET_INPUT_SHAPE: InputShape = [224, 224, 3];
export const GOOGLENET_CLASSES = 1000;

/** L2 weight decay of every conv and dense kernel in the seed's GoogLeNet (Keras 1 `W_regularizer=l2(0.0002)`). */
export const GOOGLENET_WEIGHT_DECAY = 2e-4;

/** Filters of one inception module, in the order its convolutions are created. */
export interface InceptionModuleFilters {
  b1x1: number;
  b3x3Reduce: number;
  b3x3: number;
  b5x5Reduce: number;
  b5x5: number;
  poolProj: number;
}

function filters(b1x1: number, b3x3Reduce: number, b3x3: number, b5x5Reduce: number, b5x5: number, poolProj: number): InceptionModuleFilters {
  return { b1x1, b3x3Reduce, b3x3, b5x5Reduce, b5x5, poolProj };
}

/** The nine inception modules of GoogLeNet (Szegedy et al. 2014, table 1). */
export const GOOGLENET_MODULES: Record<string, InceptionModuleFilters> = {
  inception_3a: filters(64, 96, 128, 16, 32, 32),
  inception_3b: filters(128, 128, 192, 32, 96, 64),
  inception_4a: filters(192, 96, 208, 16, 48, 64),
  inception_4b: filters(160, 112, 224, 24, 64, 64),
  inception_4c: filters(128, 128, 256, 24, 64, 64),
  inception_4d: filters(112, 144, 288, 32, 64, 64),
  inception_4e: filters(256, 160, 320, 32, 128, 128),
  inception_5a: filters(256, 160, 320, 32, 128, 128),
  inception_5b: filters(384, 192, 384, 48, 128, 128),
};

/**
 * Names of the concatenations; the port names 4b's `inception_4b_output` (underscore) and the others
 * `inception_Xy/output`, and the files keep that quirk.
 */
export function moduleOutputName(module: string): string {
  return module === "inception_4b" ? "inception_4b_output" : `${module}/output`;
}

/** Weight-file names of the three classifiers, the layers feeding them and their softmax layers. */
export const GOOGLENET_HEADS = [
  { from: "dropout_1", dense: "loss1/classifier", softmax: "activation_1", l2: GOOGLENET_WEIGHT_DECAY },
  { from: "dropout_2", dense: "loss2/classifier", softmax: "activation_2", l2: GOOGLENET_WEIGHT_DECAY },
  { from: "dropout_3", dense: "loss3/classifier", softmax: "prob", l2: GOOGLENET_WEIGHT_DECAY },
] as const;

/** Layers that exist only with `includeTop: true`: the two auxiliary heads and the main head. */
export const GOOGLENET_TOP_LAYERS = [
  "loss1/ave_pool", "loss1/conv", "flatten_1", "loss1/fc", "dropout_1", "loss1/classifier", "activation_1",
  "loss2/ave_pool", "loss2/conv", "flatten_2", "loss2/fc", "dropout_2", "loss2/classifier", "activation_2",
  "pool5/7x7_s2", "flatten_3", "dropout_3", "loss3/classifier", "prob",
];

/** The layer whose output feeds the main classifier `loss3/classifier` (Dropout 0.4 after the 7×7 pool). */
export const GOOGLENET_FEATURE_LAYER = "dropout_3";

// ---------------------------------------------------------------------------------------------
// Building blocks

/** Names of weightless layers the port left unnamed: Keras 1 auto names in creation order. */
type Names = AutoNames;

function convRelu(x: Tensor, filters: number, kernel: number, name: string): Tensor {
  return apply(
    tfl.layers.conv2d({
      filters,
      kernelSize: kernel,
      padding: "same",
      activation: "relu",
      kernelRegularizer: tfl.regularizers.l2({ l2: GOOGLENET_WEIGHT_DECAY }),
      name,
    }),
    x,
  );
}

/**
 * Caffe's 3×3/2 max pool with ceil rounding: ZeroPadding 1, drop the first row and column (PoolHelper),
 * then a valid 3×3/2 max pool. Padding with zeros instead of −∞ is harmless: the inputs are ReLU outputs.
 */
function caffeMaxPool(x: Tensor, name: string, names: Names): Tensor {
  const padded = apply(tfl.layers.zeroPadding2d({ padding: 1, name: names.next("zeropadding2d") }), x);
  const helped = apply(new PoolHelper({ name: names.next("poolhelper") }), padded);
  return apply(tfl.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: "valid", name }), helped);
}

/** One inception module: 1×1, 1×1→3×3, 1×1→5×5 and 3×3 max pool→1×1 branches, concatenated in that order. */
export function inceptionModule(x: Tensor, module: string, f: InceptionModuleFilters): Tensor {
  const b1 = convRelu(x, f.b1x1, 1, `${module}/1x1`);
  const b3 = convRelu(convRelu(x, f.b3x3Reduce, 1, `${module}/3x3_reduce`), f.b3x3, 3, `${module}/3x3`);
  const b5 = convRelu(convRelu(x, f.b5x5Reduce, 1, `${module}/5x5_reduce`), f.b5x5, 5, `${module}/5x5`);
  const pool = apply(tfl.layers.maxPooling2d({ poolSize: 3, strides: 1, padding: "same", name: `${module}/pool` }), x);
  const bp = convRelu(pool, f.poolProj, 1, `${module}/pool_proj`);
  return apply(tfl.layers.concatenate({ axis: -1, name: moduleOutputName(module) }), [b1, b3, b5, bp]);
}

/** An auxiliary classifier (`loss1`, `loss2`): 5×5/3 avg pool → 1×1 conv 128 → Flatten → FC 1024 → Dropout 0.7 → FC → softmax. */
export function auxiliaryHead(x: Tensor, loss: "loss1" | "loss2", classes: number, names: Names): Tensor {
  let y = apply(tfl.layers.averagePooling2d({ poolSize: 5, strides: 3, padding: "valid", name: `${loss}/ave_pool` }), x);
  y = convRelu(y, 128, 1, `${loss}/conv`);
  y = apply(tfl.layers.flatten({ name: names.next("flatten") }), y);
  y = apply(dense(1024, "relu", `${loss}/fc`), y);
  y = apply(tfl.layers.dropout({ rate: 0.7, name: names.next("dropout") }), y);
  y = apply(dense(classes, "linear", `${loss}/classifier`), y);
  return apply(tfl.layers.activation({ activation: "softmax", name: names.next("activation") }), y);
}

function dense(units: number, activation: "relu" | "linear", name: string): tfl.layers.Layer {
  return tfl.layers.dense({ units, activation, kernelRegularizer: tfl.regularizers.l2({ l2: GOOGLENET_WEIGHT_DECAY }), name });
}

// ---------------------------------------------------------------------------------------------
// The model

/** Feature-map sides after conv1, pool1 … pool4 for an input side (Caffe ceil-mode pools). */
export function googlenetStageSides(side: number): number[] {
  const conv1 = validOut(side + 6, 7, 2);
  const sides = [conv1];
  let s = conv1;
  for (let i = 0; i < 4; i++) {
    s = validOut(s + 1, 3, 2);
    sides.push(s);
  }
  return sides;
}

const MIN_SIZE = smallestInputSide((side) => googlenetStageSides(side).every((s) => s >= 1));
/** With the top: the auxiliary heads need 4a ≥ 5 (5×5 pool); the main head pools the whole 5b map. */
const MIN_SIZE_WITH_TOP = smallestInputSide((side) => googlenetStageSides(side)[3]! >= 5);

/**
 * Builds GoogLeNet. With `includeTop` (default) the model has **three outputs**, the softmaxes of
 * `loss1`, `loss2` and `loss3` in that order, like the seed; average them with
 * {@link averageGoogLeNetPredictions} to predict, and train all three (the seed sums their losses).
 * Without the top the output is `inception_5b/output` (7×7×1024 at 224), optionally pooled.
 *
 * Porting note: the Keras port's `conv1/7x7_s2` uses Theano's `border_mode='same'`, which pads 3 on every
 * side; TensorFlow's SAME would pad 2 before and 3 after. The explicit `conv1/7x7_s2_zeropadding` (3) +
 * valid convolution reproduces Theano. That layer is not in the weight file (it holds no weights), and
 * it is created before the auto-named ZeroPadding layers so their numbers still match the file.
 */
export function buildGoogLeNet(options: BuildOptions = {}): tfl.LayersModel {
  const { includeTop, classes, pooling, inputShape } = resolveBuildOptions(
    "googlenet",
    { inputShape: GOOGLENET_INPUT_SHAPE, classes: GOOGLENET_CLASSES, minSize: MIN_SIZE, minSizeWithTop: MIN_SIZE_WITH_TOP },
    options,
  );
  const names = new AutoNames();
  const input = tfl.input({ shape: inputShape, name: names.next("input") });

  let x = apply(tfl.layers.zeroPadding2d({ padding: 3, name: "conv1/7x7_s2_zeropadding" }), input);
  x = apply(
    tfl.layers.conv2d({
      filters: 64,
      kernelSize: 7,
      strides: 2,
      padding: "valid",
      activation: "relu",
      kernelRegularizer: tfl.regularizers.l2({ l2: GOOGLENET_WEIGHT_DECAY }),
      name: "conv1/7x7_s2",
    }),
    x,
  );
  x = caffeMaxPool(x, "pool1/3x3_s2", names);
  x = apply(new LRN({ name: "pool1/norm1" }), x);
  x = convRelu(x, 64, 1, "conv2/3x3_reduce");
  x = convRelu(x, 192, 3, "conv2/3x3");
  x = apply(new LRN({ name: "conv2/norm2" }), x);
  x = caffeMaxPool(x, "pool2/3x3_s2", names);

  x = inceptionModule(x, "inception_3a", GOOGLENET_MODULES.inception_3a!);
  x = inceptionModule(x, "inception_3b", GOOGLENET_MODULES.inception_3b!);
  x = caffeMaxPool(x, "pool3/3x3_s2", names);

  const outputs: Tensor[] = [];
  x = inceptionModule(x, "inception_4a", GOOGLENET_MODULES.inception_4a!);
  if (includeTop) outputs.push(auxiliaryHead(x, "loss1", classes, names));
  x = inceptionModule(x, "inception_4b", GOOGLENET_MODULES.inception_4b!);
  x = inceptionModule(x, "inception_4c", GOOGLENET_MODULES.inception_4c!);
  x = inceptionModule(x, "inception_4d", GOOGLENET_MODULES.inception_4d!);
  if (includeTop) outputs.push(auxiliaryHead(x, "loss2", classes, names));
  x = inceptionModule(x, "inception_4e", GOOGLENET_MODULES.inception_4e!);
  x = caffeMaxPool(x, "pool4/3x3_s2", names);

  x = inceptionModule(x, "inception_5a", GOOGLENET_MODULES.inception_5a!);
  x = inceptionModule(x, "inception_5b", GOOGLENET_MODULES.inception_5b!);

  if (!includeTop) return tfl.model({ inputs: input, outputs: globalPooling(x, pooling), name: "googlenet" });

  // Porting note: the original pools 7×7, the whole 5b map at 224 px; pooling the whole map is identical
  // there and lets the model (and its seed heads) run on smaller inputs.
  const [, h, w] = x.shape;
  x = apply(tfl.layers.averagePooling2d({ poolSize: [h!, w!], strides: 1, padding: "valid", name: "pool5/7x7_s2" }), x);
  x = apply(tfl.layers.flatten({ name: names.next("flatten") }), x);
  x = apply(tfl.layers.dropout({ rate: 0.4, name: names.next("dropout") }), x);
  x = apply(dense(classes, "linear", "loss3/classifier"), x);
  outputs.push(apply(tfl.layers.activation({ activation: "softmax", name: "prob" }), x));
  return tfl.model({ inputs: input, outputs, name: "googlenet" });
}

/**
 * The seed's GoogLeNet prediction: the mean of the three softmaxes (`loss1`, `loss2`, `loss3`).
 * Accepts what `model.predict` returns for the three-output model; a single tensor is returned as is.
 */
export function averageGoogLeNetPredictions(outputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
  if (!Array.isArray(outputs)) return outputs;
  return tf.tidy(() => tf.div(tf.addN(outputs), outputs.length));
}
