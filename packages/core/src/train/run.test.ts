import * as tf from "@tensorflow/tfjs-core";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withNewHead } from "../finetune/model.js";
import { readCheckpoint } from "./checkpoint.js";
import { runTraining, type TrainingRunOptions } from "./run.js";
import { memorySource, reinit, snapshot, tinyModel, useCpu } from "./test-utils/fixtures.js";
import type { Callback } from "./trainer.js";

let root: string;
beforeAll(async () => {
  await useCpu();
  root = await mkdtemp(join(tmpdir(), "ft-run-"));
});
afterAll(() => rm(root, { recursive: true, force: true }));

const sgd = { kind: "sgd" as const, lr: 0.05, momentum: 0.9, nesterov: true, decay: 1e-3 };
const options = (runDir: string, extra: Partial<TrainingRunOptions> = {}): TrainingRunOptions => ({
  model: reinit(withNewHead(tinyModel(), { name: "tiny", featureLayer: "flatten", newHeads: [{ from: "flatten", dense: "fc10" }] }, { classes: 3 }).model),
  runDir,
  config: { test: true },
  train: memorySource({ examples: 12, batchSize: 4 }),
  val: memorySource({ examples: 6, batchSize: 3, shuffle: false, seed: 5 }),
  epochs: 3,
  optimizer: sgd,
  seed: 7,
  ...extra,
});
const digest = async (path: string) => createHash("sha256").update(await readFile(path)).digest("hex");

/** Writes +Infinity into bn2's moving variance after batch `batch` of epoch `epoch` (from 0): what an overflow does. */
function overflowAt(epoch: number, batch: number): Callback {
  return {
    onBatchEnd: (trainer, info) => {
      if (info.epoch !== epoch || info.batch !== batch) return;
      const variance = trainer.model.getLayer("bn2").weights.find((w) => w.name.includes("moving_variance"))!;
      variance.write(tf.fill(variance.shape as number[], Infinity));
    },
  };
}

describe("divergence", () => {
  it("a non-finite weight at an epoch's end stops the run there; the checkpoints keep the last good epoch", async () => {
    const dir = join(root, "overflow");
    const saved: Record<string, string> = {};
    const keep: Callback = {
      onEpochEnd: async (_t, log) => {
        if (log.epoch === 1) for (const f of ["last.ckpt", "best.ckpt"]) saved[f] = await digest(join(dir, "checkpoints", f));
      },
    };
    const result = await runTraining(options(dir, { callbacks: [keep, overflowAt(1, 1)] }));
    expect(result.stopReason).toBe("nan");
    // The training loss stays finite (BatchNorm normalises with batch statistics); the weight and the validation loss do not.
    expect(result.stopDetail).toMatch(/^epoch 2: (the validation loss is NaN|weight "bn2\/moving_variance" is not finite)$/);
    expect(result.history.map((e) => e.epoch)).toEqual([1]);
    for (const [f, hash] of Object.entries(saved)) expect(await digest(join(dir, "checkpoints", f)), f).toBe(hash);
    const csv = (await readFile(join(dir, "metrics.csv"), "utf8")).trim().split("\n");
    expect(csv).toHaveLength(2);
    expect(await readFile(join(dir, "report.html"), "utf8")).toContain("nan (epoch 2: ");

    // Resumable from the kept epoch: the settings are the run's, so the same overflow stops it again.
    const again = await runTraining(options(dir, { resume: true, callbacks: [overflowAt(1, 1)] }));
    expect(again.stopReason).toBe("nan");
    expect(again.history.map((e) => e.epoch)).toEqual([1]);
  });

  it("without validation data the weights are checked alone", async () => {
    const result = await runTraining(options(join(root, "no-val"), { val: undefined, callbacks: [overflowAt(0, 2)] }));
    expect(result).toMatchObject({ stopReason: "nan", stopDetail: 'epoch 1: weight "bn2/moving_variance" is not finite' });
    expect(existsSync(result.lastCheckpoint)).toBe(false);
  });

  it("a non-finite weight is never written to a checkpoint, even when the run is interrupted mid-epoch", async () => {
    const dir = join(root, "overflow-mid-epoch");
    const run = runTraining(options(dir, { maxSteps: 5, callbacks: [overflowAt(1, 0)] }));
    await expect(run).rejects.toThrow(/not saving .*last\.ckpt: weight "bn2\/moving_variance" is not finite \(the previous checkpoint is kept\)/);
    const kept = await readCheckpoint<{ state: { epoch: number; batch: number } }>(join(dir, "checkpoints", "last.ckpt"));
    expect(kept.meta.state).toMatchObject({ epoch: 1, batch: 0 });
    kept.dispose();
  });
});

