import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import type { Batch, BatchSource } from "../data/dataset.js";
import { FtError, UsageError } from "../errors.js";
import { evaluate } from "../eval/evaluate.js";
import type { EvalMetrics } from "../eval/metrics.js";
import { applyBatchNormPolicy, type BatchNormPolicy } from "../finetune/batchnorm.js";
import { seedDropout, type DropoutClock } from "../finetune/dropout.js";
import { applyFreeze, type FreezeSpec } from "../finetune/freeze.js";
import { layerLrScales, type LrGroups } from "../finetune/lr-groups.js";
import { loadModelWeights, optimizerStateOf, readCheckpoint, weightKey, writeCheckpoint } from "./checkpoint.js";
import { createOptimizer, type Optimizer, type OptimizerConfig } from "./optimizers.js";
import { scheduleFactor, type ScheduleConfig } from "./schedules.js";
import type { CheckpointMeta, EpochLog, StopReason, TrainState } from "./state.js";
import { trainStep, type StepParam, type StepResult } from "./step.js";

/** Passed to callbacks. */
export interface BatchInfo {
  epoch: number;
  /** Batch index within the epoch, from 0. */
  batch: number;
  batches: number;
  size: number;
  loss: number;
  /** Running mean loss and accuracy of the epoch so far. */
  meanLoss: number;
  meanAcc: number;
  lr: number;
  /** Seconds of training in this epoch so far. */
  seconds: number;
  seen: number;
}

/** A concern of the loop (fastai style): logging, checkpoints, early stopping, progress, report. */
export interface Callback {
  onTrainBegin?(trainer: Trainer): void | Promise<void>;
  onEpochBegin?(trainer: Trainer, epoch: number): void | Promise<void>;
  onBatchEnd?(trainer: Trainer, info: BatchInfo): void | Promise<void>;
  /** `val` holds the full validation metrics (confusion matrix) when there is a validation split. */
  onEpochEnd?(trainer: Trainer, log: EpochLog, val: EvalMetrics | undefined): void | Promise<void>;
  onTrainEnd?(trainer: Trainer, result: TrainResult): void | Promise<void>;
}

export interface TrainerOptions {
  /** The model to train, with its head already in place; every output is a softmax over `train.classes`. */
  model: tfl.LayersModel;
  train: BatchSource;
  val?: BatchSource;
  epochs: number;
  optimizer: OptimizerConfig;
  /** Default constant. */
  schedule?: ScheduleConfig;
  /** Discriminative learning rates (default: one rate). */
  lrGroups?: LrGroups;
  /** Layers frozen from the first epoch (default none). */
  freeze?: FreezeSpec;
  /** Freeze changes at the start of an epoch (from 0), e.g. `[{epoch: 1, freeze: {kind: "none"}}]` to unfreeze after one. */
  unfreeze?: { epoch: number; freeze: FreezeSpec }[];
  /** Names of the new head's layers (for `freeze: body`). */
  headLayers?: string[];
  /** Default `train` (the seed). */
  batchNorm?: BatchNormPolicy;
  /**
   * Split each batch into this many micro-batches and add their gradients before one update (default 1).
   * The update equals the full batch's except for BatchNorm, which normalises each micro-batch with its own statistics
   * (and updates its moving averages once per micro-batch).
   */
  accumulate?: number;
  /** Stop after this many updates in total (smoke tests); the position is checkpointed like an interruption. */
  maxSteps?: number;
  /** Seeds dropout masks (data order is the BatchSource's business). Default 0. */
  seed?: number;
  callbacks?: Callback[];
  /** Aborting stops after the current batch; the `last` checkpoint then holds the exact position. */
  signal?: AbortSignal;
  /** Validation metric for `best` and early stopping (default `val_loss`, or `loss` without validation). */
  monitor?: "val_loss" | "val_acc" | "loss" | "acc";
}

export interface TrainResult {
  stopReason: StopReason;
  stopDetail?: string;
  history: EpochLog[];
  state: TrainState;
  /** Validation metrics of the last epoch. */
  lastVal?: EvalMetrics;
}

/**
 * The training loop around `trainStep`: epochs, freezing phases, schedules, layer-group learning rates,
 * checkpoints and exact resume. Everything else (logging, early stopping, progress) is a callback.
 */
