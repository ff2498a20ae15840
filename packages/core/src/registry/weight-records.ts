/**
 * Weight records as families declare them: the facts of each published file (where, how large, its md5)
 * and what the files of one set of weights share (container, preprocessing, accuracy), joined into the
 * records the registry, the hub and the loader read. The first record of a model is its default.
 */
import type { ContainerLayout, DimOrdering, PreprocessingMode, ReportedAccuracy, WeightRecord } from "../spec.js";

/** One published file. */
export interface PublishedFile {
  url: string;
  /** File name in the cache (default: the URL's last path segment). */
  fileName?: string;
  bytes: number;
  /** `bytes` is a rounded or estimated size. */
  bytesApproximate?: boolean;
  /** The published md5 (none: only the size is checked). */
  md5?: string;
  /** Notes of this file (default: the set's). */
  notes?: string;
}

/** What the records of one set of weights share. */
export interface WeightSet {
  layout: ContainerLayout;
  preprocessing: PreprocessingMode;
  /** The classifier's reported ImageNet accuracy (top records only). */
  accuracy?: ReportedAccuracy;
  /** Classes of the classifier (default ImageNet's 1000). */
  classes?: number;
  notes?: string;
}

/** One record: a classifier over `set.classes` (default 1000) when `includeTop`. */
export function weightRecord(id: string, set: WeightSet & { ordering: DimOrdering; includeTop: boolean }, file: PublishedFile): WeightRecord {
  const notes = file.notes ?? set.notes;
  return {
    id,
    url: file.url,
    fileName: file.fileName ?? new URL(file.url).pathname.split("/").pop()!,
    bytes: file.bytes,
    ...(file.bytesApproximate ? { bytesApproximate: true } : {}),
    ...(file.md5 ? { checksum: { algorithm: "md5" as const, value: file.md5 } } : {}),
    layout: set.layout,
    ordering: set.ordering,
    includeTop: set.includeTop,
    ...(set.includeTop ? { classes: set.classes ?? 1000 } : {}),
    preprocessing: set.preprocessing,
    ...(set.includeTop && set.accuracy ? { accuracy: set.accuracy } : {}),
    ...(notes ? { notes } : {}),
  };
}

/** A classifier file and its notop sibling (`id` then `id.notop`), in one ordering. */
export function topAndNotopRecords(id: string, set: WeightSet & { ordering: DimOrdering }, top: PublishedFile, notop: PublishedFile): WeightRecord[] {
  return [weightRecord(id, { ...set, includeTop: true }, top), weightRecord(`${id}.notop`, { ...set, includeTop: false }, notop)];
}

/** One classifier saved in both orderings: `id.tf` (first, so the default) and `id.th`. */
export function tfAndThRecords(id: string, set: WeightSet, tf: PublishedFile, th: PublishedFile): WeightRecord[] {
  return [weightRecord(`${id}.tf`, { ...set, ordering: "tf", includeTop: true }, tf), weightRecord(`${id}.th`, { ...set, ordering: "th", includeTop: true }, th)];
}
