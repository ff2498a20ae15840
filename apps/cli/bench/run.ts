/**
 * `pnpm bench`: training and inference on every engine that loads, with PyTorch run in the same session
 * as the peer, plus the data pipeline and HDF5 import. Every row runs in its own process so its peak RSS
 * is its own. Prints a table (or JSON with --json); --quick for a short run.
 * `--model NAME[,NAME…]` runs a training row (the model's input size, the seed's batch size for it) and
 * an inference row (batch 8) per model instead of the default ResNet-50 rows; `--model all` runs one
 * training row per family.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { getModel, listBackendCandidates, listModels, SEED_RECIPE } from "@ft/core";
import "../src/models.js";
import { table } from "../src/commands/models.js";

interface Workload {
  id: string;
  label: string;
  row: string;
  model?: string;
  size?: number;
  batch?: number;
  /** Compared against the PyTorch peer's row of the same id. */
  peer?: { row: "train" | "infer"; size: number; batch: number };
  /** Engines too slow for this row unless --all. */
  skipUnlessAll?: string[];
  /** Runs once, not per engine (the engine does not matter or is fixed). */
  engine?: string;
}

export interface BenchResult {
  workload: string;
  label: string;
  engine: string;
  images_per_s?: number;
  mb_per_s?: number;
  median_s?: number;
  peak_rss_mb?: number;
  /** PyTorch images/s divided by this engine's: how many times slower than the peer. */
  slower_than_pytorch?: number;
  error?: string;
  /** Set when the step ran as micro-batches with accumulated gradients (wasm heap). */
  micro_batch?: number;
  detail?: Record<string, unknown>;
}

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const json = args.includes("--json");
const all = args.includes("--all");
const modelIndex = args.indexOf("--model");
const modelArg = modelIndex >= 0 ? args[modelIndex + 1] : undefined;
const steps = quick ? 2 : 5;
const here = fileURLToPath(new URL(".", import.meta.url));

const DEFAULT_WORKLOADS: Workload[] = [
  { id: "train-64", label: "ResNet-50 train 64 px b8", row: "train", size: 64, batch: 8, peer: { row: "train", size: 64, batch: 8 }, skipUnlessAll: ["cpu"] },
  { id: "train-224", label: "ResNet-50 train 224 px b8", row: "train", size: 224, batch: 8, peer: { row: "train", size: 224, batch: 8 }, skipUnlessAll: ["cpu"] },
  // The seed's batch size: shows that it fits in memory (peak RSS) on the engines fast enough to try it.
  { id: "train-224-b16", label: "ResNet-50 train 224 px b16", row: "train", size: 224, batch: 16, peer: { row: "train", size: 224, batch: 16 }, skipUnlessAll: ["cpu", "wasm"] },
  { id: "infer-224", label: "ResNet-50 infer 224 px b8", row: "infer", size: 224, batch: 8, peer: { row: "infer", size: 224, batch: 8 }, skipUnlessAll: ["cpu"] },
  { id: "pipeline", label: "data pipeline 32→224 + augment", row: "pipeline", size: 224, batch: 16, engine: "cpu" },
  { id: "hdf5", label: "HDF5 import (120 MB th file)", row: "hdf5", engine: "cpu" },
];

/** The model `--model all` trains for each family: the seed's network where the family has several. */
const FAMILY_REPRESENTATIVE: Record<string, string> = { vgg: "vgg19", resnet: "resnet50", densenet: "densenet121", inception: "inception_v3" };

/** A training row at the model's input size and seed batch size, and (unless `trainOnly`) an inference row at batch 8. */
function modelWorkloads(name: string, trainOnly: boolean): Workload[] {
  const spec = getModel(name);
  const size = spec.inputShape[0];
  const batch = spec.recipe?.batchSize ?? SEED_RECIPE.batchSize;
  const rows: Workload[] = [
    { id: `${name}-train`, label: `${name} train ${size} px b${batch}`, row: "train", model: name, size, batch, peer: { row: "train", size, batch }, skipUnlessAll: ["cpu", "wasm"] },
  ];
  if (!trainOnly) rows.push({ id: `${name}-infer`, label: `${name} infer ${size} px b8`, row: "infer", model: name, size, batch: 8, peer: { row: "infer", size, batch: 8 }, skipUnlessAll: ["cpu"] });
  return rows;
}

function workloads(modelArg: string | undefined): Workload[] {
  if (modelArg === undefined) return DEFAULT_WORKLOADS;
  if (modelArg === "all") {
    const families = [...new Set(listModels().map((m) => m.family))];
    return families.flatMap((family) => modelWorkloads(FAMILY_REPRESENTATIVE[family] ?? listModels().find((m) => m.family === family)!.name, true));
  }
  return modelArg.split(",").flatMap((name) => modelWorkloads(name.trim(), false));
}

function log(line: string) {
  process.stderr.write(line + "\n");
}

