/**
 * Keras 1's `model_config` dialect, translated into Keras 2's (the one TensorFlow.js deserializes):
 * class names (`Convolution2D` → `Conv2D`, `Merge` → `Add`/`Concatenate`/…), argument names
 * (`nb_filter` → `filters`, `border_mode` → `padding`, `subsample` → `strides`, `dim_ordering` →
 * `data_format`, `output_dim` → `units`, `p` → `rate`, …) and the model containers (Sequential as a
 * bare list, `Model` with `[name, node, tensor]` inbound nodes). Initializers, regularizers and
 * constraints are left out: the file's weights replace the initial values, and Keras 1 spelled them
 * differently; what was left out is reported per layer.
 */
import { FtError } from "../errors.js";

export interface KerasLayerConfig {
  class_name: string;
  config: Record<string, unknown>;
  name?: string;
  inbound_nodes?: unknown[];
}

/** What a translation left out, per layer: settings that do not change what the loaded model computes, or unknown ones. */
export type DroppedSettings = Map<string, string[]>;

/** Settings of Keras 1 layers that only shape training from scratch (the file's weights replace them). */
const TRAINING_ONLY = /^(init|inner_init|forget_bias_init|gamma_init|beta_init|[WUb]_(regularizer|constraint)|activity_regularizer|gamma_regularizer|beta_regularizer|consume_less|input_dtype|weights)$/;

type Translate = (c: Record<string, unknown>) => { className: string; config: Record<string, unknown> };

const dataFormat = (c: Record<string, unknown>) => (c.dim_ordering === "th" ? "channels_first" : "channels_last");
const padding = (layer: string, mode: unknown) => {
  if (mode === undefined || mode === "valid" || mode === "same") return mode ?? "valid";
  throw new FtError(`layer "${layer}": border_mode "${String(mode)}" has no TensorFlow.js equivalent (only "valid" and "same")`);
};
const pair = (v: unknown) => (Array.isArray(v) ? v : [v, v]);

function conv2d(className: string): Translate {
  return (c) => ({
    className,
    config: {
      filters: c.nb_filter,
      kernel_size: [c.nb_row, c.nb_col],
      strides: c.subsample ?? [1, 1],
      padding: padding(String(c.name), c.border_mode),
      data_format: dataFormat(c),
      dilation_rate: c.atrous_rate ?? [1, 1],
      activation: c.activation ?? "linear",
      use_bias: c.bias ?? true,
      ...(className === "SeparableConv2D" ? { depth_multiplier: c.depth_multiplier ?? 1 } : {}),
    },
  });
}

function pool2d(className: string): Translate {
  return (c) => ({ className, config: { pool_size: c.pool_size ?? [2, 2], strides: c.strides ?? c.pool_size ?? [2, 2], padding: padding(String(c.name), c.border_mode), data_format: dataFormat(c) } });
}

function pool1d(className: string): Translate {
  return (c) => ({ className, config: { pool_size: c.pool_length ?? 2, strides: c.stride ?? c.pool_length ?? 2, padding: padding(String(c.name), c.border_mode) } });
}

function recurrent(className: string): Translate {
  return (c) => ({
    className,
    config: {
      units: c.output_dim,
      activation: c.activation ?? "tanh",
      ...(className === "SimpleRNN" ? {} : { recurrent_activation: c.inner_activation ?? "hard_sigmoid" }),
      return_sequences: c.return_sequences ?? false,
      go_backwards: c.go_backwards ?? false,
      stateful: c.stateful ?? false,
      unroll: c.unroll ?? false,
      dropout: c.dropout_W ?? 0,
      recurrent_dropout: c.dropout_U ?? 0,
      ...(className === "LSTM" ? { unit_forget_bias: false } : {}),
    },
  });
}

const MERGE_MODES: Record<string, string> = { sum: "Add", mul: "Multiply", ave: "Average", max: "Maximum", concat: "Concatenate" };

