/**
 * Loads a Keras HDF5 weight file into a built TensorFlow.js model: matches layers (by name, or by
 * position for the legacy container), checks every shape before assigning anything, converts Theano
 * kernels and channels-first Dense rows, and streams one array at a time into the model.
 */
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { FtError } from "../errors.js";
import type { ContainerLayout, DimOrdering } from "../spec.js";
import { readKerasWeights, type KerasLayerWeights, type KerasWeight, type KerasWeightFile } from "./keras-file.js";
import { checkConversion, conversionFor, convertRows, fileShapeFor, fmt, orderingMatters, sameShape, type WeightConversion } from "./convert.js";
import { detectOrdering, resolveOrdering } from "./ordering.js";

export interface LoadWeightsOptions {
  /** Kernel ordering of the file; detected from the file and the model when omitted. */
  ordering?: DimOrdering;
  /** Ordering to use when detection cannot decide (e.g. the one a weight record declares). */
  defaultOrdering?: DimOrdering;
  /**
   * `false` when the model was built without its classifier: the file's `topLayers` are skipped on
   * purpose (and reported). Default true.
   */
  includeTop?: boolean;
  /** Names of the model's top layers (`ModelSpec.topLayers`); for legacy files, the trailing layers are used. */
  topLayers?: readonly string[];
  /**
   * A model built with its top may take a notop file: the top layers the file lacks keep their initial
   * weights (and are reported in `initialTop`). For fine-tuning, whose new head replaces the classifier.
   */
  topOptional?: boolean;
  /** Load what matches and list what did not, instead of refusing any unmatched layer. */
  allowPartial?: boolean;
  /**
   * The file's Dense layers after a Flatten of a 2-D map hold rows in channels-first `(c, h, w)` order
   * (reordered on load). Default: true for th files of Keras 0/1, false otherwise.
   */
  flattenedChannelsFirst?: boolean;
  /** Called after each layer is assigned. */
  onProgress?: (progress: { layer: string; done: number; total: number }) => void;
}

/** A layer that was not loaded. */
export interface SkippedLayer {
  layer: string;
  /** `file`: the file has it, the model does not; `model`: the model has it, the file does not. */
  side: "file" | "model";
  reason: string;
}

export interface LoadReport {
  path: string;
  layout: ContainerLayout;
  kerasVersion?: string;
  backend?: string;
  ordering: DimOrdering;
  /** `option`, `detected`, or `default` (the caller's `defaultOrdering`). */
  orderingSource: string;
  orderingEvidence: string[];
  /** Model layers whose weights were assigned, in assignment order. */
  loaded: string[];
  /** Layers skipped on purpose (`includeTop: false`). */
  skippedTop: string[];
  /** Top layers of the model that a notop file had no weights for (`topOptional`). */
  initialTop: string[];
  /** Layers skipped because `allowPartial` was set. */
  skipped: SkippedLayer[];
  /** Layers whose Theano kernels were flipped/transposed. */
  convertedKernels: string[];
  /** Dense layers whose rows were reordered from channels-first. */
  reorderedDense: string[];
  /** Arrays assigned. */
  tensors: number;
  /** Values assigned. */
  values: number;
  seconds: number;
}

interface WeightPlan {
  variable: tfl.LayerVariable;
  file: KerasWeight;
  conversion: WeightConversion;
}

interface LayerPlan {
  layer: tfl.layers.Layer;
  file: KerasLayerWeights;
  weights: WeightPlan[];
}

/** Values per read when streaming a large array (16 MB of float32). */
const BLOCK_VALUES = 4 * 1024 * 1024;

/**
 * Loads the weights of a Keras HDF5 file into `model`. By exact layer name for Keras 1/2 and
 * `model.save` files; by position over all layers (weightless ones included) for the legacy
 * container. Every shape is checked before anything is assigned, so a refused file leaves the model
 * untouched. Pass an already open `KerasWeightFile` to keep it open after loading.
 */
