import type * as tfl from "@tensorflow/tfjs-layers";
import { buildFineTuneSkeleton } from "../finetune/model.js";
import { getModel } from "../registry/registry.js";
import type { InputShape, PreprocessingMode } from "../spec.js";
import { loadModelWeights, readCheckpoint } from "./checkpoint.js";
import { readRunConfig, runCheckpointPath } from "./run.js";

/** The part of a run's `config.json` needed to rebuild its model. */
export interface RunModelConfig {
  model: string;
  inputShape: InputShape;
  classNames: string[];
  preprocess: PreprocessingMode;
  dropout?: number;
}

export interface RunModel {
  model: tfl.LayersModel;
  config: RunModelConfig & Record<string, unknown>;
  checkpoint: string;
}

/**
 * Rebuilds a run's fine-tuned model (architecture from the registry, new head from `config.json`) and loads
 * its `best` (default) or `last` checkpoint. No weight file is downloaded.
 */
export async function loadRunModel(runDir: string, which: "best" | "last" = "best"): Promise<RunModel> {
  const config = await readRunConfig<RunModelConfig & Record<string, unknown>>(runDir);
  const checkpoint = await runCheckpointPath(runDir, which);
  const spec = getModel(config.model);
  const { model } = buildFineTuneSkeleton(spec, config.inputShape, { classes: config.classNames.length, dropout: config.dropout });
  const ckpt = await readCheckpoint(checkpoint);
  try {
    loadModelWeights(model, ckpt, checkpoint);
  } finally {
    ckpt.dispose();
  }
  return { model, config, checkpoint };
}
