import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  channelsFirstDenseToNhwc,
  convertRows,
  convertWeight,
  convertedShape,
  fileShapeFor,
  theanoKernelToTf,
  type WeightConversion,
} from "./convert.js";

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