describe("no dead ends", () => {
  it("a new run that fails before its first checkpoint leaves no directory behind", async () => {
    const dir = join(root, "late-failure");
    const failing: Callback = { onEpochBegin: () => Promise.reject(new Error("disk gone (simulated)")) };
    await expect(runTraining(options(dir, { callbacks: [failing] }))).rejects.toThrow(/simulated/);
    expect(existsSync(dir)).toBe(false);
    // A directory that existed (empty) is left as it was found.
    await mkdir(dir);
    await expect(runTraining(options(dir, { callbacks: [failing] }))).rejects.toThrow(/simulated/);
    expect(await readdir(dir)).toEqual([]);
  });

  it("a bad freeze phase is refused before the run directory exists", async () => {
    const dir = join(root, "bad-freeze");
    await expect(runTraining(options(dir, { unfreeze: [{ epoch: 1, freeze: { kind: "count", layers: 100000 } }] }))).rejects.toThrow(
      /cannot freeze the first 100000 layers/,
    );
    expect(existsSync(dir)).toBe(false);
  });

  it("a run killed before its first checkpoint resumes from its beginning; temporaries of killed writes are removed", async () => {
    const reference = options(join(root, "whole"));
    await runTraining(reference);

    // What a kill -9 in epoch 1 leaves: config.json, an empty checkpoints/, half-written temporaries.
    const dir = join(root, "killed-early");
    await mkdir(join(dir, "checkpoints"), { recursive: true });
    await writeFile(join(dir, "config.json"), JSON.stringify({ test: true }));
    await writeFile(join(dir, "checkpoints", "last.ckpt.tmp-99999"), Buffer.alloc(1000));
    await writeFile(join(dir, "metrics.csv.tmp-4242"), "epoch,lo");
    const resumed = options(dir, { resume: true });
    const result = await runTraining(resumed);
    expect(result.stopReason).toBe("completed");
    expect((await readdir(dir)).sort()).toEqual(["checkpoints", "config.json", "metrics.csv", "metrics.jsonl", "report.html"]);
    expect((await readdir(join(dir, "checkpoints"))).sort()).toEqual(["best.ckpt", "last.ckpt"]);
    const expected = snapshot(reference.model);
    const got = snapshot(resumed.model);
    for (const [k, v] of expected) expect(Array.from(got.get(k)!), k).toEqual(Array.from(v));
  });

  it("a damaged checkpoint header is reported naming the file, without the header's text", async () => {
    const dir = join(root, "damaged");
    await runTraining(options(dir, { epochs: 1 }));
    const path = join(dir, "checkpoints", "last.ckpt");
    const bytes = await readFile(path);
    bytes[40] = "}".charCodeAt(0);
    await writeFile(path, bytes);
    const error = await runTraining(options(dir, { resume: true })).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(new RegExp(`^checkpoint ${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is damaged: its header is not valid JSON`));
    expect((error as Error).message.length).toBeLessThan(400);
    // A header length past the end of the file.
    bytes.writeUInt32LE(0x7fffffff, 8);
    await writeFile(path, bytes);
    await expect(runTraining(options(dir, { resume: true }))).rejects.toThrow(/is damaged: its header claims 2147483647 bytes, the file has \d+/);
  });
});
