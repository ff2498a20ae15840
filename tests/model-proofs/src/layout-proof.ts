/**
 * Test support: one loading proof for a registered model and the published layouts of its weight
 * files. The files are written at test time from the committed structures, all from one set of
 * values; each is loaded through `createModelWithReport(name, { weights: path })`, every weight is
 * compared with the values (for a model published in one layout only, that exact comparison with the
 * TensorFlow-layout values is the proof), the outputs at the real input size are compared across
 * layouts, and the model is converted to a TensorFlow.js directory and reloaded. Where Python is installed, h5py checks the written files and
 * a NumPy-written file is loaded too.
 *
 * Shared by the tests of the architecture packages (test code, never built or published).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { createModel, createModelWithReport, getModel, loadWeights, selectBackend, type LoadReport } from "@ft/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonicalWeights, conversionOf, readStructure, runGenerator, weightedLayers, writeKerasFile, type FileStructure, type WeightValues } from "@ft/test-support/keras-fixture";
import { relativeError, spread } from "@ft/test-support/tolerance";
import { fixedInput, outputsAt, roundTripOutputs, weightMismatches } from "./proofs.js";
import { hasH5py } from "@ft/test-support/system";

export interface LoadingProof {
  /** Registry name of the model. */
  model: string;
  /** Structure ids of its published layouts (`fixtures/structures/<id>.json`), all filled with the same values. */
  files: string[];
  /** The package's h5py generator script in `fixtures/`. */
  generator: string;
  /** Range of the fixed input (the model's preprocessed range). */
  input: [number, number];
  /** Inner layers whose outputs are compared too (the model's outputs always are). */
  probeLayers: string[];
  /** Layer classes the reloaded model directory must contain (custom layers). */
  reloadedClasses?: string[];
  /** Compare h5py's view of the written files with files the h5py generator writes (Python only; default true). */
  h5pyStructureCheck?: boolean;
  /** Structure ids also written by the h5py generator with NumPy's conversions and loaded (Python only). */
  numpyFiles?: string[];
  /**
   * Structure id of the published notop file, loaded into the model built without its top; the top
   * file is then loaded into that model too, skipping exactly its classifier.
   */
  notopFile?: string;
  /** Model-specific checks on each loaded file. */
  check?: (model: tfl.LayersModel, structure: FileStructure, report: LoadReport) => void;
  seed?: number;
}

/** Tolerance of the layout comparison (relative to the largest output value), as the task states. */
export const LAYOUT_TOLERANCE = 1e-4;

