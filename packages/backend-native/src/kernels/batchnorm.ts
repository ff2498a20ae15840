import * as tf from "@tensorflow/tfjs-core";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { BATCH_NORM_TRAINING, BATCH_NORM_TRAINING_GRAD, CHANNEL_AFFINE, CHANNEL_AFFINE_GRAD, type BatchNormTrainingAttrs } from "@ft/core";
import { installNativeGradients } from "../gradients.js";
import { allocateOutput, CENTERED_DOT, CHANNEL_SUMS, f32, nativeBackend, sizeOf, type KernelContext } from "./util.js";

/** These kernels (but FusedBatchNorm) have no cpu fallback: a non-float32 input is a caller's error. */
function floats(backend: MathBackendCPU, t: tf.TensorInfo, name: string): Float32Array {
  const values = f32(backend, t);
  if (!values) throw new Error(`ft-native BatchNorm/Scale kernel: ${name} must be float32, got ${t.dtype}`);
  return values;
}

/** The per-channel gradients of a BatchNorm/Scale gradient kernel as outputs. */
function parameterGradients(backend: MathBackendCPU, dScale: Float32Array, dOffset: Float32Array): tf.TensorInfo[] {
  return [dScale, dOffset].map((values) => backend.makeTensorInfo([values.length], "float32", values));
}

/**
 * FusedBatchNorm: (x - mean) * scale / sqrt(variance + epsilon) + offset, parameters broadcast like
 * the cpu kernel; FtCenteredDot, used by its gradient (gradients.ts); and @ft/core's training-mode
 * BatchNorm, its per-channel affine map (Caffe's Scale) and their gradients, each one addon call.
 */
export function batchNormKernels(ctx: KernelContext): tf.KernelConfig[] {
  const fallback = ctx.fallback("FusedBatchNorm");
  const kernelFunc: tf.KernelFunc = (args) => {
    installNativeGradients();
    const backend = args.backend as MathBackendCPU;
    const { x, mean, variance, offset, scale } = args.inputs as Record<string, tf.TensorInfo | undefined>;
    const eps = (args.attrs as unknown as Partial<tf.FusedBatchNormAttrs>).varianceEpsilon ?? 0.001; // the cpu kernel's default
    const xv = f32(backend, x!), mv = f32(backend, mean!), vv = f32(backend, variance!);
    const ov = offset ? f32(backend, offset) : null, sv = scale ? f32(backend, scale) : null;
    if (!xv || !mv || !vv || ov === undefined || sv === undefined || xv.length === 0 || mv.length === 0 || vv.length === 0 ||
      ov?.length === 0 || sv?.length === 0) {
      return fallback(args);
    }
    const out = allocateOutput(backend, xv.length);
    ctx.addon.batchNorm(xv, mv, vv, ov, sv, eps, out);
    return backend.makeTensorInfo(x!.shape, "float32", out);
  };
  const centeredDot: tf.KernelFunc = (args) => {
    const backend = args.backend as MathBackendCPU;
    const { x, mean, dy } = args.inputs as Record<string, tf.TensorInfo>;
    const out = new Float32Array(mean!.shape[0]!);
    ctx.addon.centeredDot(f32(backend, x!)!, f32(backend, mean!)!, f32(backend, dy!)!, out);
    return backend.makeTensorInfo(mean!.shape, "float32", out);
  };
  const training: tf.KernelFunc = (args) => {
    const backend = args.backend as MathBackendCPU;
    const { x, scale, offset } = args.inputs as Record<string, tf.TensorInfo>;
    const channels = scale!.shape[0]!;
    const y = allocateOutput(backend, sizeOf(x!.shape)), mean = new Float32Array(channels), variance = new Float32Array(channels);
    ctx.addon.batchNormTraining(floats(backend, x!, "x"), channels, floats(backend, scale!, "scale"), floats(backend, offset!, "offset"),
      (args.attrs as unknown as BatchNormTrainingAttrs).varianceEpsilon, y, mean, variance);
    return [backend.makeTensorInfo(x!.shape, "float32", y), backend.makeTensorInfo([channels], "float32", mean),
      backend.makeTensorInfo([channels], "float32", variance)];
  };
  const trainingGrad: tf.KernelFunc = (args) => {
    const backend = args.backend as MathBackendCPU;
    const { dy, x, mean, variance, scale, dMean, dVariance } = args.inputs as Record<string, tf.TensorInfo>;
    const channels = mean!.shape[0]!;
    const dx = allocateOutput(backend, sizeOf(x!.shape)), dScale = new Float32Array(channels), dOffset = new Float32Array(channels);
    // dx summed per channel on the way, for Sum to find: the bias gradient of the convolution before.
    const native = nativeBackend(backend);
    const dxSums = native ? native.allocate(channels) : null;
    ctx.addon.batchNormTrainingGrad(floats(backend, dy!, "dy"), floats(backend, x!, "x"), floats(backend, mean!, "mean"),
      floats(backend, variance!, "variance"), floats(backend, scale!, "scale"), floats(backend, dMean!, "dMean"),
      floats(backend, dVariance!, "dVariance"), (args.attrs as unknown as BatchNormTrainingAttrs).varianceEpsilon,
      dx, dScale, dOffset, dxSums);
    const dxInfo = backend.makeTensorInfo(x!.shape, "float32", dx);
    if (dxSums) native!.attach(dxInfo.dataId, CHANNEL_SUMS, dxSums);
    return [dxInfo, ...parameterGradients(backend, dScale, dOffset)];
  };
  const affine: tf.KernelFunc = (args) => {
    const backend = args.backend as MathBackendCPU;
    const { x, scale, offset } = args.inputs as Record<string, tf.TensorInfo>;
    const y = allocateOutput(backend, sizeOf(x!.shape));
    ctx.addon.channelAffine(floats(backend, x!, "x"), floats(backend, scale!, "scale"), floats(backend, offset!, "offset"), y);
    return backend.makeTensorInfo(x!.shape, "float32", y);
  };
  const affineGrad: tf.KernelFunc = (args) => {
    const backend = args.backend as MathBackendCPU;
    const { dy, x, scale } = args.inputs as Record<string, tf.TensorInfo>;
    const channels = scale!.shape[0]!;
    const dx = allocateOutput(backend, sizeOf(x!.shape)), dScale = new Float32Array(channels), dOffset = new Float32Array(channels);
    ctx.addon.channelAffineGrad(floats(backend, dy!, "dy"), floats(backend, x!, "x"), floats(backend, scale!, "scale"), dx, dScale, dOffset);
    return [backend.makeTensorInfo(x!.shape, "float32", dx), ...parameterGradients(backend, dScale, dOffset)];
  };
  return [
    { kernelName: "FusedBatchNorm", backendName: "", kernelFunc },
    { kernelName: CENTERED_DOT, backendName: "", kernelFunc: centeredDot },
    { kernelName: BATCH_NORM_TRAINING, backendName: "", kernelFunc: training },
    { kernelName: BATCH_NORM_TRAINING_GRAD, backendName: "", kernelFunc: trainingGrad },
    { kernelName: CHANNEL_AFFINE, backendName: "", kernelFunc: affine },
    { kernelName: CHANNEL_AFFINE_GRAD, backendName: "", kernelFunc: affineGrad },
  ];
}

