import { mkdir, readFile, readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { FtError, UsageError } from "../errors.js";
import {
  CheckpointCallback,
  EarlyStopping,
  MetricsLogger,
  ProgressCallback,
  ReportCallback,
} from "./callbacks.js";
import { isInterruptedWrite, writeFileAtomic } from "./atomic.js";
import { isLockFile, lockRunDir, type RunLock } from "./run-lock.js";
import { Trainer, type Callback, type TrainerOptions, type TrainResult } from "./trainer.js";

export interface TrainingRunOptions extends TrainerOptions {
  /** The run directory: created here for a new run (it must not exist or be empty), read back for `resume`. */
  runDir: string;
  /** Every resolved option, written to `config.json` and shown in the report. */
  config: Record<string, unknown>;
  /** Report title (default: the run directory). */
  title?: string;
  /** Stop when the monitored metric has not improved for this many epochs (default: never). */
  earlyStoppingPatience?: number;
  /** Continue from `<runDir>/checkpoints/last.ckpt` (from the beginning when the run stopped before writing one). */
  resume?: boolean;
  /** Progress renderer (e.g. the CLI's bar on stderr). */
  progress?: ConstructorParameters<typeof ProgressCallback>[0];
}

export interface TrainingRunResult extends TrainResult {
  runDir: string;
  lastCheckpoint: string;
  bestCheckpoint: string;
}

/**
 * A whole training run with its outputs: `config.json`, `metrics.csv`, `metrics.jsonl`, `checkpoints/last.ckpt`,
 * `checkpoints/best.ckpt` and `report.html` in `runDir`. Call it once the model and data are ready: the run
 * directory is created only here, so nothing is left behind when preparing them fails.
 */
export async function runTraining(options: TrainingRunOptions): Promise<TrainingRunResult> {
  const { runDir } = options;
  const checkpoints = new CheckpointCallback(runDir);
  // The checkpoint is written before the epoch's metrics and report, so that after a crash no file
  // claims an epoch the checkpoint does not hold (resuming rewrites them from the checkpoint's history).
  const callbacks: Callback[] = [
    checkpoints,
    new MetricsLogger(runDir),
    ...(options.earlyStoppingPatience !== undefined ? [new EarlyStopping(options.earlyStoppingPatience)] : []),
    new ReportCallback(runDir, options.title ?? `ft run ${runDir}`, options.config),
    ...(options.progress ? [new ProgressCallback(options.progress)] : []),
    ...(options.callbacks ?? []),
  ];
  if (options.earlyStoppingPatience !== undefined && !(Number.isInteger(options.earlyStoppingPatience) && options.earlyStoppingPatience >= 1)) {
    throw new UsageError(`early-stopping patience must be a positive integer (got ${options.earlyStoppingPatience})`);
  }
  const trainer = new Trainer({ ...options, callbacks });
  const createsDir = !options.resume && !(await pathExists(runDir));
  let lock: RunLock | undefined;
  let finished = false;
  try {
    lock = options.resume ? await lockRunDir(runDir) : await createEmptyLockedDir(runDir);
    if (options.resume) await removeInterruptedWrites(runDir);
    // A run stopped before its first checkpoint (a kill, a NaN in epoch 1) resumes from its beginning.
    if (options.resume && (await isFile(checkpoints.lastPath))) await trainer.restore(checkpoints.lastPath);
    else if (!options.resume) await writeFileAtomic(join(runDir, "config.json"), JSON.stringify(options.config, null, 2) + "\n");
    const result = await trainer.fit();
    finished = true;
    return { ...result, runDir, lastCheckpoint: checkpoints.lastPath, bestCheckpoint: checkpoints.bestPath };
  } finally {
    trainer.dispose();
    // A new run that failed before saving anything leaves nothing behind (not a directory that refuses a new run).
    const leaveNothing = lock !== undefined && !finished && !options.resume && !(await isFile(checkpoints.lastPath));
    if (leaveNothing) await removeRunContents(runDir);
    await lock?.release();
    if (leaveNothing && createsDir) await rm(runDir, { recursive: true, force: true });
  }
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isFile(), () => false);
}

async function pathExists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** Removes what killed writers left (the caller holds the lock, so no one is writing them now). */
async function removeInterruptedWrites(runDir: string): Promise<void> {
  for (const dir of [runDir, join(runDir, "checkpoints")]) {
    const names = await readdir(dir).catch(() => [] as string[]);
    await Promise.all(names.filter(isInterruptedWrite).map((n) => rm(join(dir, n), { force: true })));
  }
}

/** Removes everything in a run directory but its lock. */
async function removeRunContents(runDir: string): Promise<void> {
  const names = (await readdir(runDir).catch(() => [] as string[])).filter((n) => !isLockFile(n));
  await Promise.all(names.map((n) => rm(join(runDir, n), { recursive: true, force: true })));
}

/** Creates `dir` (or takes it empty) and locks it; locked first, so two new runs cannot both find it empty. */
async function createEmptyLockedDir(dir: string): Promise<RunLock> {
  await mkdir(dir, { recursive: true });
  const lock = await lockRunDir(dir);
  await removeInterruptedWrites(dir);
  const existing = (await readdir(dir)).filter((name) => !isLockFile(name));
  if (existing.length > 0) {
    await lock.release();
    throw new UsageError(`run directory ${dir} exists and is not empty (use --resume ${dir} to continue it, or another --run-dir)`);
  }
  return lock;
}

/** Reads a run's `config.json`. */
export async function readRunConfig<T = Record<string, unknown>>(runDir: string): Promise<T> {
  const path = join(runDir, "config.json");
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    throw new FtError(`${runDir} is not an ft run directory (no config.json)`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new FtError(`${path} is not valid JSON: ${(e as Error).message}`);
  }
}

/** The checkpoint of a run to use: `best` when it exists (default), else `last`. */
export async function runCheckpointPath(runDir: string, which: "best" | "last" = "best"): Promise<string> {
  const dir = join(runDir, "checkpoints");
  const candidates = which === "best" ? ["best.ckpt", "last.ckpt"] : ["last.ckpt"];
  for (const c of candidates) {
    const p = join(dir, c);
    if (await isFile(p)) return p;
  }
  throw new FtError(`${runDir} has no checkpoint (${candidates.join(" or ")} in checkpoints/): did its first epoch finish?`);
}

/** Removes a run directory created by `runTraining` (used when a run must not be kept). */
export async function removeRunDir(runDir: string): Promise<void> {
  await rm(runDir, { recursive: true, force: true });
}

/** A fresh run directory name under `parent`: `<model>-<yyyymmdd-hhmmss>` (with a suffix if taken). */
export async function newRunDirName(parent: string, model: string, now = new Date()): Promise<string> {
  const p = (n: number) => String(n).padStart(2, "0");
  const stamp = `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
  const base = join(parent, `${model}-${stamp}`);
  for (let i = 0; ; i++) {
    const candidate = i === 0 ? base : `${base}-${i}`;
    if (!(await pathExists(candidate))) return candidate;
  }
}
