import * as tf from "@tensorflow/tfjs-core";
import { allocateOutput, f32, isChannelVector, nativeBackend, nativeKernel, sizeOf, weightsId, writeOutput, type KernelContext } from "./util.js";

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

/** tfjs's geometry of a convolution of `xShape` by `filterShape` with the kernel's attributes (tfjs's own types). */
function convInfo(xShape: readonly number[], filterShape: readonly number[], attrs: Pick<tf.Conv2DAttrs, "strides" | "pad" | "dataFormat" | "dimRoundingMode">,
  dilations: tf.Conv2DAttrs["dilations"]): Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(xShape as [number, number, number, number], filterShape as [number, number, number, number], attrs.strides,
    dilations, attrs.pad, attrs.dimRoundingMode, false, tf.backend_util.convertConv2DDataFormat(attrs.dataFormat));
}

function filterShapeOf(info: Conv2DInfo): number[] {
  return [info.filterHeight, info.filterWidth, info.inChannels, info.outChannels];
}

export function conv2dKernels(ctx: KernelContext): tf.KernelConfig[] {
  const { addon } = ctx;

  /** Conv2D and FusedConv2D (bias and relu fused; other activations and PReLU fall back to cpu). */
  const forward = (kernelName: string) =>
    nativeKernel(ctx, kernelName, (args, backend) => {
      const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
      const attrs = args.attrs as unknown as tf.FusedConv2DAttrs;
      const act = attrs.activation ?? "linear";
      if (preluActivationWeights || (act !== "linear" && act !== "relu")) return undefined;
      const info = convInfo(x!.shape, filter!.shape, attrs, attrs.dilations);
      const geometry = convGeometry(info);
      const xv = f32(backend, x!), wv = f32(backend, filter!);
      const bv = bias ? f32(backend, bias) : null;
      if (!geometry || !xv || !wv || bv === undefined || (bias && !isChannelVector(bias, info.outChannels))) return undefined;
      return writeOutput(backend, info.outShape, (y) => addon.conv2d(xv, info.inShape, filterShapeOf(info), geometry, wv, bv, y, act === "relu", weightsId(filter!)));
    });

  /**
   * Deferred on ft-native (computed when first read): tfjs's fused convolution gradient asks for dx
   * even where nothing reads it, such as the network's input image.
   */
  const backpropInput = nativeKernel(ctx, "Conv2DBackpropInput", (args, backend) => {
    const { dy, filter } = args.inputs as Record<string, tf.TensorInfo>;
    const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
    const info = convInfo(attrs.inputShape, filter!.shape, attrs, 1);
    const geometry = convGeometry(info);
    const dyv = f32(backend, dy!), wv = f32(backend, filter!);
    if (!geometry || !dyv || !wv || !tf.util.arraysEqual(dy!.shape, info.outShape)) return undefined;
    const id = weightsId(filter!);
    const compute = () => {
      const dx = allocateOutput(backend, sizeOf(info.inShape));
      addon.conv2dBackpropInput(dyv, info.inShape, filterShapeOf(info), geometry, wv, dx, id);
      return dx;
    };
    const native = nativeBackend(backend);
    return native ? native.defer(info.inShape, [dy!, filter!], compute) : backend.makeTensorInfo(info.inShape, "float32", compute());
  });

  const backpropFilter = nativeKernel(ctx, "Conv2DBackpropFilter", (args, backend) => {
    const { x, dy } = args.inputs as Record<string, tf.TensorInfo>;
    const { filterShape, ...attrs } = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
    const info = convInfo(x!.shape, filterShape, attrs, 1);
    const geometry = convGeometry(info);
    const xv = f32(backend, x!), dyv = f32(backend, dy!);
    if (!geometry || !xv || !dyv || !tf.util.arraysEqual(dy!.shape, info.outShape)) return undefined;
    return writeOutput(backend, filterShape, (dw) => addon.conv2dBackpropFilter(xv, info.inShape, filterShapeOf(info), geometry, dyv, dw));
  });

  return [forward("Conv2D"), forward("FusedConv2D"), backpropInput, backpropFilter];
}
