import * as tf from "@tensorflow/tfjs-core";
import { installNativeGradients } from "../gradients.js";
import { recipeOf, type ZeroPad2d } from "./deferred.js";
import { allocateOutput, CHANNEL_SUMS, f32, isChannelVector, nativeBackend, nativeKernel, RELU_GRAD, sizeOf, SQUARE_GRAD, writeOutput, type KernelContext } from "./util.js";

/** ft-native-only kernels (inputs a = dy, b = x) used by the gradients in gradients.ts; no cpu kernel backs them. */
const GRADIENT_KERNELS = new Set([RELU_GRAD, SQUARE_GRAD]);
const MAX_RANK = 8;

function padShape(shape: number[], rank: number): number[] {
  return [...Array<number>(rank - shape.length).fill(1), ...shape];
}

/**
 * Broadcasting float32 binary ops, float32 unary ops, Sum/Mean over a contiguous block of axes
 * (N,H,W of an NHWC tensor, or H,W, or the last axes), Tile, constant padding and strided slices. Other dtypes, empty tensors and
 * non-contiguous reductions fall back to the cpu kernels.
 */
export function elementwiseKernels(ctx: KernelContext): tf.KernelConfig[] {
  const { addon } = ctx;
  const configs: tf.KernelConfig[] = [];

  // The op codes come from the addon, by the kernel each implements.
  for (const [kernelName, op] of Object.entries(addon.binaryOps)) {
    const onlyFloats: tf.KernelFunc = () => {
      throw new Error(`${kernelName} takes two non-empty float32 tensors`);
    };
    configs.push(nativeKernel(ctx, kernelName, (args, backend) => {
      const { a, b } = args.inputs as Record<string, tf.TensorInfo>;
      const conv = kernelName === "Add" ? recipeOf(backend, a!, "biasableConv") : undefined; // before reading a, which would compute it
      if (conv && b!.dtype === "float32" && isChannelVector(b!, conv.channels)) {
        const bias = f32(backend, b!);
        if (bias) return backend.makeTensorInfo(a!.shape, "float32", conv.withBias(bias));
      }
      const av = f32(backend, a!), bv = f32(backend, b!);
      if (!av || !bv || av.length === 0 || bv.length === 0) return undefined;
      const outShape = tf.backend_util.assertAndGetBroadcastShape(a!.shape, b!.shape);
      const rank = Math.max(outShape.length, 1);
      if (rank > MAX_RANK) return undefined;
      const os = padShape(outShape, rank);
      return writeOutput(backend, outShape, (out) => addon.binary(op, av, padShape(a!.shape, rank), bv, padShape(b!.shape, rank), out, os));
    }, GRADIENT_KERNELS.has(kernelName) ? onlyFloats : undefined));
  }

  for (const [kernelName, op] of Object.entries(addon.unaryOps)) {
    configs.push(nativeKernel(ctx, kernelName, (args, backend) => {
      if (kernelName === "Relu" || kernelName === "Square") installNativeGradients();
      const x = args.inputs.x as tf.TensorInfo;
      const xv = f32(backend, x);
      const alpha = kernelName === "Step" ? ((args.attrs as unknown as Partial<tf.StepAttrs>).alpha ?? 0) : 0;
      return xv && writeOutput(backend, x.shape, (out) => addon.unary(op, xv, out, alpha));
    }));
  }

  for (const kernelName of ["Sum", "Mean"]) {
    configs.push(nativeKernel(ctx, kernelName, (args, backend) => {
      if (kernelName === "Mean") installNativeGradients();
      const x = args.inputs.x as tf.TensorInfo;
      const { axis, keepDims } = args.attrs as unknown as tf.SumAttrs;
      const xv = f32(backend, x);
      if (!xv || xv.length === 0) return undefined;
      const axes = [...new Set(tf.util.parseAxisParam(axis, x.shape))].sort((p, q) => p - q);
      if (axes.length === 0 || axes.some((v, i) => i > 0 && v !== axes[i - 1]! + 1)) return undefined;
      const first = axes[0]!, last = axes[axes.length - 1]!;
      const outer = sizeOf(x.shape.slice(0, first)), length = sizeOf(x.shape.slice(first, last + 1)), inner = sizeOf(x.shape.slice(last + 1));
      const outShape = keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
      const channelSums = kernelName === "Sum" && outer === 1 && last === x.shape.length - 2
        ? nativeBackend(backend)?.attached(x.dataId, CHANNEL_SUMS) : undefined;
      return writeOutput(backend, outShape, (out) => {
        if (channelSums?.length === inner) out.set(channelSums);
        else addon.reduce(xv, [outer, length, inner], out, kernelName === "Mean");
      });
    }));
  }

  // tfjs's cpu Softmax calls the cpu kernels' broadcasting sub and div directly (~4 µs per element:
  // 30 ms for ResNet's [8, 1000] logits); rows over the last axis, natively.
  configs.push(nativeKernel(ctx, "Softmax", (args, backend) => {
    const logits = args.inputs.logits as tf.TensorInfo;
    const { dim } = args.attrs as unknown as tf.SoftmaxAttrs;
    const xv = f32(backend, logits);
    const rank = logits.shape.length;
    if (!xv || xv.length === 0 || (dim !== -1 && dim !== rank - 1)) return undefined;
    const length = logits.shape[rank - 1]!;
    return writeOutput(backend, logits.shape, (out) => addon.softmax(xv, [xv.length / length, length], out));
  }));

  configs.push(nativeKernel(ctx, "Concat", (args, backend) => {
    const inputs = args.inputs as unknown as tf.TensorInfo[];
    const { axis } = args.attrs as unknown as tf.ConcatAttrs;
    if (!Array.isArray(inputs) || inputs.length < 2 || inputs.some((t) => sizeOf(t.shape) === 0)) return undefined;
    const values = inputs.map((t) => f32(backend, t));
    if (values.some((v) => !v)) return undefined;
    const $axis = tf.util.parseAxisParam(axis, inputs[0]!.shape)[0]!;
    const outShape = tf.backend_util.computeOutShape(inputs.map((t) => t.shape), $axis);
    const outer = sizeOf(outShape.slice(0, $axis));
    return writeOutput(backend, outShape, (out) => addon.concat(values as Float32Array[], inputs.map((t) => sizeOf(t.shape.slice($axis))), outer, out));
  }));

  configs.push(nativeKernel(ctx, "Tile", (args, backend) => {
    const x = args.inputs.x as tf.TensorInfo;
    const { reps } = args.attrs as unknown as tf.TileAttrs;
    const xv = f32(backend, x);
    if (!xv || xv.length === 0 || x.shape.length < 1 || x.shape.length > MAX_RANK || reps.length !== x.shape.length || reps.some((r) => r < 1)) {
      return undefined;
    }
    return writeOutput(backend, x.shape.map((d, i) => d * reps[i]!), (out) => addon.tile(xv, x.shape, reps, out));
  }));

  configs.push(nativeKernel(ctx, "PadV2", (args, backend) => {
    const x = args.inputs.x as tf.TensorInfo;
    const { paddings, constantValue } = args.attrs as unknown as tf.PadV2Attrs;
    const xv = f32(backend, x);
    if (!xv || xv.length === 0 || x.shape.length < 1 || x.shape.length > MAX_RANK || paddings.length !== x.shape.length) return undefined;
    const outShape = x.shape.map((d, i) => paddings[i]![0] + d + paddings[i]![1]);
    const pad = (out: Float32Array) => addon.pad(xv, x.shape, paddings.map((p) => p[0]), paddings.map((p) => p[1]), constantValue, out);
    const native = nativeBackend(backend);
    const spatialOnly = x.shape.length === 4 && constantValue === 0 && [0, 3].every((axis) => paddings[axis]![0] === 0 && paddings[axis]![1] === 0);
    if (!native || !spatialOnly) return writeOutput(backend, outShape, pad);
    // Deferred: a convolution reading it folds the padding into its own (kernels/deferred.ts).
    const recipe: ZeroPad2d = { kind: "zeroPad2d", source: x, pads: [paddings[1]![0], paddings[1]![1], paddings[2]![0], paddings[2]![1]] };
    return native.defer(outShape, [x], () => {
      const out = allocateOutput(backend, sizeOf(outShape));
      pad(out);
      return out;
    }, recipe);
  }));

  // The cpu Slice returns a view when the slice is one contiguous run; otherwise (the gradient of
  // ZeroPadding2D, for one) it walks a TensorBuffer element by element: a minute per VGG-19 step.
  configs.push(nativeKernel(ctx, "Slice", (args, backend) => {
    const x = args.inputs.x as tf.TensorInfo;
    const attrs = args.attrs as unknown as tf.SliceAttrs;
    const [begin, size] = tf.slice_util.parseSliceParams(x as tf.Tensor, attrs.begin, attrs.size);
    tf.slice_util.assertParamsValid(x as tf.Tensor, begin, size);
    const direct = recipeOf(backend, x, "sliceable")?.slice(begin, size); // before reading x, which would compute all of it
    if (direct) return backend.makeTensorInfo(size, "float32", direct);
    const xv = f32(backend, x);
    if (!xv || x.shape.length < 1 || x.shape.length > MAX_RANK) return undefined;
    if (sizeOf(size) === 0 || tf.slice_util.isSliceContinous(x.shape, begin, size)) return undefined;
    return writeOutput(backend, size, (out) => addon.slice(xv, x.shape, begin, size, out));
  }));

  // Concat's gradient. The cpu SplitV walks a TensorBuffer element by element for splits along the
  // channel axis: 85 % of an Inception-V3 training step (DenseNet's concatenations likewise).
  configs.push(nativeKernel(ctx, "SplitV", (args, backend) => {
    const x = args.inputs.x as tf.TensorInfo;
    const { numOrSizeSplits, axis } = args.attrs as unknown as tf.SplitVAttrs;
    const xv = f32(backend, x);
    if (!xv || xv.length === 0 || x.shape.length > MAX_RANK) return undefined;
    const $axis = tf.util.parseAxisParam(axis, x.shape)[0]!;
    const splits = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, $axis);
    if (splits.some((n) => n <= 0)) return undefined;
    let offset = 0;
    return splits.map((n) => {
      const begin = x.shape.map((_, i) => (i === $axis ? offset : 0));
      const size = x.shape.map((d, i) => (i === $axis ? n : d));
      offset += n;
      return writeOutput(backend, size, (out) => addon.slice(xv, x.shape, begin, size, out));
    });
  }));
  return configs;
}
