import * as tf from "@tensorflow/tfjs-core";
import { missingTrainingKernels } from "../backend/contract.js";
import { currentBackend, selectBackend } from "../backend/select.js";
import { openData } from "../data/sources.js";
import { FtError, UsageError } from "../errors.js";
import { getModel } from "../registry/registry.js";
import type { ProgressCallback } from "../train/callbacks.js";
import { planMicroBatches } from "../train/memory.js";
import { readRunConfig, runCheckpointPath, runTraining, type TrainingRunResult } from "../train/run.js";
import type { Callback } from "../train/trainer.js";
import type { DownloadProgress } from "../hub/download.js";
import { createModelWithReport } from "../weights/create.js";
import { withNewHead } from "./model.js";
import { resolveFineTuneConfig, type FineTuneConfig, type FineTuneOptions } from "./recipe.js";

/** How one call runs, as opposed to what the run is (which goes to `config.json`). */
export interface FineTuneCall {
  /** The run directory: created for a new run (it must not exist or be empty). */
  runDir: string;
  /** Stops at the next batch, saving the position (Ctrl-C). */
  signal?: AbortSignal;
  /** Progress renderer (a progress bar, log lines). */
  progress?: ConstructorParameters<typeof ProgressCallback>[0];
  /** Download progress of the weights or the data set. */
  onDownload?: (what: "weights" | "data", progress: DownloadProgress) => void;
  /** Each image that cannot be decoded (it is skipped). */
  onSkip?: (file: { path: string; reason: string }) => void;
  /** One-line notices (a batch split into micro-batches, say). */
  onNotice?: (message: string) => void;
  callbacks?: Callback[];
}

export interface FineTuneResult extends TrainingRunResult {
  config: FineTuneConfig;
}

/**
 * Fine-tunes a registered model the way `ft train` does: the seed's recipe unless `options` say otherwise,
 * on the engine selected (or the fastest that loads), into `call.runDir` (config.json, metrics, checkpoints,
 * report). Everything that can fail before training (weights, data) happens before the directory exists.
 *
 * ```ts
 * import { finetune } from "@ft/core";
 * import "@ft/vgg";
 * import "@ft/cifar10";
 * await finetune({ model: "vgg19", data: "cifar10" }, { runDir: "runs/vgg19" });
 * ```
 */
export async function finetune(options: FineTuneOptions, call: FineTuneCall): Promise<FineTuneResult> {
  const backend = currentBackend() ?? (await selectBackend());
  assertEngineTrains();
  return run(resolveFineTuneConfig(options, backend.name), call, false);
}

/**
 * Continues an interrupted run exactly where it stopped, with the settings of its `config.json`; only
 * `maxSteps` belongs to this call.
 */
export async function resumeFineTune(call: FineTuneCall & { maxSteps?: number }): Promise<FineTuneResult> {
  assertEngineTrains();
  const config = await readRunConfig<FineTuneConfig>(call.runDir);
  // A stop after N updates belongs to the call that asked for it, not to the run.
  delete config.maxSteps;
  if (call.maxSteps) config.maxSteps = call.maxSteps;
  return run(config, call, true);
}

/** An engine without a kernel of the contract would fail in the middle of the first step: say so first. */
function assertEngineTrains(): void {
  const missing = missingTrainingKernels(tf.getBackend());
  if (missing.length > 0) {
    throw new UsageError(`the engine "${tf.getBackend()}" lacks kernels that training runs (${missing.join(", ")}): choose another with --backend (see ft env)`);
  }
}

async function run(config: FineTuneConfig, call: FineTuneCall, resume: boolean): Promise<FineTuneResult> {
  const spec = getModel(config.model);
  const { train, val } = await openData(config, { onProgress: (p) => call.onDownload?.("data", p), onSkip: call.onSkip });
  config.classNames = train.classes;
  const checkpoint = resume ? await lastCheckpoint(call.runDir) : undefined;
  if (resume && !checkpoint) call.onNotice?.(`${call.runDir} stopped before its first checkpoint: it starts again from the beginning`);
  const created = await createModelWithReport(config.model, {
    weights: checkpoint ? "none" : config.weights,
    seed: config.seed,
    inputShape: config.inputShape,
    includeTop: true,
    // The new head replaces the classifier, so a notop file serves as well.
    topOptional: true,
    onProgress: (p) => call.onDownload?.("weights", p),
  });
  if (created.weightsPath) config.weightsFile = created.weightsPath;
  const { model, headLayers } = withNewHead(created.model, spec, { classes: train.classes.length, dropout: config.dropout, seed: config.seed });
  const initialKept = (created.report?.initialTop ?? []).filter((name) => !headLayers.includes(name) && model.layers.some((l) => l.name === name));
  if (initialKept.length) call.onNotice?.(`${created.weightsPath} has no weights for ${initialKept.join(", ")} (a notop file): they start from random weights`);
  try {
    if (config.accumulate === 0) {
      const plan = planMicroBatches(model, config.batchSize, config.backend);
      config.accumulate = plan.accumulate;
      if (plan.accumulate > 1) call.onNotice?.(plan.reason);
    }
    const result = await runTraining({
      runDir: call.runDir,
      resume,
      config: config as unknown as Record<string, unknown>,
      title: `ft train ${config.model} — ${call.runDir}`,
      model,
      headLayers,
      train,
      val,
      epochs: config.epochs,
      optimizer: config.optimizer,
      schedule: config.schedule,
      lrGroups: config.lrGroups,
      freeze: config.freeze,
      unfreeze: config.unfreezeAt ? [{ epoch: config.unfreezeAt - 1, freeze: { kind: "none" } }] : undefined,
      batchNorm: config.batchNorm,
      accumulate: config.accumulate,
      maxSteps: config.maxSteps,
      seed: config.seed,
      monitor: config.monitor,
      earlyStoppingPatience: config.earlyStopping,
      signal: call.signal,
      progress: call.progress,
      callbacks: call.callbacks,
    });
    if (result.stopReason === "nan") {
      const kept = await lastCheckpoint(call.runDir);
      throw new FtError(
        `training stopped on a non-finite value (${result.stopDetail}); ` +
          (kept ? `the last good checkpoint is kept: ${kept}` : "nothing was saved, it stopped before the end of its first epoch") +
          ". Lower the learning rate in a new run (or try --bn frozen).",
      );
    }
    return { ...result, config };
  } finally {
    model.dispose();
  }
}

/** The run's `last` checkpoint, when it has one. */
function lastCheckpoint(runDir: string): Promise<string | undefined> {
  return runCheckpointPath(runDir, "last").catch(() => undefined);
}
