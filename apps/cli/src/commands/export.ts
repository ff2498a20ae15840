import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { Option, type Command } from "commander";
import type * as tfl from "@tensorflow/tfjs-layers";
import { loadModelDir, loadRunModel, MODEL_JSON, PREPROCESSING_DESCRIPTIONS, readModelDirMetadata, saveModelDir, selectBackend, toOnnx, UsageError, writeFileAtomic } from "@ft/core";

export function exportCommand(program: Command): void {
  program
    .command("export")
    .description("write a run's model (or a model directory from ft convert) as TensorFlow.js layers or ONNX, with its preprocessing and class names")
    .argument("<dir>", "a run directory written by ft train, or a model directory written by ft convert")
    .requiredOption("--out <dir>", "output directory")
    .addOption(new Option("--format <format>", "tfjs: model.json + shards (tf.loadLayersModel); onnx: model.onnx, opset 13, NHWC input").choices(["tfjs", "onnx"]).default("tfjs"))
    .option("--checkpoint <which>", "best or last (run directories)", "best")
    .action(async (dirArg: string, flags: { out: string; checkpoint: string; format: "tfjs" | "onnx" }) => {
      if (flags.checkpoint !== "best" && flags.checkpoint !== "last") throw new UsageError(`--checkpoint must be best or last (got "${flags.checkpoint}")`);
      await selectBackend(program.opts().backend);
      const { model, info } = await openModel(resolve(dirArg), flags.checkpoint);
      const out = resolve(flags.out);
      try {
        if (flags.format === "onnx") {
          const metadata = Object.fromEntries(Object.entries(info).filter(([, v]) => v !== undefined).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
          const bytes = toOnnx(model, { metadata });
          await mkdir(out, { recursive: true });
          await writeFileAtomic(join(out, "model.onnx"), bytes);
          await writeFileAtomic(join(out, "ft.json"), JSON.stringify(info, null, 2) + "\n");
          process.stdout.write(`exported ${info.model} as ONNX (opset 13, ${(bytes.length / 1048576).toFixed(1)} MiB; input NHWC ${JSON.stringify(model.inputs[0]!.shape)}) to ${join(out, "model.onnx")}\n`);
          return;
        }
        const saved = await saveModelDir(model, out, { metadata: info });
        await writeFileAtomic(join(out, "ft.json"), JSON.stringify(info, null, 2) + "\n");
        process.stdout.write(`exported ${info.model} (${saved.weightCount} weights, ${(saved.weightBytes / 1048576).toFixed(1)} MiB) to ${out}\n`);
      } finally {
        model.dispose();
      }
    });
}

/** The model of a run directory or of a model directory, with what a consumer needs to feed it. */
async function openModel(dir: string, checkpoint: "best" | "last"): Promise<{ model: tfl.LayersModel; info: Record<string, unknown> }> {
  if (existsSync(join(dir, MODEL_JSON))) {
    const meta = ((await readModelDirMetadata(dir)) ?? {}) as Record<string, unknown>;
    const preprocessing = (meta.preprocessing ?? "none") as keyof typeof PREPROCESSING_DESCRIPTIONS;
    const model = await loadModelDir(dir);
    return {
      model,
      info: { model: meta.model ?? model.name, inputShape: meta.inputShape, preprocessing, preprocessingDescription: PREPROCESSING_DESCRIPTIONS[preprocessing], classes: meta.classes, convertedFrom: meta.convertedFrom },
    };
  }
  const { model, config, checkpoint: file } = await loadRunModel(dir, checkpoint);
  return {
    model,
    info: {
      model: config.model,
      inputShape: config.inputShape,
      preprocessing: config.preprocess,
      preprocessingDescription: PREPROCESSING_DESCRIPTIONS[config.preprocess],
      classNames: config.classNames,
      outputs: "softmax over classNames; several outputs are averaged",
      checkpoint: file,
    },
  };
}
