import { describe, expect, it } from "vitest";
import { col2imAdd, convGeometry, flipFilter, im2col, im2colTransposed, transpose2d, type ConvGeometry } from "./im2col.js";

/** Deterministic values in [-1, 1) (no two alike), so a misplaced element shows. */
function values(n: number, seed = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

/** x[n, ih, iw, c] from the definition, 0 outside the image. */
function pixel(x: Float32Array, g: ConvGeometry, n: number, ih: number, iw: number, c: number): number {
  if (ih < 0 || ih >= g.inH || iw < 0 || iw >= g.inW) return 0;
  return x[((n * g.inH + ih) * g.inW + iw) * g.inC + c]!;
}

const GEOMETRIES: Array<[string, ConvGeometry]> = [
  ["3×2 kernel, stride 2, asymmetric pad", convGeometry([2, 7, 6, 3], [3, 2, 3, 4], 2, [[0, 0], [2, 0], [1, 2], [0, 0]], undefined, "NHWC")],
  ["3×3 same stride 1", convGeometry([3, 5, 4, 2], [3, 3, 2, 1], 1, "same", undefined, "NHWC")],
  ["1×1 stride 2 valid", convGeometry([2, 5, 5, 4], [1, 1, 4, 3], [2, 1], "valid", undefined, "NHWC")],
];

describe("im2colTransposed", () => {
  it.each(GEOMETRIES)("matches the definition colT[(kh,kw,c)][(n,oh,ow)] = x[n, oh·s+kh-pt, ow·s+kw-pl, c] (%s)", (_, g) => {
    const x = values(g.batch * g.inH * g.inW * g.inC);
    const n0 = 1;
    const n1 = g.batch;
    const M = (n1 - n0) * g.outH * g.outW;
    const K = g.kH * g.kW * g.inC;
    const colT = new Float32Array(K * M).fill(Number.NaN);
    im2colTransposed(x, g, n0, n1, colT);
    for (let kh = 0; kh < g.kH; kh++)
      for (let kw = 0; kw < g.kW; kw++)
        for (let c = 0; c < g.inC; c++)
          for (let n = n0; n < n1; n++)
            for (let oh = 0; oh < g.outH; oh++)
              for (let ow = 0; ow < g.outW; ow++) {
                const k = (kh * g.kW + kw) * g.inC + c;
                const m = ((n - n0) * g.outH + oh) * g.outW + ow;
                const want = pixel(x, g, n, oh * g.strideH - g.padTop + kh, ow * g.strideW - g.padLeft + kw, c);
                expect(colT[k * M + m]).toBe(want);
              }
  });
});

describe("im2col", () => {
  it.each(GEOMETRIES)("is the transpose of im2colTransposed (%s)", (_, g) => {
    const x = values(g.batch * g.inH * g.inW * g.inC, 11);
    const M = (g.batch - 1) * g.outH * g.outW;
    const K = g.kH * g.kW * g.inC;
    const colT = new Float32Array(K * M);
    im2colTransposed(x, g, 1, g.batch, colT);
    const col = new Float32Array(K * M).fill(Number.NaN);
    im2col(x, g, 1, g.batch, col);
    for (let m = 0; m < M; m++) for (let k = 0; k < K; k++) expect(col[m * K + k]).toBe(colT[k * M + m]);
  });
});

describe("col2imAdd", () => {
  it.each(GEOMETRIES)("is the adjoint of im2col: <im2col(x), Y> = <x, col2im(Y)> (%s)", (_, g) => {
    const x = values(g.batch * g.inH * g.inW * g.inC, 3);
    const M = g.batch * g.outH * g.outW;
    const K = g.kH * g.kW * g.inC;
    const y = values(M * K, 7);
    const colT = new Float32Array(K * M);
    im2colTransposed(x, g, 0, g.batch, colT);
    let lhs = 0;
    for (let m = 0; m < M; m++) for (let k = 0; k < K; k++) lhs += colT[k * M + m]! * y[m * K + k]!;
    const dx = new Float32Array(x.length);
    col2imAdd(y, g, 0, g.batch, dx);
    let rhs = 0;
    for (let i = 0; i < x.length; i++) rhs += x[i]! * dx[i]!;
    expect(Math.abs(lhs - rhs)).toBeLessThan(1e-4 * Math.max(1, Math.abs(lhs)));
    expect(Math.abs(lhs)).toBeGreaterThan(1e-3);
  });

  it("adds onto dx and handles a chunk of images", () => {
    const g = GEOMETRIES[0]![1];
    const K = g.kH * g.kW * g.inC;
    const perImage = g.outH * g.outW;
    const y = values(g.batch * perImage * K, 5);
    const whole = new Float32Array(g.batch * g.inH * g.inW * g.inC);
    col2imAdd(y, g, 0, g.batch, whole);
    const chunked = new Float32Array(whole.length).fill(1);
    for (let n = 0; n < g.batch; n++) col2imAdd(y.subarray(n * perImage * K), g, n, n + 1, chunked);
    for (let i = 0; i < whole.length; i++) expect(chunked[i]).toBeCloseTo(whole[i]! + 1, 5);
  });
});

describe("transpose2d and flipFilter", () => {
  it("transposes non-square matrices larger than a block", () => {
    const rows = 37;
    const cols = 70;
    const a = values(rows * cols);
    const t = new Float32Array(rows * cols);
    transpose2d(a, rows, cols, t);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) expect(t[j * rows + i]).toBe(a[i * cols + j]);
  });

  it("rotates the filter by 180° and swaps its channels", () => {
    const [kH, kW, inC, outC] = [3, 2, 4, 5];
    const w = values(kH * kW * inC * outC);
    const out = new Float32Array(w.length);
    flipFilter(w, kH, kW, inC, outC, out);
    for (let kh = 0; kh < kH; kh++)
      for (let kw = 0; kw < kW; kw++)
        for (let co = 0; co < outC; co++)
          for (let c = 0; c < inC; c++)
            expect(out[((kh * kW + kw) * outC + co) * inC + c]).toBe(w[(((kH - 1 - kh) * kW + (kW - 1 - kw)) * inC + c) * outC + co]);
  });
});
