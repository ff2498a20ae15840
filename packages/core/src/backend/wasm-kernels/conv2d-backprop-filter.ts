import type { Conv2DBackpropFilterAttrs, KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import { convGeometry, im2col, im2colTransposed, transpose2d, type ConvGeometry } from "./im2col.js";
import { allocate, assertWasmBackend, heapView, matmul, release, withShape } from "./wasm-heap.js";

/**
 * Largest im2col buffer, in floats (64 MiB). Larger batches are split into chunks of whole images
 * and their filter gradients summed: the wasm heap is capped at 4 GiB, and VGG's first layers at
 * 224 px would otherwise need close to 1 GiB of columns.
 */
export const WASM_KERNEL_LIMITS = { colBufferFloats: 16 * 1024 * 1024 };

/** Images per im2col chunk for a conv whose columns take `floatsPerImage` floats per image. */
export function imagesPerChunk(batch: number, floatsPerImage: number): number {
  return Math.max(1, Math.min(batch, Math.floor(WASM_KERNEL_LIMITS.colBufferFloats / Math.max(1, floatsPerImage))));
}

/**
 * How a filter gradient is computed (both in wasm's plain-layout BatchMatMul):
 * - `colT`: `dW[K, Cout] = colT[K, M] · dy[M, Cout]`, the columns written transposed by JS;
 * - `dyT`: `dWᵀ[Cout, K] = dyᵀ[Cout, M] · col[M, K]`, then a small transpose; the columns are
 *   contiguous copies (none at all for a 1×1 stride-1 conv) and only dy is transposed.
 * Transposing in JS costs more than copying, so the choice follows which side is narrower.
 */
export type BackpropFilterStrategy = "colT" | "dyT";

export function chooseBackpropFilterStrategy(g: ConvGeometry): BackpropFilterStrategy {
  return g.outC < g.kH * g.kW * g.inC ? "dyT" : "colT";
}

function isPlain1x1(g: ConvGeometry): boolean {
  return g.kH === 1 && g.kW === 1 && g.strideH === 1 && g.strideW === 1 && g.padTop === 0 && g.padLeft === 0;
}

/** Filter gradient with a given formulation (the benchmark compares them). */
export function conv2DBackpropFilterWith(strategy: BackpropFilterStrategy | "auto"): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    assertWasmBackend(backend);
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as Conv2DBackpropFilterAttrs;
    const g = convGeometry(x.shape, filterShape, strides, pad, dimRoundingMode, dataFormat);
    const chosen = strategy === "auto" ? chooseBackpropFilterStrategy(g) : strategy;
    const K = g.kH * g.kW * g.inC;
    const perImage = g.outH * g.outW;
    const chunk = imagesPerChunk(g.batch, K * perImage);

    // Sum over chunks, in the layout the strategy's product gives.
    let result: TensorInfo | undefined;
    for (let n0 = 0; n0 < g.batch; n0 += chunk) {
      const n1 = Math.min(g.batch, n0 + chunk);
      const M = (n1 - n0) * perImage;
      let part: TensorInfo;
      // The right-hand operand is always a temporary: XNNPACK may keep a packed copy of it
      // until that tensor is freed, which for x or dy would last the whole backward pass.
      if (chosen === "colT") {
        const colT = allocate(backend, [K, M]);
        const dyChunk = allocate(backend, [M, g.outC]);
        im2colTransposed(heapView(backend, x), g, n0, n1, heapView(backend, colT));
        heapView(backend, dyChunk).set(heapView(backend, dy).subarray(n0 * perImage * g.outC, n1 * perImage * g.outC));
        part = matmul(backend, colT, dyChunk, K, M, g.outC);
        release(backend, colT);
        release(backend, dyChunk);
      } else {
        const col = allocate(backend, [M, K]);
        const dyT = allocate(backend, [g.outC, M]);
        if (isPlain1x1(g)) heapView(backend, col).set(heapView(backend, x).subarray(n0 * perImage * K, n1 * perImage * K));
        else im2col(heapView(backend, x), g, n0, n1, heapView(backend, col));
        transpose2d(heapView(backend, dy), M, g.outC, heapView(backend, dyT), n0 * perImage * g.outC);
        part = matmul(backend, dyT, col, g.outC, M, K);
        release(backend, dyT);
        release(backend, col);
      }
      if (!result) {
        result = part;
      } else {
        const sum = heapView(backend, result);
        const add = heapView(backend, part);
        for (let i = 0; i < sum.length; i++) sum[i] += add[i]!;
        release(backend, part);
      }
    }
    if (!result) {
      // Empty batch: the gradient is zero.
      result = allocate(backend, [...filterShape]);
      heapView(backend, result).fill(0);
      return result;
    }
    if (chosen === "dyT") {
      const dW = allocate(backend, [...filterShape]);
      transpose2d(heapView(backend, result), g.outC, K, heapView(backend, dW));
      release(backend, result);
      return dW;
    }
    return withShape(result, [...filterShape]);
  };
}

/**
 * `Conv2DBackpropFilter` (the weight gradient of every convolution), missing from
 * tfjs-backend-wasm: im2col on the wasm heap by JS, the product in wasm's fast plain-layout
 * BatchMatMul (XNNPACK).
 */
export const conv2DBackpropFilter: KernelFunc = conv2DBackpropFilterWith("auto");
