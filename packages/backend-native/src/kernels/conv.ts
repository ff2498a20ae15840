import * as tf from "@tensorflow/tfjs-core";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { recipeOf, throughPadding, type BiasableConv, type Sliceable } from "./deferred.js";
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

/** The tensor a convolution of `x` reads: x's unpadded source when x is a deferred zero padding, with the padding in the geometry. */
function throughDeferredPadding(backend: MathBackendCPU, x: tf.TensorInfo, geometry: number[] | undefined) {
  const padding = geometry && recipeOf(backend, x, "zeroPad2d");
  return padding ? { input: padding.source, geometry: throughPadding(geometry, padding) } : { input: x, geometry };
}

export function conv2dKernels(ctx: KernelContext): tf.KernelConfig[] {
  const { addon } = ctx;

  /**
   * Conv2D and FusedConv2D (bias and relu fused; other activations and PReLU fall back to cpu). Conv2D
   * is deferred on ft-native: an Add of a bias computes it with the bias fused (kernels/deferred.ts).
   */
  const forward = (kernelName: string) =>
    nativeKernel(ctx, kernelName, (args, backend) => {
      const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
      const attrs = args.attrs as unknown as tf.FusedConv2DAttrs;
      const act = attrs.activation ?? "linear";
      if (preluActivationWeights || (act !== "linear" && act !== "relu")) return undefined;
      const info = convInfo(x!.shape, filter!.shape, attrs, attrs.dilations);
      const { input, geometry } = throughDeferredPadding(backend, x!, convGeometry(info));
      const xv = f32(backend, input), wv = f32(backend, filter!);
      const bv = bias ? f32(backend, bias) : null;
      if (!geometry || !xv || !wv || bv === undefined || (bias && !isChannelVector(bias, info.outChannels))) return undefined;
      const id = weightsId(filter!);
      const convolve = (b: Float32Array | null) => {
        const y = allocateOutput(backend, sizeOf(info.outShape));
        addon.conv2d(xv, input.shape, filterShapeOf(info), geometry, wv, b, y, act === "relu", id);
        return y;
      };
      const native = nativeBackend(backend);
      if (kernelName === "FusedConv2D" || !native) return backend.makeTensorInfo(info.outShape, "float32", convolve(bv));
      const biasable: BiasableConv = { kind: "biasableConv", channels: info.outChannels, withBias: convolve };
      return native.defer(info.outShape, [input, filter!], () => convolve(null), biasable);
    });

  /**
   * Deferred on ft-native (computed when first read): tfjs's fused convolution gradient asks for dx
   * even where nothing reads it, such as the network's input image. A slice of it along H and W (the
   * gradient of a padding layer) is computed directly, as the gradient of the unpadded input.
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
    const [n, h, w, c] = info.inShape;
    const sliceable: Sliceable = {
      kind: "sliceable",
      slice: (begin, size) => {
        if (begin.length !== 4 || begin[0] !== 0 || size[0] !== n || begin[3] !== 0 || size[3] !== c) return undefined;
        const [top, left] = [begin[1]!, begin[2]!];
        const g = throughPadding(geometry, { pads: [top, h - top - size[1]!, left, w - left - size[2]!] });
        const dx = allocateOutput(backend, sizeOf(size));
        addon.conv2dBackpropInput(dyv, size, filterShapeOf(info), g, wv, dx, id);
        return dx;
      },
    };
    const native = nativeBackend(backend);
    return native ? native.defer(info.inShape, [dy!, filter!], compute, sliceable) : backend.makeTensorInfo(info.inShape, "float32", compute());
  });

  const backpropFilter = nativeKernel(ctx, "Conv2DBackpropFilter", (args, backend) => {
    const { x, dy } = args.inputs as Record<string, tf.TensorInfo>;
    const { filterShape, ...attrs } = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
    const info = convInfo(x!.shape, filterShape, attrs, 1);
    const { input, geometry } = throughDeferredPadding(backend, x!, convGeometry(info));
    const xv = f32(backend, input), dyv = f32(backend, dy!);
    if (!geometry || !xv || !dyv || !tf.util.arraysEqual(dy!.shape, info.outShape)) return undefined;
    return writeOutput(backend, filterShape, (dw) => addon.conv2dBackpropFilter(xv, input.shape, filterShapeOf(info), geometry, dyv, dw));
  });

  return [forward("Conv2D"), forward("FusedConv2D"), backpropInput, backpropFilter];
}
