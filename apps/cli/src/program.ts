import { Command, CommanderError } from "commander";
import { FtError, listBackendCandidates } from "@ft/core";
import "./models.js";
import { modelsCommand } from "./commands/models.js";
import { envCommand } from "./commands/env.js";
import { weightsCommand } from "./commands/weights.js";
import { convertCommand } from "./commands/convert.js";
import { trainCommand } from "./commands/train.js";
import { evalCommand } from "./commands/eval.js";
import { predictCommand } from "./commands/predict.js";
import { exportCommand } from "./commands/export.js";

/** Every command of `ft`; each module adds one subcommand. */
const COMMANDS = [modelsCommand, envCommand, weightsCommand, convertCommand, trainCommand, evalCommand, predictCommand, exportCommand];

export function buildProgram(): Command {
  const program = new Command("ft")
    .description("Fine-tune ImageNet-pretrained CNNs in TensorFlow.js")
    .option("--backend <name>", `compute engine: ${listBackendCandidates().map((c) => c.name).join(", ")} (default: FT_BACKEND, else the fastest that loads; see ft env)`)
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError("(run ft --help for usage)")
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text) });
  for (const add of COMMANDS) add(program);
  return program;
}

/**
 * Runs the CLI on `argv` (without `node` and the script) and returns the exit code:
 * 0 success, 1 failure, 2 usage error. A bare model name (`ft vgg19`) means `ft train vgg19`.
 */
export async function run(argv: string[]): Promise<number> {
  const program = buildProgram();
  const known = new Set(program.commands.flatMap((c) => [c.name(), ...c.aliases()]));
  const first = argv[0];
  if (first && !first.startsWith("-") && !known.has(first) && known.has("train")) argv = ["train", ...argv];
  try {
    await program.parseAsync(argv, { from: "user" });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander has printed its one-line message and the usage hint already.
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof FtError) {
      process.stderr.write(`ft: ${e.message}\n`);
      if (e.exitCode === 2) process.stderr.write("(run ft --help for usage)\n");
      return e.exitCode;
    }
    throw e;
  }
}
