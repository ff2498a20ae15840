import { resolve } from "node:path";
import { Option, type Command } from "commander";
import { SingleBar } from "cli-progress";
import {
  BATCH_NORM_POLICIES,
  FtError,
  PREPROCESSING_DESCRIPTIONS,
  UsageError,
  finetune,
  newRunDirName,
  parseFreezeSpec,
  parseLrGroups,
  resumeFineTune,
  selectBackend,
  type BatchNormPolicy,
  type DownloadProgress,
  type FineTuneCall,
  type FineTuneOptions,
  type FineTuneResult,
  type Monitor,
  type OptimizerConfig,
  type PreprocessingMode,
  type ProgressInfo,
  type ScheduleConfig,
} from "@ft/core";

interface TrainFlags {
  weights: string;
  data: string;
  trainSize?: string;
  valSize?: string;
  valFraction: string;
  imageSize?: string;
  preprocess?: string;
  epochs: string;
  batchSize?: string;
  accumulate: string;
  optimizer: string;
  lr?: string;
  momentum?: string;
  nesterov: boolean;
  decay?: string;
  schedule: string;
  warmupSteps?: string;
  stepEpochs: string;
  gamma: string;
  freeze: string;
  unfreezeAt?: string;
  bn: string;
  lrGroups?: string;
  dropout?: string;
  augment?: boolean;
  seed: string;
  earlyStopping?: string;
  monitor?: string;
  maxSteps?: string;
  runDir?: string;
  runsRoot: string;
  resume?: string;
  progress: boolean;
}

function num(name: string, text: string | undefined, check: (v: number) => boolean = Number.isFinite): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (text.trim() === "" || !check(v)) throw new UsageError(`--${name}: invalid value "${text}"`);
  return v;
}
const int = (name: string, text: string | undefined, min = 1) => num(name, text, (v) => Number.isInteger(v) && v >= min);

/** Options that belong to one call, not to the run: the only ones `--resume` takes. */
const PER_CALL_OPTIONS = new Set(["resume", "maxSteps", "progress"]);

/** A run resumes with the settings in its config.json; any other given would be silently ignored, so it is refused. */
function rejectRunSettingsBesideResume(command: Command, modelName: string | undefined): void {
  const given = command.options
    .filter((o) => !PER_CALL_OPTIONS.has(o.attributeName()) && command.getOptionValueSource(o.attributeName()) === "cli")
    .map((o) => o.long ?? o.flags);
  if (modelName) given.unshift(`the model name "${modelName}"`);
  if (given.length === 0) return;
  throw new UsageError(
    `--resume continues a run with the settings in its config.json, so ${given.join(", ")} would be ignored: ` +
      `remove ${given.length > 1 ? "them" : "it"}, or start a new run to change settings`,
  );
}

