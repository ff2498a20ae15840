import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { Option, type Command } from "commander";
import { SingleBar } from "cli-progress";
import { cifar10 } from "@ft/cifar10";
import {
  BATCH_NORM_POLICIES,
  FtError,
  PREPROCESSING_DESCRIPTIONS,
  UsageError,
  createBatchSource,
  createModelWithReport,
  getModel,
  headsForSpec,
  imageFolderDataset,
  newRunDirName,
  parseFreezeSpec,
  parseLrGroups,
  readRunConfig,
  resolveOptimizerConfig,
  resolveSchedule,
  runTraining,
  selectBackend,
  planMicroBatches,
  withNewHead,
  type BatchNormPolicy,
  type BatchSource,
  type FreezeSpec,
  type ImageDataset,
  type InputShape,
  type LrGroups,
  type OptimizerConfig,
  type PreprocessingMode,
  type ProgressInfo,
  type ScheduleConfig,
} from "@ft/core";

/** The seed's CIFAR-10 subset: first 3000 training and first 100 test images. */
const SEED_CIFAR = { train: 3000, val: 100 };

/** Where the data of a run comes from, as written in config.json. */
export interface DataConfig {
  /** `cifar10` or an image folder path (absolute). */
  source: string;
  /** Examples of the training split used (first N); null = all. */
  trainSize: number | null;
  /** Examples of the validation split used (first N); null = all. */
  valSize: number | null;
  /** Fraction of train/ held out when an image folder has no val/ or test/. */
  valFraction: number;
  augment: boolean;
}