export async function loadWeights(model: tfl.LayersModel, pathOrFile: string | KerasWeightFile, options: LoadWeightsOptions = {}): Promise<LoadReport> {
  const started = performance.now();
  const file = typeof pathOrFile === "string" ? await readKerasWeights(pathOrFile) : pathOrFile;
  try {
    const { pairs, skippedTop, initialTop, skipped } = matchLayers(model, file, options);

    const expectedKernels = new Map<string, number[]>();
    for (const { layer, file: fl } of pairs) {
      const kernel = layer.weights[0];
      if (kernel && kernel.shape.length === 4) expectedKernels.set(fl.name, [...kernel.shape] as number[]);
    }
    const detection = detectOrdering(file, { expectedKernels });
    const fallback = options.defaultOrdering
      ? { ordering: options.defaultOrdering, source: "default" }
      : pairs.some(({ layer }) => orderingMatters(layer))
        ? undefined
        : { ordering: "tf" as const, source: "irrelevant (no conv kernels or flattened maps)" };
    const { ordering, source } = resolveOrdering(file.path, detection, options.ordering, fallback);

    const plans = planLayers(file, pairs, ordering, detection.ordering, options);

    const report: LoadReport = {
      path: file.path,
      layout: file.layout,
      kerasVersion: file.kerasVersion,
      backend: file.backend,
      ordering,
      orderingSource: source,
      orderingEvidence: detection.evidence.map((e) => `${e.ordering}: ${e.reason}`),
      loaded: [],
      skippedTop,
      initialTop,
      skipped,
      convertedKernels: [],
      reorderedDense: [],
      tensors: 0,
      values: 0,
      seconds: 0,
    };
    assign(plans, report, options.onProgress);
    report.seconds = (performance.now() - started) / 1000;
    return report;
  } finally {
    if (typeof pathOrFile === "string") file.close();
  }
}

function modelLayers(model: tfl.LayersModel): tfl.layers.Layer[] {
  return model.layers.filter((l) => l.getClassName() !== "InputLayer");
}

function matchLayers(model: tfl.LayersModel, file: KerasWeightFile, options: LoadWeightsOptions) {
  const includeTop = options.includeTop ?? true;
  const topLayers = new Set(options.topLayers ?? []);
  const layers = modelLayers(model);
  const pairs: { layer: tfl.layers.Layer; file: KerasLayerWeights }[] = [];
  const skippedTop: string[] = [];
  const initialTop: string[] = [];
  const unmatchedFile: string[] = [];
  const unmatchedModel: string[] = [];

  if (file.layout === "legacy") {
    // Porting note: like Keras 0.x, position k of the file is layer k of the model, weightless ones
    // included; tfjs' InputLayer has no Keras 0.x counterpart and is not counted.
    let count = Math.min(layers.length, file.layers.length);
    const missing = layers.slice(count).filter((l) => l.weights.length);
    if (!includeTop && file.layers.length > layers.length) {
      skippedTop.push(...file.layers.slice(layers.length).filter((l) => l.weights.length).map((l) => l.name));
    } else if (options.topOptional && missing.length && missing.every((l) => topLayers.has(l.name))) {
      initialTop.push(...missing.map((l) => l.name));
    } else if (file.layers.length !== layers.length) {
      const message = `${file.path}: the legacy file has ${file.layers.length} layers but the model has ${layers.length} (weightless layers count in both; the file's layers load by position)`;
      if (!options.allowPartial) {
        throw new FtError(`${message}. The file is probably for another model${file.layers.length > layers.length ? " (or the model was built without its top: pass includeTop false)" : ""}; pass allowPartial to load the first ${count} layers anyway.`);
      }
      for (const l of file.layers.slice(count)) if (l.weights.length) unmatchedFile.push(l.name);
      for (const l of layers.slice(count)) if (l.weights.length) unmatchedModel.push(l.name);
    }
    for (let k = 0; k < count; k++) {
      if (file.layers[k]!.weights.length || layers[k]!.weights.length) pairs.push({ layer: layers[k]!, file: file.layers[k]! });
    }
  } else {
    const byName = new Map(layers.map((l) => [l.name, l]));
    const inFile = new Set<string>();
    for (const fl of file.layers) {
      if (!fl.weights.length) continue;
      inFile.add(fl.name);
      const layer = byName.get(fl.name);
      if (layer) pairs.push({ layer, file: fl });
      else if (!includeTop && topLayers.has(fl.name)) skippedTop.push(fl.name);
      else unmatchedFile.push(fl.name);
    }
    for (const layer of layers) {
      if (!layer.weights.length || inFile.has(layer.name)) continue;
      if (options.topOptional && topLayers.has(layer.name)) initialTop.push(layer.name);
      else unmatchedModel.push(layer.name);
    }
  }

  const skipped: SkippedLayer[] = [
    ...unmatchedFile.map((layer) => ({ layer, side: "file" as const, reason: "no layer of this name in the model" })),
    ...unmatchedModel.map((layer) => ({ layer, side: "model" as const, reason: "no weights for this layer in the file" })),
  ];
  if (skipped.length && !options.allowPartial) {
    const lines = [`${file.path}: the file and the model do not match:`];
    if (unmatchedFile.length) lines.push(`  ${unmatchedFile.length} layer(s) of the file are not in the model: ${list(unmatchedFile)}`);
    if (unmatchedModel.length) lines.push(`  ${unmatchedModel.length} weighted layer(s) of the model are not in the file: ${list(unmatchedModel)}`);
    lines.push(`Likely cause: ${unmatchedCause(unmatchedFile, unmatchedModel, pairs.length, includeTop, topLayers)}`);
    lines.push("Pass allowPartial (--allow-partial) to load the matching layers and skip the rest.");
    throw new FtError(lines.join("\n"));
  }
  if (!pairs.some((p) => p.file.weights.length)) {
    const fileLayers = file.layers.filter((l) => l.weights.length).length;
    throw new FtError(
      `${file.path}: no layer of the file matches the model (0 of the file's ${fileLayers} weighted layers, 0 of the model's ${layers.filter((l) => l.weights.length).length}); nothing would be loaded${options.allowPartial ? ", even with allowPartial (--allow-partial)" : ""}. The file is for another model.`,
    );
  }
  return { pairs, skippedTop, initialTop, skipped };
}

