import type { Conv2DBackpropInputAttrs, KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import { imagesPerChunk } from "./conv2d-backprop-filter.js";
import { col2imAdd, convGeometry, flipFilter, transpose2d, type ConvGeometry } from "./im2col.js";
import { allocate, assertWasmBackend, heapView, matmul, release, runWasmKernel, withShape, type WasmBackend } from "./wasm-heap.js";

/**
 * How an input gradient is computed:
 * - `conv`: a stride-1 convolution of dy with the rotated, channel-swapped filter, run by wasm's
 *   XNNPACK Conv2D (only for stride 1, where the transposed convolution is itself a convolution);
 * - `gemm`: `dCol[M, K] = dy[M, Cout] · Wᵀ[Cout, K]` in wasm's BatchMatMul, then col2im in JS
 *   (any stride; for a 1×1 stride-1 conv dCol already is dx).
 */
export type BackpropInputStrategy = "conv" | "gemm";

/** Padding of the equivalent stride-1 convolution; negative when the forward padding exceeds the kernel. */
function transposedPadding(g: ConvGeometry): [number, number, number, number] {
  const top = g.kH - 1 - g.padTop;
  const left = g.kW - 1 - g.padLeft;
  // Output rows = outH + top + bottom - kH + 1 must equal inH.
  const bottom = g.inH - g.outH + g.padTop;
  const right = g.inW - g.outW + g.padLeft;
  return [top, bottom, left, right];
}

/**
 * The faster formulation per shape class, measured by scripts/bench-kernels.ts on the 2-core
 * machine: XNNPACK's convolution beats GEMM + col2im for stride-1 k×k kernels on large maps
 * (3×3 at 56 px: 15 vs 9 GFLOP/s), but on maps of 8×8 or less creating its operator and packing
 * the filter on every call costs more than col2im (3×3 at 7 px: gemm 5–18 vs conv 3–14 GFLOP/s);
 * for a 1×1 stride-1 conv both are one GEMM and the plain product skips the filter repacking;
 * strided convs need col2im.
 */
export function chooseBackpropInputStrategy(g: ConvGeometry): BackpropInputStrategy {
  if (g.strideH !== 1 || g.strideW !== 1) return "gemm";
  if (g.outH * g.outW <= 64) return "gemm";
  if (transposedPadding(g).some((p) => p < 0)) return "gemm";
  if (g.kH === 1 && g.kW === 1 && g.padTop === 0 && g.padLeft === 0) return "gemm";
  return "conv";
}

function viaConvolution(backend: WasmBackend, dy: TensorInfo, filter: TensorInfo, g: ConvGeometry): TensorInfo {
  const flipped = allocate(backend, [g.kH, g.kW, g.outC, g.inC]);
  flipFilter(heapView(backend, filter), g.kH, g.kW, g.inC, g.outC, heapView(backend, flipped));
  const [top, bottom, left, right] = transposedPadding(g);
  const dx = runWasmKernel(
    backend,
    "Conv2D",
    { x: dy, filter: flipped },
    {
      strides: [1, 1],
      pad: [[0, 0], [top, bottom], [left, right], [0, 0]],
      dataFormat: "NHWC",
      dilations: [1, 1],
    },
  );
  release(backend, flipped);
  return dx;
}

function viaGemm(backend: WasmBackend, dy: TensorInfo, filter: TensorInfo, g: ConvGeometry): TensorInfo {
  const K = g.kH * g.kW * g.inC;
  const perImage = g.outH * g.outW;
  const inShape = [g.batch, g.inH, g.inW, g.inC];
  const filterT = allocate(backend, [g.outC, K]);
  transpose2d(heapView(backend, filter), K, g.outC, heapView(backend, filterT));
  const direct = g.kH === 1 && g.kW === 1 && g.strideH === 1 && g.strideW === 1 && g.padTop === 0 && g.padLeft === 0;
  if (direct) {
    const dx = matmul(backend, dy, filterT, g.batch * perImage, g.outC, K);
    release(backend, filterT);
    return withShape(dx, inShape);
  }
  const dx = allocate(backend, inShape);
  heapView(backend, dx).fill(0);
  const chunk = imagesPerChunk(g.batch, K * perImage);
  for (let n0 = 0; n0 < g.batch; n0 += chunk) {
    const n1 = Math.min(g.batch, n0 + chunk);
    const M = (n1 - n0) * perImage;
    const whole = n0 === 0 && n1 === g.batch;
    const dyChunk = whole ? dy : allocate(backend, [M, g.outC]);
    if (!whole) {
      heapView(backend, dyChunk).set(heapView(backend, dy).subarray(n0 * perImage * g.outC, n1 * perImage * g.outC));
    }
    const dCol = matmul(backend, dyChunk, filterT, M, g.outC, K);
    if (!whole) release(backend, dyChunk);
    col2imAdd(heapView(backend, dCol), g, n0, n1, heapView(backend, dx));
    release(backend, dCol);
  }
  release(backend, filterT);
  return dx;
}

/** Input gradient with a given formulation (the benchmark compares them). */
export function conv2DBackpropInputWith(strategy: BackpropInputStrategy | "auto"): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    assertWasmBackend(backend);
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as Conv2DBackpropInputAttrs;
    const g = convGeometry(inputShape, filter.shape, strides, pad, dimRoundingMode, dataFormat);
    let chosen = strategy === "auto" ? chooseBackpropInputStrategy(g) : strategy;
    if (chosen === "conv" && (g.strideH !== 1 || g.strideW !== 1 || transposedPadding(g).some((p) => p < 0))) chosen = "gemm";
    return chosen === "conv" ? viaConvolution(backend, dy, filter, g) : viaGemm(backend, dy, filter, g);
  };
}

/**
 * `Conv2DBackpropInput` (the input gradient of a convolution). tfjs-backend-wasm has one, but it is
 * a naive loop (2–3 GFLOP/s here); this one runs on XNNPACK's convolution or GEMM.
 */
export const conv2DBackpropInput: KernelFunc = conv2DBackpropInputWith("auto");
