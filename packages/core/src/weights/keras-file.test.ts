import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { FtError } from "../errors.js";
import { readKerasWeights, roleOf, weightedLayers, type KerasWeightFile } from "./keras-file.js";
import { detectOrdering } from "./ordering.js";

const fixture = (name: string) => fileURLToPath(new URL(`../../test/fixtures/${name}`, import.meta.url));
const reference = JSON.parse(readFileSync(fixture("weights_reference.json"), "utf8")) as {
  tiny: { tf_weights: Record<string, number[][]> };
};
const tmp = mkdtempSync(join(tmpdir(), "ft-keras-file-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function withFile<T>(name: string, fn: (f: KerasWeightFile) => T): Promise<T> {
  const file = await readKerasWeights(fixture(name));
  try {
    return fn(file);
  } finally {
    file.close();
  }
}

const summary = (f: KerasWeightFile) => f.layers.map((l) => [l.name, l.weights.map((w) => `${w.role}${JSON.stringify(w.shape)}`)]);

describe("readKerasWeights: containers", () => {
  it("reads the legacy Keras 0.x container positionally, weightless layers included", async () => {
    await withFile("tiny_legacy_th.h5", (f) => {
      expect(f.layout).toBe("legacy");
      expect(f.kerasMajor).toBe(0);
      expect(summary(f)).toEqual([
        ["layer_0", ["param_0[4,3,3,3]", "param_1[4]"]],
        ["layer_1", ["param_0[4]", "param_1[4]", "param_2[4]", "param_3[4]"]],
        ["layer_2", ["param_0[4]", "param_1[4]"]],
        ["layer_3", []],
        ["layer_4", []],
        ["layer_5", []],
        ["layer_6", ["param_0[36,5]", "param_1[5]"]],
      ]);
      expect(f.totalValues).toBe(4 * 27 + 4 + 16 + 8 + 180 + 5);
    });
  });

  it("reads a Keras 1 save_weights file with fixed-length string attributes (Theano names)", async () => {
    await withFile("tiny_keras1_th.h5", (f) => {
      expect(f.layout).toBe("keras1");
      expect(f.kerasMajor).toBe(1);
      expect(f.backend).toBeUndefined();
      expect(f.layers.map((l) => l.name)).toEqual(["conv1", "bn1", "scale1", "relu1", "pool1", "flatten", "fc"]);
      expect(f.layers[1]!.weights.map((w) => w.name)).toEqual(["bn1_gamma", "bn1_beta", "bn1_running_mean", "bn1_running_std"]);
      expect(f.layers[1]!.weights.map((w) => w.role)).toEqual(["gamma", "beta", "running_mean", "running_std"]);
      expect(weightedLayers(f).map((l) => l.name)).toEqual(["conv1", "bn1", "scale1", "fc"]);
      expect(detectOrdering(f).ordering).toBe("th");
    });
  });

  it("reads a Keras 1 TensorFlow file whose weight names end in :0", async () => {
    await withFile("tiny_keras1_tf.h5", (f) => {
      expect(f.layout).toBe("keras1");
      expect(f.layers[0]!.weights.map((w) => [w.name, w.role, w.shape])).toEqual([
        ["conv1_W:0", "W", [3, 3, 3, 4]],
        ["conv1_b:0", "b", [4]],
      ]);
      // the stored values are the NumPy-converted arrays of the generator
      expect(Array.from(f.layers[0]!.weights[0]!.read())).toEqual(reference.tiny.tf_weights.conv1![0]);
      expect(detectOrdering(f).ordering).toBe("tf");
    });
  });

  it("reads Keras 2 nested `layer/kernel:0` paths, '/' in layer names, vlen strings and chunked name attributes", async () => {
    await withFile("tiny_keras2_tf.h5", (f) => {
      expect(f.layout).toBe("keras2");
      expect(f.kerasVersion).toBe("2.0.5");
      expect(f.backend).toBe("tensorflow");
      expect(f.layers.map((l) => l.name)).toEqual([
        "block1/conv1",
        "block1/bn1",
        "block1/scale1",
        "block1/relu1",
        "block1/pool1",
        "flatten",
        "head/fc",
      ]);
      const bn = f.layers[1]!;
      expect(bn.weights.map((w) => w.role)).toEqual(["gamma", "beta", "moving_mean", "moving_variance"]);
      expect(bn.weights[0]!.path).toBe("/block1/bn1/block1/bn1/gamma:0");
      expect(Array.from(f.layers[6]!.weights[1]!.read())).toEqual(reference.tiny.tf_weights.fc![1]);
      expect(detectOrdering(f).ordering).toBe("tf");
    });
  });

  it("reads a model.save file: model_weights group, model_config parsed as data, BN with scale=False", async () => {
    await withFile("tiny2_model_save.h5", (f) => {
      expect(f.layout).toBe("model");
      expect(f.kerasMajor).toBe(2);
      expect(f.kerasVersion).toBe("2.2.4");
      const config = f.modelConfig as { class_name: string; config: { layers: { name: string; class_name: string }[] } };
      expect(config.class_name).toBe("Model");
      expect(config.config.layers.map((l) => l.class_name)).toContain("BatchNormalization");
      expect((f.trainingConfig as { loss: string }).loss).toBe("categorical_crossentropy");
      expect(summary(f).filter(([, w]) => w.length)).toEqual([
        ["block1/conv", ["kernel[3,3,2,3]"]],
        ["block1/bn", ["beta[3]", "moving_mean[3]", "moving_variance[3]"]],
        ["predictions", ["kernel[3,4]", "bias[4]"]],
      ]);
    });
  });

  it("reads one block of rows at a time", async () => {
    await withFile("tiny_keras1_tf.h5", (f) => {
      const fc = f.layers[6]!.weights[0]!;
      const all = fc.read();
      expect(Array.from(fc.readRows(10, 13))).toEqual(Array.from(all.subarray(50, 65)));
      const streamed: number[] = [];
      const blocks: [number, number][] = [];
      fc.readBlocks(8, (block, start, end) => {
        blocks.push([start, end]);
        streamed.push(...block);
      });
      expect(blocks).toEqual([[0, 8], [8, 16], [16, 24], [24, 32], [32, 36]]);
      expect(streamed).toEqual(Array.from(all));
    });
  });

  it("derives weight roles from Keras 1 and Keras 2 names", () => {
    expect(roleOf("bn_conv1", "bn_conv1_running_std")).toBe("running_std");
    expect(roleOf("bn_conv1", "bn_conv1_running_std:0")).toBe("running_std");
    expect(roleOf("conv1/7x7_s2", "conv1/7x7_s2/kernel:0")).toBe("kernel");
    expect(roleOf("conv1/7x7_s2", "conv1/7x7_s2_W")).toBe("W");
  });
});

describe("readKerasWeights: bad input", () => {
  const expectFtError = async (path: string, pattern: RegExp) => {
    const error = await readKerasWeights(path).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(FtError);
    expect((error as Error).message).toMatch(pattern);
    expect((error as Error).message).toContain(path);
  };

  it("refuses a missing path", async () => {
    await expectFtError(join(tmp, "missing.h5"), /not found/);
  });

  it("refuses a directory", async () => {
    await expectFtError(tmp, /not a regular file/);
  });

  it("refuses a file that is not HDF5", async () => {
    const path = join(tmp, "text.h5");
    writeFileSync(path, "<html>Google Drive can't scan this file for viruses</html>\n".repeat(40));
    await expectFtError(path, /not an HDF5 file/);
  });

  it("refuses an empty file", async () => {
    const path = join(tmp, "empty.h5");
    writeFileSync(path, "");
    await expectFtError(path, /not an HDF5 file/);
  });

  it("refuses a truncated HDF5 file and says so", async () => {
    const source = fixture("tiny_keras1_th.h5");
    const path = join(tmp, "truncated.h5");
    const bytes = readFileSync(source);
    writeFileSync(path, bytes.subarray(0, Math.floor(statSync(source).size * 0.6)));
    await expectFtError(path, /truncated HDF5 file: it is \d+ bytes but its header says \d+/);
  });

  it("refuses an HDF5 file that is not a Keras weight file", async () => {
    const { default: h5wasm } = await import("h5wasm/node");
    await h5wasm.ready;
    const path = join(tmp, "other.h5");
    const f = new h5wasm.File(path, "w");
    f.create_dataset({ name: "data", data: new Float32Array([1, 2, 3]) });
    f.close();
    await expectFtError(path, /not a Keras weight file/);
  });

  it("reads a copy of a fixture under another name (layouts are detected, not taken from names)", async () => {
    const path = join(tmp, "vgg16_weights_tf_dim_ordering_tf_kernels.h5");
    copyFileSync(fixture("tiny_legacy_th.h5"), path);
    const f = await readKerasWeights(path);
    expect(f.layout).toBe("legacy");
    f.close();
  });
});
