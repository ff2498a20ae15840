import type { AvgPoolGradAttrs, KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import { forEachPoolWindow, poolGradInfo, spreadAvgPoolGradient } from "../avg-pool-grad.js";
import { allocate, assertWasmBackend, heapView } from "./wasm-heap.js";

/**
 * `MaxPoolGrad`: each window's gradient goes to its first maximum in row-major order (as in
 * TensorFlow and the tfjs cpu backend). tfjs-backend-wasm's own kernel rescans every window for
 * every input pixel (75× the forward pass) and sends ties to the last maximum; this one is a single
 * pass over the windows.
 */
export const maxPoolGrad: KernelFunc = ({ inputs, backend, attrs }) => {
  assertWasmBackend(backend);
  const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
  const info = poolGradInfo(input, attrs as unknown as AvgPoolGradAttrs);
  const { inHeight: inH, inWidth: inW, inChannels: C } = info;
  const dxInfo = allocate(backend, [...input.shape]);
  const x = heapView(backend, input);
  const g = heapView(backend, dy);
  const dx = heapView(backend, dxInfo);
  dx.fill(0);
  const best = new Float32Array(C);
  const where = new Int32Array(C);
  forEachPoolWindow(info, (n, dyBase, hStart, hEnd, wStart, wEnd) => {
    best.fill(-Infinity);
    where.fill(-1);
    for (let ih = hStart; ih < hEnd; ih++) {
      for (let iw = wStart; iw < wEnd; iw++) {
        const base = ((n * inH + ih) * inW + iw) * C;
        for (let c = 0; c < C; c++) {
          const v = x[base + c]!;
          if (v > best[c]!) {
            best[c] = v;
            where[c] = base + c;
          }
        }
      }
    }
    for (let c = 0; c < C; c++) {
      const at = where[c]!;
      if (at >= 0) dx[at] += g[dyBase + c]!;
    }
  });
  return dxInfo;
};

/** `AvgPoolGrad`: the true gradient of the forward AvgPool (see `spreadAvgPoolGradient`). */
export const avgPoolGrad: KernelFunc = ({ inputs, backend, attrs }) => {
  assertWasmBackend(backend);
  const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
  const info = poolGradInfo(input, attrs as unknown as AvgPoolGradAttrs);
  const dxInfo = allocate(backend, [...input.shape]);
  spreadAvgPoolGradient(heapView(backend, dy), heapView(backend, dxInfo), info);
  return dxInfo;
};