const TRANSLATIONS: Record<string, Translate> = {
  InputLayer: () => ({ className: "InputLayer", config: {} }),
  Dense: (c) => ({ className: "Dense", config: { units: c.output_dim, activation: c.activation ?? "linear", use_bias: c.bias ?? true } }),
  Convolution2D: conv2d("Conv2D"),
  AtrousConvolution2D: conv2d("Conv2D"),
  SeparableConvolution2D: conv2d("SeparableConv2D"),
  Convolution1D: (c) => ({
    className: "Conv1D",
    config: {
      filters: c.nb_filter,
      kernel_size: c.filter_length,
      strides: c.subsample_length ?? 1,
      padding: padding(String(c.name), c.border_mode),
      activation: c.activation ?? "linear",
      use_bias: c.bias ?? true,
    },
  }),
  MaxPooling2D: pool2d("MaxPooling2D"),
  AveragePooling2D: pool2d("AveragePooling2D"),
  MaxPooling1D: pool1d("MaxPooling1D"),
  AveragePooling1D: pool1d("AveragePooling1D"),
  GlobalMaxPooling2D: (c) => ({ className: "GlobalMaxPooling2D", config: { data_format: dataFormat(c) } }),
  GlobalAveragePooling2D: (c) => ({ className: "GlobalAveragePooling2D", config: { data_format: dataFormat(c) } }),
  GlobalMaxPooling1D: () => ({ className: "GlobalMaxPooling1D", config: {} }),
  GlobalAveragePooling1D: () => ({ className: "GlobalAveragePooling1D", config: {} }),
  ZeroPadding2D: (c) => {
    const p = c.padding ?? [1, 1];
    const padding = Array.isArray(p) && p.length === 4 ? [[p[0], p[1]], [p[2], p[3]]] : pair(p);
    return { className: "ZeroPadding2D", config: { padding, data_format: dataFormat(c) } };
  },
  Cropping2D: (c) => ({ className: "Cropping2D", config: { cropping: c.cropping, data_format: dataFormat(c) } }),
  UpSampling2D: (c) => ({ className: "UpSampling2D", config: { size: c.size ?? [2, 2], data_format: dataFormat(c) } }),
  BatchNormalization: (c) => {
    if ((c.mode ?? 0) !== 0) {
      throw new FtError(`layer "${String(c.name)}": BatchNormalization mode ${String(c.mode)} (statistics of each batch, even at inference) has no Keras 2 or TensorFlow.js equivalent; only mode 0 can be imported`);
    }
    return { className: "BatchNormalization", config: { axis: c.axis ?? -1, epsilon: c.epsilon ?? 1e-3, momentum: c.momentum ?? 0.99, center: true, scale: true } };
  },
  Activation: (c) => ({ className: "Activation", config: { activation: c.activation } }),
  LeakyReLU: (c) => ({ className: "LeakyReLU", config: { alpha: c.alpha ?? 0.3 } }),
  PReLU: (c) => ({ className: "PReLU", config: { shared_axes: c.shared_axes ?? null } }),
  ELU: (c) => ({ className: "ELU", config: { alpha: c.alpha ?? 1 } }),
  ThresholdedReLU: (c) => ({ className: "ThresholdedReLU", config: { theta: c.theta ?? 1 } }),
  Dropout: (c) => ({ className: "Dropout", config: { rate: c.p ?? 0 } }),
  Flatten: () => ({ className: "Flatten", config: {} }),
  Reshape: (c) => ({ className: "Reshape", config: { target_shape: c.target_shape } }),
  Permute: (c) => ({ className: "Permute", config: { dims: c.dims } }),
  RepeatVector: (c) => ({ className: "RepeatVector", config: { n: c.n } }),
  Embedding: (c) => ({ className: "Embedding", config: { input_dim: c.input_dim, output_dim: c.output_dim, mask_zero: c.mask_zero ?? false, input_length: c.input_length ?? null } }),
  LSTM: recurrent("LSTM"),
  GRU: recurrent("GRU"),
  SimpleRNN: recurrent("SimpleRNN"),
  Merge: (c) => {
    const mode = c.mode;
    const className = typeof mode === "string" ? MERGE_MODES[mode] : undefined;
    if (!className) {
      const what = typeof mode === "string" ? `mode "${mode}"` : "a Python function as its mode";
      throw new FtError(`layer "${String(c.name)}": Merge with ${what} cannot be imported (supported modes: ${Object.keys(MERGE_MODES).join(", ")})`);
    }
    return { className, config: className === "Concatenate" ? { axis: c.concat_axis ?? -1 } : {} };
  },
};

/** Keras 1 names of what both dialects spell alike, kept as they are. */
const KEPT = new Set(["name", "trainable", "batch_input_shape", "input_shape", "batch_size", "dtype", "sparse"]);

/**
 * Translates one Keras 1 layer (and a wrapped one: `Bidirectional`, `TimeDistributed`), recording
 * dropped settings in `dropped`. Throws an FtError naming the layer and class when it has no
 * Keras 2 counterpart.
 */