/** Everything `ft train` resolved, written to `config.json`. */
export interface TrainConfig {
  model: string;
  weights: string | null;
  weightsFile?: string;
  data: DataConfig;
  classNames: string[];
  inputShape: InputShape;
  preprocess: PreprocessingMode;
  preprocessDescription: string;
  heads: ReturnType<typeof headsForSpec>;
  dropout?: number;
  epochs: number;
  batchSize: number;
  accumulate: number;
  optimizer: OptimizerConfig;
  schedule: ScheduleConfig;
  lrGroups?: LrGroups;
  freeze: FreezeSpec;
  unfreezeAt?: number;
  batchNorm: BatchNormPolicy;
  monitor: "val_loss" | "val_acc" | "loss" | "acc";
  earlyStopping?: number;
  maxSteps?: number;
  seed: number;
  backend: string;
  createdAt: string;
}

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
      let config: TrainConfig;
      let resume = false;
      let runDir: string;
      if (flags.resume) {
        runDir = resolve(flags.resume);
        config = await readRunConfig<TrainConfig>(runDir);
        // A stop after N updates belongs to the call that asked for it, not to the run.
        delete config.maxSteps;
        if (flags.maxSteps) config.maxSteps = int("max-steps", flags.maxSteps);
        resume = true;
      } else {
        if (!modelName) throw new UsageError("ft train needs a model name (see ft models), or --resume RUN_DIR");
        config = resolveTrainConfig(modelName, flags, backend.name);
        runDir = flags.runDir ? resolve(flags.runDir) : await newRunDirName(resolve(flags.runsRoot), config.model);
      }
      const spec = getModel(config.model);
      process.stderr.write(`ft: ${resume ? "resuming" : "training"} ${config.model} on ${backend.name} (${backend.reason})\n`);

      // Everything that can fail (downloads, data) happens before the run directory exists.
      const { train, val } = await openData(config);
      config.classNames = train.classes;
      const created = await createModelWithReport(config.model, {
        weights: resume ? "none" : config.weights,
        seed: config.seed,
        inputShape: config.inputShape,
        includeTop: true,
        onProgress: progressPrinter("weights"),
      });
      if (created.weightsPath) config.weightsFile = created.weightsPath;
      const { model, headLayers } = withNewHead(created.model, spec, { classes: train.classes.length, dropout: config.dropout, seed: config.seed });
      if (config.accumulate === 0) {
        const plan = planMicroBatches(model, config.batchSize, backend.name);
        config.accumulate = plan.accumulate;
        if (plan.accumulate > 1) process.stderr.write(`ft: ${plan.reason}\n`);
      }

      const controller = new AbortController();
      let interrupts = 0;
      const onSigint = () => {
        if (++interrupts > 1) process.exit(130);
        process.stderr.write("\nft: interrupted; saving the position (Ctrl-C again to quit at once)\n");
        controller.abort();
      };
      process.on("SIGINT", onSigint);
      let lastLine = Date.now();
      const bar = flags.progress === false || !process.stderr.isTTY ? undefined : new SingleBar({ stream: process.stderr, format: "epoch {epoch} |{bar}| {value}/{total} | loss {loss} acc {acc} | {rate} img/s | ETA {eta_s}s", hideCursor: true });
      try {
        const result = await runTraining({
          runDir,
          resume,
          config: config as unknown as Record<string, unknown>,
          title: `ft train ${config.model} — ${runDir}`,
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
          signal: controller.signal,
          progress: {
            epochBegin: (epoch, epochs, batches) => bar?.start(batches, 0, { epoch: `${epoch + 1}/${epochs}`, loss: "-", acc: "-", rate: "-" }),
            batch: (p: ProgressInfo) => {
              if (bar) return bar.update(p.batch + 1, { loss: p.meanLoss.toFixed(4), acc: (p.meanAcc * 100).toFixed(1) + "%", rate: p.imagesPerSec.toFixed(1) });
              // Not a terminal (CI, a log file): a plain line every 30 s instead of a redrawn bar.
              if (flags.progress !== false && Date.now() - lastLine >= 30_000) {
                lastLine = Date.now();
                process.stderr.write(`epoch ${p.epoch + 1}/${p.epochs} batch ${p.batch + 1}: loss ${p.meanLoss.toFixed(4)} acc ${(p.meanAcc * 100).toFixed(1)}% ${p.imagesPerSec.toFixed(2)} img/s, epoch ETA ${Math.round(p.etaSeconds)} s\n`);
              }
            },
            epochEnd: (log) => {
              bar?.stop();
              const val = log.val_acc !== undefined ? ` val_log_loss ${log.val_loss!.toFixed(4)} val_acc ${(log.val_acc * 100).toFixed(1)}% val_top5 ${(log.val_top5! * 100).toFixed(1)}%` : "";
              process.stderr.write(`epoch ${log.epoch}/${config.epochs}: loss ${log.loss.toFixed(4)} acc ${(log.acc * 100).toFixed(1)}%${val} lr ${log.lr.toExponential(3)} ${log.images_per_sec.toFixed(2)} img/s (${log.seconds.toFixed(1)} s)\n`);
            },
          },
        });
        bar?.stop();
        const skipped = (train as { skipped?: readonly unknown[] }).skipped?.length ?? 0;
        if (skipped) process.stderr.write(`ft: ${skipped} unreadable image(s) were skipped\n`);
        process.stdout.write(
          `${result.stopReason === "completed" ? "done" : `stopped: ${result.stopReason}${result.stopDetail ? ` (${result.stopDetail})` : ""}`}; run directory ${runDir}\n` +
            (result.state.best ? `best ${result.state.best.monitor} ${result.state.best.value.toFixed(4)} at epoch ${result.state.best.epoch}\n` : ""),
        );
        if (result.stopReason === "nan") throw new FtError(`training stopped on a non-finite value (${result.stopDetail}); the last good checkpoint is kept in ${runDir}/checkpoints`);
      } finally {
        bar?.stop();
        process.off("SIGINT", onSigint);
        model.dispose();
      }
    });
}

