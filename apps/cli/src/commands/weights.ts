import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { Command, Option } from "commander";
import cliProgress from "cli-progress";
import {
  ensureWeightFile,
  findWeightRecord,
  formatBytes,
  pickWeightRecord,
  recordsForFile,
  detectOrdering,
  FtError,
  getModel,
  hashFile,
  listModels,
  readKerasWeights,
  UsageError,
  verifyWeightFile,
  weightCacheDir,
  weightCachePath,
  weightCacheState,
  weightSource,
  type DownloadProgress,
  type OrderingDetection,
  type ModelSpec,
  type WeightFileCheck,
  type WeightRecord,
} from "@ft/core";
import { table } from "./models.js";

export function weightsCommand(program: Command): void {
  const weights = program.command("weights").description("list, download, verify and inspect pretrained weight files");

  weights
    .command("list")
    .description("published weight files of every model (or of MODEL), with size, checksum and cache state")
    .argument("[model]", "model name or glob, e.g. resnet50 or 'dense*'")
    .option("--json", "print JSON only")
    .action(async (pattern: string | undefined, opts: { json?: boolean }) => {
      const models = modelsMatching(pattern);
      const rows = [];
      for (const spec of models) {
        for (const record of spec.weights) {
          rows.push({ model: spec.name, ...record, cachePath: weightCachePath(record), cacheState: await weightCacheState(record), source: weightSource(record) });
        }
      }
      if (opts.json) {
        process.stdout.write(JSON.stringify(rows, null, 2) + "\n");
        return;
      }
      if (rows.length === 0) {
        process.stdout.write(pattern ? `no weight files published for "${pattern}"\n` : "no weight files registered\n");
        return;
      }
      process.stdout.write(
        table(
          ["id", "model", "ordering", "top", "layout", "size", "checksum", "cache", "status"],
          rows.map((r) => [
            r.id,
            r.model,
            r.ordering,
            r.includeTop ? "top" : "notop",
            r.layout,
            (r.bytesApproximate ? "~" : "") + formatBytes(r.bytes),
            r.checksum ? `${r.checksum.algorithm} ${r.checksum.value.slice(0, 8)}…` : "-",
            r.cacheState === "missing" ? "-" : r.cacheState,
            r.dead ? (r.source.via === "record" ? "dead host" : `dead host, via ${r.source.via}`) : r.source.via === "record" ? "" : `via ${r.source.via}`,
          ]),
        ),
      );
      process.stdout.write(`cache: ${weightCacheDir()} (FT_HOME moves it; FT_MIRROR serves files from your own host)\n`);
    });

  weights
    .command("download")
    .description("download a model's weight file into the cache (resumable, verified) and print its path")
    .argument("<model>", "model name, or a weight record id")
    .addOption(new Option("--ordering <ordering>", "kernel ordering of the file").choices(["th", "tf"]))
    .option("--variant <variant>", "top, notop, or a record id (default: the model's first matching file)")
    .action(async (name: string, opts: { ordering?: "th" | "tf"; variant?: string }) => {
      const record = pickWeightRecord(name, opts);
      const state = await weightCacheState(record);
      if (state === "partial") process.stderr.write(`resuming ${record.id} from ${weightCachePath(record)}.part\n`);
      const progress = new DownloadBar(record.id);
      try {
        const path = await ensureWeightFile(record, { onProgress: (p) => progress.update(p) });
        progress.finish();
        if (state === "cached" && !progress.started) process.stderr.write(`${record.id}: already in the cache, verified\n`);
        process.stdout.write(path + "\n");
      } finally {
        progress.stop();
      }
    });

  weights
    .command("verify")
    .description("check a weight file's size and checksum against its record (a path, a model or a record id)")
    .argument("<target>", "a weight file, a model name (checks its cached files) or a record id")
    .option("--json", "print JSON only")
    .action(async (target: string, opts: { json?: boolean }) => {
      const checks = await verifyTarget(target);
      const failed = checks.filter((c) => !c.ok);
      if (opts.json) {
        process.stdout.write(JSON.stringify(checks, null, 2) + "\n");
      } else {
        for (const c of checks) {
          const digest = c.found.checksum ? `${c.found.checksum.algorithm} ${c.found.checksum.value}` : "no published checksum: size only";
          process.stdout.write(c.ok ? `ok   ${c.record}  ${c.path}  (${formatBytes(c.found.bytes)}, ${digest})\n` : `BAD  ${c.record}  ${c.path}\n${c.problems.map((p) => `     ${p}\n`).join("")}`);
        }
      }
      if (failed.length) throw new FtError(`${failed.length} of ${checks.length} file${checks.length > 1 ? "s" : ""} failed verification: ${failed.map((c) => c.path).join(", ")}`);
    });

  weights
    .command("inspect")
    .description("show a Keras HDF5 weight file: layout, Keras version, backend, ordering, layers and shapes")
    .argument("<file>", "a Keras .h5 weight file")
    .option("--json", "print JSON only")
    .action(async (file: string, opts: { json?: boolean }) => {
      const info = await inspectWeightFile(file);
      if (opts.json) {
        process.stdout.write(JSON.stringify(info, null, 2) + "\n");
        return;
      }
      const weighted = info.layers.filter((l) => l.weights.length > 0);
      const lines = [
        `file        ${info.path} (${formatBytes(info.bytes)})`,
        `layout      ${info.layout} (${LAYOUT_DESCRIPTIONS[info.layout] ?? info.layout})`,
        `keras       ${info.kerasVersion ?? `${info.kerasMajor}.x (no keras_version attribute)`}`,
        `backend     ${info.backend ?? "(not recorded)"}`,
        `ordering    ${info.ordering.ordering ?? "undecided"}${info.ordering.decidedBy ? ` (decided by the ${info.ordering.decidedBy.replace(/^(\w+): /, "$1 evidence: ")})` : ""}`,
        ...info.ordering.evidence.map((e) => `            ${e.strength.padEnd(8)} ${e.ordering}: ${e.reason}`),
        ...(info.ordering.problem ? [`            ${info.ordering.problem}`] : []),
        `dtypes      ${dtypeSummary(info)}`,
        `layers      ${info.layers.length} listed, ${weighted.length} with weights`,
        `parameters  ${info.totalParams.toLocaleString("en-US")} (${formatBytes(info.totalBytes)} as float32)`,
        "",
      ];
      process.stdout.write(lines.join("\n") + "\n");
      const rows = weighted.flatMap((l) => l.weights.map((w, i) => [i === 0 ? l.name : "", w.name, `(${w.shape.join(", ")})`, w.dtype, w.size.toLocaleString("en-US")]));
      process.stdout.write(table(["layer", "weight", "shape", "dtype", "params"], rows));
    });
}