function unmatchedCause(fileOnly: string[], modelOnly: string[], matched: number, includeTop: boolean, topLayers: Set<string>): string {
  if (matched === 0) return "the file is for another model (no layer name matches).";
  if (modelOnly.length && !fileOnly.length && modelOnly.every((n) => topLayers.has(n))) {
    return "this is a notop file (it lacks the classifier): build the model with includeTop false.";
  }
  if (fileOnly.length && !modelOnly.length && includeTop === false && topLayers.size === 0) {
    return "the model was built without its top, but no top layer names were given (topLayers).";
  }
  if (fileOnly.length && !modelOnly.length && fileOnly.every((n) => topLayers.has(n))) {
    return "the file has a classifier the model lacks: build the model with includeTop true, or load with includeTop false.";
  }
  return "the file is for another model or another variant of this one.";
}

function planLayers(
  file: KerasWeightFile,
  pairs: { layer: tfl.layers.Layer; file: KerasLayerWeights }[],
  ordering: DimOrdering,
  detected: DimOrdering | undefined,
  options: LoadWeightsOptions,
): LayerPlan[] {
  const problems: string[] = [];
  const plans: LayerPlan[] = [];
  const topLayers = new Set(options.topLayers ?? []);
  for (const { layer, file: fl } of pairs) {
    const where = file.layout === "legacy" ? `layer "${layer.name}" (file ${fl.name})` : `layer "${layer.name}"`;
    const variables = layer.weights;
    if (variables.length !== fl.weights.length) {
      const fileNames = fl.weights.map((w) => `${w.role} ${fmt(w.shape)}`).join(", ") || "none";
      const modelNames = variables.map((v) => `${shortName(v.name)} ${fmt(v.shape as number[])}`).join(", ") || "none";
      problems.push(
        `${where} (${layer.getClassName()}): the file has ${fl.weights.length} weight(s) [${fileNames}] but the model has ${variables.length} [${modelNames}]. ${countCause(layer, fl, variables.length)}`,
      );
      continue;
    }
    const weights: WeightPlan[] = [];
    variables.forEach((variable, i) => {
      const fw = fl.weights[i]!;
      const modelShape = variable.shape as number[];
      const decided = conversionFor(layer, i, ordering, file.kerasMajor, options.flattenedChannelsFirst);
      if ("problem" in decided) {
        problems.push(`${where}: ${decided.problem}`);
        return;
      }
      const { conversion } = decided;
      const expected = fileShapeFor(conversion, modelShape);
      if (!sameShape(expected, fw.shape)) {
        problems.push(
          `${where}, weight "${fw.name}": the file has shape ${fmt(fw.shape)}, the model needs ${fmt(modelShape)}${conversion.kind === "theano-kernel" ? ` (stored as ${fmt(expected)} in a th file)` : ""}. ${shapeCause(layer, fw.shape, modelShape, conversion, ordering, detected, topLayers)}`,
        );
        return;
      }
      checkConversion(conversion, fw.shape);
      weights.push({ variable, file: fw, conversion });
    });
    plans.push({ layer, file: fl, weights });
  }
  if (problems.length) {
    const shown = problems.slice(0, 8);
    if (problems.length > shown.length) shown.push(`… and ${problems.length - shown.length} more`);
    throw new FtError(`${file.path}: cannot load into the model (nothing was loaded):\n  ${shown.join("\n  ")}`);
  }
  return plans;
}

