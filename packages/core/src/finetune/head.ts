import * as tfl from "@tensorflow/tfjs-layers";
import { UsageError } from "../errors.js";
import type { ModelSpec, NewHead } from "../spec.js";

export type { NewHead };

/**
 * A model spec may carry the seed's new-head names as `newHeads` (several for GoogLeNet's three heads).
 * Without them one head named `predictions` is put on `featureLayer`.
 */
export type FineTunableSpec = Pick<ModelSpec, "name" | "featureLayer" | "newHeads">;

export function headsForSpec(spec: FineTunableSpec): NewHead[] {
  return spec.newHeads?.length ? spec.newHeads : [{ from: spec.featureLayer, dense: "predictions" }];
}

export interface ReplaceHeadOptions {
  /** Classes of the new head(s). */
  classes: number;
  /** Dropout rate before each new Dense (default none). */
  dropout?: number;
  /** Seed of the new Dense kernels' Glorot-uniform initialisation (default: unseeded). */
  seed?: number;
}

export interface ReplacedHead {
  /** The new model; layers it shares with the old one keep their weights. */
  model: tfl.LayersModel;
  /** Names of the layers added for the head(s). */
  headLayers: string[];
  /** Names of the old layers no longer used (their weights are disposed). */
  removedLayers: string[];
}

/**
 * Drops the old classifier(s) and puts `heads` on their feature layers. The returned model has one output
 * per head, in order. Old layers no longer reachable are disposed, so `model` must not be used afterwards.
 */
export function replaceHead(model: tfl.LayersModel, heads: NewHead[], options: ReplaceHeadOptions): ReplacedHead {
  if (!Number.isInteger(options.classes) || options.classes < 1) throw new UsageError(`classes must be a positive integer (got ${options.classes})`);
  if (options.dropout !== undefined && !(options.dropout >= 0 && options.dropout < 1)) {
    throw new UsageError(`head dropout must be within [0, 1) (got ${options.dropout})`);
  }
  const headLayers: string[] = [];
  const outputs = heads.map((head) => {
    let feature: tfl.layers.Layer;
    try {
      feature = model.getLayer(head.from);
    } catch {
      throw new UsageError(`cannot attach the new head: model "${model.name}" has no layer "${head.from}"`);
    }
    let x = feature.output as tfl.SymbolicTensor;
    if (Array.isArray(x)) throw new UsageError(`cannot attach the new head to "${head.from}": it has several outputs`);
    if (x.shape.length > 2) {
      const name = head.flatten ?? `${head.dense}_flatten`;
      x = tfl.layers.flatten({ name }).apply(x) as tfl.SymbolicTensor;
      headLayers.push(name);
    }
    if (options.dropout) {
      const name = `${head.dense}_dropout`;
      x = tfl.layers.dropout({ rate: options.dropout, name }).apply(x) as tfl.SymbolicTensor;
      headLayers.push(name);
    }
    const kernelInitializer = options.seed === undefined ? undefined : tfl.initializers.glorotUniform({ seed: options.seed + headLayers.length });
    const kernelRegularizer = head.l2 ? tfl.regularizers.l2({ l2: head.l2 }) : undefined;
    x = tfl.layers.dense({ units: options.classes, activation: head.softmax ? "linear" : "softmax", name: head.dense, kernelInitializer, kernelRegularizer }).apply(x) as tfl.SymbolicTensor;
    headLayers.push(head.dense);
    if (head.softmax) {
      x = tfl.layers.activation({ activation: "softmax", name: head.softmax }).apply(x) as tfl.SymbolicTensor;
      headLayers.push(head.softmax);
    }
    return x;
  });
  const next = tfl.model({ inputs: model.inputs, outputs: outputs.length === 1 ? outputs[0]! : outputs, name: model.name });
  const kept = new Set(next.layers);
  const removedLayers: string[] = [];
  for (const layer of model.layers) {
    if (kept.has(layer)) continue;
    removedLayers.push(layer.name);
    for (const w of layer.weights) w.dispose();
  }
  return { model: next, headLayers, removedLayers };
}
