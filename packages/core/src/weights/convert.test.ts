import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { FtError, UsageError } from "../errors.js";
import {
  channelsFirstDenseToNhwc,
  convertRows,
  convertWeight,
  convertedShape,
  detectOrdering,
  fileShapeFor,
  resolveOrdering,
  theanoKernelToTf,
  type WeightConversion,
} from "./convert.js";
import type { KerasLayerWeights, KerasWeight } from "./keras-file.js";

/** Converted by NumPy in test/fixtures/generate.py (`[:, :, ::-1, ::-1].transpose(2, 3, 1, 0)`, row reorder). */
const ref = (
  JSON.parse(readFileSync(new URL("../../test/fixtures/weights_reference.json", import.meta.url), "utf8")) as {
    conversion: {
      kernel_th_shape: number[];
      kernel_th: number[];
      kernel_tf: number[];
      dense_shape: number[];
      feature_hwc: [number, number, number];
      dense_chw: number[];
      dense_hwc: number[];
    };
  }
).conversion;

describe("array conversions against NumPy", () => {
  it("flips and transposes a non-square Theano kernel (5, 2, 2, 3) → (2, 3, 2, 5)", () => {
    const out = theanoKernelToTf(Float32Array.from(ref.kernel_th), ref.kernel_th_shape);
    expect(Array.from(out)).toEqual(ref.kernel_tf);
    expect(convertedShape({ kind: "theano-kernel" }, ref.kernel_th_shape)).toEqual([2, 3, 2, 5]);
    expect(fileShapeFor({ kind: "theano-kernel" }, [2, 3, 2, 5])).toEqual(ref.kernel_th_shape);
  });

  it("reorders Dense rows after a channels-first Flatten of a 2×3×4 map", () => {
    const out = channelsFirstDenseToNhwc(Float32Array.from(ref.dense_chw), ref.dense_shape, ref.feature_hwc);
    expect(Array.from(out)).toEqual(ref.dense_hwc);
  });

  it("converts the same result block by block as whole", () => {
    const cases: [WeightConversion, number[], number[]][] = [
      [{ kind: "theano-kernel" }, ref.kernel_th_shape, ref.kernel_th],
      [{ kind: "channels-first-dense", featureShape: ref.feature_hwc }, ref.dense_shape, ref.dense_chw],
      [{ kind: "flip-kernel" }, [2, 3, 2, 5], ref.kernel_tf],
      [{ kind: "copy" }, ref.dense_shape, ref.dense_chw],
    ];
    for (const [conversion, shape, values] of cases) {
      const data = Float32Array.from(values);
      const whole = convertWeight(conversion, data, shape);
      const blocks = new Float32Array(data.length);
      const rowSize = data.length / shape[0]!;
      for (let start = 0; start < shape[0]!; start += 2) {
        const end = Math.min(shape[0]!, start + 2);
        convertRows(conversion, shape, data.subarray(start * rowSize, end * rowSize), start, end, blocks);
      }
      expect(Array.from(blocks)).toEqual(Array.from(whole));
    }
  });

  it("flip-kernel flips both spatial axes of a (kh, kw, in, out) kernel, and flipping twice is the identity", () => {
    const data = Float32Array.from(ref.kernel_tf);
    const flipped = convertWeight({ kind: "flip-kernel" }, data, [2, 3, 2, 5]);
    // W[i, j, c, o] = W_stored[1 - i, 2 - j, c, o]
    const at = (a: Float32Array, i: number, j: number, c: number, o: number) => a[((i * 3 + j) * 2 + c) * 5 + o];
    expect(at(flipped, 0, 0, 1, 4)).toBe(at(data, 1, 2, 1, 4));
    expect(at(flipped, 1, 1, 0, 2)).toBe(at(data, 0, 1, 0, 2));
    expect(Array.from(convertWeight({ kind: "flip-kernel" }, flipped, [2, 3, 2, 5]))).toEqual(ref.kernel_tf);
  });

  it("refuses a conversion that does not fit the array", () => {
    expect(() => convertWeight({ kind: "theano-kernel" }, new Float32Array(6), [2, 3])).toThrow(/4-D kernel/);
    expect(() => channelsFirstDenseToNhwc(new Float32Array(10), [5, 2], [2, 2, 2])).toThrow(/does not follow a flattened 2×2×2 map/);
  });
});

function weight(name: string, shape: number[]): KerasWeight {
  return { name, role: name, path: `/${name}`, shape, size: shape.reduce((a, b) => a * b, 1), read: () => new Float32Array(), readRows: () => new Float32Array(), readBlocks: () => {} };
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
    expect(th.evidence.find((e) => e.strong)?.reason).toMatch(/\(out, in, kh, kw\): conv1 \[64, 3, 7, 7\]/);
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