export function describeLoadingProof(proof: LoadingProof): void {
  const structures = proof.files.map(readStructure);
  describe(`${proof.model}: ${proof.files.join(" + ")}`, () => {
    let dir = "";
    let values: WeightValues;
    let x: tf.Tensor4D;
    const outputs = new Map<string, Float32Array[]>();
    let kept: tfl.LayersModel | undefined;
    const path = (file: string) => join(dir, `${file}.h5`);

    beforeAll(async () => {
      await selectBackend("wasm");
      dir = mkdtempSync(join(tmpdir(), `ft-${proof.model}-`));
      values = canonicalWeights(structures[0]!, proof.seed ?? 20240611);
      for (const s of structures) await writeKerasFile(s, values, path(s.file));
      x = fixedInput(getModel(proof.model).inputShape, ...proof.input);
    });
    afterAll(() => {
      kept?.dispose();
      x?.dispose();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    for (const s of structures) {
      it(`loads ${s.file} (${s.layout}, ${s.ordering}): ordering detected, every value where the TensorFlow layout puts it`, async () => {
        const { model, report } = await createModelWithReport(proof.model, { weights: path(s.file) });
        try {
          if (!report) throw new Error("createModelWithReport returned no load report for a weight file");
          const weighted = weightedLayers(s);
          expect(report.layout).toBe(s.layout);
          expect(report.ordering).toBe(s.ordering);
          expect(report.orderingSource).toBe("detected");
          expect(report.skipped).toEqual([]);
          expect([...report.loaded].sort()).toEqual(weighted.map((l) => l.name).sort());
          const thKernels = weighted.filter((l) => l.weights.some((w) => conversionOf(w) === "th-kernel")).map((l) => l.name);
          expect([...report.convertedKernels].sort()).toEqual(thKernels.sort());
          const reordered = weighted.filter((l) => l.weights.some((w) => conversionOf(w) === "channels-first-dense")).map((l) => l.name);
          expect([...report.reorderedDense].sort()).toEqual(reordered.sort());
          const { problems, compared } = weightMismatches(model, s, values);
          expect(problems).toEqual([]);
          expect(compared).toBe(weighted.reduce((n, l) => n + l.weights.reduce((m, w) => m + w.shape.reduce((a, b) => a * b, 1), 0), 0));
          proof.check?.(model, s, report);
          // One forward pass at the real input size; a constant or non-finite output would make the
          // comparisons below prove nothing.
          const out = outputsAt(model, proof.probeLayers, x);
          out.forEach((o, i) => {
            expect(o.every(Number.isFinite), `output ${i} is finite`).toBe(true);
            expect(spread(o), `output ${i} is not constant`).toBeGreaterThan(0);
          });
          outputs.set(s.file, out);
        } finally {
          if (s === structures.at(-1)) kept = model;
          else model.dispose();
        }
      });
    }

    if (structures.length > 1) {
      it(`th and tf files of the same weights give the same outputs at ${getModel(proof.model).inputShape.join("×")}`, () => {
        const reference = outputs.get(structures.find((s) => s.ordering === "tf")!.file)!;
        for (const s of structures) {
          const got = outputs.get(s.file);
          expect(got, `${s.file} was loaded`).toBeDefined();
          got!.forEach((out, i) => {
            expect(relativeError(out, reference[i]!), `${s.file} vs the tf file, output ${i}`).toBeLessThanOrEqual(LAYOUT_TOLERANCE);
          });
        }
      });
    }

    it("converts to a TensorFlow.js model directory that reloads with identical outputs", async () => {
      expect(kept, "the last file was loaded").toBeDefined();
      const last = structures.at(-1)!.file;
      const { outputs: reloaded, classes } = await roundTripOutputs(kept!, proof.probeLayers, x);
      for (const cls of proof.reloadedClasses ?? []) expect(classes).toContain(cls);
      outputs.get(last)!.forEach((out, i) => expect(relativeError(reloaded[i]!, out), `output ${i}`).toBeLessThanOrEqual(1e-6));
    });

    const notopFile = proof.notopFile;
    if (notopFile) {
      it(`loads ${notopFile} into the model built without its top; the top file loads into it skipping exactly the classifier`, async () => {
        const notop = readStructure(notopFile);
        // Values depend on the layer name, so the shared layers get the top file's values.
        const notopValues = canonicalWeights(notop, proof.seed ?? 20240611);
        await writeKerasFile(notop, notopValues, path(notop.file));
        const spec = getModel(proof.model);
        const { model, report } = await createModelWithReport(proof.model, { weights: path(notop.file), includeTop: false });
        try {
          expect(report?.skipped).toEqual([]);
          expect(report?.skippedTop).toEqual([]);
          expect([...report!.loaded].sort()).toEqual(weightedLayers(notop).map((l) => l.name).sort());
          expect(weightMismatches(model, notop, notopValues).problems).toEqual([]);

          const top = structures.at(-1)!;
          const fromTop = await loadWeights(model, path(top.file), { includeTop: false, topLayers: spec.topLayers });
          const notopNames = new Set(notop.layers.map((l) => l.name));
          const classifier = weightedLayers(top).map((l) => l.name).filter((n) => !notopNames.has(n));
          expect(classifier.length).toBeGreaterThan(0);
          expect([...fromTop.skippedTop].sort()).toEqual(classifier.sort());
          expect(fromTop.skipped).toEqual([]);
          expect(weightMismatches(model, notop, values).problems).toEqual([]);
        } finally {
          model.dispose();
        }
        // The model with its top refuses the notop file and says why.
        await expect(createModel(proof.model, { weights: path(notop.file) })).rejects.toThrow(/notop file/);
      });
    }

    // Proofs whose structures come from code another proof checks leave this one out (no skipped test).
    if (proof.h5pyStructureCheck !== false) {
      it.skipIf(!hasH5py)("h5py sees the written files exactly as files the h5py generator writes", () => {
        const written = [...structures, ...(proof.notopFile ? [readStructure(proof.notopFile)] : [])];
        for (const s of written) {
          expect(existsSync(path(s.file)), `${s.file} was written`).toBe(true);
          const reference = join(dir, `${s.file}.h5py-structure.h5`);
          runGenerator(proof.generator, ["h5", s.file, reference, "1", "--empty"]);
          const ours = JSON.parse(runGenerator(proof.generator, ["dump", path(s.file)])) as Record<string, unknown>;
          const theirs = JSON.parse(runGenerator(proof.generator, ["dump", reference])) as Record<string, unknown>;
          expect(Object.keys(ours).length, s.file).toBe(Object.keys(theirs).length);
          expect(ours, s.file).toEqual(theirs);
          rmSync(reference);
        }
      });
    }

    for (const file of proof.numpyFiles ?? []) {
      it.skipIf(!hasH5py)(`loads ${file} written by h5py with NumPy's conversions, with the values NumPy expects`, async () => {
        const pyPath = join(dir, `${file}.numpy.h5`);
        runGenerator(proof.generator, ["h5", file, pyPath, "7"]);
        const expected = JSON.parse(readFileSync(`${pyPath}.expected.json`, "utf8")) as Record<string, Array<{ shape: number[]; probes: Array<[number, number]> }>>;
        const { model, report } = await createModelWithReport(proof.model, { weights: pyPath });
        try {
          expect(report?.ordering).toBe(readStructure(file).ordering);
          let probes = 0;
          for (const [layer, weights] of Object.entries(expected)) {
            const variables = model.getLayer(layer).weights;
            expect(variables.length, layer).toBe(weights.length);
            weights.forEach((w, i) => {
              expect(variables[i]!.shape, `${layer}[${i}]`).toEqual(w.shape);
              const data = variables[i]!.read().dataSync();
              for (const [index, value] of w.probes) {
                expect(data[index], `${layer}[${i}] @${index}`).toBe(Math.fround(value));
                probes++;
              }
            });
          }
          expect(probes).toBeGreaterThan(Object.keys(expected).length);
        } finally {
          model.dispose();
          rmSync(pyPath, { force: true });
          rmSync(`${pyPath}.expected.json`, { force: true });
        }
      });
    }
  });
}
