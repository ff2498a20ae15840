import * as tf from "@tensorflow/tfjs-core";
import { FtError, UsageError } from "../errors.js";
import { registerCpuTrainingKernels } from "./avg-pool-grad.js";
import { registerWasmTrainingKernels } from "./wasm-kernels/index.js";

/**
 * A compute engine `ft` can run on. Candidates are tried in `priority` order (lowest first);
 * a package such as a native engine adds itself with `registerBackendCandidate`.
 */
export interface BackendCandidate {
  /** Name users pass to `--backend` / `FT_BACKEND`. */
  name: string;
  /** Name of the tfjs backend it registers. */
  tfName: string;
  priority: number;
  /** One line for `ft env`: what it is. */
  description: string;
  /** How a user gets it when it does not load. */
  howToGet?: string;
  /** Imports whatever registers the tfjs backend; throws when it cannot be loaded. */
  load(): Promise<void>;
  /** Runs once after the backend is set (registers extra kernels, for example). */
  setup?(): Promise<void> | void;
  /** Threads the engine computes with, when known. */
  threads?(): number;
  /**
   * For a fallback engine: how much slower it trains than the engines before it, as measured by
   * `pnpm bench`. When it is chosen because such an engine failed to load, the selection warns.
   */
  slowdown?: string;
}

export interface BackendAttempt {
  name: string;
  ok: boolean;
  /** Why it was skipped or failed. */
  detail?: string;
}

export interface BackendSelection {
  /** The candidate that runs, e.g. `wasm`. */
  name: string;
  /** The tfjs backend name, e.g. `tensorflow`. */
  tfName: string;
  /** Why it was chosen, in one sentence. */
  reason: string;
  /** Every candidate tried before it, in order, with why it was skipped. */
  attempts: BackendAttempt[];
  threads?: number;
  /**
   * Set when a slow fallback was chosen because a faster engine is present but failed to load: one line
   * naming the reason, the slowdown and the fix. Never set when the engine was requested by name.
   */
  warning?: string;
}

const candidates: BackendCandidate[] = [];

export function registerBackendCandidate(candidate: BackendCandidate): void {
  const i = candidates.findIndex((c) => c.name === candidate.name);
  if (i >= 0) candidates.splice(i, 1);
  candidates.push(candidate);
  candidates.sort((a, b) => a.priority - b.priority);
}

export function listBackendCandidates(): readonly BackendCandidate[] {
  return candidates;
}

/** Imports a module by a name TypeScript cannot see at compile time (optional peers). */
const importOptional = (specifier: string): Promise<unknown> => import(specifier);

/** Loads a tfjs-node flavour and checks it registered with *our* tfjs-core (a version mismatch gives two engines). */
async function loadTfjsNode(specifier: string): Promise<void> {
  await importOptional(specifier);
  if (!tf.findBackendFactory("tensorflow")) {
    throw new Error(`${specifier} loaded, but registered its backend with another copy of @tensorflow/tfjs-core; install the version matching ${tf.version_core}`);
  }
}

registerBackendCandidate({
  name: "node-gpu",
  tfName: "tensorflow",
  priority: 10,
  description: "TensorFlow C library with CUDA (@tensorflow/tfjs-node-gpu)",
  howToGet: "pnpm add @tensorflow/tfjs-node-gpu@4.22.0 (needs CUDA; its install downloads libtensorflow)",
  load: () => loadTfjsNode("@tensorflow/tfjs-node-gpu"),
});
registerBackendCandidate({
  name: "node",
  tfName: "tensorflow",
  priority: 20,
  description: "TensorFlow C library on the CPU (@tensorflow/tfjs-node)",
  howToGet: "pnpm add @tensorflow/tfjs-node@4.22.0 (its install downloads libtensorflow)",
  load: () => loadTfjsNode("@tensorflow/tfjs-node"),
});
registerBackendCandidate({
  name: "wasm",
  tfName: "wasm",
  priority: 40,
  description: "WebAssembly with XNNPACK (@tensorflow/tfjs-backend-wasm), one thread under Node",
  load: async () => {
    await import("@tensorflow/tfjs-backend-wasm");
  },
  setup: () => void registerWasmTrainingKernels(),
  threads: () => 1,
  slowdown: "trains 6–11× slower than native (ResNet-50 at 64–224 px; wasm runs on one core)",
});
registerBackendCandidate({
  name: "cpu",
  tfName: "cpu",
  priority: 50,
  description: "plain JavaScript (@tensorflow/tfjs-backend-cpu): always loads, very slow to train",
  load: async () => {
    await import("@tensorflow/tfjs-backend-cpu");
  },
  setup: registerCpuTrainingKernels,
  threads: () => 1,
  slowdown: "trains many times slower than wasm, itself 6–11× slower than native (plain JavaScript, one core)",
});