function runJsRow(w: Workload, engine: string): BenchResult {
  const base = { workload: w.id, label: w.label, engine };
  const child = spawnSync(
    process.execPath,
    ["--conditions=source", "--import", "tsx", `${here}row.ts`, w.row, engine, "--model", w.model ?? "resnet50", "--size", String(w.size ?? 224), "--batch", String(w.batch ?? 8), "--steps", String(steps)],
    { encoding: "utf8", timeout: 45 * 60_000, maxBuffer: 64 << 20 },
  );
  if (child.status !== 0) return { ...base, error: child.signal ? `killed (${child.signal})` : failureReason(child.stderr || child.error?.message || "") };
  return { ...base, ...(JSON.parse(child.stdout.trim().split("\n").pop()!) as object) };
}

/** One readable line from a failed row's stderr (wasm aborts print the module's whole source first). */
function failureReason(stderr: string): string {
  if (/out of memory|Cannot enlarge memory|WebAssembly\.Memory|Aborted\(OOM\)/i.test(stderr)) return "out of memory (wasm heap is capped at 4 GiB)";
  const lines = stderr.split("\n").map((l) => l.trim()).filter((l) => l && l.length < 400);
  const error = [...lines].reverse().find((l) => /^(\w*Error|ft):/.test(l)) ?? lines.at(-1) ?? "failed";
  return error.replace(/^\w*Error: /, "").slice(0, 200);
}

function torchAvailable(): string | undefined {
  try {
    execFileSync("/usr/bin/python3", ["-c", "import torch, torchvision"], { stdio: "ignore" });
    return undefined;
  } catch {
    return "PyTorch peer unavailable: apt-get install python3-torch python3-torchvision libopenblas0-pthread";
  }
}

/**
 * glibc malloc settings for the peer: keep freed memory in the process (no mmap'd blocks, no trimming),
 * the reuse that ft-native's output pool gives it. Without them PyTorch returns its large activations to
 * the OS every step and faults them back in, which on this VM (~5 ms per MB) more than halved its batch-16
 * speed (2.1 vs 7.0 images/s at 224 px).
 */
const PEER_MALLOC_ENV = { MALLOC_MMAP_MAX_: "0", MALLOC_TRIM_THRESHOLD_: String(100 * 2 ** 30), MALLOC_TOP_PAD_: String(2 ** 30) };

function runTorchRow(w: Workload): BenchResult {
  const base = { workload: w.id, label: w.label, engine: "pytorch" };
  const p = w.peer!;
  const child = spawnSync(
    "/usr/bin/python3",
    [`${here}torch_peer.py`, "--row", p.row, "--model", w.model ?? "resnet50", "--classes", String(getModel(w.model ?? "resnet50").classes), "--size", String(p.size), "--batch", String(p.batch), "--steps", String(steps), "--threads", "2"],
    { encoding: "utf8", timeout: 30 * 60_000, env: { ...process.env, ...PEER_MALLOC_ENV } },
  );
  if (child.status !== 0) return { ...base, error: (child.stderr || "failed").trim().split("\n").pop() };
  const { images_per_s, median_s, peak_rss_mb, ...detail } = JSON.parse(child.stdout.trim()) as Record<string, number>;
  return { ...base, images_per_s, median_s, peak_rss_mb, detail };
}

/** Engines that load here; the others get one row saying why. */
function engines(): string[] {
  const loaded: string[] = [];
  for (const { name } of listBackendCandidates()) {
    const probe = runJsRow({ id: "probe", label: "engine", row: "probe" }, name);
    if (probe.error) results.push({ workload: "engine", label: "engine available", engine: name, error: `unavailable: ${probe.error}` });
    else loaded.push(name);
  }
  return loaded;
}

const results: BenchResult[] = [];
const available = engines();
const torchMissing = torchAvailable();
if (torchMissing) log(torchMissing);
for (const w of workloads(modelArg)) {
  let peer: BenchResult | undefined;
  if (w.peer && !torchMissing) {
    log(`${w.label}: pytorch…`);
    peer = runTorchRow(w);
    results.push(peer);
  }
  for (const engine of w.engine ? [w.engine] : available) {
    if (!all && w.skipUnlessAll?.includes(engine)) {
      results.push({ workload: w.id, label: w.label, engine, error: "skipped (too slow; --all runs it)" });
      continue;
    }
    log(`${w.label}: ${engine}…`);
    const r = runJsRow(w, engine);
    if (peer?.images_per_s && r.images_per_s) r.slower_than_pytorch = peer.images_per_s / r.images_per_s;
    results.push(r);
  }
}

if (json) {
  process.stdout.write(JSON.stringify({ quick, steps, results }, null, 2) + "\n");
} else {
  const rows = results.map((r) => [
    r.label,
    r.engine,
    r.images_per_s !== undefined ? r.images_per_s.toFixed(2) : r.mb_per_s !== undefined ? `${r.mb_per_s.toFixed(0)} MB/s` : "-",
    r.slower_than_pytorch !== undefined ? `${r.slower_than_pytorch.toFixed(2)}×` : r.engine === "pytorch" ? "1.00×" : "-",
    r.peak_rss_mb !== undefined ? r.peak_rss_mb.toFixed(0) : "-",
    r.error ?? (r.detail?.blas ? `BLAS ${r.detail.blas as string}` : r.micro_batch ? `micro-batches of ${r.micro_batch}` : ""),
  ]);
  process.stdout.write(table(["workload", "engine", "images/s", "slower than PyTorch", "peak RSS MB", "note"], rows));
}
