import type { Command } from "commander";
import { countParams, listModels, PREPROCESSING_DESCRIPTIONS, selectBackend, type ModelSpec } from "@ft/core";

export interface ModelSummary {
  name: string;
  family: string;
  description: string;
  inputShape: number[];
  classes: number;
  /** With the published top: the published count, else counted on the built model. */
  parameters: number;
  /** The published count, when there is one. */
  publishedParameters?: number;
  preprocessing: string;
  preprocessingDescription: string;
  weights: ModelSpec["weights"];
}

/**
 * A published count is used as it is (every package's schema test asserts it equals the built model's);
 * the others are counted on the built model, which for the largest networks takes seconds.
 */
function parameterCount(spec: ModelSpec): number {
  if (spec.parameterCount !== undefined) return spec.parameterCount;
  const model = spec.build({ includeTop: true });
  const count = countParams(model);
  model.dispose();
  return count;
}

export function summarise(spec: ModelSpec): ModelSummary {
  const parameters = parameterCount(spec);
  return {
    name: spec.name,
    family: spec.family,
    description: spec.description,
    inputShape: spec.inputShape,
    classes: spec.classes,
    parameters,
    publishedParameters: spec.parameterCount,
    preprocessing: spec.preprocessing,
    preprocessingDescription: PREPROCESSING_DESCRIPTIONS[spec.preprocessing],
    weights: spec.weights,
  };
}

export function modelsCommand(program: Command): void {
  program
    .command("models")
    .description("list registered models with parameter counts, input size, preprocessing and weight files")
    .argument("[pattern]", "glob on model names, e.g. 'resnet*'")
    .option("--json", "print JSON only")
    .action(async (pattern: string | undefined, opts: { json?: boolean }) => {
      // Building counts parameters; the cpu engine is enough and needs no set-up.
      await selectBackend("cpu");
      const summaries = listModels(pattern).map(summarise);
      if (opts.json) {
        process.stdout.write(JSON.stringify(summaries, null, 2) + "\n");
        return;
      }
      if (summaries.length === 0) {
        process.stdout.write(pattern ? `no model matches "${pattern}"\n` : "no models registered\n");
        return;
      }
      const rows = summaries.map((s) => [
        s.name,
        s.family,
        s.parameters.toLocaleString("en-US"),
        s.inputShape.join("×"),
        s.preprocessing,
        s.weights.map((w) => w.id).join(", ") || "-",
      ]);
      process.stdout.write(table(["model", "family", "parameters", "input", "preprocessing", "weights"], rows));
    });
}

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd() + "\n";
  return line(header) + line(widths.map((w) => "-".repeat(w))) + rows.map(line).join("");
}