function countCause(layer: tfl.layers.Layer, fl: KerasLayerWeights, modelCount: number): string {
  const cls = layer.getClassName();
  if (cls === "BatchNormalization") return "Likely cause: the model's BatchNormalization differs in scale/center (gamma/beta) from the file's, or the file is for another model.";
  if (/Conv|Dense/.test(cls) && Math.abs(fl.weights.length - modelCount) === 1) return "Likely cause: the model's layer and the file's differ in having a bias (useBias), or the file is for another model.";
  return "Likely cause: the file is for another model.";
}

function shapeCause(
  layer: tfl.layers.Layer,
  fileShape: number[],
  modelShape: number[],
  conversion: WeightConversion,
  ordering: DimOrdering,
  detected: DimOrdering | undefined,
  topLayers: Set<string>,
): string {
  if (modelShape.length === 4 && fileShape.length === 4) {
    const [kh, kw, c, o] = modelShape;
    const otherLayout = conversion.kind === "theano-kernel" ? [kh, kw, c, o] : [o, c, kh, kw];
    if (sameShape(otherLayout as number[], fileShape)) {
      const other = ordering === "th" ? "tf" : "th";
      return `Likely cause: wrong ordering: the kernel is stored in ${other} order${detected && detected !== ordering ? ` (the file looks ${detected})` : ""}; pass --ordering ${other} or leave the ordering to detection.`;
    }
  }
  if (layer.getClassName() === "Dense" && fileShape.length === 2 && modelShape.length === 2) {
    if (fileShape[0] === modelShape[0] && fileShape[1] !== modelShape[1]) {
      return `Likely cause: the file's layer has ${fileShape[1]} outputs, the model's ${modelShape[1]}${topLayers.has(layer.name) ? " (build the model with the file's number of classes, or with includeTop false)" : ""}, or the file is for another model.`;
    }
    if (fileShape[0] !== modelShape[0]) return "Likely cause: the model's input size differs from the one the weights were trained with, or the file is for another model.";
  }
  return "Likely cause: the file is for another model or variant (or the model was built with other options).";
}

function assign(plans: LayerPlan[], report: LoadReport, onProgress: LoadWeightsOptions["onProgress"]): void {
  let done = 0;
  for (const plan of plans) {
    for (const w of plan.weights) {
      const data = readConverted(w.file, w.conversion);
      const tensor = tf.tensor(data, w.variable.shape as number[], "float32");
      try {
        w.variable.write(tensor);
      } finally {
        tensor.dispose();
      }
      report.tensors++;
      report.values += data.length;
      if (w.conversion.kind === "theano-kernel" || w.conversion.kind === "flip-kernel") report.convertedKernels.push(plan.layer.name);
      if (w.conversion.kind === "channels-first-dense") report.reorderedDense.push(plan.layer.name);
    }
    report.loaded.push(plan.layer.name);
    onProgress?.({ layer: plan.layer.name, done: ++done, total: plans.length });
  }
}

/** Reads one stored array in blocks of rows, converting each block straight into the result. */
function readConverted(weight: KerasWeight, conversion: WeightConversion): Float32Array {
  if (weight.shape.length === 0) return weight.read();
  const out = new Float32Array(weight.size);
  const rows = weight.shape[0]!;
  if (rows === 0) return out;
  const rowSize = weight.size / rows;
  weight.readBlocks(BLOCK_VALUES / Math.max(1, rowSize), (block, start, end) => convertRows(conversion, weight.shape, block, start, end, out));
  return out;
}

function shortName(variableName: string): string {
  const base = variableName.replace(/_\d+$/, "");
  return base.slice(base.lastIndexOf("/") + 1);
}

function list(names: string[]): string {
  return names.length <= 12 ? names.join(", ") : `${names.slice(0, 12).join(", ")} … (${names.length - 12} more)`;
}
