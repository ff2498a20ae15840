import { basename, resolve } from "node:path";
import { Command, Option } from "commander";
import {
  countParams,
  formatBytes,
  getModel,
  hasTopLayers,
  importKerasModel,
  recordsForFile,
  loadWeights,
  readKerasWeights,
  saveModelDir,
  selectBackend,
  PREPROCESSING_DESCRIPTIONS,
  UsageError,
  type KerasWeightFile,
  type LoadReport,
  type PreprocessingMode,
} from "@ft/core";

interface ConvertOptions {
  model?: string;
  out: string;
  inputShape?: string;
  preprocessing?: PreprocessingMode;
  ordering?: "th" | "tf";
  includeTop?: boolean;
  allowPartial?: boolean;
  json?: boolean;
}

export function convertCommand(program: Command): void {
  program
    .command("convert")
    .description(
      "convert a Keras HDF5 file into a TensorFlow.js layers-model directory (model.json + shards): with --model, weights into a registered architecture; without, the architecture a model.save file describes",
    )
    .argument("<file>", "a Keras .h5 file (weights of --model, or a whole model.save file)")
    .option("--model <name>", "registered architecture the weights belong to (see ft models); omit to build the file's own model_config")
    .requiredOption("--out <dir>", "directory to write model.json and its weight shards to")
    .addOption(new Option("--ordering <ordering>", "kernel ordering of the file (default: detected)").choices(["th", "tf"]))
    .option("--include-top", "build the model with its classifier (default: whether the file has it)")
    .option("--no-include-top", "build the model without its classifier; the file's top layers are skipped")
    .option("--allow-partial", "load the layers that match and list the others instead of failing (never with nothing loaded)")
    .option("--input-shape <h,w,c>", "input size for a model.save file that leaves it open (fully convolutional models), channels-last")
    .addOption(new Option("--preprocessing <mode>", "input normalisation recorded for an imported model (default none)").choices(Object.keys(PREPROCESSING_DESCRIPTIONS)))
    .option("--json", "print the summary as JSON only")
    .action(async (file: string, opts: ConvertOptions) => {
      const started = performance.now();
      if (!opts.model && (opts.allowPartial || opts.includeTop !== undefined)) {
        throw new UsageError("--allow-partial and --include-top/--no-include-top apply with --model; a model.save file is imported whole");
      }
      if (opts.model && (opts.inputShape || opts.preprocessing)) throw new UsageError("--input-shape and --preprocessing apply to an imported model.save file, not with --model");
      if (opts.model) getModel(opts.model); // an unknown name is a usage error before the file is read
      await selectBackend(program.opts().backend ?? (process.env.FT_BACKEND || "cpu"));
      const weights = await readKerasWeights(file);
      let summary: ConvertSummary;
      try {
        summary = opts.model ? await convertRegistered(file, weights, opts) : await convertImported(file, weights, opts);
      } finally {
        weights.close();
      }
      summary.seconds = (performance.now() - started) / 1000;
      if (opts.json) {
        process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
        return;
      }
      printSummary(summary);
    });
}

/** Weights into a registered architecture. */
async function convertRegistered(file: string, weights: KerasWeightFile, opts: ConvertOptions): Promise<ConvertSummary> {
  const spec = getModel(opts.model!);
  const includeTop = opts.includeTop ?? hasTopLayers(weights, spec.topLayers);
  const model = spec.build({ includeTop });
  try {
    const report = await loadWeights(model, weights, { ordering: opts.ordering, includeTop, topLayers: spec.topLayers, allowPartial: opts.allowPartial });
    const [record] = recordsForFile(file);
    const saved = await saveModelDir(model, opts.out, {
      metadata: {
        model: spec.name,
        preprocessing: record?.preprocessing ?? spec.preprocessing,
        inputShape: spec.inputShape,
        ...(includeTop ? { classes: spec.classes } : {}),
        convertedFrom: { file: basename(file), record: record?.id, layout: report.layout, kerasVersion: report.kerasVersion, ordering: report.ordering, includeTop },
      },
    });
    return summarize(spec.name, model, file, weights, report, saved, { includeTop });
  } finally {
    model.dispose();
  }
}

/** The architecture of a model.save file, from its own model_config. */
async function convertImported(file: string, weights: KerasWeightFile, opts: ConvertOptions): Promise<ConvertSummary> {
  const inputShape = opts.inputShape === undefined ? undefined : parseShape(opts.inputShape);
  const { model, report } = await importKerasModel(weights, { ordering: opts.ordering, inputShape });
  try {
    const input = report.inputShapes.length === 1 ? report.inputShapes[0]!.slice(1) : undefined;
    const saved = await saveModelDir(model, opts.out, {
      metadata: {
        model: report.name,
        preprocessing: opts.preprocessing ?? "none",
        ...(input && input.every((d) => d !== null) ? { inputShape: input } : {}),
        convertedFrom: {
          file: basename(file),
          layout: report.load.layout,
          kerasVersion: report.load.kerasVersion,
          ordering: report.load.ordering,
          modelConfig: report.modelClass,
          channelsFirst: report.channelsFirst,
        },
      },
    });
    return {
      ...summarize(report.name, model, file, weights, report.load, saved, { includeTop: true }),
      imported: { modelClass: report.modelClass, layers: model.layers.length, classes: report.classes, channelsFirst: report.channelsFirst, inputShapes: report.inputShapes, inlined: report.inlined, dropped: report.dropped },
    };
  } finally {
    model.dispose();
  }
}

