/**
 * One training run of the interruption harness, in its own process: `child.ts RUN_DIR new|resume [KILL_POINT]`.
 * The run is the same every time (seeded model, data, dropout); KILL_POINT names the moment at which this
 * process sends itself SIGKILL, reached through the real code paths:
 *   step:N          during update N (1-based: after its gradients, before the optimiser applies them)
 *   after-step:N    right after update N
 *   eval:E          while epoch E's validation batches are read (1-based epochs)
 *   FILE:K:PHASE    during the K-th write (1-based) of FILE in the run directory (config.json, metrics.csv,
 *                   metrics.jsonl, report.html, last.ckpt, best.ckpt); PHASE is `partial` (half its bytes
 *                   written to the temporary file), `complete` (the temporary file whole, not yet renamed)
 *                   or `renamed` (just after the rename)
 *   locked          just after the run directory's lock is taken
 * A kill point that is never reached makes the process exit with 3.
 */
import { syncBuiltinESMExports } from "node:module";
import fsp from "node:fs/promises";
import { basename } from "node:path";
import { withNewHead } from "../../src/finetune/model.js";
import { runTraining } from "../../src/train/run.js";
import { memorySource, reinit, tinyModel, useCpu } from "../../src/train/test-utils/fixtures.js";
import type { BatchSource } from "../../src/data/dataset.js";
import type { Callback } from "../../src/train/trainer.js";

const [runDir, mode, killPoint] = process.argv.slice(2) as [string, "new" | "resume", string | undefined];
const die = (): never => {
  process.kill(process.pid, "SIGKILL");
  throw new Error("unreachable");
};

/** Counts writes of each run file (by its final name) and dies at the named one. */
function interceptWrites(point: string): void {
  const [file, nth, phase] = point.split(":") as [string, string, "partial" | "complete" | "renamed"];
  let count = 0;
  const finalName = (path: string) => basename(path).replace(/\.tmp-\d+$/, "");
  const hit = (path: string) => finalName(path) === file && ++count === Number(nth);
  const original = { writeFile: fsp.writeFile, open: fsp.open, rename: fsp.rename, link: fsp.link };
  const pendingTemps = new Set<string>();
  fsp.writeFile = (async (path: string, data: string | Uint8Array, ...rest: unknown[]) => {
    if (typeof path === "string" && hit(path)) {
      if (phase === "partial") {
        const bytes = typeof data === "string" ? Buffer.from(data) : Buffer.from(data);
        await original.writeFile(path, bytes.subarray(0, bytes.length >> 1));
        die();
      }
      pendingTemps.add(path);
    }
    return (original.writeFile as (...a: unknown[]) => Promise<void>)(path, data, ...rest);
  }) as typeof fsp.writeFile;
  fsp.open = (async (path: string, ...rest: unknown[]) => {
    const handle = await (original.open as (...a: unknown[]) => Promise<fsp.FileHandle>)(path, ...rest);
    if (typeof path !== "string" || !hit(path)) return handle;
    if (phase !== "partial") {
      pendingTemps.add(path);
      return handle;
    }
    // A checkpoint is written in pieces: die after the first of them.
    const write = handle.write.bind(handle) as (...a: unknown[]) => Promise<unknown>;
    handle.write = (async (...args: unknown[]) => {
      await write(...args);
      await handle.sync();
      die();
    }) as unknown as typeof handle.write;
    return handle;
  }) as typeof fsp.open;
  // best.ckpt is linked to last.ckpt under a temporary name, then renamed: its "write" is the link.
  fsp.link = (async (existing: string, path: string) => {
    const counted = finalName(path) === file && file === "best.ckpt" && hit(path);
    await original.link(existing, path);
    if (counted) {
      if (phase === "partial") die();
      pendingTemps.add(path);
    }
  }) as typeof fsp.link;
  fsp.rename = (async (from: string, to: string) => {
    if (pendingTemps.has(from)) {
      pendingTemps.delete(from);
      if (phase === "complete") die();
      await original.rename(from, to);
      if (phase === "renamed") die();
      return;
    }
    return original.rename(from, to);
  }) as typeof fsp.rename;
  syncBuiltinESMExports();
}

const callbacks: Callback[] = [];
let val: BatchSource = memorySource({ examples: 6, batchSize: 3, shuffle: false, seed: 5 });
const [kind, arg] = (killPoint ?? "").split(":");
if (kind === "step") {
  callbacks.push({
    onBatchEnd: (trainer) => {
      // The next update awaits its gradient check before applying: a macrotask queued now runs inside it.
      if (trainer.state.step === Number(arg) - 1) setImmediate(die);
    },
    onEpochBegin: (trainer) => {
      if (Number(arg) === 1 && trainer.state.step === 0) setImmediate(die);
    },
  });
} else if (kind === "after-step") {
  callbacks.push({ onBatchEnd: (trainer) => void (trainer.state.step === Number(arg) && die()) });
} else if (kind === "eval") {
  const inner = val;
  let epoch = 0;
  val = {
    ...inner,
    async *batches(e: number, from?: number) {
      epoch++;
      let n = 0;
      for await (const b of inner.batches(e, from)) {
        if (epoch === Number(arg) && ++n === 2) die();
        yield b;
      }
    },
  };
} else if (kind === "locked") {
  const original = fsp.link;
  fsp.link = (async (existing: string, path: string) => {
    await original(existing, path);
    if (basename(path) === ".lock") die();
  }) as typeof fsp.link;
  syncBuiltinESMExports();
} else if (killPoint) {
  interceptWrites(killPoint);
}

await useCpu();
const model = reinit(withNewHead(tinyModel(), { name: "tiny", featureLayer: "flatten", newHeads: [{ from: "flatten", dense: "fc10" }] }, { classes: 3, dropout: 0.2 }).model);
const result = await runTraining({
  model,
  runDir,
  resume: mode === "resume",
  config: { harness: "interruption", seed: 42 },
  train: memorySource({ examples: 14, batchSize: 4 }),
  val,
  epochs: 3,
  optimizer: { kind: "sgd", lr: 0.05, momentum: 0.9, nesterov: true, decay: 1e-3 },
  schedule: { kind: "onecycle" },
  seed: 42,
  callbacks,
});
process.stdout.write(JSON.stringify({ stopReason: result.stopReason, step: result.state.step }) + "\n");
if (killPoint) process.exitCode = 3;