let current: BackendSelection | undefined;

/** The selection made by the last `selectBackend`, if any. */
export function currentBackend(): BackendSelection | undefined {
  return current;
}

/**
 * Chooses and activates the compute engine: the one named by `requested` (or `FT_BACKEND`) if given,
 * which must load; otherwise the first candidate that loads, in priority order.
 */
export async function selectBackend(requested: string | undefined = process.env.FT_BACKEND || undefined): Promise<BackendSelection> {
  const attempts: BackendAttempt[] = [];
  if (requested) {
    const candidate = candidates.find((c) => c.name === requested);
    if (!candidate) {
      throw new UsageError(`unknown backend "${requested}"; choose one of ${candidates.map((c) => c.name).join(", ")}`);
    }
    const error = await activate(candidate);
    if (error) {
      const how = candidate.howToGet ? ` To get it: ${candidate.howToGet}.` : "";
      throw new FtError(`backend "${requested}" was requested but cannot be loaded: ${error}.${how}`);
    }
    return finish(candidate, `requested with ${process.env.FT_BACKEND === requested ? "FT_BACKEND" : "--backend"}`, attempts);
  }
  for (const candidate of candidates) {
    const error = await activate(candidate);
    if (!error) {
      const skipped = attempts.map((a) => a.name).join(", ");
      const reason = skipped ? `first engine that loads (not available: ${skipped})` : "first engine that loads";
      return finish(candidate, reason, attempts, fallbackWarning(candidate, attempts));
    }
    attempts.push({ name: candidate.name, ok: false, detail: error });
  }
  throw new FtError(`no TensorFlow.js backend could be loaded: ${attempts.map((a) => `${a.name}: ${a.detail}`).join("; ")}`);
}

async function activate(candidate: BackendCandidate): Promise<string | undefined> {
  try {
    await candidate.load();
    if (!(await tf.setBackend(candidate.tfName))) return `tf.setBackend("${candidate.tfName}") failed`;
    await tf.ready();
    await candidate.setup?.();
    return undefined;
  } catch (e) {
    return firstLine(e);
  }
}

/**
 * An engine whose package is absent ("not installed", such as the optional tfjs-node peers) is no one's
 * mistake; one that is installed but failed to load is, and a slow fallback in its place is worth a
 * warning with its fix.
 */
function fallbackWarning(chosen: BackendCandidate, attempts: BackendAttempt[]): string | undefined {
  const failed = attempts.find((a) => a.detail !== NOT_INSTALLED);
  if (!chosen.slowdown || !failed) return undefined;
  const candidate = candidates.find((c) => c.name === failed.name);
  const fix = candidate?.howToGet && !failed.detail?.includes(candidate.howToGet) ? ` Fix: ${candidate.howToGet}.` : "";
  return `warning: using ${chosen.name}, which ${chosen.slowdown}, because ${failed.name} failed to load: ${failed.detail}.${fix} Pass --backend ${chosen.name} to choose it and silence this.`;
}

function finish(candidate: BackendCandidate, reason: string, attempts: BackendAttempt[], warning?: string): BackendSelection {
  current = { name: candidate.name, tfName: candidate.tfName, reason, attempts, threads: candidate.threads?.(), ...(warning ? { warning } : {}) };
  return current;
}

const NOT_INSTALLED = "not installed";

function firstLine(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const line = message.split("\n")[0]!.replace(/\.$/, "");
  const code = (e as { code?: string } | null)?.code;
  // Node says "Cannot find package"; vite's module runner (tests) says "Could not resolve".
  if (code === "ERR_MODULE_NOT_FOUND" || /Cannot find (package|module)|Could not resolve/.test(line)) return NOT_INSTALLED;
  return line;
}
