import { backend_util, type Conv2DBackpropFilterAttrs } from "@tensorflow/tfjs-core";

/**
 * Geometry of a 2-D convolution in NHWC layout with dilation 1 (tfjs computes convolution
 * gradients only for dilation 1). `pad*` are the zero rows/columns added before the first input
 * row/column; the bottom/right padding follows from the output size.
 */
export interface ConvGeometry {
  batch: number;
  inH: number;
  inW: number;
  inC: number;
  outH: number;
  outW: number;
  outC: number;
  kH: number;
  kW: number;
  strideH: number;
  strideW: number;
  padTop: number;
  padLeft: number;
}

type Strides = number | [number, number];
type Pad = Conv2DBackpropFilterAttrs["pad"];

/** Conv geometry as tfjs computes it (same padding rules, same output size). */
export function convGeometry(
  xShape: readonly number[],
  filterShape: readonly number[],
  strides: Strides,
  pad: Pad,
  dimRoundingMode: "floor" | "round" | "ceil" | undefined,
  dataFormat: "NHWC" | "NCHW" | undefined,
): ConvGeometry {
  if (dataFormat === "NCHW") {
    throw new Error("the wasm training kernels support dataFormat NHWC only (as does the wasm Conv2D)");
  }
  const info = backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    "channelsLast",
  );
  return {
    batch: info.batchSize,
    inH: info.inHeight,
    inW: info.inWidth,
    inC: info.inChannels,
    outH: info.outHeight,
    outW: info.outWidth,
    outC: info.outChannels,
    kH: info.filterHeight,
    kW: info.filterWidth,
    strideH: info.strideHeight,
    strideW: info.strideWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/** Floating-point operations of one convolution (or of each of its two gradients): 2·M·K·N. */
export function convFlops(g: ConvGeometry): number {
  return 2 * g.batch * g.outH * g.outW * g.kH * g.kW * g.inC * g.outC;
}

/**
 * Transposed im2col of images `[n0, n1)`: `colT[k][m]` with k = (kh, kw, c) in the filter's
 * order and m = (n, oh, ow) in the output's order, so that `colT · dy = dFilter` is a plain
 * matrix product. Padding positions are written as zeros.
 *
 * The innermost loop runs over channels and writes C rows at once (C sequential streams); a
 * 64×64-blocked transpose measured no faster here.
 */
export function im2colTransposed(x: Float32Array, g: ConvGeometry, n0: number, n1: number, colT: Float32Array): void {
  const { inH, inW, inC: C, outH, outW, kH, kW, strideH, strideW, padTop, padLeft } = g;
  const M = (n1 - n0) * outH * outW;
  for (let kh = 0; kh < kH; kh++) {
    for (let kw = 0; kw < kW; kw++) {
      const rowBase = (kh * kW + kw) * C * M;
      let m = 0;
      for (let n = n0; n < n1; n++) {
        for (let oh = 0; oh < outH; oh++) {
          const ih = oh * strideH - padTop + kh;
          if (ih < 0 || ih >= inH) {
            for (let c = 0; c < C; c++) colT.fill(0, rowBase + c * M + m, rowBase + c * M + m + outW);
            m += outW;
            continue;
          }
          const rowStart = (n * inH + ih) * inW;
          for (let ow = 0; ow < outW; ow++, m++) {
            const iw = ow * strideW - padLeft + kw;
            let d = rowBase + m;
            if (iw < 0 || iw >= inW) {
              for (let c = 0; c < C; c++, d += M) colT[d] = 0;
              continue;
            }
            const s = (rowStart + iw) * C;
            for (let c = 0; c < C; c++, d += M) colT[d] = x[s + c]!;
          }
        }
      }
    }
  }
}

/**
 * im2col of images `[n0, n1)` in the natural layout: `col[m][k]`, m = (n, oh, ow), k = (kh, kw, c).
 * Each filter row is one contiguous run of kw·C input floats when it lies inside the image, so
 * this is mostly `Float32Array.set` copies.
 */
export function im2col(x: Float32Array, g: ConvGeometry, n0: number, n1: number, col: Float32Array): void {
  const { inH, inW, inC: C, outH, outW, kH, kW, strideH, strideW, padTop, padLeft } = g;
  const K = kH * kW * C;
  const run = kW * C;
  let m = 0;
  for (let n = n0; n < n1; n++) {
    for (let oh = 0; oh < outH; oh++) {
      for (let ow = 0; ow < outW; ow++, m++) {
        const iw0 = ow * strideW - padLeft;
        const inside = iw0 >= 0 && iw0 + kW <= inW;
        for (let kh = 0; kh < kH; kh++) {
          const ih = oh * strideH - padTop + kh;
          const d = m * K + kh * run;
          if (ih < 0 || ih >= inH) {
            col.fill(0, d, d + run);
            continue;
          }
          const rowStart = (n * inH + ih) * inW;
          if (inside) {
            const s = (rowStart + iw0) * C;
            col.set(x.subarray(s, s + run), d);
            continue;
          }
          for (let kw = 0; kw < kW; kw++) {
            const iw = iw0 + kw;
            const dk = d + kw * C;
            if (iw < 0 || iw >= inW) col.fill(0, dk, dk + C);
            else col.set(x.subarray((rowStart + iw) * C, (rowStart + iw + 1) * C), dk);
          }
        }
      }
    }
  }
}

/**
 * Adds the column gradient `dCol[m][k]` (m over images `[n0, n1)`, k = (kh, kw, c)) back onto the
 * input gradient `dx` (NHWC, whole batch): the adjoint of im2col. Padding positions are dropped.
 */
export function col2imAdd(dCol: Float32Array, g: ConvGeometry, n0: number, n1: number, dx: Float32Array): void {
  const { inH, inW, inC: C, outH, outW, kH, kW, strideH, strideW, padTop, padLeft } = g;
  const K = kH * kW * C;
  let m = 0;
  for (let n = n0; n < n1; n++) {
    for (let oh = 0; oh < outH; oh++) {
      for (let ow = 0; ow < outW; ow++, m++) {
        const rowBase = m * K;
        for (let kh = 0; kh < kH; kh++) {
          const ih = oh * strideH - padTop + kh;
          if (ih < 0 || ih >= inH) continue;
          for (let kw = 0; kw < kW; kw++) {
            const iw = ow * strideW - padLeft + kw;
            if (iw < 0 || iw >= inW) continue;
            const d = ((n * inH + ih) * inW + iw) * C;
            const s = rowBase + (kh * kW + kw) * C;
            for (let c = 0; c < C; c++) dx[d + c] += dCol[s + c]!;
          }
        }
      }
    }
  }
}

/** `dst[j][i] = src[i][j]` for a row-major `rows × cols` matrix, in cache-sized blocks. */
export function transpose2d(src: Float32Array, rows: number, cols: number, dst: Float32Array, srcOffset = 0, dstOffset = 0): void {
  const B = 32;
  for (let i0 = 0; i0 < rows; i0 += B) {
    const i1 = Math.min(rows, i0 + B);
    for (let j0 = 0; j0 < cols; j0 += B) {
      const j1 = Math.min(cols, j0 + B);
      for (let i = i0; i < i1; i++) {
        const s = srcOffset + i * cols;
        for (let j = j0; j < j1; j++) dst[dstOffset + j * rows + i] = src[s + j]!;
      }
    }
  }
}

/**
 * The filter of the stride-1 convolution that computes a conv's input gradient:
 * `out[kh][kw][co][c] = w[kH-1-kh][kW-1-kw][c][co]` (rotated 180°, channels swapped).
 */
export function flipFilter(w: Float32Array, kH: number, kW: number, inC: number, outC: number, out: Float32Array): void {
  const block = inC * outC;
  for (let kh = 0; kh < kH; kh++) {
    for (let kw = 0; kw < kW; kw++) {
      const src = ((kH - 1 - kh) * kW + (kW - 1 - kw)) * block;
      transpose2d(w, inC, outC, out, src, (kh * kW + kw) * block);
    }
  }
}
