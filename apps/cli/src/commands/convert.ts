import { basename, resolve } from "node:path";
import { Command, Option } from "commander";
import {
  countParams,
  formatBytes,
  getModel,
  hasTopLayers,
  recordsForFile,
  loadWeights,
  readKerasWeights,
  saveModelDir,
  selectBackend,
} from "@ft/core";

interface ConvertOptions {
  model: string;
  out: string;
  ordering?: "th" | "tf";
  includeTop?: boolean;
  allowPartial?: boolean;
  json?: boolean;
}

export function convertCommand(program: Command): void {
  program
    .command("convert")
    .description("convert a Keras HDF5 weight file into a TensorFlow.js layers-model directory (model.json + shards)")
    .argument("<file>", "a Keras .h5 weight file")
    .requiredOption("--model <name>", "registered architecture the weights belong to (see ft models)")
    .requiredOption("--out <dir>", "directory to write model.json and its weight shards to")
    .addOption(new Option("--ordering <ordering>", "kernel ordering of the file (default: detected)").choices(["th", "tf"]))
    .option("--include-top", "build the model with its classifier (default: whether the file has it)")
    .option("--no-include-top", "build the model without its classifier; the file's top layers are skipped")
    .option("--allow-partial", "load the layers that match and list the others instead of failing")
    .option("--json", "print the summary as JSON only")
    .action(async (file: string, opts: ConvertOptions) => {
      const started = performance.now();
      const spec = getModel(opts.model);
      await selectBackend(program.opts().backend ?? (process.env.FT_BACKEND || "cpu"));
      const weights = await readKerasWeights(file);
      let summary: ConvertSummary;
      try {
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
          const seconds = (performance.now() - started) / 1000;
          summary = {
            model: spec.name,
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
            seconds,
          };
        } finally {
          model.dispose();
        }
      } finally {
        weights.close();
      }
      if (opts.json) {
        process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
        return;
      }
      printSummary(summary);
    });
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
}

function printSummary(s: ConvertSummary): void {
  const conversions = [
    s.flippedKernels ? `${s.flippedKernels} Theano kernel${s.flippedKernels > 1 ? "s" : ""} flipped` : "",
    s.reorderedDense.length ? `rows of ${s.reorderedDense.join(", ")} reordered from channels-first` : "",
  ].filter(Boolean);
  const lines = [
    `model       ${s.model} (${s.includeTop ? "with" : "without"} its classifier, ${s.parameters.toLocaleString("en-US")} parameters)`,
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
