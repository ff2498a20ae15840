/**
 * Any Keras `model.save` file as a TensorFlow.js model: the architecture from its own `model_config`
 * (Keras 1 or Keras 2 / tf.keras, Sequential, functional and nested), the weights by layer name with
 * the weight loader. Data flows one way: config → Keras 2 form → checks → (channels-last) → tfjs
 * model → weights.
 */
import * as tfl from "@tensorflow/tfjs-layers";
import { FtError, UsageError } from "../errors.js";
import type { DimOrdering } from "../spec.js";
import { readKerasWeights, type KerasWeightFile } from "../weights/keras-file.js";
import { loadWeights, type LoadReport, type LoadWeightsOptions } from "../weights/load.js";
import { dataFormatOf, toChannelsLast } from "./channels-last.js";
import { translateKeras1Model, type DroppedSettings, type KerasLayerConfig } from "./keras1.js";
import { keras2View } from "./keras1-weights.js";
import { MODEL_CLASSES, modelLayers, prepareKeras2Model } from "./model-config.js";
import { inlineNestedModels, splitNestedWeights } from "./nested.js";

export interface ImportKerasOptions {
  /** Kernel ordering of the file; by default from its config, its backend and its kernels. */
  ordering?: DimOrdering;
  /**
   * The input's shape without the batch axis, channels-last (`[H, W, C]`), for a model whose file
   * leaves some of it unknown (fully convolutional models); must agree with what the file knows.
   */
  inputShape?: readonly number[];
  onProgress?: LoadWeightsOptions["onProgress"];
}

export interface ImportReport {
  path: string;
  /** The model's name in its config. */
  name: string;
  /** `Sequential`, `Model` or `Functional`, as the file says. */
  modelClass: string;
  kerasMajor: 0 | 1 | 2;
  kerasVersion?: string;
  /** Nested models inlined into the graph, with their layers. */
  inlined: Record<string, string[]>;
  /** The file's model was channels-first and was rebuilt channels-last (its input is now `[H, W, C]`). */
  channelsFirst: boolean;
  /** The imported model's input shapes (batch axis first, `null` where any size is taken). */
  inputShapes: (number | null)[][];
  /** Number of layers per class (nested models are inlined: their layers count, they do not). */
  classes: Record<string, number>;
  /** Settings of the file's layers left out (Keras 1 initializers, regularizers, …), per layer. */
  dropped: Record<string, string[]>;
  load: LoadReport;
}

/**
 * Builds the model a Keras `model.save` file describes and loads its weights. Throws an FtError naming
 * the file, and the layer at fault, when the file has no architecture or a layer cannot be imported.
 * Pass an open `KerasWeightFile` to keep it open.
 */
export async function importKerasModel(pathOrFile: string | KerasWeightFile, options: ImportKerasOptions = {}): Promise<{ model: tfl.LayersModel; report: ImportReport }> {
  const file = typeof pathOrFile === "string" ? await readKerasWeights(pathOrFile) : pathOrFile;
  try {
    const { config, dropped, channelsFirst, inlined } = await importableConfig(file, options);
    const model = await build(file.path, config);
    try {
      const split = splitNestedWeights(file, inlined);
      const view = file.kerasMajor === 1 ? keras2View(split, layerClasses(config)) : split;
      const load = await loadWeights(model, view, { ordering: options.ordering, flattenedChannelsFirst: channelsFirst, onProgress: options.onProgress });
      const report: ImportReport = {
        path: file.path,
        name: model.name,
        modelClass: (file.modelConfig as { class_name: string }).class_name,
        kerasMajor: file.kerasMajor,
        kerasVersion: file.kerasVersion,
        channelsFirst,
        inlined: Object.fromEntries(inlined),
        inputShapes: model.inputs.map((t) => [...t.shape]),
        classes: countClasses(config),
        dropped: Object.fromEntries(dropped),
        load,
      };
      return { model, report };
    } catch (e) {
      model.dispose();
      throw e;
    }
  } finally {
    if (typeof pathOrFile === "string") file.close();
  }
}

