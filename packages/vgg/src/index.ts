/**
 * @ft/vgg: VGG-16 and VGG-19, name-exact to the Keras-applications files and position-exact to the
 * seed's legacy Sequential files. Importing this module registers `vgg16` and `vgg19` with @ft/core.
 */
import { preprocessor, registerModel, type BuildOptions, type ModelSpec } from "@ft/core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { VGG16, VGG19, VGG_CLASSES, VGG_FEATURE_LAYER, VGG_INPUT_SHAPE, VGG_TOP_LAYERS, buildVgg, type VggConfig } from "./vgg.js";
import { VGG16_WEIGHTS, VGG19_WEIGHTS } from "./weights.js";

export { buildVgg, conv3x3Relu, vggBlock, vggClassifier, legacyLayerCount, VGG16, VGG19, VGG_BLOCK_FILTERS, VGG_TOP_LAYERS, VGG_FEATURE_LAYER } from "./vgg.js";
export type { VggConfig } from "./vgg.js";
export { VGG16_WEIGHTS, VGG19_WEIGHTS } from "./weights.js";

/** The input normalisation of every VGG weight file: RGB→BGR and Caffe mean subtraction. */
export const preprocessInput = preprocessor("caffe");

function vggSpec(config: VggConfig, description: string, parameterCount: number, weights: ModelSpec["weights"]): ModelSpec {
  return {
    name: config.name,
    family: "vgg",
    description,
    inputShape: VGG_INPUT_SHAPE,
    classes: VGG_CLASSES,
    preprocessing: "caffe",
    parameterCount,
    build: (options: BuildOptions) => buildVgg(config, options),
    topLayers: VGG_TOP_LAYERS,
    featureLayer: VGG_FEATURE_LAYER,
    // The seed's scripts put their new softmax, named `dense`, after the last Dropout.
    newHeads: [{ from: VGG_FEATURE_LAYER, dense: "dense" }],
    weights,
  };
}

export const vgg16Spec = registerModel(vggSpec(VGG16, "VGG-16 (Simonyan & Zisserman 2014), 13 conv + 3 dense layers", 138_357_544, VGG16_WEIGHTS));
export const vgg19Spec = registerModel(vggSpec(VGG19, "VGG-19 (Simonyan & Zisserman 2014), 16 conv + 3 dense layers", 143_667_240, VGG19_WEIGHTS));

/** VGG-16 with fresh weights; see `buildVgg` for the options. */
export function vgg16(options: BuildOptions = {}): tfl.LayersModel {
  return buildVgg(VGG16, options);
}

/** VGG-19 with fresh weights; see `buildVgg` for the options. */
export function vgg19(options: BuildOptions = {}): tfl.LayersModel {
  return buildVgg(VGG19, options);
}
