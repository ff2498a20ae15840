import { afterEach, describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import "@tensorflow/tfjs-backend-cpu";
import { findWeightRecord, getModel, listModels, registerModel, unregisterModel } from "./registry.js";
import { countParams } from "./params.js";
import type { ModelSpec } from "../spec.js";
import { UsageError } from "../errors.js";

/** A throwaway two-layer spec, so the registry is tested without any architecture package. */
function tinySpec(name: string, weightId = `${name}.tf`): ModelSpec {
  return {
    name,
    family: "test",
    description: "conv 3×3 + dense, for registry tests",
    inputShape: [8, 8, 3],
    classes: 5,
    preprocessing: "caffe",
    parameterCount: 3 * 3 * 3 * 4 + 4 + 8 * 8 * 4 * 5 + 5,
    topLayers: ["flatten", "predictions"],
    featureLayer: "conv",
    build: ({ includeTop = true, classes = 5, inputShape = [8, 8, 3] }) => {
      const input = tfl.input({ shape: inputShape });
      let x = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: "same", name: "conv" }).apply(input) as tfl.SymbolicTensor;
      if (includeTop) {
        x = tfl.layers.flatten({ name: "flatten" }).apply(x) as tfl.SymbolicTensor;
        x = tfl.layers.dense({ units: classes, activation: "softmax", name: "predictions" }).apply(x) as tfl.SymbolicTensor;
      }
      return tfl.model({ inputs: input, outputs: x, name });
    },
    weights: [
      {
        id: weightId,
        url: "http://127.0.0.1:1/tiny.h5",
        fileName: "tiny.h5",
        bytes: 1234,
        checksum: { algorithm: "md5", value: "0".repeat(32) },
        layout: "keras2",
        ordering: "tf",
        includeTop: true,
        preprocessing: "caffe",
        classes: 5,
        accuracy: { top1: 50, source: "made up for the test" },
      },
    ],
  };
}

describe("model registry", () => {
  afterEach(() => {
    for (const m of listModels("test_*")) unregisterModel(m.name);
  });

  it("registers, finds, lists by glob and builds a spec", async () => {
    await tf.setBackend("cpu");
    const a = registerModel(tinySpec("test_alpha"));
    registerModel(tinySpec("test_beta"));
    expect(getModel("test_alpha")).toBe(a);
    expect(listModels("test_*").map((m) => m.name)).toEqual(["test_alpha", "test_beta"]);
    expect(listModels("test_b*").map((m) => m.name)).toEqual(["test_beta"]);
    expect(findWeightRecord("test_beta.tf")?.model.name).toBe("test_beta");
    const model = a.build({});
    expect(countParams(model)).toBe(a.parameterCount);
    expect(model.outputs[0]!.shape).toEqual([null, 5]);
    const headless = a.build({ includeTop: false });
    expect(headless.outputs[0]!.shape).toEqual([null, 8, 8, 4]);
  });

  it("rejects duplicate names and duplicate weight ids", () => {
    registerModel(tinySpec("test_alpha"));
    expect(() => registerModel(tinySpec("test_alpha"))).toThrow(/already registered/);
    expect(() => registerModel(tinySpec("test_gamma", "test_alpha.tf"))).toThrow(/already used by model "test_alpha"/);
    expect(() => registerModel(tinySpec("Test Bad"))).toThrow(/lower-case/);
  });

  it("an unknown name is a usage error that suggests close names", () => {
    registerModel(tinySpec("test_alpha"));
    expect(() => getModel("test_alpah")).toThrow(UsageError);
    expect(() => getModel("test_alpah")).toThrow(/Did you mean test_alpha\?/);
  });
});
