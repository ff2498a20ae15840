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

const GENERATOR = "generate_densenet.py";
const CAFFE = ["densenet121", "densenet169", "densenet161"];
const KERAS = ["densenet121", "densenet169", "densenet201"];
const FILES = [...CAFFE.flatMap((d) => [`${d}_th`, `${d}_tf`]), ...KERAS.map((d) => `${d}.keras_tf`), "densenet121.keras_tf_notop"];
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
    ["densenet121_tf", "tiny_densenet121_tf.h5"],
    ["densenet121.keras_tf", "tiny_densenet121.keras_tf.h5"],
  ])("have the groups, attributes and datasets h5py wrote for the first layers of %s", async (file, h5pyFile) => {
    const full = readStructure(file);
    const first = { ...full, layers: full.layers.slice(0, 8) };
    const dir = mkdtempSync(join(tmpdir(), "ft-densenet-writer-"));
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
  it.each(CAFFE.flatMap((d) => [[`${d}_th`, d], [`${d}_tf`, d]]))("%s has the weighted layers and weights of the manifest %s", (file, manifest) => {
    const rows = weightedLayers(readStructure(file)).map((l) => [l.name, l.weights.map((w) => MANIFEST_ROLE[w.role]).join(",")]);
    expect(rows).toEqual(readManifest(manifest).map((m) => [m.name, m.weights.join(",")]));
  });

  it("use the Keras weight names of each layout (Keras 1 `_W`, `_gamma` for Scale, `:0` under TensorFlow; Keras 2 nested `conv1/conv/kernel:0`)", () => {
    const named = (file: string, layer: string) => readStructure(file).layers.find((l) => l.name === layer)!.weights.map((w) => w.name);
    expect(named("densenet121_th", "conv1")).toEqual(["conv1_W"]);
    expect(named("densenet121_th", "conv1_scale")).toEqual(["conv1_scale_gamma", "conv1_scale_beta"]);
    expect(named("densenet121_tf", "conv1_bn")).toEqual(["conv1_bn_gamma:0", "conv1_bn_beta:0", "conv1_bn_running_mean:0", "conv1_bn_running_std:0"]);
    expect(named("densenet121.keras_tf", "conv1/conv")).toEqual(["conv1/conv/kernel:0"]);
    expect(named("densenet121.keras_tf", "conv2_block1_0_bn")).toEqual([
      "conv2_block1_0_bn/gamma:0",
      "conv2_block1_0_bn/beta:0",
      "conv2_block1_0_bn/moving_mean:0",
      "conv2_block1_0_bn/moving_variance:0",
    ]);
    expect(readStructure("densenet121.keras_tf").attrs.backend).toBe("tensorflow");
  });

  it.skipIf(!hasH5py)("are what the h5py generator writes now", () => {
    const dir = mkdtempSync(join(tmpdir(), "ft-densenet-structures-"));
    try {
      runGenerator(GENERATOR, ["structures", dir]);
      expect(readdirSync(dir).sort()).toEqual(FILES.map((f) => `${f}.json`).sort());
      for (const f of FILES) expect(readFileSync(join(dir, `${f}.json`), "utf8"), f).toBe(readFileSync(fixturePath(`structures/${f}.json`), "utf8"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
