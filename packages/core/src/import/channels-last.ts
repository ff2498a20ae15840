/**
 * Channels-first models (Keras 1 `dim_ordering: "th"`, Keras 2 `data_format: "channels_first"`)
 * rebuilt channels-last, the layout TensorFlow.js computes fastest and correctly on every backend
 * (its BatchNormalization over axis 1 is not). Every layer that names an axis of a 4-D tensor gets
 * the same axis in NHWC; the input becomes `[H, W, C]`; a Flatten of a channels-first map keeps its
 * `(c, h, w)` order by reordering the rows of the Dense layer it feeds (done by the weight loader).
 * What cannot be carried over exactly (a Reshape or Permute of a 4-D map, a Dense applied to one) is
 * refused with the layer's name.
 */
import type * as tfl from "@tensorflow/tfjs-layers";
import { FtError } from "../errors.js";
import type { KerasLayerConfig } from "./keras1.js";
import { MODEL_CLASSES, modelLayers } from "./model-config.js";

/** Layers that pass a Flatten's output on unchanged (the loader looks through them too). */
const PASS_THROUGH = new Set(["Dropout", "Activation", "GaussianNoise", "GaussianDropout", "AlphaDropout"]);

/** The layout of a model's spatial layers: `mixed` when they disagree. */
export function dataFormatOf(model: { class_name: string; config: unknown }): "channels_first" | "channels_last" | "mixed" | undefined {
  const formats = new Set<string>();
  const visit = (layers: KerasLayerConfig[]) => {
    for (const layer of layers) {
      if (MODEL_CLASSES.has(layer.class_name)) visit(modelLayers(layer));
      else if (typeof layer.config.data_format === "string") formats.add(layer.config.data_format);
    }
  };
  visit(modelLayers(model));
  if (formats.size > 1) return "mixed";
  return formats.values().next().value as "channels_first" | "channels_last" | undefined;
}

/** NCHW axis → NHWC axis, for 4-D tensors. */
const AXIS_4D: Record<number, number> = { 1: 3, 2: 1, 3: 2 };

/**
 * Rewrites `model` (a prepared Keras 2 config whose spatial layers are channels-first) to
 * channels-last, in place. `built` is the model TensorFlow.js built from the original config: it
 * gives the shape each layer receives.
 */
export function toChannelsLast(model: { class_name: string; config: unknown }, built: tfl.LayersModel): void {
  for (const layer of modelLayers(model)) {
    const c = layer.config;
    const name = String(c.name);
    const refuse = (why: string) => new FtError(`layer "${name}" (${layer.class_name}) of a channels-first model: ${why}, which ft cannot carry over to channels-last exactly`);
    const builtLayer = built.getLayer(name);
    if (MODEL_CLASSES.has(layer.class_name)) {
      toChannelsLast(layer, builtLayer as tfl.LayersModel);
      permuteBatchShape(c);
      continue;
    }
    const inRank = rank(builtLayer.inboundNodes[0]?.inputShapes);
    const outRank = rank(builtLayer.outputShape);
    if (c.data_format === "channels_first") {
      if (inRank !== 4) throw refuse(`channels-first data on a ${inRank}-D tensor`);
      c.data_format = "channels_last";
    }
    if (layer.class_name === "InputLayer" || c.batch_input_shape) permuteBatchShape(c);
    if (inRank !== 4 && outRank !== 4) continue;
    switch (layer.class_name) {
      case "BatchNormalization":
      case "LayerNormalization":
      case "Concatenate":
      case "Softmax": {
        const axis = AXIS_4D[normalAxis(Number(c.axis ?? -1), 4)];
        if (axis === undefined) throw refuse(`axis ${String(c.axis)} is the batch axis`);
        c.axis = axis;
        break;
      }
      case "Flatten":
        checkFlattenFeedsDense(builtLayer, refuse);
        break;
      case "Reshape":
      case "Permute":
        throw refuse(`it reshapes a ${inRank}-D tensor into a ${outRank}-D one`);
      case "Dense":
      case "PReLU":
      case "Dot":
        throw refuse("it acts on the last axis of a 4-D map (the width, in channels-first)");
    }
  }
}

/** A Flatten of a channels-first map may only feed Dense layers (whose rows the loader reorders). */
function checkFlattenFeedsDense(flatten: tfl.layers.Layer, refuse: (why: string) => FtError): void {
  const consumers = (layer: tfl.layers.Layer): tfl.layers.Layer[] => layer.outboundNodes.map((n) => n.outboundLayer);
  const pending = consumers(flatten);
  while (pending.length) {
    const next = pending.pop()!;
    if (PASS_THROUGH.has(next.getClassName())) pending.push(...consumers(next));
    else if (next.getClassName() !== "Dense") throw refuse(`its (c, h, w) ordered output feeds "${next.name}" (${next.getClassName()}), not a Dense layer`);
  }
}

/** Rank of a layer's (first) input or output shape; 0 when unknown. */
function rank(shapes: tfl.Shape | tfl.Shape[] | undefined): number {
  if (!shapes || shapes.length === 0) return 0;
  return Array.isArray(shapes[0]) ? (shapes[0] as tfl.Shape).length : shapes.length;
}

function normalAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/** `[batch, C, H, W]` → `[batch, H, W, C]`. */
function permuteBatchShape(c: Record<string, unknown>): void {
  const shape = c.batch_input_shape;
  if (Array.isArray(shape) && shape.length === 4) c.batch_input_shape = [shape[0], shape[2], shape[3], shape[1]];
}
