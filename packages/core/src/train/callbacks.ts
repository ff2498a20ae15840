import { link, mkdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { temporaryPath, writeFileAtomic } from "./atomic.js";
import { renderReport } from "./report.js";
import type { EpochLog } from "./state.js";
import type { BatchInfo, Callback, Trainer, TrainResult } from "./trainer.js";

/** What a progress renderer receives after every batch. */
export interface ProgressInfo extends BatchInfo {
  /** Examples per epoch. */
  total: number;
  imagesPerSec: number;
  /** Seconds left in this epoch at the current rate. */
  etaSeconds: number;
  epochs: number;
}

/** Progress with rate and ETA; the renderer (a CLI progress bar, a log line) is supplied by the caller. */
export class ProgressCallback implements Callback {
  constructor(
    private readonly render: {
      batch?: (p: ProgressInfo) => void;
      epochBegin?: (epoch: number, epochs: number, batches: number) => void;
      epochEnd?: (log: EpochLog) => void;
    },
  ) {}
  onEpochBegin(trainer: Trainer, epoch: number): void {
    this.render.epochBegin?.(epoch, trainer.options.epochs, trainer.stepsPerEpoch);
  }
  onBatchEnd(trainer: Trainer, info: BatchInfo): void {
    const rate = info.seconds > 0 ? info.seen / info.seconds : 0;
    const total = trainer.options.train.size;
    this.render.batch?.({ ...info, total, imagesPerSec: rate, etaSeconds: rate > 0 ? (total - info.seen) / rate : NaN, epochs: trainer.options.epochs });
  }
  onEpochEnd(_trainer: Trainer, log: EpochLog): void {
    this.render.epochEnd?.(log);
  }
}

/** Columns of `metrics.csv`, in order. */
export const CSV_COLUMNS = ["epoch", "loss", "acc", "val_loss", "val_acc", "val_top5", "lr", "step", "seconds", "images_per_sec"] as const;

/**
 * `metrics.csv` and `metrics.jsonl`, one row per epoch, rewritten from the trainer's history (so a resumed run
 * has exactly one row per epoch). The JSONL rows also hold the validation confusion matrix.
 */
export class MetricsLogger implements Callback {
  constructor(private readonly dir: string) {}
  async onTrainBegin(trainer: Trainer): Promise<void> {
    await this.write(trainer.state.history);
  }
  async onEpochEnd(trainer: Trainer): Promise<void> {
    await this.write(trainer.state.history);
  }
  private async write(history: EpochLog[]): Promise<void> {
    const csv = [CSV_COLUMNS.join(","), ...history.map((e) => CSV_COLUMNS.map((c) => (e[c] === undefined ? "" : String(e[c]))).join(","))].join("\n") + "\n";
    const jsonl = history.map((e) => JSON.stringify(e)).join("\n");
    await writeFileAtomic(join(this.dir, "metrics.csv"), csv);
    await writeFileAtomic(join(this.dir, "metrics.jsonl"), jsonl ? jsonl + "\n" : "");
  }
}

/** File names of the two checkpoints in `<run>/checkpoints/`. */
export const CHECKPOINT_FILES = { last: "last.ckpt", best: "best.ckpt" } as const;

/**
 * `last.ckpt` after every epoch and when the run stops inside an epoch (interrupt, max steps);
 * `best.ckpt` when the monitored metric improves (a hard link to that `last.ckpt`).
 * A run stopped by the NaN/Inf guard writes nothing, so both keep the last good state.
 */
export class CheckpointCallback implements Callback {
  readonly dir: string;
  constructor(runDir: string) {
    this.dir = join(runDir, "checkpoints");
  }
  get lastPath(): string {
    return join(this.dir, CHECKPOINT_FILES.last);
  }
  get bestPath(): string {
    return join(this.dir, CHECKPOINT_FILES.best);
  }
  async onTrainBegin(trainer: Trainer): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    // A run killed between writing an improved `last` and linking it as `best` resumes from that `last`:
    // link it now, or `best` would stay an older epoch than the run's record of its best.
    const best = trainer.state.best;
    if (best && !trainer.midEpoch && best.epoch === trainer.state.history.length && (await this.sameFile(this.lastPath, this.bestPath)) === false) {
      await this.linkBest();
    }
  }
  async onEpochEnd(trainer: Trainer): Promise<void> {
    await trainer.saveCheckpoint(this.lastPath);
    if (trainer.improved) await this.linkBest();
  }
  private async linkBest(): Promise<void> {
    const temp = temporaryPath(this.bestPath);
    await rm(temp, { force: true });
    await link(this.lastPath, temp);
    await rename(temp, this.bestPath);
  }
  /** Whether two paths are one file; undefined when `a` does not exist. */
  private async sameFile(a: string, b: string): Promise<boolean | undefined> {
    const [sa, sb] = await Promise.all([stat(a).catch(() => undefined), stat(b).catch(() => undefined)]);
    if (!sa) return undefined;
    return !!sb && sa.ino === sb.ino && sa.dev === sb.dev;
  }
  async onTrainEnd(trainer: Trainer, result: TrainResult): Promise<void> {
    if ((result.stopReason === "interrupted" || result.stopReason === "max-steps") && trainer.midEpoch) {
      await trainer.saveCheckpoint(this.lastPath);
    }
  }
}

/** Stops when the monitored metric has not improved for `patience` epochs. */
export class EarlyStopping implements Callback {
  constructor(readonly patience: number) {}
  onEpochEnd(trainer: Trainer): void {
    if (trainer.state.wait >= this.patience) {
      trainer.stop("early-stopping", `${trainer.options.monitor} did not improve for ${this.patience} epochs`);
    }
  }
}

/** Rewrites `report.html` after every epoch and at the end. */
export class ReportCallback implements Callback {
  constructor(
    private readonly runDir: string,
    private readonly title: string,
    private readonly config: Record<string, unknown>,
  ) {}
  async onEpochEnd(trainer: Trainer): Promise<void> {
    await this.write(trainer, undefined);
  }
  async onTrainEnd(trainer: Trainer, result: TrainResult): Promise<void> {
    await this.write(trainer, result);
  }
  private async write(trainer: Trainer, result: TrainResult | undefined): Promise<void> {
    const html = renderReport({
      title: this.title,
      config: this.config,
      history: trainer.state.history,
      classes: trainer.options.train.classes,
      confusion: trainer.state.history[trainer.state.history.length - 1]?.val_confusion,
      stopReason: result?.stopReason,
      stopDetail: result?.stopDetail,
      best: trainer.state.best,
    });
    await writeFileAtomic(join(this.runDir, "report.html"), html);
  }
}
