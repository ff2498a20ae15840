import { resolve } from "node:path";
import type { Command } from "commander";
import { dataLocation, evaluate, loadRunModel, openData, selectBackend, UsageError, type DataConfig, type EvalMetrics, type FineTuneConfig } from "@ft/core";

interface EvalFlags {
  data?: string;
  valSize?: string;
  checkpoint: "best" | "last";
  batchSize?: string;
  json?: boolean;
}

export function evalCommand(program: Command): void {
  program
    .command("eval")
    .description("evaluate a run's model: top-1, top-5, log-loss, per-class accuracy, confusion matrix")
    .argument("<run-dir>", "a run directory written by ft train")
    .option("--data <cifar10|DIR>", "data to evaluate on (default: the run's validation split); a folder's val/ or test/ is used")
    .option("--val-size <n>", "use the first N images (default: the run's)")
    .option("--checkpoint <which>", "best or last", "best")
    .option("--batch-size <n>", "batch size (default: the run's)")
    .option("--json", "print JSON only")
    .action(async (runDirArg: string, flags: EvalFlags) => {
      if (flags.checkpoint !== "best" && flags.checkpoint !== "last") throw new UsageError(`--checkpoint must be best or last (got "${flags.checkpoint}")`);
      await selectBackend(program.opts().backend);
      const runDir = resolve(runDirArg);
      const { model, config, checkpoint } = await loadRunModel(runDir, flags.checkpoint);
      try {
        const run = config as unknown as FineTuneConfig;
        const data: DataConfig = {
          ...run.data,
          ...(flags.data ? { source: dataLocation(flags.data), valSize: flags.data === "cifar10" ? 10000 : null } : {}),
          ...(flags.valSize ? { valSize: Number(flags.valSize) } : {}),
        };
        const batchSize = flags.batchSize ? Number(flags.batchSize) : run.batchSize;
        const { val } = await openData({ ...run, data, batchSize, classNames: run.classNames }, { train: false });
        if (!val) throw new UsageError(`no evaluation data: the run has no validation split; pass --data`);
        const metrics = await evaluate(model, val);
        if (flags.json) {
          process.stdout.write(JSON.stringify({ runDir, checkpoint, data: data.source, ...metrics }, null, 2) + "\n");
          return;
        }
        process.stdout.write(formatMetrics(metrics, `${checkpoint} on ${data.source}`));
      } finally {
        model.dispose();
      }
    });
}

/** The human-readable evaluation: headline numbers, per-class accuracy and the confusion matrix. */
export function formatMetrics(m: EvalMetrics, what: string): string {
  const pct = (v: number) => (Number.isNaN(v) ? "–" : `${(v * 100).toFixed(1)}%`);
  const width = Math.max(5, ...m.classes.map((c) => c.length));
  const lines = [
    `evaluated ${what}: ${m.examples} images`,
    `top-1     ${pct(m.top1)}`,
    `top-${m.topK}     ${pct(m.top5)}`,
    `log-loss  ${m.logLoss.toFixed(4)}`,
    "",
    "per-class accuracy:",
    ...m.classes.map((c, i) => `  ${c.padEnd(width)}  ${pct(m.perClassAccuracy[i]!).padStart(6)}`),
    "",
    "confusion matrix (rows: true class, columns: predicted, in the order above):",
    ...m.confusion.map((row, i) => `  ${m.classes[i]!.padEnd(width)} ${row.map((v) => String(v).padStart(4)).join("")}`),
  ];
  return lines.join("\n") + "\n";
}
