import { readFileSync } from "node:fs";
import { readFile, rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FtError } from "../errors.js";
import { ftHome } from "../paths.js";
import type { Checksum, WeightRecord } from "../spec.js";
import { APPROXIMATE_TOLERANCE, downloadFile, formatBytes, hashFile, PARTIAL_SUFFIX, type DownloadProgress } from "./download.js";

/** Suffix of the sidecar that remembers a cached file's checksum was verified. */
export const VERIFIED_SUFFIX = ".verified";
/** File systems, copies and `utimes` keep mtimes with different sub-millisecond precision. */
const MTIME_SLACK_MS = 2;

/** Folder of downloaded weight files: `ftHome()/weights`. */
export function weightCacheDir(): string {
  return join(ftHome(), "weights");
}

/** Where a record's file lives in the cache (whether or not it is there yet). */
export function weightCachePath(record: WeightRecord): string {
  return join(weightCacheDir(), record.fileName);
}

/** Where a weight file is fetched from, and why that source was chosen. */
export interface WeightSource {
  url: string;
  /** `override`: `ftHome()/mirrors.json`; `mirror`: `FT_MIRROR`; `record`: the publisher's URL. */
  via: "override" | "mirror" | "record";
}

/**
 * The URL a record is downloaded from. In order of precedence:
 * 1. a per-record override in `ftHome()/mirrors.json`, `{ "<record id>": "<full URL>" }`;
 * 2. `FT_MIRROR`, a base URL to which the record's file name is appended
 *    (`FT_MIRROR=https://intranet/ft` → `https://intranet/ft/resnet50_weights_th.h5`);
 * 3. the record's own URL.
 * Mirrors let users behind a firewall serve the same files from their own host.
 */
export function weightSource(record: WeightRecord): WeightSource {
  const override = readMirrorOverrides()[record.id];
  if (override) return { url: override, via: "override" };
  const mirror = process.env.FT_MIRROR?.trim();
  if (mirror) return { url: `${mirror.replace(/\/+$/, "")}/${encodeURIComponent(record.fileName)}`, via: "mirror" };
  return { url: record.url, via: "record" };
}

/** Path of the per-record URL overrides file. */
export function mirrorOverridesPath(): string {
  return join(ftHome(), "mirrors.json");
}

function readMirrorOverrides(): Record<string, string> {
  const path = mirrorOverridesPath();
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new FtError(`${path} is not valid JSON (${(e as Error).message}); it should map weight record ids to URLs, e.g. {"resnet50.th": "https://host/file.h5"}`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed) || Object.values(parsed).some((v) => typeof v !== "string")) {
    throw new FtError(`${path} should map weight record ids to URL strings, e.g. {"resnet50.th": "https://host/file.h5"}`);
  }
  return parsed as Record<string, string>;
}

/** Result of checking a file against a record. */
export interface WeightFileCheck {
  ok: boolean;
  expected: { bytes: number; bytesApproximate: boolean; checksum?: Checksum };
  found: { bytes: number; checksum?: Checksum };
  /** Human-readable reasons when not ok ("size: expected …, found …"). */
  problems: string[];
}

/** Checks a file's size and, when the record has one, its checksum (always hashing the file). */
export async function verifyWeightFile(path: string, record: WeightRecord): Promise<WeightFileCheck> {
  const bytes = await sizeOf(path);
  if (bytes === undefined) throw new FtError(`cannot verify ${path}: no such file`);
  const expected = { bytes: record.bytes, bytesApproximate: record.bytesApproximate === true, checksum: record.checksum };
  const problems: string[] = [];
  const sizeProblem = checkSize(bytes, record);
  if (sizeProblem) problems.push(sizeProblem);
  let found: WeightFileCheck["found"] = { bytes };
  if (record.checksum) {
    const value = await hashFile(path, record.checksum.algorithm);
    found = { bytes, checksum: { algorithm: record.checksum.algorithm, value } };
    if (value !== record.checksum.value.toLowerCase()) problems.push(`${record.checksum.algorithm}: expected ${record.checksum.value.toLowerCase()}, found ${value}`);
  }
  return { ok: problems.length === 0, expected, found, problems };
}

/** Progress of `ensureWeightFile`'s download, when one is needed. */
export type WeightDownloadProgress = DownloadProgress;

