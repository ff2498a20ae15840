/**
 * A Keras 2 / tf.keras `model_config` made ready for TensorFlow.js: every layer class checked against
 * what can be imported (anything else refused with its name and class), the spellings of newer
 * Keras versions (dtype policies, `batch_shape`, one-element axis lists) brought to the form
 * TensorFlow.js reads, and settings it cannot honour refused rather than ignored.
 */
import { FtError } from "../errors.js";
import type { DroppedSettings, KerasLayerConfig } from "./keras1.js";

/** Model containers: their layers are checked one by one. */
export const MODEL_CLASSES = new Set(["Sequential", "Model", "Functional"]);

/** Layer classes that import, with the TensorFlow.js class of the same name. */
export const IMPORTABLE_LAYERS = new Set([
  "InputLayer", "Dense", "Conv1D", "Conv2D", "Conv2DTranspose", "SeparableConv2D", "DepthwiseConv2D", "BatchNormalization",
  "LayerNormalization", "Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "ThresholdedReLU", "Softmax", "MaxPooling1D",
  "MaxPooling2D", "AveragePooling1D", "AveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalAveragePooling1D",
  "GlobalAveragePooling2D", "Dropout", "SpatialDropout1D", "GaussianNoise", "GaussianDropout", "AlphaDropout", "Flatten", "Reshape",
  "Permute", "RepeatVector", "ZeroPadding2D", "Cropping2D", "UpSampling2D", "Concatenate", "Add", "Multiply", "Average", "Maximum",
  "Minimum", "Embedding", "Masking", "LSTM", "GRU", "SimpleRNN", "Bidirectional", "TimeDistributed",
  // ft's own layers (files that ft wrote)
  "Scale", "LRN", "PoolHelper",
]);

/** Recurrent layers: TensorFlow.js (like Keras) initializes their recurrent kernels as Orthogonal by default. */
const RECURRENT = new Set(["LSTM", "GRU", "SimpleRNN"]);

const PYTHON_CODE = new Set(["Lambda", "TFOpLambda", "SlicingOpLambda"]);

/**
 * Checks and normalizes a Keras 2 model config in place (nested models included), recording what was
 * replaced in `dropped`. Throws an FtError naming the first layer that cannot be imported, with its
 * class and why.
 */
export function prepareKeras2Model(model: { class_name: string; config: unknown }, dropped: DroppedSettings): void {
  if (!MODEL_CLASSES.has(model.class_name)) {
    throw new FtError(`model_config: the top-level class is "${model.class_name}", not a Sequential or functional Model`);
  }
  const layers = modelLayers(model);
  // tf.keras writes a Sequential's input as a first InputLayer, which TensorFlow.js's Sequential cannot
  // take: its shape goes on the first real layer, as Keras 2.0–2.2 wrote it.
  if (model.class_name === "Sequential" && layers[0]?.class_name === "InputLayer" && layers[1]) {
    const input = layers.shift()!;
    layers[0]!.config.batch_input_shape = input.config.batch_input_shape ?? input.config.batch_shape;
  }
  for (const layer of layers) prepareLayer(layer, dropped);
}

/** The layer list of a model config (Keras 2.0–2.2.2 wrote a Sequential's as a bare list). */
export function modelLayers(model: { class_name: string; config: unknown }): KerasLayerConfig[] {
  if (Array.isArray(model.config)) return model.config as KerasLayerConfig[];
  const layers = (model.config as { layers?: unknown } | null)?.layers;
  if (!Array.isArray(layers)) throw new FtError(`model_config: the ${model.class_name} has no "layers" list`);
  return layers as KerasLayerConfig[];
}

function prepareLayer(layer: KerasLayerConfig, dropped: DroppedSettings): void {
  if (!layer || typeof layer.class_name !== "string" || !layer.config || typeof layer.config !== "object") {
    throw new FtError(`model_config: a layer entry is not {class_name, config}: ${JSON.stringify(layer).slice(0, 120)}`);
  }
  const c = layer.config;
  const name = String(c.name ?? layer.name ?? "?");
  const refuse = (why: string) => new FtError(`layer "${name}" (${layer.class_name}): ${why}`);
  if (MODEL_CLASSES.has(layer.class_name)) return prepareKeras2Model(layer, dropped);
  if (PYTHON_CODE.has(layer.class_name)) {
    throw refuse("it runs Python code that the file does not carry (a Lambda or a TensorFlow op), so it cannot be imported; rebuild that step from ordinary layers before saving");
  }
  if (!IMPORTABLE_LAYERS.has(layer.class_name)) {
    throw refuse(`this layer class cannot be imported (TensorFlow.js has no equivalent, or ft does not handle it yet). Importable classes: ${[...IMPORTABLE_LAYERS].join(", ")}`);
  }
  if (c.dtype && typeof c.dtype === "object") c.dtype = (c.dtype as { config?: { name?: string } }).config?.name ?? "float32";
  if (layer.class_name === "InputLayer" && c.batch_shape && !c.batch_input_shape) {
    c.batch_input_shape = c.batch_shape;
    delete c.batch_shape;
  }
  if (Array.isArray(c.axis)) {
    if (c.axis.length !== 1) throw refuse(`axis ${JSON.stringify(c.axis)}: TensorFlow.js takes one axis`);
    c.axis = c.axis[0];
  }
  if (typeof c.groups === "number" && c.groups !== 1) throw refuse(`groups ${c.groups}: grouped convolutions have no TensorFlow.js equivalent`);
  if (layer.class_name === "GRU" && c.reset_after === true) {
    throw refuse("reset_after true (tf.keras's default GRU, CuDNN-compatible) has no TensorFlow.js equivalent; only reset_after false GRUs import");
  }
  if (layer.class_name === "ReLU" && (Number(c.threshold ?? 0) !== 0 || Number(c.negative_slope ?? 0) !== 0)) {
    throw refuse("a ReLU with a threshold or negative slope has no TensorFlow.js equivalent (only max_value)");
  }
  if (layer.class_name === "ELU" && Number(c.alpha ?? 1) !== 1) throw refuse(`alpha ${String(c.alpha)}: TensorFlow.js's ELU takes only alpha 1`);
  if (RECURRENT.has(layer.class_name) && c.recurrent_initializer === undefined) c.recurrent_initializer = { class_name: "Orthogonal", config: {} };
  for (const key of Object.keys(c)) {
    // TensorFlow.js's Orthogonal initializer needs chained tensor methods that @tensorflow/tfjs-core
    // alone does not register; the file's weights replace initial values anyway.
    if (key.endsWith("_initializer") && (c[key] as { class_name?: string } | null)?.class_name === "Orthogonal") {
      c[key] = { class_name: "GlorotUniform", config: { seed: null } };
      dropped.set(name, [...(dropped.get(name) ?? []), `${key} Orthogonal (built with GlorotUniform; the file's weights replace it)`]);
    }
  }
  if (layer.class_name === "Bidirectional" || layer.class_name === "TimeDistributed") prepareLayer(c.layer as KerasLayerConfig, dropped);
}