const LAYOUT_DESCRIPTIONS: Record<string, string> = {
  legacy: "Keras 0.x Sequential, layer_K/param_P, loaded by position",
  keras1: "Keras 1 save_weights",
  keras2: "Keras 2 save_weights",
  model: "model.save file, weights in model_weights",
};

/** What `ft weights inspect --json` prints. */
export interface WeightFileInfo {
  path: string;
  bytes: number;
  layout: string;
  kerasVersion?: string;
  kerasMajor: number;
  backend?: string;
  ordering: OrderingDetection;
  layers: { name: string; index: number; weights: { name: string; shape: number[]; dtype: string; size: number }[] }[];
  totalParams: number;
  /** Bytes of the weights as float32. */
  totalBytes: number;
}

export async function inspectWeightFile(path: string): Promise<WeightFileInfo> {
  const file = await readKerasWeights(path);
  try {
    return {
      path: file.path,
      bytes: file.bytes,
      layout: file.layout,
      kerasVersion: file.kerasVersion,
      kerasMajor: file.kerasMajor,
      backend: file.backend,
      ordering: detectOrdering(file),
      layers: file.layers.map((l) => ({ name: l.name, index: l.index, weights: l.weights.map((w) => ({ name: w.name, shape: [...w.shape], dtype: w.dtype, size: w.size })) })),
      totalParams: file.totalValues,
      totalBytes: file.totalValues * 4,
    };
  } finally {
    file.close();
  }
}

/** `float32 (12 arrays)`, or each dtype with its count when the file mixes them. */
function dtypeSummary(info: WeightFileInfo): string {
  const counts = new Map<string, number>();
  for (const l of info.layers) for (const w of l.weights) counts.set(w.dtype, (counts.get(w.dtype) ?? 0) + 1);
  if (counts.size === 0) return "(no weights)";
  return [...counts].map(([dtype, n]) => `${dtype} (${n} array${n > 1 ? "s" : ""})`).join(", ") + (counts.size > 1 || !counts.has("float32") ? "; read as float32" : "");
}

