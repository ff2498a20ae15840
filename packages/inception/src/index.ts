/**
 * @ft/inception: GoogLeNet, Inception-V3 (two weight layouts) and Inception-V4, name-exact to their
 * Keras weight files. Importing this module registers `googlenet`, `inception_v3`,
 * `inception_v3.keras` and `inception_v4` with @ft/core.
 */
import { preprocessor, registerModel, type BuildOptions, type ModelSpec } from "@ft/core";
import type * as tfl from "@tensorflow/tfjs-layers";
import {
  GOOGLENET_CLASSES,
  GOOGLENET_FEATURE_LAYER,
  GOOGLENET_HEADS,
  GOOGLENET_INPUT_SHAPE,
  GOOGLENET_TOP_LAYERS,
  buildGoogLeNet,
} from "./googlenet.js";
import {
  INCEPTION_V3_CLASSES,
  INCEPTION_V3_INPUT_SHAPE,
  INCEPTION_V3_KERAS1,
  INCEPTION_V3_KERAS2,
  buildInceptionV3,
  inceptionV3FeatureLayer,
  inceptionV3TopLayers,
} from "./inception-v3.js";
import {
  INCEPTION_V4_CLASSES,
  INCEPTION_V4_FEATURE_LAYER,
  INCEPTION_V4_INPUT_SHAPE,
  INCEPTION_V4_TOP_LAYERS,
  buildInceptionV4,
} from "./inception-v4.js";
import { GOOGLENET_WEIGHTS, INCEPTION_V3_KERAS_WEIGHTS, INCEPTION_V3_WEIGHTS, INCEPTION_V4_WEIGHTS } from "./weights.js";

export { GOOGLENET_WEIGHTS, INCEPTION_V3_KERAS_WEIGHTS, INCEPTION_V3_WEIGHTS, INCEPTION_V4_WEIGHTS } from "./weights.js";
export {
  buildGoogLeNet,
  averageGoogLeNetPredictions,
  inceptionModule,
  auxiliaryHead,
  moduleOutputName,
  googlenetStageSides,
  GOOGLENET_MODULES,
  GOOGLENET_HEADS,
  GOOGLENET_TOP_LAYERS,
  GOOGLENET_FEATURE_LAYER,
  GOOGLENET_WEIGHT_DECAY,
  type InceptionModuleFilters,
} from "./googlenet.js";
export {
  buildInceptionV3,
  inceptionV3StageSides,
  inceptionV3TopLayers,
  inceptionV3FeatureLayer,
  INCEPTION_V3_KERAS1,
  INCEPTION_V3_KERAS2,
  type InceptionV3Variant,
} from "./inception-v3.js";
export {
  buildInceptionV4,
  dropBackgroundClass,
  inceptionV4StageSides,
  INCEPTION_V4_DROPOUT,
  INCEPTION_V4_TOP_LAYERS,
  INCEPTION_V4_FEATURE_LAYER,
} from "./inception-v4.js";
export { AutoNames } from "./common.js";

/**
 * Parameter counts with the default top. Only `inception_v3.keras` has a published figure (Keras
 * applications), so only its spec sets `parameterCount`; the others are derived in the tests from
 * the layer tables (see *.test.ts) and asserted against the built models.
 */
export const PARAMETER_COUNTS = {
  googlenet: 13_378_280,
  inception_v3: 23_728_712,
  "inception_v3.keras": 23_851_784,
  inception_v4: 42_744_521,
} as const;

/** A model spec with the seed's new-head names (read by @ft/core's head replacement). */
export type InceptionSpec = ModelSpec;

/**
 * GoogLeNet (Inception-V1). `build` returns a model with three softmax outputs (loss1, loss2, loss3);
 * predictions average them ({@link averageGoogLeNetPredictions}); fine-tuning replaces all three heads.
 */
