import * as tf from "@tensorflow/tfjs-core";
import { assertWasmBackend, heapView, runWasmKernel, withShape, type WasmBackend } from "./wasm-heap.js";

type Stock = () => tf.KernelConfig | undefined;

/** A reduction seen as [outer, reduced, inner]: the reduced axes form one block that is not innermost. */
export interface LeadingBlockReduction {
  outer: number;
  reduced: number;
  inner: number;
  /** The reduced axes, sorted. */
  axes: number[];
}

/**
 * The reduction as [outer, reduced, inner] when the reduced axes are one contiguous block that is
 * not the innermost; undefined otherwise.
 */
export function leadingBlockReduction(shape: readonly number[], axis: number | number[]): LeadingBlockReduction | undefined {
  const axes = [...new Set(tf.util.parseAxisParam(axis, [...shape]))].sort((a, b) => a - b);
  if (axes.length === 0) return undefined;
  const first = axes[0]!;
  const last = axes[axes.length - 1]!;
  if (last - first + 1 !== axes.length || last === shape.length - 1) return undefined;
  const size = (from: number, to: number) => shape.slice(from, to).reduce((a, b) => a * b, 1);
  return { outer: size(0, first), reduced: size(first, last + 1), inner: size(last + 1, shape.length), axes };
}

/**
 * Mean over the block, `[outer, inner]` on the heap: wasm's AvgPool (XNNPACK, SIMD over the
 * channels) with one window of `reduced` rows over `x` viewed as [outer, reduced, 1, inner].
 */
export function meanOverBlock(backend: WasmBackend, x: tf.TensorInfo, plan: LeadingBlockReduction): tf.TensorInfo {
  const { outer, reduced, inner } = plan;
  return runWasmKernel(
    backend,
    "AvgPool",
    { x: withShape(x, [outer, reduced, 1, inner]) },
    { filterSize: [reduced, 1], strides: [reduced, 1], pad: "valid", dimRoundingMode: undefined } as unknown as tf.NamedAttrMap,
  );
}

function reducedShape(shape: readonly number[], plan: LeadingBlockReduction, keepDims: boolean): number[] {
  return shape.map((d, i) => (plan.axes.includes(i) ? 1 : d)).filter((_, i) => keepDims || !plan.axes.includes(i));
}

/**
 * `Sum` (`asMean` false) or `Mean` for wasm. tfjs-backend-wasm first transposes the reduced axes
 * innermost, which for the batch+spatial reductions of training ([N, H, W, C] over N, H, W: the
 * BatchNorm statistics and the bias and BatchNorm gradients) costs a full transpose and a scalar
 * loop (~5 ns per element); here such a reduction is one AvgPool pass (~0.4 ns per element).
 * Other reductions, dtypes and single-element blocks go to the stock kernel.
 */
export function makeLeadingReduction(kernelName: "Sum" | "Mean", stock: Stock): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { x } = inputs as { x: tf.TensorInfo };
    const { axis, keepDims } = attrs as unknown as tf.SumAttrs;
    const plan = x.dtype === "float32" ? leadingBlockReduction(x.shape, axis) : undefined;
    if (!plan || plan.reduced === 1 || tf.util.sizeFromShape(x.shape) === 0) {
      const kernel = stock();
      if (!kernel) throw new Error(`wasm ${kernelName}: the stock kernel is missing`);
      return kernel.kernelFunc(args);
    }
    assertWasmBackend(backend);
    const out = meanOverBlock(backend, x, plan);
    if (kernelName === "Sum") {
      const values = heapView(backend, out);
      for (let i = 0; i < values.length; i++) values[i] *= plan.reduced;
    }
    return withShape(out, reducedShape(x.shape, plan, keepDims));
  };
}