function modelsMatching(pattern: string | undefined): ModelSpec[] {
  if (!pattern) return listModels();
  const models = listModels(pattern);
  if (models.length) return models;
  const byRecord = findWeightRecord(pattern);
  if (byRecord) return [{ ...byRecord.model, weights: [byRecord.record] }];
  if (/[*?]/.test(pattern)) return [];
  return [getModel(pattern)]; // throws a UsageError that suggests close names
}

interface VerifyOutcome extends WeightFileCheck {
  record: string;
  path: string;
}

async function verifyTarget(target: string): Promise<VerifyOutcome[]> {
  if (existsSync(target) && statSync(target).isFile()) {
    const path = resolve(target);
    const size = statSync(path).size;
    const matches = recordsForFile(path, size);
    if (matches.length === 0) {
      const md5 = await hashFile(path, "md5");
      throw new FtError(`no weight record matches ${path} by file name or size (${size} bytes, md5 ${md5}); verify a cached file by model name instead, e.g. ft weights verify resnet50`);
    }
    const checks = await Promise.all(matches.map(async (r) => ({ record: r.id, path, ...(await verifyWeightFile(path, r)) })));
    // Several records can share a name or size; the file is fine if it is one of them.
    const good = checks.find((c) => c.ok);
    return good ? [good] : checks;
  }
  const byRecord = findWeightRecord(target);
  if (!byRecord && /[\\/]|\.(h5|hdf5)$/i.test(target)) throw new FtError(`no such file: ${target}`);
  const wanted = byRecord ? [byRecord.record] : getModel(target).weights;
  const outcomes: VerifyOutcome[] = [];
  for (const r of wanted) {
    if ((await weightCacheState(r)) !== "cached") continue;
    const path = weightCachePath(r);
    outcomes.push({ record: r.id, path, ...(await verifyWeightFile(path, r)) });
  }
  if (outcomes.length === 0) {
    throw new FtError(`no weight file of "${target}" is in the cache (${wanted.map((r) => weightCachePath(r)).join(", ") || "none published"}); fetch one with: ft weights download ${byRecord?.model.name ?? target}`);
  }
  return outcomes;
}

/**
 * A download progress line on stderr (bytes, rate, ETA). On a terminal it redraws in place; in a
 * log it prints a line every few seconds and a final one.
 */
export class DownloadBar {
  started = false;
  private bar: cliProgress.SingleBar;
  private last?: DownloadProgress;

  constructor(private readonly label: string) {
    this.bar = new cliProgress.SingleBar(
      {
        stream: process.stderr,
        format: (_options, _params, payload: { text: string }) => payload.text,
        noTTYOutput: true,
        notTTYSchedule: 5000,
        // No cursor hiding and no SIGINT handler: Ctrl-C must still stop the download at once
        // (the .part file is kept and resumed next time).
        hideCursor: false,
        gracefulExit: false,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  update(p: DownloadProgress): void {
    this.last = p;
    const text = this.describe(p);
    if (!this.started) {
      this.started = true;
      this.bar.start(p.total ?? 0, p.received, { text });
    } else this.bar.update(p.received, { text });
  }

  /** Renders the final state (call once the download succeeded). */
  finish(): void {
    if (this.started && this.last) this.bar.update(this.last.received, { text: this.describe(this.last, true) });
  }

  stop(): void {
    if (this.started) this.bar.stop();
    this.started = false;
  }

  private describe(p: DownloadProgress, done = false): string {
    const width = 24;
    const fraction = p.total ? Math.min(p.received / p.total, 1) : undefined;
    const bar = fraction === undefined ? "" : `${"█".repeat(Math.round(fraction * width)).padEnd(width, "░")} ${(fraction * 100).toFixed(0).padStart(3)}% `;
    const size = `${formatBytes(p.received)}${p.total ? ` / ${formatBytes(p.total)}` : ""}`;
    const eta = done ? "done" : p.etaSeconds === undefined ? "ETA ?" : `ETA ${formatDuration(p.etaSeconds)}`;
    return `${this.label} ${bar}${size} | ${formatBytes(Math.round(p.rate))}/s | ${eta}`;
  }
}

function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}
