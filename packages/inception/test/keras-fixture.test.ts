import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readManifest } from "../../core/test-support/layers.js";
import {
  canonicalWeights,
  conversionOf,
  dumpHdf5,
  fixturePath,
  hasH5py,
  readStructure,
  runGenerator,
  tfShapeOf,
  toFileLayout,
  weightedLayers,
  writeKerasFile,
  type WeightEntry,
} from "../../core/test-support/keras-fixture.js";

const GENERATOR = "generate_inception.py";
const FILES = ["googlenet_th", "inception_v3_th", "inception_v3.keras_tf", "inception_v3.keras_tf_notop", "inception_v4_th", "inception_v4_tf"];
/** Keras-1 weight suffixes of each role, as the manifests write them. */
const MANIFEST_ROLE: Record<string, string> = {
  kernel: "W",
  bias: "b",
  gamma: "gamma",
  beta: "beta",
  moving_mean: "running_mean",
  moving_variance: "running_std(=variance)",
};

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
  it.each([
    ["googlenet_th", "tiny_googlenet_th.h5"],
    ["inception_v3.keras_tf", "tiny_inception_v3.keras_tf.h5"],
  ])("have the groups, attributes and datasets h5py wrote for the first layers of %s", async (file, h5pyFile) => {
    const full = readStructure(file);
    const first = { ...full, layers: full.layers.slice(0, 8) };
    const dir = mkdtempSync(join(tmpdir(), "ft-inception-writer-"));
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
  it.each([
    ["googlenet_th", "googlenet"],
    ["inception_v4_th", "inception_v4"],
    ["inception_v4_tf", "inception_v4"],
  ])("%s has the weighted layers and weights of the manifest %s", (file, manifest) => {
    const rows = weightedLayers(readStructure(file)).map((l) => [l.name, l.weights.map((w) => MANIFEST_ROLE[w.role]).join(",")]);
    expect(rows).toEqual(readManifest(manifest).map((m) => [m.name, m.weights.join(",")]));
  });

  it("use the Keras weight names of each layout (Keras 1 `_W`, with `:0` when saved under TensorFlow; Keras 2 `layer/kernel:0`)", () => {
    const first = (file: string) => weightedLayers(readStructure(file))[0]!.weights.map((w) => w.name);
    expect(first("googlenet_th")).toEqual(["conv1/7x7_s2_W", "conv1/7x7_s2_b"]);
    expect(first("inception_v3_th")).toEqual(["convolution2d_1_W", "convolution2d_1_b"]);
    expect(first("inception_v4_th")).toEqual(["convolution2d_1_W"]);
    expect(first("inception_v4_tf")).toEqual(["convolution2d_1_W:0"]);
    expect(first("inception_v3.keras_tf")).toEqual(["conv2d_1/kernel:0"]);
    const bn = weightedLayers(readStructure("inception_v3.keras_tf"))[1]!;
    expect(bn.weights.map((w) => w.name)).toEqual(["batch_normalization_1/beta:0", "batch_normalization_1/moving_mean:0", "batch_normalization_1/moving_variance:0"]);
    expect(readStructure("inception_v3.keras_tf").attrs.backend).toBe("tensorflow");
  });

  it.skipIf(!hasH5py)("are what the h5py generator writes now", () => {
    const dir = mkdtempSync(join(tmpdir(), "ft-inception-structures-"));
    try {
      runGenerator(GENERATOR, ["structures", dir]);
      expect(readdirSync(dir).sort()).toEqual(FILES.map((f) => `${f}.json`).sort());
      for (const f of FILES) expect(readFileSync(join(dir, `${f}.json`), "utf8"), f).toBe(readFileSync(fixturePath(`structures/${f}.json`), "utf8"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
