import * as tf from "@tensorflow/tfjs-core";
import { allocateOutput, f32, nativeBackend, nativeKernel, sizeOf, writeOutput, type KernelContext } from "./util.js";

/** What the pools and their gradients share of tfjs's attributes (AvgPoolGrad has no dimRoundingMode). */
type PoolAttrs = Pick<tf.MaxPoolAttrs, "filterSize" | "strides" | "pad"> & Partial<Pick<tf.MaxPoolAttrs, "dimRoundingMode">>;

/** The addon's pool geometry, or undefined for what it does not cover (dilation, empty tensors). */
function poolGeometry(xShape: number[], attrs: PoolAttrs): { info: tf.backend_util.Conv2DInfo; geometry: number[] } | undefined {
  if (xShape.length !== 4) return undefined;
  const info = tf.backend_util.computePool2DInfo(xShape as [number, number, number, number], attrs.filterSize, attrs.strides, 1,
    attrs.pad, attrs.dimRoundingMode);
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) return undefined;
  if ([...info.inShape, ...info.outShape].some((d) => !(d >= 1))) return undefined;
  const p = info.padInfo;
  if (p.top < 0 || p.left < 0) return undefined;
  return { info, geometry: [info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth, p.top, p.left, info.outHeight, info.outWidth] };
}

/** The int32 view of a pooled float32 scratch array. */
function asInt32(scratch: Float32Array): Int32Array {
  return new Int32Array(scratch.buffer, scratch.byteOffset, scratch.length);
}

/** Side-value key for the argmax that MaxPool records for its gradient, per input shape and geometry. */
function argmaxKey(xShape: number[], geometry: number[]): string {
  return `argmax:${xShape.join(",")}:${geometry.join(",")}`;
}

/**
 * MaxPool, AvgPool, MaxPoolGrad, AvgPoolGrad (NHWC), matching the cpu kernels' tie and border rules.
 * While a gradient tape records, MaxPool on ft-native keeps each output's argmax with its output, so
 * MaxPoolGrad scatters dy instead of searching every window of x again (3x less memory traffic).
 */
export function poolKernels(ctx: KernelContext): tf.KernelConfig[] {
  const { addon } = ctx;
  const forward = (kernelName: "MaxPool" | "AvgPool") =>
    nativeKernel(ctx, kernelName, (args, backend) => {
      const x = args.inputs.x as tf.TensorInfo;
      const g = poolGeometry(x.shape, args.attrs as unknown as PoolAttrs);
      const xv = f32(backend, x);
      if (!g || !xv) return undefined;
      if (kernelName === "AvgPool") return writeOutput(backend, g.info.outShape, (y) => addon.avgPool(xv, g.info.inShape, g.geometry, y));
      const y = allocateOutput(backend, sizeOf(g.info.outShape));
      const native = nativeBackend(backend);
      // Pooled like the outputs: a fresh 6 MB array per ResNet-50 step cost ~14 ms at 224 px.
      const scratch = native && tf.engine().state.gradientDepth > 0 && xv.length < 2 ** 31 ? native.allocate(y.length) : undefined;
      addon.maxPool(xv, g.info.inShape, g.geometry, y, scratch && asInt32(scratch));
      const out = backend.makeTensorInfo(g.info.outShape, "float32", y);
      if (scratch) native!.attach(out.dataId, argmaxKey(g.info.inShape, g.geometry), scratch);
      return out;
    });
  const maxPoolGrad = nativeKernel(ctx, "MaxPoolGrad", (args, backend) => {
    const { dy, input, output } = args.inputs as Record<string, tf.TensorInfo>;
    const g = poolGeometry(input!.shape, args.attrs as unknown as PoolAttrs);
    const dyv = f32(backend, dy!), xv = f32(backend, input!);
    if (!g || !dyv || !xv || !tf.util.arraysEqual(dy!.shape, g.info.outShape)) return undefined;
    const argmax = output && nativeBackend(backend)?.attached(output.dataId, argmaxKey(g.info.inShape, g.geometry));
    return writeOutput(backend, input!.shape, (dx) => {
      if (argmax) addon.maxPoolGradFromArgmax(dyv, g.info.inShape, g.geometry, asInt32(argmax), dx);
      else addon.maxPoolGrad(dyv, g.info.inShape, g.geometry, xv, dx);
    });
  });
  const avgPoolGrad = nativeKernel(ctx, "AvgPoolGrad", (args, backend) => {
    const { dy, input } = args.inputs as Record<string, tf.TensorInfo>;
    const g = poolGeometry(input!.shape, args.attrs as unknown as PoolAttrs);
    const dyv = f32(backend, dy!);
    if (!g || !dyv || !tf.util.arraysEqual(dy!.shape, g.info.outShape)) return undefined;
    return writeOutput(backend, input!.shape, (dx) => addon.avgPoolGrad(dyv, g.info.inShape, g.geometry, dx));
  });
  return [forward("MaxPool"), forward("AvgPool"), maxPoolGrad, avgPoolGrad];
}
