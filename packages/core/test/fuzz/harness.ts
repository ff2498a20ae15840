/**
 * The HDF5 reader's fuzz harness: seeded mutants of a corpus of valid Keras files go through
 * `reader-worker.ts`, a child that reads many files in turn (so 1000 mutants cost a few Node start-ups,
 * not 1000). A child that dies (a signal, an uncaught exception), takes longer than `timeoutMs` on one
 * file, or grows past `rssLimitBytes` is recorded against that file and replaced.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { mutate, type MutationKind } from "./mutate.js";

const WORKER = fileURLToPath(new URL("./reader-worker.ts", import.meta.url));

export type Outcome = "accepted" | "error" | "crash" | "hang" | "memory";

export interface MutantResult {
  source: string;
  index: number;
  kind: MutationKind;
  description: string;
  path: string;
  outcome: Outcome;
  message: string;
  /** What the child wrote to stderr while it read this file. */
  stderr: string;
}

export interface FuzzOptions {
  /** Valid files to mutate. */
  corpus: string[];
  mutants: number;
  seed: number;
  /** Where mutants are written (kept, so that a failure can be reproduced by hand). */
  dir: string;
  workers?: number;
  timeoutMs?: number;
  rssLimitBytes?: number;
  onResult?: (result: MutantResult, done: number) => void;
}

export interface FuzzSummary {
  results: MutantResult[];
  counts: Record<Outcome, number>;
  /** `N mutants: X clean errors, Y accepted, 0 crashes, 0 hangs` (and memory overruns when any). */
  line: string;
}

interface Job {
  source: string;
  index: number;
  kind: MutationKind;
  description: string;
  path: string;
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzSummary> {
  const originals = options.corpus.map((path) => ({ path, bytes: new Uint8Array(readFileSync(path)) }));
  const jobs: Job[] = [];
  for (let i = 0; i < options.mutants; i++) {
    const original = originals[i % originals.length]!;
    const mutant = mutate(original.bytes, options.seed, i);
    const path = join(options.dir, `${String(i).padStart(5, "0")}-${mutant.kind}-${basename(original.path)}`);
    writeFileSync(path, mutant.bytes);
    jobs.push({ source: original.path, index: i, kind: mutant.kind, description: mutant.description, path });
  }
  const results: MutantResult[] = [];
  const queue = [...jobs];
  const workers = Array.from({ length: options.workers ?? 2 }, () => drain(queue, options, (r) => {
    results.push(r);
    options.onResult?.(r, results.length);
  }));
  await Promise.all(workers);
  results.sort((a, b) => a.index - b.index);
  const counts: Record<Outcome, number> = { accepted: 0, error: 0, crash: 0, hang: 0, memory: 0 };
  for (const r of results) counts[r.outcome]++;
  const line =
    `${results.length} mutants: ${counts.error} clean errors, ${counts.accepted} accepted, ${counts.crash} crashes, ${counts.hang} hangs` +
    (counts.memory ? `, ${counts.memory} over the memory bound` : "");
  return { results, counts, line };
}

/** One child at a time takes jobs from the shared queue; a dead or stuck child is replaced. */
async function drain(queue: Job[], options: FuzzOptions, record: (r: MutantResult) => void): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const rssLimit = options.rssLimitBytes ?? 1024 * 1024 * 1024;
  let child: Child | undefined;
  try {
    for (let job = queue.shift(); job; job = queue.shift()) {
      child ??= startChild();
      const answer = await child.read(job.path, timeoutMs);
      const base = { ...job, stderr: child.takeStderr() };
      if (answer.kind === "answer") {
        const over = answer.rss > rssLimit;
        record({ ...base, outcome: over ? "memory" : answer.outcome, message: over ? `rss ${answer.rss} after: ${answer.message}` : answer.message });
        if (over) child = child.kill();
      } else {
        record({ ...base, outcome: answer.kind, message: answer.message });
        child = child.kill();
      }
    }
  } finally {
    child?.kill();
  }
}

type Answer = { kind: "answer"; outcome: "accepted" | "error" | "crash"; message: string; rss: number } | { kind: "crash" | "hang"; message: string };

interface Child {
  read(path: string, timeoutMs: number): Promise<Answer>;
  takeStderr(): string;
  /** Ends the child; returns undefined so that `child = child.kill()` forgets it. */
  kill(): undefined;
}

function startChild(): Child {
  const proc: ChildProcessWithoutNullStreams = spawn(process.execPath, ["--conditions=source", "--import", "tsx", WORKER], {
    stdio: ["pipe", "pipe", "pipe"],
    // A loop in HDF5 is ended by the reader's own time limit, shortened here: a valid corpus file reads in milliseconds.
    env: { ...process.env, FT_HDF5_TIMEOUT_MS: process.env.FT_HDF5_TIMEOUT_MS ?? "3000" },
  });
  let stderr = "";
  proc.stderr.on("data", (d: Buffer) => (stderr += String(d)));
  const lines = createInterface({ input: proc.stdout });
  let pending: ((a: Answer) => void) | undefined;
  lines.on("line", (line) => {
    const a = JSON.parse(line) as { outcome: "accepted" | "error" | "crash"; message: string; rss: number };
    pending?.({ kind: "answer", ...a });
  });
  const exited = new Promise<string>((resolve) => proc.on("exit", (code, signal) => resolve(signal ? `killed by ${signal}` : `exited with ${code}`)));
  return {
    read(path, timeoutMs) {
      return new Promise<Answer>((resolve) => {
        const timer = setTimeout(() => resolve({ kind: "hang", message: `no answer in ${timeoutMs} ms` }), timeoutMs);
        pending = (a) => {
          clearTimeout(timer);
          resolve(a);
        };
        void exited.then((how) => {
          clearTimeout(timer);
          resolve({ kind: "crash", message: `the reader process ${how}` });
        });
        proc.stdin.write(path + "\n");
      });
    },
    takeStderr() {
      const s = stderr;
      stderr = "";
      return s;
    },
    kill() {
      proc.kill("SIGKILL");
      return undefined;
    },
  };
}
