import * as tf from "@tensorflow/tfjs-core";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { installNativeGradients } from "../gradients.js";
import { allocateOutput, CENTERED_DOT, f32, type KernelContext } from "./util.js";


/**
 * FusedBatchNorm: (x - mean) * scale / sqrt(variance + epsilon) + offset, parameters broadcast like
 * the cpu kernel; plus FtCenteredDot, used by its gradient (gradients.ts).
 */
export function batchNormKernels(ctx: KernelContext): tf.KernelConfig[] {
  const fallback = ctx.fallback("FusedBatchNorm");
  const kernelFunc: tf.KernelFunc = (args) => {
    installNativeGradients();
    const backend = args.backend as MathBackendCPU;
    const { x, mean, variance, offset, scale } = args.inputs as Record<string, tf.TensorInfo | undefined>;
    const eps = (args.attrs as { varianceEpsilon?: number }).varianceEpsilon ?? 0.001; // the cpu kernel's default
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
  return [
    { kernelName: "FusedBatchNorm", backendName: "", kernelFunc },
    { kernelName: CENTERED_DOT, backendName: "", kernelFunc: centeredDot },
  ];
}

