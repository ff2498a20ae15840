import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import type * as tfl from "@tensorflow/tfjs-layers";

/** The repository's packages folder. */
const PACKAGES = fileURLToPath(new URL("../../../packages/", import.meta.url));

export interface ManifestEntry {
  name: string;
  /** `conv` (no bias), `conv_b`, `bn`, `scale`, `dense`. */
  kind: string;
  /** Weight names in file order, e.g. `["W", "b"]`. */
  weights: string[];
}

/**
 * Reads the manifest of a seed weight file, `<family>/test/fixtures/manifests/<model>.txt` in the family
 * package that builds it (`name<TAB>kind<TAB>weights`, one weighted layer per line, creation order).
 */
export function readManifest(model: string): ManifestEntry[] {
  const candidates = readdirSync(PACKAGES).map((family) => join(PACKAGES, family, "test", "fixtures", "manifests", `${model}.txt`));
  const path = candidates.find((p) => existsSync(p));
  if (!path) throw new Error(`no manifest ${model}.txt in any package's test/fixtures/manifests`);
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const [name, kind, weights] = line.split("\t");
      return { name: name!, kind: kind!, weights: weights!.split(",") };
    });
}

/** The manifest kind of a tfjs layer, or undefined for a weightless layer. */
export function layerKind(layer: tfl.layers.Layer): string | undefined {
  if (layer.weights.length === 0) return undefined;
  const className = layer.getClassName();
  switch (className) {
    case "Conv2D":
      return (layer.getConfig() as { useBias: boolean }).useBias ? "conv_b" : "conv";
    case "Dense":
      return "dense";
    case "BatchNormalization":
      return "bn";
    case "Scale":
      return "scale";
    default:
      return className;
  }
}

/** Weighted layers in creation order (tfjs `model.layers` is in depth order; layer ids count creations). */
export function weightedLayersInCreationOrder(model: tfl.LayersModel): tfl.layers.Layer[] {
  return model.layers.filter((l) => l.weights.length > 0).sort((a, b) => a.id - b.id);
}

/** `[name, kind, weight count]` of each weighted layer in creation order, in the manifest's terms. */
export function describeWeightedLayers(model: tfl.LayersModel): Array<[string, string, number]> {
  return weightedLayersInCreationOrder(model).map((l) => [l.name, layerKind(l)!, l.weights.length]);
}

export function manifestRows(entries: ManifestEntry[]): Array<[string, string, number]> {
  return entries.map((e) => [e.name, e.kind, e.weights.length]);
}

/** Spatial `[h, w]` of a layer's output. */
export function spatial(model: tfl.LayersModel, layer: string): number[] {
  const shape = model.getLayer(layer).outputShape as number[];
  return shape.slice(1, 3);
}

/** Product of a weight shape. */
export function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
