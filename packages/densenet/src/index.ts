/**
 * @ft/densenet: DenseNet-121/169/161 as the seed's Caffe-converted files and DenseNet-121/169/201 as the
 * Keras-applications files, name-exact to each. Importing this module registers `densenet121`,
 * `densenet169`, `densenet161`, `densenet121.keras`, `densenet169.keras` and `densenet201.keras` with @ft/core.
 */
import { preprocessor, registerModel, type BuildOptions, type ModelSpec, type WeightRecord } from "@ft/core";
import type * as tfl from "@tensorflow/tfjs-layers";
import {
  DENSENET121,
  DENSENET121_KERAS,
  DENSENET161,
  DENSENET169,
  DENSENET169_KERAS,
  DENSENET201_KERAS,
  DENSENET_CLASSES,
  DENSENET_FEATURE_LAYER,
  DENSENET_INPUT_SHAPE,
  DENSENET_TOP_LAYERS,
  buildDenseNet,
  type DenseNetConfig,
} from "./densenet.js";
import {
  DENSENET121_KERAS_WEIGHTS,
  DENSENET121_WEIGHTS,
  DENSENET161_WEIGHTS,
  DENSENET169_KERAS_WEIGHTS,
  DENSENET169_WEIGHTS,
  DENSENET201_KERAS_WEIGHTS,
} from "./weights.js";

export {
  buildDenseNet,
  denseLayer,
  transition,
  denseNetChannels,
  denseNetStageSides,
  DENSENET121,
  DENSENET169,
  DENSENET161,
  DENSENET121_KERAS,
  DENSENET169_KERAS,
  DENSENET201_KERAS,
  DENSENET_COMPRESSION,
  DENSENET_TOP_LAYERS,
  DENSENET_FEATURE_LAYER,
  DENSENET_MIN_INPUT_SIZE,
  type DenseNetConfig,
} from "./densenet.js";
export * from "./weights.js";

/**
 * Parameter counts with the 1000-class top: Keras applications' published figures for the `.keras`
 * models (set as their specs' `parameterCount`), and for the Caffe-converted ones the sums derived in
 * densenet.test.ts (no conv bias, BN with 4 and Scale with 2 weights per channel), which nobody published.
 */
export const PARAMETER_COUNTS = {
  densenet121: 8_146_152,
  densenet169: 14_466_280,
  densenet161: 29_120_872,
  "densenet121.keras": 8_062_504,
  "densenet169.keras": 14_307_880,
  "densenet201.keras": 20_242_984,
} as const;

/** Kept as a name for the family's specs; `newHeads` and `recipe` are part of core's ModelSpec. */
export type DenseNetSpec = ModelSpec;

function denseNetSpec(config: DenseNetConfig, description: string, weights: WeightRecord[]): DenseNetSpec {
  const caffe = config.layout === "caffe";
  return {
    name: config.name,
    family: "densenet",
    description,
    inputShape: DENSENET_INPUT_SHAPE,
    classes: DENSENET_CLASSES,
    preprocessing: caffe ? "densenet" : "torch",
    ...(caffe ? {} : { parameterCount: PARAMETER_COUNTS[config.name as keyof typeof PARAMETER_COUNTS] }),
    build: (options: BuildOptions) => buildDenseNet(config, options),
    topLayers: [...DENSENET_TOP_LAYERS[config.layout]],
    featureLayer: DENSENET_FEATURE_LAYER[config.layout],
    // The seed's new head: pool5 → fc6 → prob (softmax as its own layer, as in the Caffe files).
    ...(caffe ? { newHeads: [{ from: "pool5", dense: "fc6", softmax: "prob" }] } : {}),
    // The seed trained DenseNet-161 with batch 8 (16 did not fit).
    ...(config.name === "densenet161" ? { recipe: { batchSize: 8 } } : {}),
    weights,
  };
}

const CAFFE = "Caffe weights (shicai), Scale after every BN, eps 1.1e-5";
const KERAS = "Keras-applications weights, eps 1.001e-5, torch preprocessing";

export const densenet121Spec = registerModel(denseNetSpec(DENSENET121, `DenseNet-121 (Huang et al. 2017), ${CAFFE}`, DENSENET121_WEIGHTS)) as DenseNetSpec;
export const densenet169Spec = registerModel(denseNetSpec(DENSENET169, `DenseNet-169 (Huang et al. 2017), ${CAFFE}`, DENSENET169_WEIGHTS)) as DenseNetSpec;
export const densenet161Spec = registerModel(denseNetSpec(DENSENET161, `DenseNet-161 (Huang et al. 2017, growth 48), ${CAFFE}`, DENSENET161_WEIGHTS)) as DenseNetSpec;
export const densenet121KerasSpec = registerModel(denseNetSpec(DENSENET121_KERAS, `DenseNet-121 (Huang et al. 2017), ${KERAS}`, DENSENET121_KERAS_WEIGHTS)) as DenseNetSpec;
export const densenet169KerasSpec = registerModel(denseNetSpec(DENSENET169_KERAS, `DenseNet-169 (Huang et al. 2017), ${KERAS}`, DENSENET169_KERAS_WEIGHTS)) as DenseNetSpec;
export const densenet201KerasSpec = registerModel(denseNetSpec(DENSENET201_KERAS, `DenseNet-201 (Huang et al. 2017), ${KERAS}`, DENSENET201_KERAS_WEIGHTS)) as DenseNetSpec;

/** DenseNet-121, Caffe-converted layout, with fresh weights. */
export function densenet121(options: BuildOptions = {}): tfl.LayersModel {
  return buildDenseNet(DENSENET121, options);
}
/** DenseNet-169, Caffe-converted layout, with fresh weights. */
export function densenet169(options: BuildOptions = {}): tfl.LayersModel {
  return buildDenseNet(DENSENET169, options);
}
/** DenseNet-161, Caffe-converted layout, with fresh weights. */
export function densenet161(options: BuildOptions = {}): tfl.LayersModel {
  return buildDenseNet(DENSENET161, options);
}
/** DenseNet-121, Keras-applications layout, with fresh weights. */
export function densenet121Keras(options: BuildOptions = {}): tfl.LayersModel {
  return buildDenseNet(DENSENET121_KERAS, options);
}
/** DenseNet-169, Keras-applications layout, with fresh weights. */
export function densenet169Keras(options: BuildOptions = {}): tfl.LayersModel {
  return buildDenseNet(DENSENET169_KERAS, options);
}
/** DenseNet-201, Keras-applications layout, with fresh weights. */
export function densenet201Keras(options: BuildOptions = {}): tfl.LayersModel {
  return buildDenseNet(DENSENET201_KERAS, options);
}

/** Input normalisation of each DenseNet weight family (RGB 0–255 in). */
export const preprocessInput = { caffe: preprocessor("densenet"), keras: preprocessor("torch") };
