/**
 * Test support: the checks of a loading proof — every weight where the TensorFlow layout puts it,
 * outputs of two models compared, a model directory round trip.
 *
 * Shared by the tests of the architecture packages (test code, never built or published).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { loadModelDir, saveModelDir } from "@ft/core";
import { tfShapeOf, weightedLayers, type FileStructure, type WeightValues } from "@ft/test-support/keras-fixture";
import { uniformStream } from "@ft/test-support/random";

/**
 * Compares every weight of the structure's weighted layers in `model` with `values` (exact float32
 * equality: loading only moves values). Returns one line per wrong weight (empty when all match) and
 * the number of values compared.
 */
export function weightMismatches(model: tfl.LayersModel, structure: FileStructure, values: WeightValues): { problems: string[]; compared: number } {
  const problems: string[] = [];
  let compared = 0;
  for (const layer of weightedLayers(structure)) {
    const variables = model.getLayer(layer.name).weights;
    if (variables.length !== layer.weights.length) {
      problems.push(`${layer.name}: model has ${variables.length} weights, file ${layer.weights.length}`);
      continue;
    }
    layer.weights.forEach((w, i) => {
      const variable = variables[i]!;
      if (JSON.stringify(variable.shape) !== JSON.stringify(tfShapeOf(w))) {
        problems.push(`${layer.name}/${w.role}: shape ${JSON.stringify(variable.shape)}, expected ${JSON.stringify(tfShapeOf(w))}`);
        return;
      }
      const got = variable.read().dataSync();
      const want = values.get(layer.name)![i]!;
      compared += want.length;
      for (let k = 0; k < want.length; k++) {
        if (got[k] !== want[k]) {
          problems.push(`${layer.name}/${w.role} (${w.name}): value ${k} is ${got[k]}, expected ${want[k]}`);
          return;
        }
      }
    });
  }
  return { problems, compared };
}

/** A deterministic input batch of one `[h, w, c]` image with values in `[low, high)`. */
export function fixedInput(shape: readonly number[], low: number, high: number, seed = 1234): tf.Tensor4D {
  const next = uniformStream(seed);
  const data = Float32Array.from({ length: shape[0]! * shape[1]! * shape[2]! }, () => low + next() * (high - low));
  return tf.tensor4d(data, [1, shape[0]!, shape[1]!, shape[2]!]);
}

/** Outputs of the named layers and of the model's outputs for one input, as plain arrays. */
export function outputsAt(model: tfl.LayersModel, layers: readonly string[], x: tf.Tensor): Float32Array[] {
  const probe = tfl.model({ inputs: model.inputs, outputs: [...layers.map((n) => model.getLayer(n).output as tfl.SymbolicTensor), ...model.outputs] });
  const out = probe.predict(x);
  const list = Array.isArray(out) ? out : [out];
  const arrays = list.map((t) => t.dataSync() as Float32Array);
  tf.dispose(list);
  return arrays;
}

/**
 * Saves `model` as a TensorFlow.js model directory, loads it back (custom layers resolved by their
 * registered classes) and returns the reloaded model's outputs at `layers` for `x`.
 */
export async function roundTripOutputs(model: tfl.LayersModel, layers: readonly string[], x: tf.Tensor): Promise<{ outputs: Float32Array[]; classes: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), "ft-model-dir-"));
  try {
    await saveModelDir(model, dir);
    const reloaded = await loadModelDir(dir);
    try {
      const classes = [...new Set(reloaded.layers.map((l) => l.getClassName()))];
      return { outputs: outputsAt(reloaded, layers, x), classes };
    } finally {
      reloaded.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