/** Turns the flags into the full configuration, checking every value. */
export function resolveTrainConfig(modelName: string, flags: TrainFlags, backend: string): TrainConfig {
  const spec = getModel(modelName);
  const weights = flags.weights === "none" ? null : flags.weights;
  const record = weights === "imagenet" ? spec.weights[0] : spec.weights.find((w) => w.id === weights);
  const size = int("image-size", flags.imageSize);
  const inputShape: InputShape = size ? [size, size, spec.inputShape[2]] : spec.inputShape;
  const preprocess = (flags.preprocess ?? record?.preprocessing ?? spec.preprocessing) as PreprocessingMode;
  // The official archive, or an extracted copy of it: the seed's subset sizes apply to both.
  const isCifar = flags.data === "cifar10" || existsSync(join(resolve(flags.data), "data_batch_1.bin"));
  const optimizer = resolveOptimizerConfig({
    kind: flags.optimizer as "sgd" | "adam",
    lr: num("lr", flags.lr),
    momentum: num("momentum", flags.momentum),
    nesterov: flags.nesterov,
    decay: num("decay", flags.decay),
  } as Partial<OptimizerConfig>);
  const warmupSteps = int("warmup-steps", flags.warmupSteps);
  const schedule = resolveSchedule(
    flags.schedule === "step"
      ? { kind: "step", everyEpochs: num("step-epochs", flags.stepEpochs)!, gamma: num("gamma", flags.gamma)!, warmupSteps }
      : flags.schedule === "cosine"
        ? { kind: "cosine", warmupSteps }
        : flags.schedule === "onecycle"
          ? { kind: "onecycle" }
          : { kind: "constant", warmupSteps },
  );
  const dropout = num("dropout", flags.dropout, (v) => v >= 0 && v < 1);
  const valFraction = num("val-fraction", flags.valFraction, (v) => v >= 0 && v < 1)!;
  return {
    model: spec.name,
    weights,
    data: {
      source: flags.data === "cifar10" ? "cifar10" : resolve(flags.data),
      trainSize: int("train-size", flags.trainSize) ?? (isCifar ? SEED_CIFAR.train : null),
      valSize: int("val-size", flags.valSize, 0) ?? (isCifar ? SEED_CIFAR.val : null),
      valFraction,
      augment: !!flags.augment,
    },
    classNames: [],
    inputShape,
    preprocess,
    preprocessDescription: PREPROCESSING_DESCRIPTIONS[preprocess],
    heads: headsForSpec(spec),
    ...(dropout ? { dropout } : {}),
    epochs: int("epochs", flags.epochs)!,
    batchSize: int("batch-size", flags.batchSize) ?? spec.recipe?.batchSize ?? 16,
    // 0 = decided once the model is built (planMicroBatches).
    accumulate: flags.accumulate === "auto" ? 0 : int("accumulate", flags.accumulate)!,
    optimizer,
    schedule,
    ...(flags.lrGroups ? { lrGroups: parseLrGroups(flags.lrGroups) } : {}),
    freeze: parseFreezeSpec(flags.freeze),
    ...(flags.unfreezeAt ? { unfreezeAt: int("unfreeze-at", flags.unfreezeAt)! } : {}),
    batchNorm: flags.bn as BatchNormPolicy,
    monitor: (flags.monitor as TrainConfig["monitor"]) ?? "val_loss",
    ...(flags.earlyStopping ? { earlyStopping: int("early-stopping", flags.earlyStopping)! } : {}),
    ...(flags.maxSteps ? { maxSteps: int("max-steps", flags.maxSteps)! } : {}),
    seed: int("seed", flags.seed, 0)!,
    backend,
    createdAt: new Date().toISOString(),
  };
}

/**
 * The first `n` examples. An image folder is listed class by class, so its examples are taken round-robin
 * over the classes (each class's first images) to keep every class; CIFAR-10 keeps its official order.
 */
