import {
  backend_util,
  type DepthwiseConv2dNativeBackpropFilterAttrs,
  type DepthwiseConv2dNativeBackpropInputAttrs,
  type KernelFunc,
  type TensorInfo,
} from "@tensorflow/tfjs-core";
import { allocate, assertWasmBackend, heapView, withShape } from "./wasm-heap.js";

function depthwiseInfo(
  xShape: readonly number[],
  filterShape: readonly number[],
  attrs: DepthwiseConv2dNativeBackpropFilterAttrs | DepthwiseConv2dNativeBackpropInputAttrs,
): backend_util.Conv2DInfo {
  return backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    attrs.dilations,
    attrs.pad,
    attrs.dimRoundingMode,
    true,
  );
}

/**
 * `DepthwiseConv2dNativeBackpropFilter`, missing from tfjs-backend-wasm (needed only by depthwise
 * models). A direct loop on the wasm heap: a depthwise conv has K = kh·kw per channel, too little
 * work for a GEMM to pay off.
 */
export const depthwiseConv2dBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  assertWasmBackend(backend);
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const a = attrs as unknown as DepthwiseConv2dNativeBackpropFilterAttrs;
  const info = depthwiseInfo(x.shape, a.filterShape, a);
  const { batchSize, inHeight: inH, inWidth: inW, inChannels: C, outHeight: outH, outWidth: outW, outChannels } = info;
  const { filterHeight: kH, filterWidth: kW, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const mult = outChannels / C;
  const acc = new Float64Array(kH * kW * C * mult);
  const xv = heapView(backend, x);
  const g = heapView(backend, dy);
  for (let n = 0; n < batchSize; n++) {
    for (let oh = 0; oh < outH; oh++) {
      for (let ow = 0; ow < outW; ow++) {
        const dyBase = ((n * outH + oh) * outW + ow) * outChannels;
        for (let kh = 0; kh < kH; kh++) {
          const ih = oh * sh - info.padInfo.top + kh * dh;
          if (ih < 0 || ih >= inH) continue;
          for (let kw = 0; kw < kW; kw++) {
            const iw = ow * sw - info.padInfo.left + kw * dw;
            if (iw < 0 || iw >= inW) continue;
            const xBase = ((n * inH + ih) * inW + iw) * C;
            const wBase = (kh * kW + kw) * outChannels;
            for (let c = 0; c < C; c++) {
              const v = xv[xBase + c]!;
              for (let q = 0; q < mult; q++) acc[wBase + c * mult + q] += v * g[dyBase + c * mult + q]!;
            }
          }
        }
      }
    }
  }
  const out = allocate(backend, [...a.filterShape]);
  heapView(backend, out).set(acc);
  return out;
};

/** `DepthwiseConv2dNativeBackpropInput`, missing from tfjs-backend-wasm; a direct loop like the filter gradient. */
export const depthwiseConv2dBackpropInput: KernelFunc = ({ inputs, backend, attrs }) => {
  assertWasmBackend(backend);
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const a = attrs as unknown as DepthwiseConv2dNativeBackpropInputAttrs;
  const info = depthwiseInfo(a.inputShape, filter.shape, a);
  const { batchSize, inHeight: inH, inWidth: inW, inChannels: C, outHeight: outH, outWidth: outW, outChannels } = info;
  const { filterHeight: kH, filterWidth: kW, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const mult = outChannels / C;
  const out = allocate(backend, [...a.inputShape]);
  const dx = heapView(backend, out);
  const w = heapView(backend, filter);
  const g = heapView(backend, dy);
  dx.fill(0);
  for (let n = 0; n < batchSize; n++) {
    for (let oh = 0; oh < outH; oh++) {
      for (let ow = 0; ow < outW; ow++) {
        const dyBase = ((n * outH + oh) * outW + ow) * outChannels;
        for (let kh = 0; kh < kH; kh++) {
          const ih = oh * sh - info.padInfo.top + kh * dh;
          if (ih < 0 || ih >= inH) continue;
          for (let kw = 0; kw < kW; kw++) {
            const iw = ow * sw - info.padInfo.left + kw * dw;
            if (iw < 0 || iw >= inW) continue;
            const xBase = ((n * inH + ih) * inW + iw) * C;
            const wBase = (kh * kW + kw) * outChannels;
            for (let c = 0; c < C; c++) {
              let s = 0;
              for (let q = 0; q < mult; q++) s += w[wBase + c * mult + q]! * g[dyBase + c * mult + q]!;
              dx[xBase + c] += s;
            }
          }
        }
      }
    }
  }
  return withShape(out, [...a.inputShape]);
};
