import { join, resolve } from "node:path";
import type { Command } from "commander";
import { loadRunModel, PREPROCESSING_DESCRIPTIONS, saveModelDir, selectBackend, UsageError, writeFileAtomic } from "@ft/core";

export function exportCommand(program: Command): void {
  program
    .command("export")
    .description("write a run's model in TensorFlow.js layers format (loadable with tf.loadLayersModel), with its preprocessing and class names")
    .argument("<run-dir>", "a run directory written by ft train")
    .requiredOption("--out <dir>", "output directory")
    .option("--checkpoint <which>", "best or last", "best")
    .action(async (runDirArg: string, flags: { out: string; checkpoint: string }) => {
      if (flags.checkpoint !== "best" && flags.checkpoint !== "last") throw new UsageError(`--checkpoint must be best or last (got "${flags.checkpoint}")`);
      await selectBackend(program.opts().backend);
      const { model, config, checkpoint } = await loadRunModel(resolve(runDirArg), flags.checkpoint);
      const out = resolve(flags.out);
      const info = {
        model: config.model,
        inputShape: config.inputShape,
        preprocessing: config.preprocess,
        preprocessingDescription: PREPROCESSING_DESCRIPTIONS[config.preprocess],
        classNames: config.classNames,
        outputs: "softmax over classNames; several outputs are averaged",
        checkpoint,
      };
      try {
        const saved = await saveModelDir(model, out, { metadata: info });
        await writeFileAtomic(join(out, "ft.json"), JSON.stringify(info, null, 2) + "\n");
        process.stdout.write(`exported ${config.model} (${saved.weightCount} weights, ${(saved.weightBytes / 1048576).toFixed(1)} MiB) to ${out}\n`);
      } finally {
        model.dispose();
      }
    });
}
