/**
 * @ft/resnet: ResNet-50/101/152, name-exact to each published Keras weight file. Importing this
 * module registers, with @ft/core:
 * - `resnet50`: deep-learning-models v0.2 (`res2a_branch2a`, the seed's ResNet-50);
 * - `resnet101`, `resnet152`: the seed's Caffe conversions (no conv bias, Scale layers);
 * - `resnet50.keras`, `resnet101.keras`, `resnet152.keras`: keras-applications (`conv2_block1_1_conv`).
 */
import { preprocessor, registerModel, type BuildOptions, type ModelSpec, type WeightRecord } from "@ft/core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { RESNET_CLASSES, RESNET_INPUT_SHAPE, buildResNet, featureLayerOf, topLayersOf, type ResNetConfig } from "./resnet.js";
import { CAFFE_STYLE, KERAS1_STYLE, KERAS_APPS_STYLE } from "./styles.js";
import {
  RESNET101_CAFFE_WEIGHTS,
  RESNET101_KERAS_WEIGHTS,
  RESNET152_CAFFE_WEIGHTS,
  RESNET152_KERAS_WEIGHTS,
  RESNET50_KERAS_WEIGHTS,
  RESNET50_WEIGHTS,
} from "./weights.js";

export { buildResNet, bottleneck, convUnit, stem, stages, topLayersOf, featureLayerOf, RESNET_INPUT_SHAPE, RESNET_CLASSES, type ResNetConfig } from "./resnet.js";
export { KERAS1_STYLE, CAFFE_STYLE, KERAS_APPS_STYLE, KERAS_APPS_CLASSIFIER, type ResNetStyle, type Unit, type UnitNames } from "./styles.js";
export * from "./weights.js";

/** The input normalisation of every ResNet weight file here: RGB→BGR and Caffe mean subtraction. */
export const preprocessInput = preprocessor("caffe");

export const RESNET50: ResNetConfig = { name: "resnet50", style: KERAS1_STYLE, blocks: [3, 4, 6, 3] };
export const RESNET101_CAFFE: ResNetConfig = { name: "resnet101", style: CAFFE_STYLE, blocks: [3, 4, 23, 3] };
export const RESNET152_CAFFE: ResNetConfig = { name: "resnet152", style: CAFFE_STYLE, blocks: [3, 8, 36, 3] };
export const RESNET50_KERAS: ResNetConfig = { name: "resnet50.keras", style: KERAS_APPS_STYLE, blocks: [3, 4, 6, 3] };
export const RESNET101_KERAS: ResNetConfig = { name: "resnet101.keras", style: KERAS_APPS_STYLE, blocks: [3, 4, 23, 3] };
export const RESNET152_KERAS: ResNetConfig = { name: "resnet152.keras", style: KERAS_APPS_STYLE, blocks: [3, 8, 36, 3] };

function resnetSpec(config: ResNetConfig, description: string, weights: WeightRecord[], parameterCount?: number): ModelSpec {
  return {
    name: config.name,
    family: "resnet",
    description: `${description}; ${config.style.label}`,
    inputShape: RESNET_INPUT_SHAPE,
    classes: RESNET_CLASSES,
    preprocessing: "caffe",
    ...(parameterCount !== undefined ? { parameterCount } : {}),
    build: (options: BuildOptions) => buildResNet(config, options),
    topLayers: topLayersOf(config.style),
    featureLayer: featureLayerOf(config.style),
    ...seedRecipe(config),
    weights,
  };
}

/** The seed's new head (ResNet-50 `fc10`, ResNet-101/152 `fc8`) and its batch size (8 for ResNet-152). */
function seedRecipe(config: ResNetConfig): Pick<ModelSpec, "newHeads" | "recipe"> {
  const dense = { resnet50: "fc10", resnet101: "fc8", resnet152: "fc8" }[config.name];
  return {
    ...(dense ? { newHeads: [{ from: featureLayerOf(config.style), dense }] } : {}),
    ...(config.name === "resnet152" ? { recipe: { batchSize: 8 } } : {}),
  };
}

export const resnet50Spec = registerModel(resnetSpec(RESNET50, "ResNet-50 (He et al. 2015)", RESNET50_WEIGHTS, 25_636_712));
/** No published count for the Caffe conversions: the tests derive theirs by hand from the layer list. */
export const resnet101Spec = registerModel(resnetSpec(RESNET101_CAFFE, "ResNet-101 (He et al. 2015)", RESNET101_CAFFE_WEIGHTS));
export const resnet152Spec = registerModel(resnetSpec(RESNET152_CAFFE, "ResNet-152 (He et al. 2015)", RESNET152_CAFFE_WEIGHTS));
export const resnet50KerasSpec = registerModel(resnetSpec(RESNET50_KERAS, "ResNet-50 (He et al. 2015)", RESNET50_KERAS_WEIGHTS, 25_636_712));
export const resnet101KerasSpec = registerModel(resnetSpec(RESNET101_KERAS, "ResNet-101 (He et al. 2015)", RESNET101_KERAS_WEIGHTS, 44_707_176));
export const resnet152KerasSpec = registerModel(resnetSpec(RESNET152_KERAS, "ResNet-152 (He et al. 2015)", RESNET152_KERAS_WEIGHTS, 60_419_944));

/** ResNet-50 of deep-learning-models v0.2 (the seed's), fresh weights. */
export const resnet50 = (options: BuildOptions = {}): tfl.LayersModel => buildResNet(RESNET50, options);
/** The seed's Caffe-converted ResNet-101, fresh weights. */
export const resnet101 = (options: BuildOptions = {}): tfl.LayersModel => buildResNet(RESNET101_CAFFE, options);
/** The seed's Caffe-converted ResNet-152, fresh weights. */
export const resnet152 = (options: BuildOptions = {}): tfl.LayersModel => buildResNet(RESNET152_CAFFE, options);
/** Keras-applications ResNet-50, fresh weights. */
export const resnet50Keras = (options: BuildOptions = {}): tfl.LayersModel => buildResNet(RESNET50_KERAS, options);
/** Keras-applications ResNet-101, fresh weights. */
export const resnet101Keras = (options: BuildOptions = {}): tfl.LayersModel => buildResNet(RESNET101_KERAS, options);
/** Keras-applications ResNet-152, fresh weights. */
export const resnet152Keras = (options: BuildOptions = {}): tfl.LayersModel => buildResNet(RESNET152_KERAS, options);
