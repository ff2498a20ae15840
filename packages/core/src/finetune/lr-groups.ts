import type * as tfl from "@tensorflow/tfjs-layers";
import { UsageError } from "../errors.js";
import { layerStages, orderedLayers } from "./freeze.js";

/**
 * Discriminative learning rates: a multiplier of the base rate per layer.
 * - `stages`: geometric from `lowest` (first stage) to 1 (last stage, the head), like fastai's `slice(lr·lowest, lr)`;
 * - `layers`: Keras-order groups; layers up to and including `upTo` get `scale`, the first matching group wins,
 *   layers after the last group get 1.
 */
export type LrGroups = { kind: "stages"; lowest: number } | { kind: "layers"; groups: { upTo: string; scale: number }[] };

/** Learning-rate multiplier of every layer that has weights, by layer name. */
export function layerLrScales(model: tfl.LayersModel, groups: LrGroups | undefined): Map<string, number> {
  const layers = orderedLayers(model).filter((l) => l.weights.length > 0);
  if (!groups) return new Map(layers.map((l) => [l.name, 1]));
  if (groups.kind === "stages") {
    if (!(groups.lowest > 0 && groups.lowest <= 1)) throw new UsageError(`lowest stage learning-rate factor must be within (0, 1] (got ${groups.lowest})`);
    const stages = layerStages(model);
    const last = Math.max(1, ...stages.values());
    return new Map(
      layers.map((l) => {
        const s = stages.get(l.name) ?? last;
        return [l.name, last === 1 ? 1 : Math.pow(groups.lowest, (last - s) / (last - 1))];
      }),
    );
  }
  const all = orderedLayers(model);
  const bounds = groups.groups.map((g) => {
    const index = all.findIndex((l) => l.name === g.upTo);
    if (index < 0) throw new UsageError(`learning-rate group "up to ${g.upTo}": the model has no layer of that name`);
    if (!(g.scale >= 0 && Number.isFinite(g.scale))) throw new UsageError(`learning-rate group "up to ${g.upTo}": scale must be a non-negative number (got ${g.scale})`);
    return { index, scale: g.scale };
  });
  return new Map(
    all
      .map((l, i) => [l, i] as const)
      .filter(([l]) => l.weights.length > 0)
      .map(([l, i]) => [l.name, bounds.find((b) => i <= b.index)?.scale ?? 1]),
  );
}

/** Parses the CLI form `stages:0.01` or `layer:scale,layer:scale`. */
export function parseLrGroups(text: string): LrGroups {
  const stages = /^stages:(.+)$/.exec(text.trim());
  if (stages) return { kind: "stages", lowest: Number(stages[1]) };
  const groups = text.split(",").map((part) => {
    const i = part.lastIndexOf(":");
    if (i <= 0) throw new UsageError(`--lr-groups: expected "layer:scale" items or "stages:factor" (got "${part}")`);
    return { upTo: part.slice(0, i).trim(), scale: Number(part.slice(i + 1)) };
  });
  return { kind: "layers", groups };
}
