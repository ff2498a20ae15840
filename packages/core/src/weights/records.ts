/**
 * The one room where weight records are picked: for a build (`"imagenet"` or a record id), for a download
 * (a model or record id, filtered by ordering and variant), and for a file on disk (by name, then size).
 */
import { basename } from "node:path";
import { FtError, UsageError } from "../errors.js";
import { findWeightRecord, getModel, listModels } from "../registry/registry.js";
import type { DimOrdering, ModelSpec, WeightRecord } from "../spec.js";

/**
 * The record a build loads: `"imagenet"` is the model's first record with the same `includeTop` (or, for
 * a notop build, a top record whose classifier is skipped); a record id is that record. Returns undefined
 * for anything else (a file path); a record of another model is refused.
 */
export function selectWeightRecord(spec: ModelSpec, weights: string, includeTop: boolean): WeightRecord | undefined {
  if (weights === "imagenet") {
    const record = spec.weights.find((w) => w.includeTop === includeTop) ?? (includeTop ? undefined : spec.weights.find((w) => w.includeTop));
    if (!record) {
      throw new FtError(
        `model "${spec.name}" has no published ${includeTop ? "" : "notop "}ImageNet weights; pass weights "none" for random initialisation or a weight file path`,
      );
    }
    return record;
  }
  const record = spec.weights.find((w) => w.id === weights);
  if (record) return record;
  const other = findWeightRecord(weights);
  if (other) throw new UsageError(`weights "${weights}" belong to model "${other.model.name}", not "${spec.name}" (its records: ${recordIds(spec)})`);
  return undefined;
}

export interface RecordFilter {
  ordering?: DimOrdering;
  /** `top`, `notop`, or a record id of the model. */
  variant?: string;
}

/** The record to download for `name` (a model or a record id): the first that passes the filter. */
export function pickWeightRecord(name: string, filter: RecordFilter = {}): WeightRecord {
  const direct = findWeightRecord(name);
  if (direct && !filter.ordering && !filter.variant) return direct.record;
  const spec = direct?.model ?? getModel(name);
  if (spec.weights.length === 0) throw new FtError(`model "${spec.name}" has no published weight files`);
  let candidates = direct ? [direct.record] : spec.weights;
  if (filter.ordering) candidates = candidates.filter((r) => r.ordering === filter.ordering);
  if (filter.variant === "top") candidates = candidates.filter((r) => r.includeTop);
  else if (filter.variant === "notop") candidates = candidates.filter((r) => !r.includeTop);
  else if (filter.variant) {
    if (!spec.weights.some((r) => r.id === filter.variant)) {
      throw new UsageError(`--variant must be top, notop or a record id of "${spec.name}": ${recordIds(spec)} (got "${filter.variant}")`);
    }
    candidates = candidates.filter((r) => r.id === filter.variant);
  }
  if (candidates.length === 0) {
    const asked = [filter.ordering && `--ordering ${filter.ordering}`, filter.variant && `--variant ${filter.variant}`].filter(Boolean).join(" ");
    const describe = (r: WeightRecord) => `${r.id} (${r.ordering}, ${r.includeTop ? "top" : "notop"})`;
    throw new UsageError(`no weight file of "${spec.name}" matches ${asked}; published: ${spec.weights.map(describe).join(", ")}`);
  }
  return candidates[0]!;
}

/** Records a file on disk may be: those with its file name, else (`bytes` given) those of its exact size. */
export function recordsForFile(path: string, bytes?: number): WeightRecord[] {
  const records = listModels().flatMap((m) => m.weights);
  const byName = records.filter((r) => r.fileName === basename(path));
  if (byName.length || bytes === undefined) return byName;
  return records.filter((r) => !r.bytesApproximate && r.bytes === bytes);
}

export function recordIds(spec: ModelSpec): string {
  return spec.weights.map((w) => w.id).join(", ") || "none published";
}
