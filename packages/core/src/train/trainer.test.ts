import * as tf from "@tensorflow/tfjs-core";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, stat, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withNewHead } from "../finetune/model.js";
import { readCheckpoint, writeCheckpoint } from "./checkpoint.js";
import type { CheckpointMeta } from "./state.js";
import { UsageError } from "../errors.js";
import { RUN_LOCK } from "./run-lock.js";
import { runTraining } from "./run.js";
import { memorySource, reinit, snapshot, tinyModel, useCpu } from "./test-utils/fixtures.js";
import { splitSizes } from "./step.js";
import { Trainer, type TrainerOptions } from "./trainer.js";

let root: string;
beforeAll(async () => {
  await useCpu();
  root = await mkdtemp(join(tmpdir(), "ft-trainer-"));
});
afterAll(async () => {
  const { rm } = await import("node:fs/promises");
  await rm(root, { recursive: true, force: true });
});

const sgd = { kind: "sgd" as const, lr: 0.05, momentum: 0.9, nesterov: true, decay: 1e-3 };
const headed = (opts: { dropout?: number; batchNorm?: boolean } = {}) =>
  reinit(withNewHead(tinyModel({ batchNorm: opts.batchNorm }), { name: "tiny", featureLayer: "flatten", newHeads: [{ from: "flatten", dense: "fc10" }] }, { classes: 3, dropout: opts.dropout }).model);