export class Trainer {
  readonly model: tfl.LayersModel;
  readonly optimizer: Optimizer;
  readonly options: Required<Pick<TrainerOptions, "epochs" | "accumulate" | "seed" | "monitor" | "batchNorm">> & TrainerOptions;
  state: TrainState;
  private readonly dropoutClock: DropoutClock;
  private stopRequest: { reason: StopReason; detail?: string } | undefined;
  private lastVal: EvalMetrics | undefined;
  private lastLr = 0;

  constructor(options: TrainerOptions) {
    const accumulate = options.accumulate ?? 1;
    if (!Number.isInteger(options.epochs) || options.epochs < 1) throw new UsageError(`epochs must be a positive integer (got ${options.epochs})`);
    if (!Number.isInteger(accumulate) || accumulate < 1 || accumulate > options.train.batchSize) {
      throw new UsageError(`accumulate must be an integer between 1 and the batch size ${options.train.batchSize} (got ${accumulate})`);
    }
    if (options.maxSteps !== undefined && !(Number.isInteger(options.maxSteps) && options.maxSteps > 0)) {
      throw new UsageError(`max steps must be a positive integer (got ${options.maxSteps})`);
    }
    if (options.val && options.val.classes.length !== options.train.classes.length) {
      throw new UsageError(`the validation split has ${options.val.classes.length} classes, the training split ${options.train.classes.length}`);
    }
    const outputs = options.model.outputs;
    for (const o of outputs) {
      if (o.shape[o.shape.length - 1] !== options.train.classes.length) {
        throw new UsageError(`model output ${o.name} has ${o.shape[o.shape.length - 1]} classes, the data ${options.train.classes.length}; replace the head first`);
      }
    }
    this.options = {
      ...options,
      accumulate,
      seed: options.seed ?? 0,
      batchNorm: options.batchNorm ?? "train",
      monitor: options.monitor ?? (options.val ? "val_loss" : "loss"),
    };
    this.model = options.model;
    this.optimizer = createOptimizer(options.optimizer);
    this.state = {
      epoch: 0,
      batch: 0,
      step: 0,
      passes: 0,
      running: { lossSum: 0, correct: 0, seen: 0, seconds: 0 },
      history: [],
      best: null,
      wait: 0,
    };
    // Every freeze phase is checked now, so that a bad one fails before the run directory exists.
    for (const phase of options.unfreeze ?? []) applyFreeze(this.model, phase.freeze, options.headLayers);
    applyFreeze(this.model, this.freezeFor(0), options.headLayers);
    this.dropoutClock = { seed: this.options.seed, pass: 0 };
    seedDropout(this.model, this.dropoutClock);
    applyBatchNormPolicy(this.model, this.options.batchNorm);
  }

  /** Batches per epoch. */
  get stepsPerEpoch(): number {
    return Math.ceil(this.options.train.size / this.options.train.batchSize);
  }

  /** Updates in the whole run (for schedules). */
  get totalSteps(): number {
    return this.stepsPerEpoch * this.options.epochs;
  }

  /** Asks the loop to stop after the current batch (callbacks use it, e.g. early stopping). */
  stop(reason: StopReason, detail?: string): void {
    this.stopRequest ??= { reason, detail };
  }

  /** The freeze spec in force for `epoch`. */
  freezeFor(epoch: number): FreezeSpec {
    let spec: FreezeSpec = this.options.freeze ?? { kind: "none" };
    for (const u of [...(this.options.unfreeze ?? [])].sort((a, b) => a.epoch - b.epoch)) if (u.epoch <= epoch) spec = u.freeze;
    return spec;
  }

  /** The base learning rate for update `step` before Keras decay (schedule applied). */
  scheduledLr(step: number): number {
    const schedule = this.options.schedule ?? { kind: "constant" };
    return this.options.optimizer.lr * scheduleFactor(schedule, { step, totalSteps: this.totalSteps, stepsPerEpoch: this.stepsPerEpoch });
  }

  private trainableParams(): StepParam[] {
    const scales = layerLrScales(this.model, this.options.lrGroups);
    const params: StepParam[] = [];
    for (const layer of this.model.layers) {
      if (!layer.trainable) continue;
      const scale = scales.get(layer.name) ?? 1;
      for (const w of layer.trainableWeights) params.push({ key: weightKey(w), variable: w.read() as tf.Variable, lrScale: scale });
    }
    return params;
  }

