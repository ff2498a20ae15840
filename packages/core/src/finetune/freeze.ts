import type * as tfl from "@tensorflow/tfjs-layers";
import { UsageError } from "../errors.js";

/**
 * Which layers do not train. Layers are counted in Keras order (`model.layers`), input layers excluded.
 * - `none`: everything trains (the seed's default);
 * - `count`: the first `layers` layers are frozen (the seed's commented-out VGG16 option is `count 10`);
 * - `upTo`: every layer up to and including `layer`;
 * - `stages`: every weighted layer in the first `stages` stages (see `layerStages`);
 * - `body`: everything except the new head (first phase of `fine_tune`).
 */
export type FreezeSpec =
  | { kind: "none" }
  | { kind: "count"; layers: number }
  | { kind: "upTo"; layer: string }
  | { kind: "stages"; stages: number }
  | { kind: "body" };

/** Layers of a model in Keras order without its input layers. */
export function orderedLayers(model: tfl.LayersModel): tfl.layers.Layer[] {
  return model.layers.filter((l) => l.getClassName() !== "InputLayer");
}

/**
 * Stage of every layer that has weights, numbered from 1: stage k holds the layers whose output feature map
 * has the k-th largest spatial size of the network (ResNet conv1…conv5, VGG blocks 1–5, DenseNet blocks);
 * layers with a flat output (dense heads) form the last stage. Layers without weights are not staged.
 * Porting note: Keras has no notion of stages; this definition is family-agnostic on purpose.
 */
export function layerStages(model: tfl.LayersModel): Map<string, number> {
  const weighted = orderedLayers(model).filter((l) => l.weights.length > 0);
  const area = (l: tfl.layers.Layer): number => {
    const shape = (Array.isArray(l.outputShape[0]) ? l.outputShape[0] : l.outputShape) as (number | null)[];
    return shape.length >= 4 ? (shape[1] ?? 0) * (shape[2] ?? 0) : 0;
  };
  const sizes = [...new Set(weighted.map(area))].sort((a, b) => b - a);
  return new Map(weighted.map((l) => [l.name, sizes.indexOf(area(l)) + 1]));
}

/**
 * Sets `trainable` on every layer according to `spec` (all others trainable) and returns the frozen layers' names.
 * `headLayers` are the names of the new head (never frozen by `body`).
 */
export function applyFreeze(model: tfl.LayersModel, spec: FreezeSpec, headLayers: readonly string[] = []): string[] {
  const layers = orderedLayers(model);
  let frozen: (l: tfl.layers.Layer, i: number) => boolean;
  switch (spec.kind) {
    case "none":
      frozen = () => false;
      break;
    case "count":
      if (!Number.isInteger(spec.layers) || spec.layers < 0 || spec.layers > layers.length) {
        throw new UsageError(`cannot freeze the first ${spec.layers} layers: the model has ${layers.length} (input excluded)`);
      }
      frozen = (_, i) => i < spec.layers;
      break;
    case "upTo": {
      const index = layers.findIndex((l) => l.name === spec.layer);
      if (index < 0) throw new UsageError(`cannot freeze up to layer "${spec.layer}": the model has no layer of that name`);
      frozen = (_, i) => i <= index;
      break;
    }
    case "stages": {
      const stages = layerStages(model);
      const max = Math.max(0, ...stages.values());
      if (!Number.isInteger(spec.stages) || spec.stages < 0 || spec.stages > max) {
        throw new UsageError(`cannot freeze ${spec.stages} stages: the model has ${max} (the last is the head)`);
      }
      frozen = (l) => (stages.get(l.name) ?? Infinity) <= spec.stages;
      break;
    }
    case "body": {
      const head = new Set(headLayers);
      if (head.size === 0) throw new UsageError("freezing the body needs the names of the head layers");
      frozen = (l) => !head.has(l.name);
      break;
    }
    default:
      throw new UsageError(`unknown freeze kind "${(spec as { kind: string }).kind}"`);
  }
  const names: string[] = [];
  layers.forEach((l, i) => {
    const f = frozen(l, i);
    l.trainable = !f;
    if (f) names.push(l.name);
  });
  return names;
}

/** Parses the CLI form: `none`, `body`, a number (`10`), `stage:N` or a layer name (`up-to:res4a_branch2a` or the bare name). */
export function parseFreezeSpec(text: string): FreezeSpec {
  const t = text.trim();
  if (t === "" || t === "none" || t === "0") return { kind: "none" };
  if (t === "body") return { kind: "body" };
  if (/^\d+$/.test(t)) return { kind: "count", layers: Number(t) };
  const stage = /^stages?:(\d+)$/.exec(t);
  if (stage) return { kind: "stages", stages: Number(stage[1]) };
  const upTo = /^up-?to:(.+)$/.exec(t);
  return { kind: "upTo", layer: upTo ? upTo[1]! : t };
}