describe("Trainer", () => {
  it("leaks no tensors: numTensors after epoch 2 equals after epoch 1", async () => {
    const counts: number[] = [];
    const model = headed({ dropout: 0.3 });
    const trainer = new Trainer({
      model,
      train: memorySource({ examples: 10, batchSize: 4 }),
      val: memorySource({ examples: 6, batchSize: 4, shuffle: false, seed: 9 }),
      epochs: 3,
      optimizer: sgd,
      accumulate: 2,
      callbacks: [{ onEpochEnd: () => void counts.push(tf.memory().numTensors) }],
    });
    const result = await trainer.fit();
    expect(result.stopReason).toBe("completed");
    expect(counts).toHaveLength(3);
    expect(counts[1]).toBe(counts[0]);
    expect(counts[2]).toBe(counts[0]);
    trainer.dispose();
  });

  it("an interrupted run resumed from its last checkpoint ends with the same weights as an uninterrupted one", async () => {
    const options = (): TrainerOptions => ({
      model: headed({ dropout: 0.25 }),
      train: memorySource({ examples: 14, batchSize: 4 }),
      val: memorySource({ examples: 6, batchSize: 3, shuffle: false, seed: 5 }),
      epochs: 3,
      optimizer: sgd,
      schedule: { kind: "onecycle" },
      accumulate: 2,
      seed: 42,
    });
    const full = options();
    const reference = new Trainer(full);
    await reference.fit();
    const expected = snapshot(full.model);

    // Interrupted inside epoch 2 (update 6 of 12), in a fresh "process": new model, new sources.
    const dir = join(root, "resume");
    const first = options();
    const r1 = await runTraining({ ...first, runDir: dir, config: { test: true }, maxSteps: 6 });
    expect(r1.stopReason).toBe("max-steps");
    expect(r1.state).toMatchObject({ epoch: 1, batch: 2, step: 6 });
    const second = options();
    const r2 = await runTraining({ ...second, runDir: dir, config: { test: true }, resume: true });
    expect(r2.stopReason).toBe("completed");
    const got = snapshot(second.model);
    for (const [k, v] of expected) expect(Array.from(got.get(k)!), k).toEqual(Array.from(v));
    expect(r2.history.map((h) => h.loss)).toEqual(reference.state.history.map((h) => h.loss));
    expect(r2.history.map((h) => h.val_loss)).toEqual(reference.state.history.map((h) => h.val_loss));
    const csv = (await readFile(join(dir, "metrics.csv"), "utf8")).trim().split("\n");
    expect(csv).toHaveLength(4);
    reference.dispose();
  });

  it("stops on a NaN loss without applying the update and keeps the last good checkpoint", async () => {
    const dir = join(root, "nan");
    const model = headed();
    const result = await runTraining({
      model,
      runDir: dir,
      config: {},
      train: memorySource({ examples: 12, batchSize: 4, poison: { epoch: 1, batch: 1 } }),
      epochs: 3,
      optimizer: sgd,
    });
    expect(result.stopReason).toBe("nan");
    expect(result.stopDetail).toMatch(/epoch 2, batch 2: loss is NaN/);
    for (const v of snapshot(model).values()) expect(v.every(Number.isFinite)).toBe(true);
    const ckpt = await readCheckpoint<CheckpointMeta>(result.lastCheckpoint);
    expect(ckpt.meta.state).toMatchObject({ epoch: 1, batch: 0, step: 3 });
    ckpt.dispose();
    const report = await readFile(join(dir, "report.html"), "utf8");
    expect(report).toContain("nan (epoch 2, batch 2: loss is NaN)");
  });

  it("gradient accumulation without BatchNorm gives the full-batch update", async () => {
    const train = () => memorySource({ examples: 8, batchSize: 4 });
    const a = headed({ batchNorm: false });
    const b = headed({ batchNorm: false });
    const ta = new Trainer({ model: a, train: train(), epochs: 1, optimizer: sgd });
    const tb = new Trainer({ model: b, train: train(), epochs: 1, optimizer: sgd, accumulate: 3 });
    await ta.fit();
    await tb.fit();
    const sa = snapshot(a);
    const sb = snapshot(b);
    for (const [k, v] of sa) sb.get(k)!.forEach((x, i) => expect(x).toBeCloseTo(v[i]!, 5));
    expect(splitSizes(4, 3)).toEqual([2, 1, 1]);
    expect(() => new Trainer({ model: a, train: train(), epochs: 1, optimizer: sgd, accumulate: 5 })).toThrow(/accumulate must be an integer between 1 and the batch size 4/);
    ta.dispose();
    tb.dispose();
  });

  it("unfreezes on schedule (two-phase fine_tune): body fixed in epoch 1, trained in epoch 2", async () => {
    const { model, headLayers } = withNewHead(tinyModel(), { name: "tiny", featureLayer: "flatten" }, { classes: 3 });
    const seen: Record<number, Map<string, Float32Array>> = {};
    seen[0] = snapshot(model);
    const trainer = new Trainer({
      model,
      headLayers,
      train: memorySource({ examples: 8, batchSize: 4 }),
      epochs: 2,
      optimizer: sgd,
      freeze: { kind: "body" },
      unfreeze: [{ epoch: 1, freeze: { kind: "none" } }],
      batchNorm: "auto",
      callbacks: [{ onEpochEnd: (t, log) => void (seen[log.epoch] = snapshot(t.model)) }],
    });
    await trainer.fit();
    expect(seen[1]!.get("conv1/kernel")).toEqual(seen[0]!.get("conv1/kernel"));
    expect(seen[1]!.get("bn1/moving_mean")).toEqual(seen[0]!.get("bn1/moving_mean"));
    expect(seen[1]!.get("predictions/kernel")).not.toEqual(seen[0]!.get("predictions/kernel"));
    expect(seen[2]!.get("conv1/kernel")).not.toEqual(seen[1]!.get("conv1/kernel"));
    trainer.dispose();
  });

  it("writes the run directory: config, metrics, checkpoints, report; early stopping stops", async () => {
    const dir = join(root, "run");
    const result = await runTraining({
      model: headed(),
      runDir: dir,
      config: { model: "tiny", epochs: 30 },
      train: memorySource({ examples: 8, batchSize: 4 }),
      val: memorySource({ examples: 6, batchSize: 4, shuffle: false, seed: 3 }),
      epochs: 30,
      optimizer: { ...sgd, lr: 5 }, // too high: validation stops improving quickly
      monitor: "val_acc",
      earlyStoppingPatience: 2,
    });
    expect(result.stopReason).toBe("early-stopping");
    expect(result.history.length).toBeLessThan(30);
    expect((await readdir(dir)).sort()).toEqual(["checkpoints", "config.json", "metrics.csv", "metrics.jsonl", "report.html"]);
    expect((await readdir(join(dir, "checkpoints"))).sort()).toEqual(["best.ckpt", "last.ckpt"]);
    const csv = (await readFile(join(dir, "metrics.csv"), "utf8")).trim().split("\n");
    expect(csv[0]).toBe("epoch,loss,acc,val_loss,val_acc,val_top5,lr,step,seconds,images_per_sec");
    expect(csv).toHaveLength(result.history.length + 1);
    const jsonl = (await readFile(join(dir, "metrics.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
    expect(jsonl[0].val_confusion).toHaveLength(3);
    const best = await readCheckpoint<CheckpointMeta>(join(dir, "checkpoints", "best.ckpt"));
    expect(best.meta.state.epoch).toBe(result.state.best!.epoch);
    best.dispose();
    const html = await readFile(join(dir, "report.html"), "utf8");
    expect(html).toMatch(/<svg[^>]*aria-label="Loss"/);
    expect(html).toMatch(/aria-label="confusion matrix"/);
    expect(html).not.toMatch(/<script|src=/);
    await expect(runTraining({ model: headed(), runDir: dir, config: {}, train: memorySource({ examples: 4, batchSize: 4 }), epochs: 1, optimizer: sgd })).rejects.toThrow(/exists and is not empty/);
  });
});

describe("checkpoint files", () => {
  it("are replaced atomically: a failed write leaves the previous file intact and no temporary file", async () => {
    const dir = join(root, "atomic");
    const { mkdir } = await import("node:fs/promises");
    await mkdir(dir);
    const path = join(dir, "last.ckpt");
    const model = headed();
    await writeCheckpoint(path, model, undefined, { n: 1 });
    const size = (await stat(path)).size;
    const k = model.getLayer("fc10").weights[0]!;
    k.write(tf.onesLike(k.read()));
    await expect(
      writeCheckpoint(path, model, undefined, { n: 2 }, {
        beforeRename: async (temp) => {
          expect((await stat(temp)).size).toBe(size);
          throw new Error("disk full (simulated)");
        },
      }),
    ).rejects.toThrow(/simulated/);
    expect(await readdir(dir)).toEqual(["last.ckpt"]);
    const back = await readCheckpoint<{ n: number }>(path);
    expect(back.meta.n).toBe(1);
    expect(back.tensors.get("model/fc10/kernel")!.dataSync().every((v) => v === 1)).toBe(false);
    back.dispose();
    await writeCheckpoint(path, model, undefined, { n: 3 });
    const again = await readCheckpoint<{ n: number }>(path);
    expect(again.meta.n).toBe(3);
    expect(again.tensors.get("model/fc10/kernel")!.dataSync().every((v) => v === 1)).toBe(true);
    again.dispose();
  });
});

describe("one writer per run directory", () => {
  const run = (runDir: string, extra: Partial<Parameters<typeof runTraining>[0]> = {}) =>
    runTraining({ model: headed(), train: memorySource({ examples: 40, batchSize: 4 }), epochs: 2, optimizer: sgd, runDir, config: { test: true }, ...extra });
  const exited = (child: ChildProcess) => new Promise<void>((resolve) => child.once("exit", () => resolve()));

  it("a resume or a new run of a directory being trained is refused, naming the process, and nothing is lost", async () => {
    const dir = join(root, "busy");
    const first = run(dir, { epochs: 12 });
    while (!existsSync(join(dir, RUN_LOCK))) await new Promise((r) => setTimeout(r, 1));
    const resumed = await run(dir, { resume: true, maxSteps: 25 }).catch((e: unknown) => e);
    expect(resumed).toBeInstanceOf(UsageError);
    expect((resumed as Error).message).toMatch(new RegExp(`run directory .*busy is in use by process ${process.pid} \\(since .*\\): wait for it to end`));
    const fresh = await run(dir).catch((e: unknown) => e);
    expect((fresh as Error).message).toMatch(/is in use by process/);
    const result = await first;
    expect(result.stopReason).toBe("completed");
    expect(result.state.step).toBe(120);
    const last = await readCheckpoint<CheckpointMeta>(result.lastCheckpoint);
    expect(last.meta.state).toMatchObject({ epoch: 12, step: 120 });
    last.dispose();
    expect((await readFile(join(dir, "metrics.csv"), "utf8")).trim().split("\n")).toHaveLength(13);
    expect(existsSync(join(dir, RUN_LOCK)), "the lock goes with the run").toBe(false);
  });

  it("a lock left by a process that is gone is taken over; one of a live process is not", async () => {
    const dir = join(root, "stale");
    await run(dir, { maxSteps: 3 });
    const gone = spawn(process.execPath, ["-e", ""]);
    await exited(gone);
    await writeFile(join(dir, RUN_LOCK), JSON.stringify({ pid: gone.pid, host: hostname(), started: "2026-01-01T00:00:00.000Z" }) + "\n");
    const resumed = await run(dir, { resume: true });
    expect(resumed.stopReason).toBe("completed");
    expect(existsSync(join(dir, RUN_LOCK))).toBe(false);

    const live = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"]);
    try {
      await writeFile(join(dir, RUN_LOCK), JSON.stringify({ pid: live.pid, host: hostname(), started: "2026-01-01T00:00:00.000Z" }) + "\n");
      const refused = await run(dir, { resume: true }).catch((e: unknown) => e);
      expect((refused as Error).message).toMatch(new RegExp(`in use by process ${live.pid} \\(since 2026-01-01`));
      expect(existsSync(join(dir, RUN_LOCK)), "another process's lock is left alone").toBe(true);
    } finally {
      live.kill();
      await exited(live);
    }
  });
});