export function trainCommand(program: Command): void {
  program
    .command("train")
    .description("fine-tune a model (the seed recipe by default: CIFAR-10 3000/100, SGD 1e-3 Nesterov, 10 epochs)")
    .argument("[model]", "registered model name (see ft models); omitted with --resume")
    .option("--weights <id|file|none>", "weight record id, HDF5 file, 'imagenet' (the model's default) or 'none' for random", "imagenet")
    .option("--data <cifar10|DIR>", "'cifar10' (official archive, downloaded), an extracted cifar-10-batches-bin folder, or an image folder with train/<class>/… and val/ or test/", "cifar10")
    .option("--train-size <n>", "use the first N training images (default: 3000 for cifar10, all for a folder)")
    .option("--val-size <n>", "use the first N validation images (default: 100 for cifar10, all for a folder)")
    .option("--val-fraction <f>", "fraction of train/ held out when a folder has no val/ or test/", "0.2")
    .option("--image-size <n>", "input height = width (default: the model's, e.g. 224; 299 for Inception)")
    .addOption(new Option("--preprocess <mode>", "input normalisation (default: the weights' own; 'none' = raw 0–255 like the seed)").choices(Object.keys(PREPROCESSING_DESCRIPTIONS)))
    .option("--epochs <n>", "epochs", "10")
    .option("--batch-size <n>", "batch size (default 16; 8 for resnet152 and densenet161)")
    .option("--accumulate <n|auto>", "split each batch into N micro-batches and accumulate gradients (BatchNorm then sees micro-batch statistics); auto splits only when the batch does not fit the engine's memory (wasm: 4 GiB)", "auto")
    .addOption(new Option("--optimizer <name>", "optimizer").choices(["sgd", "adam"]).default("sgd"))
    .option("--lr <x>", "base learning rate (default 1e-3)")
    .option("--momentum <x>", "SGD momentum (default 0.9)")
    .option("--no-nesterov", "plain momentum instead of Nesterov")
    .option("--decay <x>", "Keras-1 per-batch decay lr/(1+decay·iterations) (default 1e-6 for SGD, 0 for Adam)")
    .addOption(new Option("--schedule <name>", "learning-rate schedule").choices(["constant", "step", "cosine", "onecycle"]).default("constant"))
    .option("--warmup-steps <n>", "linear warm-up over N updates (constant, step, cosine)")
    .option("--step-epochs <n>", "step schedule: multiply by --gamma every N epochs", "3")
    .option("--gamma <x>", "step schedule factor", "0.1")
    .option("--freeze <spec>", "freeze: none, N (first N layers), up-to:LAYER, stage:N, or body (all but the new head)", "none")
    .option("--unfreeze-at <epoch>", "unfreeze everything from this epoch (1-based); with --freeze body this is fastai's two-phase fine_tune")
    .addOption(new Option("--bn <policy>", "BatchNorm: train (batch statistics, the seed), frozen (inference mode), auto (frozen layers in inference mode)").choices([...BATCH_NORM_POLICIES]).default("train"))
    .option("--lr-groups <spec>", "discriminative learning rates: stages:FACTOR (geometric up to 1 at the head) or LAYER:SCALE,…")
    .option("--dropout <rate>", "dropout before the new head")
    .option("--augment", "random crop and horizontal flip")
    .option("--seed <n>", "seed of data order, augmentation, dropout, the new head and random weights (--weights none)", "0")
    .option("--early-stopping <patience>", "stop when the monitored metric has not improved for N epochs")
    .addOption(new Option("--monitor <metric>", "metric for the best checkpoint and early stopping (default val_loss)").choices(["val_loss", "val_acc", "loss", "acc"]))
    .option("--max-steps <n>", "stop after N updates (smoke tests); resumable like an interruption")
    .option("--run-dir <dir>", "run directory (default: <runs-root>/<model>-<date>-<time>)")
    .option("--runs-root <dir>", "where new run directories go", "runs")
    .option("--resume <run-dir>", "continue an interrupted run exactly where it stopped, with its config.json's settings (only --max-steps and --no-progress may be given beside it)")
    .option("--no-progress", "no progress bar")
    .action(async (modelName: string | undefined, flags: TrainFlags, command: Command) => {
      if (flags.resume) rejectRunSettingsBesideResume(command, modelName);
      const backend = await selectBackend(program.opts().backend);
      if (backend.warning) process.stderr.write(`ft: ${backend.warning}\n`);
      if (!flags.resume && !modelName) throw new UsageError("ft train needs a model name (see ft models), or --resume RUN_DIR");
      const options = flags.resume ? undefined : trainOptions(modelName!, flags);
      const runDir = resolve(flags.resume ?? flags.runDir ?? (await newRunDirName(resolve(flags.runsRoot), options!.model)));
      process.stderr.write(`ft: ${flags.resume ? "resuming" : "training"} ${options?.model ?? runDir} on ${backend.name} (${backend.reason})\n`);

      const controller = new AbortController();
      let interrupts = 0;
      const onSigint = () => {
        if (++interrupts > 1) process.exit(130);
        process.stderr.write("\nft: interrupted; saving the position (Ctrl-C again to quit at once)\n");
        controller.abort();
      };
      process.on("SIGINT", onSigint);
      let skipped = 0;
      const bar = flags.progress === false || !process.stderr.isTTY ? undefined : new SingleBar({ stream: process.stderr, format: "epoch {epoch} |{bar}| {value}/{total} | loss {loss} acc {acc} | {rate} img/s | ETA {eta_s}s", hideCursor: true });
      const call: FineTuneCall = {
        runDir,
        signal: controller.signal,
        progress: progressRenderer(bar, flags.progress !== false),
        onDownload: downloadPrinter(),
        onSkip: (f) => {
          skipped++;
          process.stderr.write(`ft: skipped ${f.path}: ${f.reason}\n`);
        },
        onNotice: (message) => process.stderr.write(`ft: ${message}\n`),
      };
      let result: FineTuneResult;
      try {
        result = flags.resume ? await resumeFineTune({ ...call, maxSteps: int("max-steps", flags.maxSteps) }) : await finetune(options!, call);
      } finally {
        bar?.stop();
        process.off("SIGINT", onSigint);
      }
      if (skipped) process.stderr.write(`ft: ${skipped} unreadable image(s) were skipped\n`);
      process.stdout.write(
        `${result.stopReason === "completed" ? "done" : `stopped: ${result.stopReason}${result.stopDetail ? ` (${result.stopDetail})` : ""}`}; run directory ${runDir}\n` +
          (result.state.best ? `best ${result.state.best.monitor} ${result.state.best.value.toFixed(4)} at epoch ${result.state.best.epoch}\n` : ""),
      );
      // 130 as for any program stopped by SIGINT, so that a script can tell it from a finished run.
      if (result.stopReason === "interrupted") throw new FtError(`interrupted; the position is saved: continue with ft train --resume ${runDir}`, 130);
    });
}

