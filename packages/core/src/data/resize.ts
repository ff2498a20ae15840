import type { RawImage } from "./dataset.js";

/** OpenCV's fixed-point precision for 8-bit bilinear resize (`INTER_RESIZE_COEF_BITS`). */
const COEF_BITS = 11;
const COEF_SCALE = 1 << COEF_BITS;

/** `cvRound` of a non-negative float: round half to even, as `lrintf` does in the default rounding mode. */
function roundHalfEven(v: number): number {
  const floor = Math.floor(v);
  const diff = v - floor;
  if (diff < 0.5) return floor;
  if (diff > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * One output coordinate of OpenCV's INTER_LINEAR: the float32 source position
 * `(d + 0.5) * scale − 0.5`, its floor and the two 11-bit weights `saturate_cast<short>(w · 2048)`.
 * `scale` is computed in double as `1 / (dst / src)`, exactly as `cv::resize` does.
 */
function linearTaps(dstIndex: number, scale: number): { index: number; w0: number; w1: number } {
  let f = Math.fround((dstIndex + 0.5) * scale - 0.5);
  const index = Math.floor(f);
  f = Math.fround(f - index);
  return { index, w0: roundHalfEven(Math.fround(1 - f) * COEF_SCALE), w1: roundHalfEven(f * COEF_SCALE) };
}

/**
 * Resizes 8-bit interleaved pixels bilinearly, bit-exactly like OpenCV's
 * `cv2.resize(src, (width, height), interpolation=cv2.INTER_LINEAR)` on a `uint8` array
 * (the generic fixed-point path, which OpenCV uses for 8-bit linear resize when IPP's
 * inexact mode is off — its default):
 *
 * - half-pixel centres: source x = (dx + 0.5)·(srcW/dstW) − 0.5, computed in float32;
 * - horizontal taps clamped at the borders (a position left of 0 or right of W−1 copies the edge);
 * - vertical rows clamped to [0, H−1] but keeping their unclamped weights;
 * - weights rounded to 11 bits, the horizontal pass kept as integers and the vertical pass
 *   rounded as `((b0·(S0>>4))>>16) + ((b1·(S1>>4))>>16) + 2) >> 2`.
 *
 * The output is uint8 (what the seed's `cv2.resize` on CIFAR-10's uint8 arrays produced),
 * not float. No antialiasing: shrinking by large factors aliases, exactly as OpenCV does.
 */
export function resizeBilinearBytes(
  src: Uint8Array,
  srcHeight: number,
  srcWidth: number,
  channels: number,
  dstHeight: number,
  dstWidth: number,
): Uint8Array {
  for (const [name, value] of [
    ["source height", srcHeight],
    ["source width", srcWidth],
    ["target height", dstHeight],
    ["target width", dstWidth],
    ["channels", channels],
  ] as const) {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`resizeBilinear: ${name} must be a positive integer, got ${value}`);
  }
  if (src.length !== srcHeight * srcWidth * channels) {
    throw new RangeError(
      `resizeBilinear: ${src.length} bytes do not match ${srcHeight}×${srcWidth}×${channels} = ${srcHeight * srcWidth * channels}`,
    );
  }
  if (srcHeight === dstHeight && srcWidth === dstWidth) return src.slice();

  // Horizontal taps: pixel offsets (already × channels) and weights.
  const scaleX = 1 / (dstWidth / srcWidth);
  const x0 = new Int32Array(dstWidth);
  const x1 = new Int32Array(dstWidth);
  const a0 = new Int32Array(dstWidth);
  const a1 = new Int32Array(dstWidth);
  for (let dx = 0; dx < dstWidth; dx++) {
    let { index, w0, w1 } = linearTaps(dx, scaleX);
    // Outside [0, W−1) OpenCV drops the fraction and copies the edge pixel.
    if (index < 0) {
      index = 0;
      w0 = COEF_SCALE;
      w1 = 0;
    } else if (index >= srcWidth - 1) {
      index = srcWidth - 1;
      w0 = COEF_SCALE;
      w1 = 0;
    }
    x0[dx] = index * channels;
    x1[dx] = Math.min(index + 1, srcWidth - 1) * channels;
    a0[dx] = w0;
    a1[dx] = w1;
  }

  // Horizontal pass over every source row (at most a few hundred rows for our images).
  const rowLength = dstWidth * channels;
  const horizontal = new Int32Array(srcHeight * rowLength);
  for (let sy = 0; sy < srcHeight; sy++) {
    const srcRow = sy * srcWidth * channels;
    const outRow = sy * rowLength;
    for (let dx = 0; dx < dstWidth; dx++) {
      const p0 = srcRow + x0[dx];
      const p1 = srcRow + x1[dx];
      const w0 = a0[dx];
      const w1 = a1[dx];
      const o = outRow + dx * channels;
      for (let c = 0; c < channels; c++) horizontal[o + c] = src[p0 + c] * w0 + src[p1 + c] * w1;
    }
  }

  // Vertical pass: rows clamped, weights not (OpenCV's `clip(sy, 0, H)` in resizeGeneric_Invoker).
  const scaleY = 1 / (dstHeight / srcHeight);
  const dst = new Uint8Array(dstHeight * rowLength);
  for (let dy = 0; dy < dstHeight; dy++) {
    const { index, w0: b0, w1: b1 } = linearTaps(dy, scaleY);
    const r0 = Math.min(Math.max(index, 0), srcHeight - 1) * rowLength;
    const r1 = Math.min(Math.max(index + 1, 0), srcHeight - 1) * rowLength;
    const out = dy * rowLength;
    for (let i = 0; i < rowLength; i++) {
      const v = (((b0 * (horizontal[r0 + i] >> 4)) >> 16) + ((b1 * (horizontal[r1 + i] >> 4)) >> 16) + 2) >> 2;
      dst[out + i] = v > 255 ? 255 : v;
    }
  }
  return dst;
}

/**
 * Resizes an RGB image to `height`×`width` exactly as OpenCV's `cv2.resize(..., INTER_LINEAR)`
 * does on uint8 data (see {@link resizeBilinearBytes}). Returns a new image; the input is untouched.
 */
export function resizeBilinear(image: RawImage, height: number, width: number): RawImage {
  return {
    data: resizeBilinearBytes(image.data, image.height, image.width, image.channels, height, width),
    height,
    width,
    channels: 3,
  };
}
