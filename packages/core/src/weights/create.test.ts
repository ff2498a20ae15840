import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import "@tensorflow/tfjs-backend-cpu";
import { FtError, UsageError } from "../errors.js";
import { Scale } from "../layers/scale.js";
import { registerModel, unregisterModel } from "../registry/registry.js";
import type { BuildOptions, ModelSpec, WeightRecord } from "../spec.js";
import { createModel, createModelWithReport } from "./create.js";
import { weightCachePath } from "../hub/cache.js";

const fixture = (name: string) => fileURLToPath(new URL(`../../test/fixtures/${name}`, import.meta.url));
const reference = JSON.parse(readFileSync(fixture("weights_reference.json"), "utf8")) as {
  tiny: { input_nhwc: number[]; input_shape: number[]; output: number[]; tf_weights: Record<string, number[][]> };
};

function build(options: BuildOptions): tfl.LayersModel {
  const input = tfl.input({ shape: [8, 8, 3] });
  let x = tfl.layers.conv2d({ filters: 4, kernelSize: 3, name: "conv1" }).apply(input) as tfl.SymbolicTensor;
  x = tfl.layers.batchNormalization({ epsilon: 1e-3, name: "bn1" }).apply(x) as tfl.SymbolicTensor;
  x = new Scale({ name: "scale1" }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.activation({ activation: "relu", name: "relu1" }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.maxPooling2d({ poolSize: 2, name: "pool1" }).apply(x) as tfl.SymbolicTensor;
  if (options.includeTop ?? true) {
    x = tfl.layers.flatten({ name: "flatten" }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.dense({ units: options.classes ?? 5, name: "fc" }).apply(x) as tfl.SymbolicTensor;
  }
  return tfl.model({ inputs: input, outputs: x });
}

function record(id: string, file: string, includeTop: boolean, ordering: "th" | "tf"): WeightRecord {
  const bytes = readFileSync(fixture(file));
  return {
    id,
    url: "http://127.0.0.1:9/unreachable/" + file,
    fileName: `${id}.h5`,
    bytes: bytes.length,
    checksum: { algorithm: "md5", value: createHash("md5").update(bytes).digest("hex") },
    layout: "keras1",
    ordering,
    includeTop,
    classes: includeTop ? 5 : undefined,
    preprocessing: "none",
  };
}

function spec(name: string, weights: WeightRecord[]): ModelSpec {
  return {
    name,
    family: "test",
    description: "the tiny network of test/fixtures/generate.py",
    inputShape: [8, 8, 3],
    classes: 5,
    preprocessing: "none",
    build,
    topLayers: ["flatten", "fc"],
    featureLayer: "pool1",
    weights,
  };
}

const home = mkdtempSync(join(tmpdir(), "ft-create-"));
const previousHome = process.env.FT_HOME;
const withNotop = spec("fttest_tiny", [record("fttest_tiny.th", "tiny_keras1_th.h5", true, "th"), record("fttest_tiny.tf.notop", "tiny_keras1_tf_notop.h5", false, "tf")]);
const topOnly = spec("fttest_tinytop", [record("fttest_tinytop.tf", "tiny_keras1_tf.h5", true, "tf")]);
const sources: Record<string, string> = {
  "fttest_tiny.th": "tiny_keras1_th.h5",
  "fttest_tiny.tf.notop": "tiny_keras1_tf_notop.h5",
  "fttest_tinytop.tf": "tiny_keras1_tf.h5",
};

beforeAll(async () => {
  await tf.setBackend("cpu");
  process.env.FT_HOME = home;
  registerModel(withNotop);
  registerModel(topOnly);
  // "Download" by dropping the files into the cache: ensureWeightFile verifies size and md5.
  for (const r of [...withNotop.weights, ...topOnly.weights]) {
    const path = weightCachePath(r);
    mkdirSync(dirname(path), { recursive: true });
    copyFileSync(fixture(sources[r.id]!), path);
  }
});
afterAll(() => {
  unregisterModel(withNotop.name);
  unregisterModel(topOnly.name);
  if (previousHome === undefined) delete process.env.FT_HOME;
  else process.env.FT_HOME = previousHome;
  rmSync(home, { recursive: true, force: true });
});

const predict = (model: tfl.LayersModel) =>
  tf.tidy(() => Array.from((model.predict(tf.tensor(reference.tiny.input_nhwc, reference.tiny.input_shape)) as tf.Tensor).dataSync()));
const maxAbsDiff = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));

describe("createModel", () => {
  it('"imagenet" (the default) takes the first record with the same includeTop and matches the reference', async () => {
    const created = await createModelWithReport("fttest_tiny");
    expect(created.record?.id).toBe("fttest_tiny.th");
    expect(created.weightsPath).toBe(weightCachePath(withNotop.weights[0]!));
    expect(created.report?.ordering).toBe("th");
    expect(maxAbsDiff(predict(created.model), reference.tiny.output)).toBeLessThan(1e-4);
  });

  it("includeTop false picks the notop record", async () => {
    const created = await createModelWithReport("fttest_tiny", { includeTop: false });
    expect(created.record?.id).toBe("fttest_tiny.tf.notop");
    expect(created.report?.loaded).toEqual(["conv1", "bn1", "scale1"]);
  });

  it("includeTop false with only a top record skips the top layers and says so", async () => {
    const created = await createModelWithReport("fttest_tinytop", { weights: "imagenet", includeTop: false });
    expect(created.report?.skippedTop).toEqual(["fc"]);
    expect(Array.from(created.model.getLayer("conv1").getWeights()[0]!.dataSync())).toEqual(reference.tiny.tf_weights.conv1![0]);
  });

  it("a record id, a file path, and none", async () => {
    const byId = await createModelWithReport("fttest_tinytop", { weights: "fttest_tinytop.tf" });
    expect(byId.report?.ordering).toBe("tf");
    const byPath = await createModelWithReport("fttest_tiny", { weights: fixture("tiny_legacy_th.h5") });
    expect(byPath.record).toBeUndefined();
    expect(byPath.report?.layout).toBe("legacy");
    expect(predict(byPath.model)).toEqual(predict(byId.model));
    const random = await createModelWithReport("fttest_tiny", { weights: "none" });
    expect(random.report).toBeUndefined();
    const model = await createModel("fttest_tiny", { weights: null });
    expect(model.getLayer("fc")).toBeDefined();
  });

  it("random weights from a seed are the same on every build, and differ between seeds", async () => {
    const mathRandom = Math.random;
    const weightsOf = async (seed?: number) => {
      const model = await createModel("fttest_tiny", { weights: "none", seed });
      const values = model.getWeights().map((w) => Array.from(w.dataSync()));
      model.dispose();
      return values;
    };
    const first = await weightsOf(7);
    expect(first[0]!.some((v) => v !== 0)).toBe(true);
    expect(await weightsOf(7)).toEqual(first);
    expect((await weightsOf(8))[0]).not.toEqual(first[0]);
    expect((await weightsOf())[0]).not.toEqual(first[0]);
    expect(Math.random).toBe(mathRandom);
  });

  it("refuses bad weight choices with clear errors", async () => {
    await expect(createModel("fttest_tiny", { weights: "fttest_tinytop.tf" })).rejects.toThrow(/belong to model "fttest_tinytop", not "fttest_tiny"/);
    await expect(createModel("fttest_tiny", { weights: "resnet-ish" })).rejects.toThrow(UsageError);
    await expect(createModel("fttest_tiny", { weights: "/no/such/file.h5" })).rejects.toThrow(/weight file not found: \/no\/such\/file\.h5/);
    await expect(createModel("fttest_tiny", { weights: "fttest_tiny.tf.notop" })).rejects.toThrow(/notop file.*includeTop false/);
    await expect(createModel("fttest_tiny", { weights: "fttest_tiny.th", classes: 10 })).rejects.toThrow(/5-class top but 10 classes/);
    const another = await createModel("fttest_tiny", { weights: fixture("tiny2_model_save.h5") }).catch((e: unknown) => e);
    expect(another).toBeInstanceOf(FtError);
    expect((another as Error).message).toMatch(/another model/);
  });
});