/** Parses the flags into the library's options (the library fills in the seed recipe and checks them). */
export function trainOptions(model: string, flags: TrainFlags): FineTuneOptions {
  const warmupSteps = int("warmup-steps", flags.warmupSteps);
  const schedule: ScheduleConfig =
    flags.schedule === "step"
      ? { kind: "step", everyEpochs: num("step-epochs", flags.stepEpochs)!, gamma: num("gamma", flags.gamma)!, warmupSteps }
      : flags.schedule === "cosine"
        ? { kind: "cosine", warmupSteps }
        : flags.schedule === "onecycle"
          ? { kind: "onecycle" }
          : { kind: "constant", warmupSteps };
  const optimizer = {
    kind: flags.optimizer,
    lr: num("lr", flags.lr),
    momentum: num("momentum", flags.momentum),
    nesterov: flags.nesterov,
    decay: num("decay", flags.decay),
  } as Partial<OptimizerConfig>;
  return {
    model,
    weights: flags.weights,
    data: flags.data,
    trainSize: int("train-size", flags.trainSize),
    valSize: int("val-size", flags.valSize, 0),
    valFraction: num("val-fraction", flags.valFraction, (v) => v >= 0 && v < 1),
    augment: !!flags.augment,
    imageSize: int("image-size", flags.imageSize),
    preprocess: flags.preprocess as PreprocessingMode | undefined,
    epochs: int("epochs", flags.epochs),
    batchSize: int("batch-size", flags.batchSize),
    accumulate: flags.accumulate === "auto" ? "auto" : int("accumulate", flags.accumulate)!,
    optimizer,
    schedule,
    lrGroups: flags.lrGroups ? parseLrGroups(flags.lrGroups) : undefined,
    freeze: parseFreezeSpec(flags.freeze),
    unfreezeAt: int("unfreeze-at", flags.unfreezeAt),
    batchNorm: flags.bn as BatchNormPolicy,
    dropout: num("dropout", flags.dropout, (v) => v >= 0 && v < 1),
    monitor: flags.monitor as Monitor | undefined,
    earlyStopping: int("early-stopping", flags.earlyStopping),
    maxSteps: int("max-steps", flags.maxSteps),
    seed: int("seed", flags.seed, 0),
  };
}

/** The progress bar on a terminal; elsewhere (CI, a log file) a plain line every 30 s and one per epoch. */
function progressRenderer(bar: SingleBar | undefined, lines: boolean): FineTuneCall["progress"] {
  let lastLine = Date.now();
  let epochs = 0;
  return {
    epochBegin: (epoch, total, batches) => {
      epochs = total;
      bar?.start(batches, 0, { epoch: `${epoch + 1}/${total}`, loss: "-", acc: "-", rate: "-" });
    },
    batch: (p: ProgressInfo) => {
      if (bar) return bar.update(p.batch + 1, { loss: p.meanLoss.toFixed(4), acc: (p.meanAcc * 100).toFixed(1) + "%", rate: p.imagesPerSec.toFixed(1) });
      if (lines && Date.now() - lastLine >= 30_000) {
        lastLine = Date.now();
        process.stderr.write(`epoch ${p.epoch + 1}/${p.epochs} batch ${p.batch + 1}: loss ${p.meanLoss.toFixed(4)} acc ${(p.meanAcc * 100).toFixed(1)}% ${p.imagesPerSec.toFixed(2)} img/s, epoch ETA ${Math.round(p.etaSeconds)} s\n`);
      }
    },
    epochEnd: (log) => {
      bar?.stop();
      const val = log.val_acc !== undefined ? ` val_log_loss ${log.val_loss!.toFixed(4)} val_acc ${(log.val_acc * 100).toFixed(1)}% val_top5 ${(log.val_top5! * 100).toFixed(1)}%` : "";
      process.stderr.write(`epoch ${log.epoch}/${epochs}: loss ${log.loss.toFixed(4)} acc ${(log.acc * 100).toFixed(1)}%${val} lr ${log.lr.toExponential(3)} ${log.images_per_sec.toFixed(2)} img/s (${log.seconds.toFixed(1)} s)\n`);
    },
  };
}

/** One line a second while the weights or the data set download. */
function downloadPrinter(): (what: "weights" | "data", p: DownloadProgress) => void {
  let last = 0;
  return (what, p) => {
    const now = Date.now();
    if (now - last < 1000 && p.received !== p.total) return;
    last = now;
    const mb = (b: number) => (b / 1048576).toFixed(1);
    process.stderr.write(`ft: downloading ${what === "data" ? "the data set" : "weights"}: ${mb(p.received)}${p.total ? ` / ${mb(p.total)}` : ""} MiB (${mb(p.rate)} MiB/s)\n`);
  };
}