function firstN(dataset: ImageDataset, n: number | null, roundRobin: boolean): ImageDataset {
  if (n === null || n >= dataset.examples.length) return dataset;
  let examples = dataset.examples;
  if (roundRobin) {
    const byClass = dataset.classes.map((_, c) => examples.filter((e) => e.label === c));
    const mixed: typeof examples = [];
    for (let i = 0; mixed.length < examples.length; i++) for (const list of byClass) if (i < list.length) mixed.push(list[i]!);
    examples = mixed;
  }
  return { ...dataset, name: `${dataset.name}[first ${n}${roundRobin ? ", round-robin over classes" : ""}]`, examples: examples.slice(0, n) };
}

/** Loads the training and validation splits of a run's data as batch sources (validation in order, no augmentation). */
export async function openData(
  config: Pick<TrainConfig, "data" | "batchSize" | "inputShape" | "preprocess" | "seed"> & { classNames?: string[] },
  options: { train?: boolean } = {},
): Promise<{ train: BatchSource; val: BatchSource | undefined; datasets: { train?: ImageDataset; val?: ImageDataset } }> {
  const { data } = config;
  let trainSet: ImageDataset | undefined;
  let valSet: ImageDataset | undefined;
  const wantTrain = options.train !== false;
  const cifar = cifarLoader(data.source);
  if (cifar) {
    if (wantTrain) trainSet = await cifar("train", data.trainSize);
    if (data.valSize !== 0) valSet = await cifar("test", data.valSize);
  } else {
    const known = config.classNames?.length ? { classes: config.classNames } : {};
    if (wantTrain) trainSet = firstN(await imageFolderDataset(data.source, { split: "train", valFraction: data.valFraction, seed: config.seed, ...known }), data.trainSize, true);
    if (data.valSize !== 0) {
      const v = await imageFolderDataset(data.source, { split: "val", valFraction: data.valFraction, seed: config.seed, ...(trainSet ? { classes: trainSet.classes } : known) }).catch((e) => {
        if (wantTrain && e instanceof FtError && /no validation images/.test(e.message)) return undefined;
        throw e;
      });
      if (v) valSet = firstN(v, data.valSize, true);
    }
  }
  const common = { batchSize: config.batchSize, imageSize: [config.inputShape[0], config.inputShape[1]] as [number, number], preprocessing: config.preprocess, seed: config.seed };
  const onSkip = (f: { path: string; reason: string }) => process.stderr.write(`ft: skipped ${f.path}: ${f.reason}\n`);
  const train = trainSet ? createBatchSource(trainSet, { ...common, shuffle: true, augment: data.augment, onSkip }) : undefined;
  const val = valSet ? createBatchSource(valSet, { ...common, shuffle: false, onSkip }) : undefined;
  return { train: (train ?? val)!, val, datasets: { train: trainSet, val: valSet } };
}

/**
 * `--data cifar10` (the official archive, downloaded once into the cache) or `--data DIR` where DIR is
 * an extracted `cifar-10-batches-bin` folder (read as it is, no download).
 */
function cifarLoader(source: string): ((split: "train" | "test", count: number | null) => Promise<ImageDataset>) | undefined {
  const batchesDir = source === "cifar10" ? undefined : source;
  if (batchesDir && !existsSync(join(batchesDir, "data_batch_1.bin"))) return undefined;
  return (split, count) =>
    cifar10({ split, ...(count !== null ? { count } : {}), ...(batchesDir ? { batchesDir } : { onProgress: progressPrinter("cifar-10") }) });
}

function progressPrinter(what: string): (p: { received: number; total?: number; rate: number }) => void {
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (now - last < 1000 && p.received !== p.total) return;
    last = now;
    const mb = (b: number) => (b / 1048576).toFixed(1);
    process.stderr.write(`ft: downloading ${what}: ${mb(p.received)}${p.total ? ` / ${mb(p.total)}` : ""} MiB (${mb(p.rate)} MiB/s)\n`);
  };
}
