import type { OptimizerConfig } from "./optimizers.js";

/** One row of `metrics.csv` / `metrics.jsonl`. Epochs count from 1. */
export interface EpochLog {
  epoch: number;
  /** Mean training loss over the epoch's examples (summed over heads, regularisation included). */
  loss: number;
  /** Training accuracy (dropout and BN in training mode). */
  acc: number;
  /** Validation log-loss (scikit-learn definition, see `EvalMetrics.logLoss`). */
  val_loss?: number;
  val_acc?: number;
  val_top5?: number;
  /** Validation `confusion[true][predicted]` (JSONL only, not in the CSV). */
  val_confusion?: number[][];
  /** Learning rate of the last update (schedule and Keras-1 decay applied, scale 1). */
  lr: number;
  /** Optimiser updates done at the end of the epoch. */
  step: number;
  /** Seconds of training (validation excluded). */
  seconds: number;
  images_per_sec: number;
}

/**
 * Why training ended. `nan`: a non-finite loss or gradient (the update was not applied), or at an epoch's end a
 * non-finite validation loss or weight (the epoch was not saved).
 */
export type StopReason = "completed" | "early-stopping" | "nan" | "interrupted" | "max-steps";

/**
 * Where a run is: saved in every checkpoint, so that a resumed run continues with the same data order,
 * learning rates, dropout masks and metrics as an uninterrupted one.
 */
export interface TrainState {
  /** Epoch in progress, from 0 (equal to `epochs` when done). */
  epoch: number;
  /** Next batch index within `epoch`. */
  batch: number;
  /** Optimiser updates done. */
  step: number;
  /** Training forward passes done (micro-batches): the dropout clock. */
  passes: number;
  /** Running sums of the epoch in progress. */
  running: { lossSum: number; correct: number; seen: number; seconds: number };
  history: EpochLog[];
  /** Best value of the monitored metric so far. */
  best: { monitor: string; value: number; epoch: number } | null;
  /** Epochs since the monitored metric last improved (early stopping). */
  wait: number;
  stopReason?: StopReason;
  /** Where the non-finite value was met, for `nan`. */
  stopDetail?: string;
}

/** What a checkpoint's metadata holds. */
export interface CheckpointMeta {
  kind: "ft-checkpoint";
  state: TrainState;
  /** Optimiser updates (Keras `iterations`). */
  iterations: number;
  optimizer: OptimizerConfig["kind"];
  savedAt: string;
}