function parseShape(text: string): number[] {
  const shape = text.split(/[,x×]/).map((d) => Number(d.trim()));
  if (!shape.length || shape.some((d) => !Number.isInteger(d) || d <= 0)) throw new UsageError(`--input-shape must be positive integers such as 224,224,3 (got "${text}")`);
  return shape;
}

function summarize(
  name: string,
  model: { countParams?: () => number } & Parameters<typeof countParams>[0],
  file: string,
  weights: KerasWeightFile,
  report: LoadReport,
  saved: { dir: string; shards: unknown[]; weightBytes: number },
  { includeTop }: { includeTop: boolean },
): ConvertSummary {
  return {
    model: name,
    includeTop,
    parameters: countParams(model),
    file: resolve(file),
    fileBytes: weights.bytes,
    layout: report.layout,
    kerasVersion: report.kerasVersion,
    backend: report.backend,
    ordering: report.ordering,
    orderingSource: report.orderingSource,
    loadedLayers: report.loaded.length,
    tensors: report.tensors,
    values: report.values,
    flippedKernels: report.convertedKernels.length,
    reorderedDense: report.reorderedDense,
    skippedTop: report.skippedTop,
    skipped: report.skipped,
    out: resolve(saved.dir),
    shards: saved.shards.length,
    weightBytes: saved.weightBytes,
    seconds: 0,
  };
}

/** What `ft convert --json` prints. */
export interface ConvertSummary {
  model: string;
  includeTop: boolean;
  parameters: number;
  file: string;
  fileBytes: number;
  layout: string;
  kerasVersion?: string;
  backend?: string;
  ordering: string;
  orderingSource: string;
  loadedLayers: number;
  tensors: number;
  values: number;
  flippedKernels: number;
  reorderedDense: string[];
  skippedTop: string[];
  skipped: { layer: string; side: string; reason: string }[];
  out: string;
  shards: number;
  weightBytes: number;
  seconds: number;
  /** For a model.save file imported whole: what its model_config made. */
  imported?: {
    modelClass: string;
    layers: number;
    classes: Record<string, number>;
    channelsFirst: boolean;
    inputShapes: (number | null)[][];
    inlined: Record<string, string[]>;
    dropped: Record<string, string[]>;
  };
}

function printSummary(s: ConvertSummary): void {
  const conversions = [
    s.flippedKernels ? `${s.flippedKernels} Theano kernel${s.flippedKernels > 1 ? "s" : ""} flipped` : "",
    s.reorderedDense.length ? `rows of ${s.reorderedDense.join(", ")} reordered from channels-first` : "",
  ].filter(Boolean);
  const imported = s.imported;
  const lines = [
    imported
      ? `model       ${s.model}: the file's own ${imported.modelClass}, ${imported.layers} layers (${Object.entries(imported.classes).map(([c, n]) => `${n} ${c}`).join(", ")}), ${s.parameters.toLocaleString("en-US")} parameters`
      : `model       ${s.model} (${s.includeTop ? "with" : "without"} its classifier, ${s.parameters.toLocaleString("en-US")} parameters)`,
    ...(imported
      ? [`input       ${imported.inputShapes.map((shape) => `[${shape.slice(1).map((d) => d ?? "any").join(", ")}]`).join(", ")}${imported.channelsFirst ? " (channels-last; the file's model was channels-first)" : ""}`]
      : []),
    ...Object.entries(imported?.inlined ?? {}).map(([m, inner]) => `inlined     nested model ${m}: ${inner.join(", ")}`),
    ...(imported && Object.keys(imported.dropped).length
      ? [`left out    ${[...new Set(Object.values(imported.dropped).flat())].join(", ")} (of ${Object.keys(imported.dropped).length} layers; --json lists them per layer)`]
      : []),
    `weights     ${s.file} (${formatBytes(s.fileBytes)})`,
    `            ${s.layout}${s.kerasVersion ? ` (Keras ${s.kerasVersion})` : ""}, ordering ${s.ordering} (${s.orderingSource})${s.backend ? `, backend ${s.backend}` : ""}`,
    `loaded      ${s.loadedLayers} layers, ${s.tensors} arrays, ${s.values.toLocaleString("en-US")} values${conversions.length ? `; ${conversions.join("; ")}` : ""}`,
    ...(s.skippedTop.length ? [`skipped     top layers ${s.skippedTop.join(", ")} (--no-include-top)`] : []),
    ...s.skipped.map((k) => `skipped     ${k.layer} (${k.side === "file" ? "in the file only" : "in the model only"}: ${k.reason})`),
    `wrote       ${s.out}: model.json + ${s.shards} shard${s.shards > 1 ? "s" : ""} (${formatBytes(s.weightBytes)})`,
    `time        ${s.seconds.toFixed(1)} s (${formatBytes(Math.round(s.fileBytes / Math.max(s.seconds, 1e-3)))}/s of weight file)`,
  ];
  process.stdout.write(lines.join("\n") + "\n");
}
