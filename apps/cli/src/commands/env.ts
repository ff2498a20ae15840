import type { Command } from "commander";
import * as tf from "@tensorflow/tfjs-core";
import { ftHome, listBackendCandidates, missingTrainingKernels, selectBackend, TRAINING_KERNELS } from "@ft/core";

export function envCommand(program: Command): void {
  program
    .command("env")
    .description("show the compute engine chosen and why, tfjs version, threads and cache directory")
    .option("--json", "print JSON only")
    .action(async (opts: { json?: boolean }) => {
      const selection = await selectBackend(program.opts().backend);
      const info = {
        backend: selection.name,
        tfjsBackend: selection.tfName,
        reason: selection.reason,
        unavailable: selection.attempts.map((a) => ({ name: a.name, why: a.detail })),
        tfjsVersion: tf.version_core,
        threads: selection.threads ?? null,
        missingTrainingKernels: missingTrainingKernels(selection.tfName),
        cacheDir: ftHome(),
        node: process.version,
        engines: listBackendCandidates().map((c) => ({ name: c.name, description: c.description, howToGet: c.howToGet })),
      };
      if (opts.json) {
        process.stdout.write(JSON.stringify(info, null, 2) + "\n");
        return;
      }
      const lines = [
        `backend     ${info.backend} (tfjs "${info.tfjsBackend}"): ${info.reason}`,
        ...info.unavailable.map((u) => `            skipped ${u.name}: ${u.why}`),
        `tfjs        ${info.tfjsVersion}`,
        `threads     ${info.threads ?? "unknown"}`,
        info.missingTrainingKernels.length === 0
          ? `kernels     all ${TRAINING_KERNELS.length} that training runs`
          : `kernels     missing ${info.missingTrainingKernels.join(", ")}: this engine cannot train (it can still predict)`,
        `cache       ${info.cacheDir} (set FT_HOME to move it)`,
        `node        ${info.node}`,
        "engines, fastest first:",
        ...info.engines.map((e) => `  ${e.name.padEnd(9)} ${e.description}${e.howToGet ? `\n            get it: ${e.howToGet}` : ""}`),
      ];
      process.stdout.write(lines.join("\n") + "\n");
    });
}