  /** Restores weights, optimiser state and position from a checkpoint written by this trainer's checkpoint callback. */
  async restore(path: string): Promise<void> {
    const ckpt = await readCheckpoint<CheckpointMeta>(path);
    try {
      if (ckpt.meta?.kind !== "ft-checkpoint") throw new UsageError(`${path} is not a training checkpoint`);
      if (ckpt.meta.optimizer !== this.options.optimizer.kind) {
        throw new UsageError(`${path} was written with the ${ckpt.meta.optimizer} optimizer, this run uses ${this.options.optimizer.kind}`);
      }
      loadModelWeights(this.model, ckpt, path);
      this.optimizer.setState(optimizerStateOf(ckpt, ckpt.meta.iterations));
      this.state = structuredClone(ckpt.meta.state);
      delete this.state.stopReason;
      delete this.state.stopDetail;
    } finally {
      ckpt.dispose();
    }
  }

  /**
   * The first weight (trainable or not: BatchNorm's moving statistics too) holding a NaN or an infinity,
   * by key; undefined when all are finite. One reduction per weight, read back once.
   */
  async nonFiniteWeight(): Promise<string | undefined> {
    const weights = this.model.weights;
    if (weights.length === 0) return undefined;
    // 0·x is 0 for every finite x and NaN for NaN and ±Infinity.
    const probe = tf.tidy(() => tf.stack(weights.map((w) => tf.sum(tf.mul(w.read(), 0)))));
    const values = await probe.data();
    probe.dispose();
    const bad = values.findIndex((v) => v !== 0);
    return bad < 0 ? undefined : weightKey(weights[bad]!);
  }

  /** Writes weights, optimiser state and `state` to `path` (atomically); non-finite weights are never written. */
  async saveCheckpoint(path: string): Promise<void> {
    const bad = await this.nonFiniteWeight();
    if (bad) throw new FtError(`not saving ${path}: weight "${bad}" is not finite (the previous checkpoint is kept)`);
    const meta: CheckpointMeta = {
      kind: "ft-checkpoint",
      state: this.state,
      iterations: this.optimizer.iterations,
      optimizer: this.options.optimizer.kind,
      savedAt: new Date().toISOString(),
    };
    await writeCheckpoint(path, this.model, this.optimizer.getState(), meta);
  }

  /** True when the position is inside an epoch (not at an epoch boundary). */
  get midEpoch(): boolean {
    return this.state.batch > 0;
  }

  /** Trains from the current state (fresh, or restored) to the end or a stop. */
  async fit(): Promise<TrainResult> {
    const callbacks = this.options.callbacks ?? [];
    const { epochs, train, val } = this.options;
    this.stopRequest = undefined;
    for (const cb of callbacks) await cb.onTrainBegin?.(this);
    const onAbort = () => this.stop("interrupted");
    this.options.signal?.addEventListener("abort", onAbort);
    if (this.options.signal?.aborted) onAbort();
    try {
      while (this.state.epoch < epochs && !this.stopRequest) {
        const epoch = this.state.epoch;
        applyFreeze(this.model, this.freezeFor(epoch), this.options.headLayers);
        const params = this.trainableParams();
        if (params.length === 0) throw new UsageError(`nothing to train in epoch ${epoch + 1}: every layer is frozen`);
        for (const cb of callbacks) await cb.onEpochBegin?.(this, epoch);
        for await (const batch of train.batches(epoch, this.state.batch)) {
          const t0 = performance.now();
          let outcome: { loss: number; correct: number } | string;
          try {
            outcome = await this.step(batch, params);
          } finally {
            batch.images.dispose();
            batch.labels.dispose();
          }
          if (typeof outcome === "string") {
            this.stop("nan", `epoch ${epoch + 1}, batch ${(batch.index ?? this.state.batch) + 1}: ${outcome}`);
            break;
          }
          const r = this.state.running;
          r.lossSum += outcome.loss * batch.size;
          r.correct += outcome.correct;
          r.seen += batch.size;
          r.seconds += (performance.now() - t0) / 1000;
          // A source may skip an index when every example of a batch failed to load.
          this.state.batch = (batch.index ?? this.state.batch) + 1;
          this.state.step++;
          const info: BatchInfo = {
            epoch,
            batch: this.state.batch - 1,
            batches: this.stepsPerEpoch,
            size: batch.size,
            loss: outcome.loss,
            meanLoss: r.lossSum / r.seen,
            meanAcc: r.correct / r.seen,
            lr: this.lastLr,
            seconds: r.seconds,
            seen: r.seen,
          };
          for (const cb of callbacks) await cb.onBatchEnd?.(this, info);
          if (this.options.maxSteps !== undefined && this.state.step >= this.options.maxSteps) this.stop("max-steps");
          if (this.stopRequest) break;
        }
        if (this.stopRequest && this.state.batch < this.stepsPerEpoch) break;
        await this.endEpoch(callbacks, val);
      }
    } finally {
      this.options.signal?.removeEventListener("abort", onAbort);
    }
    const stop: { reason: StopReason; detail?: string } = this.stopRequest ?? { reason: "completed" };
    this.state.stopReason = stop.reason;
    this.state.stopDetail = stop.detail;
    const result: TrainResult = { stopReason: stop.reason, stopDetail: stop.detail, history: this.state.history, state: this.state, lastVal: this.lastVal };
    for (const cb of callbacks) await cb.onTrainEnd?.(this, result);
    return result;
  }