/**
 * Returns the path of a record's weight file, downloading it into the cache when needed.
 * A cached file is accepted when its size matches and its checksum (hashed once, then remembered
 * in a `<file>.verified` sidecar) matches; otherwise it is downloaded again and replaced only
 * once the new copy verifies. Records marked `dead` fail with their explanation unless a mirror
 * or override supplies the file.
 */
export async function ensureWeightFile(
  record: WeightRecord,
  options?: { onProgress?: (p: { received: number; total?: number; rate: number; etaSeconds?: number }) => void },
): Promise<string> {
  const path = weightCachePath(record);
  const manualHint = `pass a local copy with --weights FILE, or drop the file at ${path}`;
  let cachedProblem: string | undefined;
  if ((await sizeOf(path)) !== undefined) {
    cachedProblem = await cachedFileProblem(path, record);
    if (!cachedProblem) return path;
  }

  const source = weightSource(record);
  const previously = cachedProblem ? `The cached ${path} does not match its record (${cachedProblem}). ` : "";
  if (record.dead && source.via === "record") {
    throw new FtError(
      `${previously}weights "${record.id}" cannot be downloaded: ${record.dead} ` +
        `To use them, ${manualHint} (or set FT_MIRROR to a host that serves ${record.fileName}).`,
    );
  }
  try {
    const result = await downloadFile(source.url, path, {
      bytes: record.bytes,
      bytesApproximate: record.bytesApproximate,
      checksum: record.checksum,
      onProgress: options?.onProgress,
      manualHint,
    });
    if (result.checksum) await rememberVerified(path, result.checksum);
    return path;
  } catch (e) {
    if (e instanceof FtError && previously) throw new FtError(previously + e.message, e.exitCode);
    throw e;
  }
}

/** Whether a record's file is in the cache, partly downloaded, or absent (no verification). */
export async function weightCacheState(record: WeightRecord): Promise<"cached" | "partial" | "missing"> {
  const path = weightCachePath(record);
  if ((await sizeOf(path)) !== undefined) return "cached";
  if ((await sizeOf(path + PARTIAL_SUFFIX)) !== undefined) return "partial";
  return "missing";
}

/** Why a cached file is not acceptable, or undefined when it is. Hashes at most once per file version. */
async function cachedFileProblem(path: string, record: WeightRecord): Promise<string | undefined> {
  const info = await stat(path);
  const sizeProblem = checkSize(info.size, record);
  if (sizeProblem) return sizeProblem;
  if (!record.checksum) return undefined;
  const sidecar = await readSidecar(path);
  const wanted = record.checksum.value.toLowerCase();
  if (sidecar && sidecar.size === info.size && Math.abs(sidecar.mtimeMs - info.mtimeMs) < MTIME_SLACK_MS && sidecar.algorithm === record.checksum.algorithm && sidecar.value === wanted) {
    return undefined;
  }
  const found = await hashFile(path, record.checksum.algorithm);
  if (found !== wanted) return `${record.checksum.algorithm}: expected ${wanted}, found ${found}`;
  await rememberVerified(path, { algorithm: record.checksum.algorithm, value: found });
  return undefined;
}

function checkSize(bytes: number, record: WeightRecord): string | undefined {
  if (record.bytesApproximate) {
    if (Math.abs(bytes - record.bytes) <= record.bytes * APPROXIMATE_TOLERANCE) return undefined;
    return `size: expected about ${formatBytes(record.bytes)}, found ${bytes} bytes (${formatBytes(bytes)})`;
  }
  return bytes === record.bytes ? undefined : `size: expected ${record.bytes} bytes, found ${bytes}`;
}

interface VerifiedSidecar {
  size: number;
  mtimeMs: number;
  algorithm: Checksum["algorithm"];
  value: string;
  verifiedAt: string;
}

async function readSidecar(path: string): Promise<VerifiedSidecar | undefined> {
  try {
    return JSON.parse(await readFile(path + VERIFIED_SUFFIX, "utf8")) as VerifiedSidecar;
  } catch {
    return undefined;
  }
}

async function rememberVerified(path: string, checksum: Checksum): Promise<void> {
  const info = await stat(path);
  const sidecar: VerifiedSidecar = { size: info.size, mtimeMs: info.mtimeMs, algorithm: checksum.algorithm, value: checksum.value, verifiedAt: new Date().toISOString() };
  const tmp = `${path}${VERIFIED_SUFFIX}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(sidecar, null, 2) + "\n");
  await rename(tmp, path + VERIFIED_SUFFIX);
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined;
  }
}