export function translateKeras1Layer(layer: KerasLayerConfig, dropped: DroppedSettings): KerasLayerConfig {
  const c = layer.config;
  const name = String(c.name ?? layer.name ?? layer.class_name);
  if (layer.class_name === "Bidirectional" || layer.class_name === "TimeDistributed") {
    const inner = translateKeras1Layer(c.layer as KerasLayerConfig, dropped);
    const config: Record<string, unknown> = { name, trainable: c.trainable ?? true, layer: inner };
    if (layer.class_name === "Bidirectional") config.merge_mode = c.merge_mode ?? "concat";
    return withNodes(layer, { class_name: layer.class_name, config: { ...keptInputSettings(c), ...config } });
  }
  if (layer.class_name === "Merge" && Array.isArray(c.layers)) {
    throw new FtError(`layer "${name}": a Merge of Sequential branches inside a Sequential model cannot be imported; save the model as a functional Model`);
  }
  const translate = TRANSLATIONS[layer.class_name];
  if (!translate) {
    throw new FtError(`layer "${name}" (${layer.class_name}): no Keras 2 counterpart is known for this Keras 1 layer class, so it cannot be imported`);
  }
  const { className, config } = translate({ ...c, name });
  const left = Object.keys(c).filter((k) => c[k] !== null && !KEPT.has(k) && !TRANSLATED.has(k));
  if (left.length) dropped.set(name, left.map((k) => (TRAINING_ONLY.test(k) ? k : `${k} (unrecognized)`)));
  return withNodes(layer, { class_name: className, config: { ...keptInputSettings(c), name, ...config } });
}

/** Keras 1 spellings consumed by the translations above, and settings that do not affect the result. */
const TRANSLATED = new Set([
  "nb_filter", "nb_row", "nb_col", "subsample", "border_mode", "dim_ordering", "atrous_rate", "bias", "activation", "depth_multiplier",
  "filter_length", "subsample_length", "pool_size", "strides", "pool_length", "stride", "padding", "cropping", "size", "mode", "axis",
  "epsilon", "momentum", "alpha", "shared_axes", "theta", "p", "target_shape", "dims", "n", "input_dim", "output_dim", "mask_zero",
  "input_length", "inner_activation", "return_sequences", "go_backwards", "stateful", "unroll", "dropout_W", "dropout_U", "concat_axis",
  "input_dtype", "mode_type", "output_shape", "output_shape_type", "output_mask", "output_mask_type", "arguments", "dot_axes",
]);

/**
 * The input shape (Keras 1 records `batch_input_shape` on a model's first layer). Its `input_dtype` is
 * left out: in Keras 2 and TensorFlow.js a layer's dtype is that of its weights too (an int32 Embedding
 * input must not make int32 embeddings), and the layers that take integers cast their input.
 */
function keptInputSettings(c: Record<string, unknown>): Record<string, unknown> {
  return Array.isArray(c.batch_input_shape) ? { batch_input_shape: c.batch_input_shape } : {};
}

function withNodes(source: KerasLayerConfig, layer: KerasLayerConfig): KerasLayerConfig {
  if (source.inbound_nodes !== undefined) layer.inbound_nodes = source.inbound_nodes;
  if (source.name !== undefined) layer.name = source.name;
  return layer;
}

/**
 * A Keras 1 `model_config` in Keras 2 form: Sequential as `{name, layers}`, Model with its layers,
 * `input_layers` and `output_layers` (inbound nodes keep their `[name, node, tensor]` form, which
 * TensorFlow.js reads).
 */
export function translateKeras1Model(modelConfig: { class_name: string; config: unknown }, dropped: DroppedSettings): { class_name: string; config: Record<string, unknown> } {
  if (modelConfig.class_name === "Sequential") {
    const layers = (Array.isArray(modelConfig.config) ? modelConfig.config : ((modelConfig.config as { layers?: unknown[] }).layers ?? [])) as KerasLayerConfig[];
    return { class_name: "Sequential", config: { name: "sequential", layers: layers.map((l) => translateNested(l, dropped)) } };
  }
  if (modelConfig.class_name === "Model") {
    const config = modelConfig.config as Record<string, unknown>;
    const layers = (config.layers ?? []) as KerasLayerConfig[];
    return { class_name: "Model", config: { ...config, layers: layers.map((l) => translateNested(l, dropped)) } };
  }
  throw new FtError(`model_config: a Keras 1 "${modelConfig.class_name}" model cannot be imported (only Sequential and Model)`);
}

function translateNested(layer: KerasLayerConfig, dropped: DroppedSettings): KerasLayerConfig {
  if (layer.class_name === "Sequential" || layer.class_name === "Model") {
    const inner = translateKeras1Model(layer as { class_name: string; config: unknown }, dropped);
    const name = String(layer.name ?? (layer.config as { name?: unknown }).name ?? inner.config.name);
    return withNodes(layer, { class_name: inner.class_name, config: { ...inner.config, name } });
  }
  return translateKeras1Layer(layer, dropped);
}
