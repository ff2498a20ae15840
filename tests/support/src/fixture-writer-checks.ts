import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readManifest } from "./layers.js";
import { hasH5py } from "./system.js";
import {
  canonicalWeights,
  conversionOf,
  dumpHdf5,
  fixturePath,
  readStructure,
  runGenerator,
  tfShapeOf,
  toFileLayout,
  weightedLayers,
  writeKerasFile,
  type WeightEntry,
} from "./keras-fixture.js";

/** Keras-1 weight suffixes of each role, as the manifests write them. */
const MANIFEST_ROLE: Record<string, string> = {
  kernel: "W",
  bias: "b",
  gamma: "gamma",
  beta: "beta",
  moving_mean: "running_mean",
  moving_variance: "running_std(=variance)",
};

export interface FixtureWriterChecks {
  /** Family name, for temp folder names. */
  family: string;
  /** The family's h5py generator in `test/fixtures/`. */
  generator: string;
  /** Every committed structure (`test/fixtures/structures/<file>.json`). */
  files: string[];
  /** Structures with a committed h5py copy of their first layers: [structure, h5 file]. */
  h5pyCopies: [string, string][];
  /** Structures that must match a shared manifest: [structure, manifest]. */
  manifests: [string, string][];
}

/**
 * The proofs every family's TypeScript fixture writer owes: its Theano conversions equal NumPy's, its files
 * equal what h5py wrote, the committed structures match the manifests and are what the generator writes now.
 */
export function describeFixtureWriterChecks(o: FixtureWriterChecks): void {
  describe("the fixture writer's Theano conversions", () => {
    it("equal NumPy's flip + transpose of kernels (square, 1×7, 7×1) and channels-first Dense row order", () => {
      const cases = JSON.parse(readFileSync(fixturePath("conversion_reference.json"), "utf8")) as Array<WeightEntry & { tf: number[]; file: number[] }>;
      expect(cases.map((c) => conversionOf(c))).toEqual(["th-kernel", "th-kernel", "th-kernel", "th-kernel", "channels-first-dense"]);
      for (const c of cases) {
        const stored = toFileLayout(c, Float32Array.from(c.tf));
        expect(Array.from(stored), JSON.stringify(tfShapeOf(c))).toEqual(Array.from(Float32Array.from(c.file)));
        // The values moved: a conversion that forgot the flip or the transpose would equal the input.
        expect(Array.from(stored)).not.toEqual(Array.from(Float32Array.from(c.tf)));
      }
    });
  });

  describe("the fixture writer's files", () => {
    /** Committed h5py files: the first layers of two structures (datasets left unwritten), from `h5 … --empty --layers=8`. */
    it.each(o.h5pyCopies)("have the groups, attributes and datasets h5py wrote for the first layers of %s", async (file, h5pyFile) => {
      const full = readStructure(file);
      const first = { ...full, layers: full.layers.slice(0, 8) };
      const dir = mkdtempSync(join(tmpdir(), `ft-${o.family}-writer-`));
      try {
        const ours = join(dir, "ours.h5");
        await writeKerasFile(first, canonicalWeights(first, 1), ours);
        const theirs = await dumpHdf5(fixturePath(h5pyFile));
        expect(Object.keys(theirs).length).toBeGreaterThan(10);
        expect(await dumpHdf5(ours)).toEqual(theirs);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe("the committed file structures", () => {
    it.each(o.manifests)("%s has the weighted layers and weights of the manifest %s", (file, manifest) => {
      const rows = weightedLayers(readStructure(file)).map((l) => [l.name, l.weights.map((w) => MANIFEST_ROLE[w.role]).join(",")]);
      expect(rows).toEqual(readManifest(manifest).map((m) => [m.name, m.weights.join(",")]));
    });

    it.skipIf(!hasH5py)("are what the h5py generator writes now", () => {
      const dir = mkdtempSync(join(tmpdir(), `ft-${o.family}-structures-`));
      try {
        runGenerator(o.generator, ["structures", dir]);
        expect(readdirSync(dir).sort()).toEqual(o.files.map((f) => `${f}.json`).sort());
        for (const f of o.files) expect(readFileSync(join(dir, `${f}.json`), "utf8"), f).toBe(readFileSync(fixturePath(`structures/${f}.json`), "utf8"));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
