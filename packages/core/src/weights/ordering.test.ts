import { describe, expect, it } from "vitest";
import { FtError, UsageError } from "../errors.js";
import type { KerasLayerWeights, KerasWeight } from "./keras-file.js";
import { detectOrdering, resolveOrdering } from "./ordering.js";

function weight(name: string, shape: number[]): KerasWeight {
  return { name, role: name, path: `/${name}`, shape, size: shape.reduce((a, b) => a * b, 1), dtype: "float32", read: () => new Float32Array(), readRows: () => new Float32Array(), readBlocks: () => {} };
}
const layer = (name: string, ...weights: KerasWeight[]): KerasLayerWeights => ({ name, index: 0, weights });

describe("detectOrdering", () => {
  it("trusts the backend attribute", () => {
    expect(detectOrdering({ kerasMajor: 2, backend: "theano", layers: [] }).ordering).toBe("th");
    expect(detectOrdering({ kerasMajor: 2, backend: "tensorflow", layers: [] }).ordering).toBe("tf");
  });

  it("reads Keras 1 kernel shapes: (out, in, kh, kw) is th, (kh, kw, in, out) is tf", () => {
    const th = detectOrdering({ kerasMajor: 1, layers: [layer("conv1", weight("conv1_W:0", [64, 3, 7, 7]))] });
    expect(th.ordering).toBe("th");
    expect(th.evidence.find((e) => e.strength === "strong")?.reason).toMatch(/\(out, in, kh, kw\): conv1 \[64, 3, 7, 7\]/);
    expect(detectOrdering({ kerasMajor: 0, layers: [layer("layer_0", weight("param_0", [3, 3, 512, 512]))] }).ordering).toBe("tf");
  });

  it("uses the model's kernel shapes when the file's fit both layouts", () => {
    const file = { kerasMajor: 0 as const, layers: [layer("layer_0", weight("param_0", [4, 3, 3, 3]))] };
    expect(detectOrdering(file).ordering).toBeUndefined();
    expect(detectOrdering(file, { expectedKernels: new Map([["layer_0", [3, 3, 3, 4]]]) }).ordering).toBe("th");
    expect(detectOrdering(file, { expectedKernels: new Map([["layer_0", [4, 3, 3, 3]]]) }).ordering).toBe("tf");
  });

  it("falls back on Keras-1 weight names (:0 from the TensorFlow backend) only when nothing stronger speaks", () => {
    const ambiguous = [4, 3, 3, 3];
    expect(detectOrdering({ kerasMajor: 1, layers: [layer("c", weight("c_W:0", ambiguous), weight("c_b:0", [4]))] }).ordering).toBe("tf");
    expect(detectOrdering({ kerasMajor: 1, layers: [layer("c", weight("c_W", ambiguous), weight("c_b", [4]))] }).ordering).toBe("th");
    // strong shape evidence outvotes the names
    expect(detectOrdering({ kerasMajor: 1, layers: [layer("c", weight("c_W:0", [64, 3, 7, 7]))] }).ordering).toBe("th");
  });

  it("takes a Keras 1 model_config's dim_ordering as decisive: the shapes cannot decide and the names point the other way", () => {
    // The case: a Keras 1.2 model.save file, no backend attribute, a 3×3×10×5 kernel (fits both layouts),
    // no ":0" suffix (weakly th), and a config that says "tf".
    const modelConfig = { class_name: "Sequential", config: [{ class_name: "Convolution2D", config: { name: "conv", dim_ordering: "tf", nb_row: 3, nb_col: 3 } }] };
    const layers = [layer("conv", weight("conv_W", [3, 3, 10, 5]), weight("conv_b", [5]))];
    expect(detectOrdering({ kerasMajor: 1, layers }).ordering).toBe("th");
    const d = detectOrdering({ kerasMajor: 1, layers, modelConfig });
    expect(d.ordering).toBe("tf");
    expect(d.decidedBy).toBe('decisive: model_config says dim_ordering "tf" (conv)');
    expect(d.evidence.map((e) => e.strength)).toEqual(["decisive", "weak"]);
    // decisive over strong shape evidence too, and a config that contradicts itself is reported
    expect(detectOrdering({ kerasMajor: 1, layers: [layer("conv", weight("conv_W", [64, 3, 7, 7]))], modelConfig }).ordering).toBe("tf");
    const mixed = { class_name: "Model", config: { layers: [{ class_name: "Convolution2D", config: { name: "a", dim_ordering: "th" } }, { class_name: "MaxPooling2D", config: { name: "b", dim_ordering: "tf" } }] } };
    expect(detectOrdering({ kerasMajor: 1, layers, modelConfig: mixed }).problem).toMatch(/disagrees: th \(model_config says dim_ordering "th" \(a\)\); tf/);
    // Keras 2's data_format is the activations' layout, not the kernels' (always (kh, kw, in, out)): not evidence
    const keras2 = { class_name: "Model", config: { layers: [{ class_name: "Conv2D", config: { name: "c", data_format: "channels_first" } }] } };
    expect(detectOrdering({ kerasMajor: 2, backend: "tensorflow", layers, modelConfig: keras2 }).ordering).toBe("tf");
  });

  it("reports contradictory strong evidence instead of picking one", () => {
    const d = detectOrdering({ kerasMajor: 1, backend: "tensorflow", layers: [layer("c", weight("c_W", [64, 3, 7, 7]))] });
    expect(d.ordering).toBeUndefined();
    expect(d.problem).toMatch(/disagrees.*tf \(backend attribute is "tensorflow"\).*th \(kernel shapes/);
  });
});

describe("resolveOrdering", () => {
  const ambiguous = { evidence: [], problem: "the file records no backend" };
  it("prefers the override, then the detection, then the fallback", () => {
    expect(resolveOrdering("f.h5", { ordering: "tf", evidence: [] }, "th")).toEqual({ ordering: "th", source: "option" });
    expect(resolveOrdering("f.h5", { ordering: "tf", evidence: [] })).toEqual({ ordering: "tf", source: "detected" });
    expect(resolveOrdering("f.h5", ambiguous, undefined, { ordering: "th", source: "record" })).toEqual({ ordering: "th", source: "record" });
  });

  it("refuses an ambiguous file, naming the override", () => {
    expect(() => resolveOrdering("f.h5", ambiguous)).toThrow(FtError);
    expect(() => resolveOrdering("f.h5", ambiguous)).toThrow(/f\.h5: cannot tell .* --ordering th\|tf/);
    expect(() => resolveOrdering("f.h5", ambiguous, "xx" as "th")).toThrow(UsageError);
  });
});
