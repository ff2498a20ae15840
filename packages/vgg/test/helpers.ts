import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { expect } from "vitest";

export { hasH5py, PYTHON } from "@ft/test-support/system";
import { PYTHON } from "@ft/test-support/system";
import { relativeError } from "@ft/test-support/tolerance";
const GENERATOR = fileURLToPath(new URL("./fixtures/make_vgg_files.py", import.meta.url));

/** What `fixtures/make_vgg_files.py` writes beside the h5 files (see its docstring). */
export interface VggExpected {
  weights: Record<string, Array<{ shape: number[]; offset: number }>>;
  input_nhwc: number[];
  input_shape: number[];
  fc2: number[];
  probabilities: number[];
  legacy_layers: string[];
  /** The converted arrays of every weight, concatenated (expected_tf.bin; empty unless asked for). */
  values: Float32Array;
}

/**
 * Runs the generator into `dir` and reads back its reference outputs and, when `files` lists
 * `expected_bin`, the expected arrays (else `values` is empty).
 */
export function generateVggFiles(dir: string, depth: 16 | 19, size: number, seed: number, files: string[]): VggExpected {
  const run = spawnSync(PYTHON, [GENERATOR, dir, String(depth), String(size), String(seed), files.join(",")], { encoding: "utf8" });
  if (run.status !== 0) throw new Error(`fixture generator failed: ${run.stderr}`);
  const expected = JSON.parse(readFileSync(join(dir, "expected.json"), "utf8")) as Omit<VggExpected, "values">;
  if (!files.includes("expected_bin")) return { ...expected, values: new Float32Array(0) };
  const bytes = readFileSync(join(dir, "expected_tf.bin"));
  const values = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  return { ...expected, values };
}

/**
 * Every weight of the listed layers equals, value for value, the array NumPy converted to the
 * tfjs layout (flipped + transposed kernels, (h, w, c) fc1 rows). Conversion only moves values,
 * so the comparison is exact.
 */
export function expectWeightsEqual(model: tfl.LayersModel, expected: VggExpected, layers: string[], label: string): void {
  for (const name of layers) {
    const entries = expected.weights[name]!;
    const vars = model.getLayer(name).weights;
    expect(vars.length, `${label} ${name}`).toBe(entries.length);
    entries.forEach((entry, i) => {
      expect(vars[i]!.shape, `${label} ${name}[${i}] shape`).toEqual(entry.shape);
      const got = vars[i]!.read().dataSync();
      const want = expected.values.subarray(entry.offset, entry.offset + got.length);
      let mismatches = 0;
      let first = -1;
      for (let k = 0; k < got.length; k++) {
        if (got[k] !== want[k]) {
          if (first < 0) first = k;
          mismatches++;
        }
      }
      expect(mismatches, `${label} ${name}[${i}]: ${mismatches} of ${got.length} values differ (first at ${first}: ${got[first]} vs ${want[first]})`).toBe(0);
    });
  }
}

/**
 * Sets every weight to zero, so that a model can be loaded a second time and still show that the
 * second load wrote every value (building VGG again costs seconds of random initialisation).
 */
export function zeroWeights(model: tfl.LayersModel): void {
  for (const variable of model.weights) {
    const zeros = tf.zeros(variable.shape as number[]);
    variable.write(zeros);
    zeros.dispose();
  }
}

/** The outputs of the named layers for the generator's test input. */
export function outputsOf(model: tfl.LayersModel, layers: string[], expected: VggExpected): Float32Array[] {
  const probe = tfl.model({ inputs: model.inputs, outputs: layers.map((l) => model.getLayer(l).output as tfl.SymbolicTensor) });
  const x = tf.tensor(expected.input_nhwc, expected.input_shape);
  const ys = probe.predict(x);
  const list = Array.isArray(ys) ? ys : [ys];
  const values = list.map((y) => y.dataSync() as Float32Array);
  tf.dispose([x, ...list]);
  return values;
}

/**
 * The model's fc2 features and class probabilities equal NumPy's forward pass of the legacy
 * file's arrays under Theano semantics (true convolution, channels-first Flatten).
 */
export function expectMatchesTheanoReference(model: tfl.LayersModel, expected: VggExpected): void {
  const [fc2, probs] = outputsOf(model, ["fc2", "predictions"], expected);
  expect(relativeError(fc2!, expected.fc2)).toBeLessThan(1e-4);
  expect(relativeError(probs!, expected.probabilities)).toBeLessThan(1e-4);
  // A non-trivial answer, or agreement would prove little: neither uniform nor one-hot.
  const top = Math.max(...expected.probabilities);
  expect(top).toBeGreaterThan(10 / 1000);
  expect(top).toBeLessThan(0.9);
}
