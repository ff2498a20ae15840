import * as tf from "@tensorflow/tfjs-core";
import { f32, isChannelVector, nativeKernel, sizeOf, writeOutput, type KernelContext } from "./util.js";

/** BatchMatMul and _FusedMatMul (bias + relu fused; other activations, PReLU and general batch broadcasting fall back to cpu). */
export function matMulKernels(ctx: KernelContext): tf.KernelConfig[] {
  const { addon } = ctx;
  const make = (kernelName: string): tf.KernelConfig =>
    nativeKernel(ctx, kernelName, (args, backend) => {
      const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
      const { transposeA, transposeB, activation } = args.attrs as unknown as tf._FusedMatMulAttrs;
      const act = activation ?? "linear";
      if (preluActivationWeights || (act !== "linear" && act !== "relu")) return undefined;
      const ra = a!.shape.length, rb = b!.shape.length;
      if (ra < 2 || rb < 2) return undefined;
      const outerA = a!.shape.slice(0, -2), outerB = b!.shape.slice(0, -2);
      const batchA = sizeOf(outerA), batchB = sizeOf(outerB);
      // Same batch shape, or one side has a single matrix that every batch entry shares.
      const sameOuter = tf.util.arraysEqual(outerA, outerB);
      if (!sameOuter && batchA !== 1 && batchB !== 1) return undefined;
      const outer = sameOuter ? outerA : tf.backend_util.assertAndGetBroadcastShape(outerA, outerB);
      if (sizeOf(outer) !== Math.max(batchA, batchB)) return undefined;
      const m = transposeA ? a!.shape[ra - 1]! : a!.shape[ra - 2]!;
      const n = transposeB ? b!.shape[rb - 2]! : b!.shape[rb - 1]!;
      const av = f32(backend, a!), bv = f32(backend, b!);
      const biasv = bias ? f32(backend, bias) : null;
      if (!av || !bv || biasv === undefined || (bias && !isChannelVector(bias, n)) || m === 0 || n === 0) return undefined;
      const aShape = [batchA, a!.shape[ra - 2]!, a!.shape[ra - 1]!], bShape = [batchB, b!.shape[rb - 2]!, b!.shape[rb - 1]!];
      if (aShape.includes(0) || bShape.includes(0)) return undefined;
      return writeOutput(backend, [...outer, m, n], (out) => addon.batchMatMul(av, aShape, bv, bShape, transposeA, transposeB, out, biasv, act === "relu"));
    });
  return [make("BatchMatMul"), make("_FusedMatMul")];
}