/** The file's config in the Keras 2 form TensorFlow.js deserializes, checked, channels-last. */
async function importableConfig(file: KerasWeightFile, options: ImportKerasOptions) {
  const original = file.modelConfig as { class_name?: unknown; config?: unknown } | undefined;
  if (!original || typeof original !== "object" || typeof original.class_name !== "string") {
    throw new FtError(
      `${file.path}: the file has no model_config (it holds weights only, as save_weights writes them), so its architecture is unknown; name it with --model (see ft models)`,
    );
  }
  const dropped: DroppedSettings = new Map();
  const { model: config, inlined } = inFile(file.path, () => {
    const copy = structuredClone(original) as { class_name: string; config: unknown };
    const keras2 = file.kerasMajor === 1 ? translateKeras1Model(copy, dropped) : copy;
    prepareKeras2Model(keras2, dropped);
    if (options.inputShape) setInputShape(keras2, options.inputShape);
    return inlineNestedModels(keras2);
  });
  const format = dataFormatOf(config);
  if (format === "mixed") throw new FtError(`${file.path}: the model mixes channels-first and channels-last layers, which ft cannot import`);
  const channelsFirst = format === "channels_first";
  if (channelsFirst) {
    const asSaved = await build(file.path, structuredClone(config));
    try {
      inFile(file.path, () => toChannelsLast(config, asSaved));
    } finally {
      asSaved.dispose();
    }
  }
  return { config, dropped, channelsFirst, inlined };
}

async function build(path: string, config: { class_name: string; config: unknown }): Promise<tfl.LayersModel> {
  try {
    return await tfl.models.modelFromJSON({ modelTopology: config as unknown as Parameters<typeof tfl.models.modelFromJSON>[0]["modelTopology"] });
  } catch (e) {
    const message = (e as Error).message ?? String(e);
    const unknownSize = /None|null|undefined|NaN|negative|fully-defined|must be positive/i.test(message);
    throw new FtError(
      `${path}: TensorFlow.js cannot build the model its model_config describes: ${message}${unknownSize ? ". If the file leaves the input size open, give one with --input-shape H,W,C (option inputShape)" : ""}`,
    );
  }
}

/** Runs `step`, prefixing the file's path to the FtError it throws. */
function inFile<T>(path: string, step: () => T): T {
  try {
    return step();
  } catch (e) {
    if (e instanceof FtError && !e.message.startsWith(path)) throw new FtError(`${path}: ${e.message}`, e.exitCode);
    throw e;
  }
}

/** Fixes the unknown input dimensions of a one-input model. */
function setInputShape(model: { class_name: string; config: unknown }, shape: readonly number[]): void {
  if (!shape.every((d) => Number.isInteger(d) && d > 0)) throw new UsageError(`inputShape must be positive integers (got ${shape.join(",")})`);
  const inputs = modelLayers(model).filter((l) => l.class_name === "InputLayer" || Array.isArray(l.config.batch_input_shape));
  if (inputs.length !== 1) throw new UsageError(`inputShape: the model has ${inputs.length} inputs; only a model with one input takes --input-shape`);
  const c = inputs[0]!.config;
  const known = c.batch_input_shape as (number | null)[];
  if (known.length !== shape.length + 1) {
    throw new UsageError(`inputShape [${shape.join(", ")}]: the model's input "${String(c.name)}" has ${known.length - 1} dimensions (${JSON.stringify(known.slice(1))})`);
  }
  const fixed = shape.filter((d, i) => known[i + 1] != null && known[i + 1] !== d);
  if (fixed.length) throw new UsageError(`inputShape [${shape.join(", ")}] disagrees with the input "${String(c.name)}" of the file, ${JSON.stringify(known.slice(1))}`);
  c.batch_input_shape = [known[0] ?? null, ...shape];
}

/** Each layer's class, and the wrapped class of wrappers, by layer name (nested models included). */
function layerClasses(model: { class_name: string; config: unknown }): Map<string, { className: string; inner?: string }> {
  const out = new Map<string, { className: string; inner?: string }>();
  const visit = (layers: KerasLayerConfig[]) => {
    for (const layer of layers) {
      if (MODEL_CLASSES.has(layer.class_name)) visit(modelLayers(layer));
      const inner = (layer.config.layer as KerasLayerConfig | undefined)?.class_name;
      out.set(String(layer.config.name), { className: layer.class_name, ...(inner ? { inner } : {}) });
    }
  };
  visit(modelLayers(model));
  return out;
}

function countClasses(model: { class_name: string; config: unknown }): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const [, { className }] of layerClasses(model)) counts[className] = (counts[className] ?? 0) + 1;
  return counts;
}
