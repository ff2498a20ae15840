import { resolve } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import type { Command } from "commander";
import { decodeImage, loadRunModel, predictProbabilities, preprocess, resizeBilinear, selectBackend, UsageError } from "@ft/core";

interface PredictFlags {
  top: string;
  checkpoint: "best" | "last";
  json?: boolean;
}

export function predictCommand(program: Command): void {
  program
    .command("predict")
    .description("classify images with a run's model")
    .argument("<run-dir>", "a run directory written by ft train")
    .argument("<images...>", "JPEG/PNG files")
    .option("--top <k>", "classes to show per image", "3")
    .option("--checkpoint <which>", "best or last", "best")
    .option("--json", "print JSON only")
    .action(async (runDirArg: string, images: string[], flags: PredictFlags) => {
      const k = Number(flags.top);
      if (!Number.isInteger(k) || k < 1) throw new UsageError(`--top must be a positive integer (got "${flags.top}")`);
      if (flags.checkpoint !== "best" && flags.checkpoint !== "last") throw new UsageError(`--checkpoint must be best or last (got "${flags.checkpoint}")`);
      await selectBackend(program.opts().backend);
      const { model, config } = await loadRunModel(resolve(runDirArg), flags.checkpoint);
      const [height, width] = config.inputShape;
      const results: { image: string; predictions: { class: string; probability: number }[] }[] = [];
      try {
        for (const path of images) {
          const raw = resizeBilinear(await decodeImage(path), height, width);
          const probs = tf.tidy(() => {
            const x = preprocess(tf.tensor4d(raw.data, [1, height, width, 3], "int32") as tf.Tensor4D, config.preprocess);
            return predictProbabilities(model, x);
          });
          const p = Array.from(await probs.data());
          probs.dispose();
          const order = p.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
          results.push({ image: path, predictions: order.slice(0, k).map(([v, i]) => ({ class: config.classNames[i]!, probability: v })) });
        }
      } finally {
        model.dispose();
      }
      if (flags.json) {
        process.stdout.write(JSON.stringify(results, null, 2) + "\n");
        return;
      }
      for (const r of results) {
        process.stdout.write(`${r.image}\n${r.predictions.map((p) => `  ${(p.probability * 100).toFixed(1).padStart(5)}%  ${p.class}`).join("\n")}\n`);
      }
    });
}