export const googlenetSpec: InceptionSpec = registerModel({
  name: "googlenet",
  family: "inception",
  description: "GoogLeNet / Inception-V1 (Szegedy et al. 2014), BVLC Caffe weights; three softmax outputs (two auxiliary heads), averaged to predict",
  inputShape: GOOGLENET_INPUT_SHAPE,
  classes: GOOGLENET_CLASSES,
  preprocessing: "caffe",
  build: (options: BuildOptions) => buildGoogLeNet(options),
  topLayers: GOOGLENET_TOP_LAYERS,
  featureLayer: GOOGLENET_FEATURE_LAYER,
  newHeads: GOOGLENET_HEADS.map((h) => ({ ...h })),
  weights: GOOGLENET_WEIGHTS,
} as InceptionSpec);

export const inceptionV3Spec: InceptionSpec = registerModel({
  name: "inception_v3",
  family: "inception",
  description: "Inception-V3 (Szegedy et al. 2015), deep-learning-models v0.2 layout: conv+bias → ReLU → BN, Keras 1 names (the seed's file)",
  inputShape: INCEPTION_V3_INPUT_SHAPE,
  classes: INCEPTION_V3_CLASSES,
  preprocessing: "inception",
  build: (options: BuildOptions) => buildInceptionV3(INCEPTION_V3_KERAS1, options),
  topLayers: inceptionV3TopLayers(INCEPTION_V3_KERAS1),
  featureLayer: inceptionV3FeatureLayer(INCEPTION_V3_KERAS1),
  newHeads: [{ from: "flatten", dense: "predictions" }],
  weights: INCEPTION_V3_WEIGHTS,
} as InceptionSpec);

export const inceptionV3KerasSpec: InceptionSpec = registerModel({
  name: "inception_v3.keras",
  family: "inception",
  description: "Inception-V3 (Szegedy et al. 2015), Keras-applications v0.5 layout: conv → BN(scale=False) → ReLU",
  inputShape: INCEPTION_V3_INPUT_SHAPE,
  classes: INCEPTION_V3_CLASSES,
  preprocessing: "tf",
  parameterCount: PARAMETER_COUNTS["inception_v3.keras"],
  build: (options: BuildOptions) => buildInceptionV3(INCEPTION_V3_KERAS2, options),
  topLayers: inceptionV3TopLayers(INCEPTION_V3_KERAS2),
  featureLayer: inceptionV3FeatureLayer(INCEPTION_V3_KERAS2),
  weights: INCEPTION_V3_KERAS_WEIGHTS,
} as InceptionSpec);

export const inceptionV4Spec: InceptionSpec = registerModel({
  name: "inception_v4",
  family: "inception",
  description: "Inception-V4 (Szegedy et al. 2016), kentsommer Keras 1 port of TF-slim; 1001 classes (0 = background)",
  inputShape: INCEPTION_V4_INPUT_SHAPE,
  classes: INCEPTION_V4_CLASSES,
  preprocessing: "inception",
  build: (options: BuildOptions) => buildInceptionV4(options),
  topLayers: INCEPTION_V4_TOP_LAYERS,
  featureLayer: INCEPTION_V4_FEATURE_LAYER,
  weights: INCEPTION_V4_WEIGHTS,
} as InceptionSpec);

/** GoogLeNet with fresh weights (three outputs with the top); see {@link buildGoogLeNet}. */
export function googlenet(options: BuildOptions = {}): tfl.LayersModel {
  return buildGoogLeNet(options);
}

/** Inception-V3 in the seed's v0.2 layout with fresh weights. */
export function inceptionV3(options: BuildOptions = {}): tfl.LayersModel {
  return buildInceptionV3(INCEPTION_V3_KERAS1, options);
}

/** Inception-V3 in the Keras-applications layout with fresh weights. */
export function inceptionV3Keras(options: BuildOptions = {}): tfl.LayersModel {
  return buildInceptionV3(INCEPTION_V3_KERAS2, options);
}

/** Inception-V4 with fresh weights (1001 classes by default). */
export function inceptionV4(options: BuildOptions = {}): tfl.LayersModel {
  return buildInceptionV4(options);
}

/** Input normalisation of each Inception weight family (RGB 0–255 in). */
export const preprocessInput = {
  googlenet: preprocessor("caffe"),
  inception: preprocessor("inception"),
  tf: preprocessor("tf"),
};