  private async endEpoch(callbacks: Callback[], val: BatchSource | undefined): Promise<void> {
    const r = this.state.running;
    const valMetrics = val ? await evaluate(this.model, val) : undefined;
    const divergence = await this.divergence(r.lossSum / r.seen, valMetrics);
    if (divergence) {
      // Nothing of this epoch is logged or saved: the checkpoints keep the last good epoch.
      this.stop("nan", `epoch ${this.state.epoch + 1}: ${divergence}`);
      return;
    }
    this.lastVal = valMetrics;
    const log: EpochLog = {
      epoch: this.state.epoch + 1,
      loss: r.lossSum / r.seen,
      acc: r.correct / r.seen,
      ...(valMetrics ? { val_loss: valMetrics.logLoss, val_acc: valMetrics.top1, val_top5: valMetrics.top5, val_confusion: valMetrics.confusion } : {}),
      lr: this.lastLr,
      step: this.state.step,
      seconds: r.seconds,
      images_per_sec: r.seconds > 0 ? r.seen / r.seconds : 0,
    };
    this.state.history.push(log);
    this.updateBest(log);
    this.state.epoch++;
    this.state.batch = 0;
    this.state.running = { lossSum: 0, correct: 0, seen: 0, seconds: 0 };
    for (const cb of callbacks) await cb.onEpochEnd?.(this, log, valMetrics);
  }

  /**
   * What makes the model at an epoch's end unusable: a non-finite training or validation loss, or weight.
   * (BatchNorm in training mode keeps the training loss finite while its moving statistics overflow, which
   * only the validation loss and the weights show.)
   */
  private async divergence(loss: number, val: EvalMetrics | undefined): Promise<string | undefined> {
    if (!Number.isFinite(loss)) return `the training loss is ${loss}`;
    if (val && !Number.isFinite(val.logLoss)) return `the validation loss is ${val.logLoss}`;
    const weight = await this.nonFiniteWeight();
    return weight ? `weight "${weight}" is not finite` : undefined;
  }

  /** Improved-or-not bookkeeping for `best` checkpoints and early stopping. */
  private updateBest(log: EpochLog): void {
    const monitor = this.options.monitor;
    const value = log[monitor];
    if (value === undefined || !Number.isFinite(value)) return;
    const higherIsBetter = monitor.endsWith("acc");
    const best = this.state.best;
    if (!best || (higherIsBetter ? value > best.value : value < best.value)) {
      this.state.best = { monitor, value, epoch: log.epoch };
      this.state.wait = 0;
    } else {
      this.state.wait++;
    }
  }

  /** True when the epoch just logged set a new best. */
  get improved(): boolean {
    const last = this.state.history[this.state.history.length - 1];
    return !!last && this.state.best?.epoch === last.epoch;
  }

  /** One update from one batch (nothing is updated when a value is not finite: the description is returned). */
  private async step(batch: Batch, params: StepParam[]): Promise<StepResult | string> {
    const lr = this.scheduledLr(this.state.step);
    const result = await trainStep(this.model, batch, params, {
      optimizer: this.optimizer,
      lr,
      accumulate: this.options.accumulate,
      beforePass: () => (this.dropoutClock.pass = this.state.passes++),
    });
    if (typeof result !== "string") this.lastLr = this.optimizer.decayedLr(lr);
    return result;
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}
