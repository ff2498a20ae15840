import * as tf from "@tensorflow/tfjs-core";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { allocateOutput, f32, isChannelVector, nativeBackend, sizeOf, weightsId, type KernelContext } from "./util.js";

type Conv2DInfo = tf.backend_util.Conv2DInfo;

/**
 * The geometry array the addon takes, or undefined when oneDNN cannot run this convolution exactly
 * as tfjs defines it (NCHW, empty tensors, an output size that padding + stride do not give).
 */
export function convGeometry(info: Conv2DInfo): number[] | undefined {
  if (info.dataFormat !== "channelsLast") return undefined;
  if ([...info.inShape, ...info.outShape, info.filterHeight, info.filterWidth].some((d) => !(d >= 1))) return undefined;
  const p = info.padInfo;
  const fits = (inSize: number, k: number, s: number, d: number, p0: number, p1: number, out: number) => {
    const span = inSize + p0 + p1 - ((k - 1) * d + 1);
    return p0 >= 0 && p1 >= 0 && span >= 0 && Math.floor(span / s) + 1 === out;
  };
  if (!fits(info.inHeight, info.filterHeight, info.strideHeight, info.dilationHeight, p.top, p.bottom, info.outHeight)) return undefined;
  if (!fits(info.inWidth, info.filterWidth, info.strideWidth, info.dilationWidth, p.left, p.right, info.outWidth)) return undefined;
  return [info.strideHeight, info.strideWidth, info.dilationHeight, info.dilationWidth, p.top, p.bottom, p.left, p.right, info.outHeight, info.outWidth];
}

function filterShapeOf(info: Conv2DInfo): number[] {
  return [info.filterHeight, info.filterWidth, info.inChannels, info.outChannels];
}

export function conv2dKernels(ctx: KernelContext): tf.KernelConfig[] {
  const { addon } = ctx;

  /** Conv2D and FusedConv2D (bias and relu fused; other activations and PReLU fall back to cpu). */
  const forward = (kernelName: string): tf.KernelFunc => {
    const fallback = ctx.fallback(kernelName);
    return (args) => {
      const backend = args.backend as MathBackendCPU;
      const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
      const { strides, pad, dataFormat, dilations, dimRoundingMode, activation } = args.attrs as unknown as {
        strides: [number, number] | number; pad: "same" | "valid" | number | tf.backend_util.ExplicitPadding;
        dataFormat: "NHWC" | "NCHW"; dilations: [number, number] | number; dimRoundingMode?: "floor" | "round" | "ceil";
        activation?: string;
      };
      const act = activation ?? "linear";
      if (preluActivationWeights || (act !== "linear" && act !== "relu")) return fallback(args);
      const info = tf.backend_util.computeConv2DInfo(x!.shape as [number, number, number, number],
        filter!.shape as [number, number, number, number], strides, dilations, pad, dimRoundingMode, false,
        tf.backend_util.convertConv2DDataFormat(dataFormat));
      const geometry = convGeometry(info);
      const xv = f32(backend, x!), wv = f32(backend, filter!);
      const bv = bias ? f32(backend, bias) : null;
      if (!geometry || !xv || !wv || bv === undefined || (bias && !isChannelVector(bias, info.outChannels))) return fallback(args);
      const y = allocateOutput(backend, sizeOf(info.outShape));
      addon.conv2d(xv, info.inShape, filterShapeOf(info), geometry, wv, bv, y, act === "relu", weightsId(filter!));
      return backend.makeTensorInfo(info.outShape, "float32", y);
    };
  };

  /**
   * Deferred on ft-native (computed when first read): tfjs's fused convolution gradient asks for dx
   * even where nothing reads it, such as the network's input image.
   */
  const backpropInput = (): tf.KernelFunc => {
    const fallback = ctx.fallback("Conv2DBackpropInput");
    return (args) => {
      const backend = args.backend as MathBackendCPU;
      const { dy, filter } = args.inputs as Record<string, tf.TensorInfo>;
      const { strides, pad, dataFormat, dimRoundingMode, inputShape } = args.attrs as unknown as {
        strides: [number, number] | number; pad: "same" | "valid" | number | tf.backend_util.ExplicitPadding;
        dataFormat: "NHWC" | "NCHW"; dimRoundingMode?: "floor" | "round" | "ceil"; inputShape: [number, number, number, number];
      };
      const info = tf.backend_util.computeConv2DInfo(inputShape, filter!.shape as [number, number, number, number], strides, 1, pad,
        dimRoundingMode, false, tf.backend_util.convertConv2DDataFormat(dataFormat));
      const geometry = convGeometry(info);
      const dyv = f32(backend, dy!), wv = f32(backend, filter!);
      if (!geometry || !dyv || !wv || !tf.util.arraysEqual(dy!.shape, info.outShape)) return fallback(args);
      const id = weightsId(filter!);
      const compute = () => {
        const dx = allocateOutput(backend, sizeOf(info.inShape));
        addon.conv2dBackpropInput(dyv, info.inShape, filterShapeOf(info), geometry, wv, dx, id);
        return dx;
      };
      const native = nativeBackend(backend);
      return native ? native.defer(info.inShape, [dy!, filter!], compute) : backend.makeTensorInfo(info.inShape, "float32", compute());
    };
  };

  const backpropFilter = (): tf.KernelFunc => {
    const fallback = ctx.fallback("Conv2DBackpropFilter");
    return (args) => {
      const backend = args.backend as MathBackendCPU;
      const { x, dy } = args.inputs as Record<string, tf.TensorInfo>;
      const { strides, pad, dataFormat, dimRoundingMode, filterShape } = args.attrs as unknown as {
        strides: [number, number] | number; pad: "same" | "valid" | number | tf.backend_util.ExplicitPadding;
        dataFormat: "NHWC" | "NCHW"; dimRoundingMode?: "floor" | "round" | "ceil"; filterShape: [number, number, number, number];
      };
      const info = tf.backend_util.computeConv2DInfo(x!.shape as [number, number, number, number], filterShape, strides, 1, pad,
        dimRoundingMode, false, tf.backend_util.convertConv2DDataFormat(dataFormat));
      const geometry = convGeometry(info);
      const xv = f32(backend, x!), dyv = f32(backend, dy!);
      if (!geometry || !xv || !dyv || !tf.util.arraysEqual(dy!.shape, info.outShape)) return fallback(args);
      const dw = allocateOutput(backend, sizeOf(filterShape));
      addon.conv2dBackpropFilter(xv, info.inShape, filterShapeOf(info), geometry, dyv, dw);
      return backend.makeTensorInfo(filterShape, "float32", dw);
    };
  };

  return [
    { kernelName: "Conv2D", backendName: "", kernelFunc: forward("Conv2D") },
    { kernelName: "FusedConv2D", backendName: "", kernelFunc: forward("FusedConv2D") },
    { kernelName: "Conv2DBackpropInput", backendName: "", kernelFunc: backpropInput() },
    { kernelName: "Conv2DBackpropFilter", backendName: "", kernelFunc: backpropFilter() },
  ];
}
