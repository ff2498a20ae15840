/**
 * Conversion, decided and done in one place: which conversion each stored array needs (from the
 * ordering, the Keras version and the layer it lands in) and the exact array conversions that turn
 * Keras weights into TensorFlow.js ones (NHWC, cross-correlation). See the porting notes below.
 */
import type * as tfl from "@tensorflow/tfjs-layers";
import type { DimOrdering } from "../spec.js";

/**
 * How one stored array becomes a tfjs weight:
 * - `copy`: as stored;
 * - `theano-kernel`: `(out, in, kh, kw)` Theano kernel → `(kh, kw, in, out)`, both spatial axes flipped;
 * - `flip-kernel`: `(kh, kw, in, out)` kernel trained under Theano by Keras 2: flip both spatial axes;
 * - `channels-first-dense`: Dense kernel after a Flatten of a channels-first `[H, W, C]` map: rows `(c, h, w)` → `(h, w, c)`.
 */
export type WeightConversion =
  | { kind: "copy" }
  | { kind: "theano-kernel" }
  | { kind: "flip-kernel" }
  | { kind: "channels-first-dense"; featureShape: readonly [number, number, number] };

/** Layers that pass a Flatten's output to a Dense unchanged. */
const PASS_THROUGH = new Set(["Dropout", "Activation", "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization"]);

/**
 * The conversion weight `index` of `layer` needs when the file holds `ordering` kernels written by Keras
 * `kerasMajor`, or why it cannot be converted. `flattenedChannelsFirst`: the file's Dense layers after a
 * Flatten of a 2-D map hold channels-first rows (by default: Keras 0/1 th files).
 *
 * Porting notes: BatchNormalization arrays are copied as they are: Keras 1.0.6+ stores the variance
 * under the name `running_std` (files of Keras <= 1.0.5, which held a real std, are not supported).
 * Keras 2 files saved under Theano keep (kh, kw, in, out) kernels that only need the flip; their Dense
 * rows are in channels-last order unless the model's config says channels-first (`flattenedChannelsFirst`).
 */
export function conversionFor(
  layer: tfl.layers.Layer,
  index: number,
  ordering: DimOrdering,
  kerasMajor: 0 | 1 | 2,
  flattenedChannelsFirst = ordering === "th" && kerasMajor < 2,
): { conversion: WeightConversion } | { problem: string } {
  const shape = layer.weights[index]!.shape;
  if (ordering === "th" && shape.length === 4) {
    if (layer.getClassName() !== "Conv2D") return { problem: `cannot convert a Theano kernel for a ${layer.getClassName()} layer (only Conv2D is supported)` };
    return { conversion: { kind: kerasMajor < 2 ? "theano-kernel" : "flip-kernel" } };
  }
  if (flattenedChannelsFirst && shape.length === 2 && layer.getClassName() === "Dense" && index === 0) {
    const feature = flattenedFeatureShape(layer);
    if (feature && feature[0] * feature[1] > 1) return { conversion: { kind: "channels-first-dense", featureShape: feature } };
  }
  return { conversion: { kind: "copy" } };
}

/** Whether a layer's weights differ between th and tf files: conv kernels, and Dense after a flattened 2-D map. */
export function orderingMatters(layer: tfl.layers.Layer): boolean {
  if (layer.weights.some((w) => w.shape.length === 4)) return true;
  if (layer.getClassName() !== "Dense") return false;
  const feature = flattenedFeatureShape(layer);
  return feature !== undefined && feature[0] * feature[1] > 1;
}

/**
 * The `[H, W, C]` map a Dense layer receives through a Flatten (skipping dropout/activation),
 * or `undefined` when its input is not a flattened 2-D feature map.
 */
export function flattenedFeatureShape(layer: tfl.layers.Layer): [number, number, number] | undefined {
  let prev = inboundLayer(layer);
  while (prev && PASS_THROUGH.has(prev.getClassName())) prev = inboundLayer(prev);
  if (!prev || prev.getClassName() !== "Flatten") return undefined;
  const node = prev.inboundNodes[0];
  const shape = (node ? (Array.isArray(node.inputShapes[0]) ? node.inputShapes[0] : node.inputShapes) : undefined) as (number | null)[] | undefined;
  if (!shape || shape.length !== 4 || shape.slice(1).some((d) => d == null)) return undefined;
  return [shape[1]!, shape[2]!, shape[3]!];
}

function inboundLayer(layer: tfl.layers.Layer): tfl.layers.Layer | undefined {
  const node = layer.inboundNodes[0];
  if (!node || node.inboundLayers.length !== 1) return undefined;
  return node.inboundLayers[0];
}

/** The tfjs shape a stored array of `fileShape` has after `conversion`. */
export function convertedShape(conversion: WeightConversion, fileShape: readonly number[]): number[] {
  if (conversion.kind === "theano-kernel") {
    const [o, c, kh, kw] = fileShape;
    return [kh!, kw!, c!, o!];
  }
  return [...fileShape];
}

/** The stored shape that converts to the tfjs shape `modelShape` (inverse of `convertedShape`). */
export function fileShapeFor(conversion: WeightConversion, modelShape: readonly number[]): number[] {
  if (conversion.kind === "theano-kernel") {
    const [kh, kw, c, o] = modelShape;
    return [o!, c!, kh!, kw!];
  }
  return [...modelShape];
}

/**
 * Converts rows `[start, end)` (axis 0 of the stored array, given in `src`) into their places in
 * `out`, the whole converted array. Converting row blocks lets large arrays stream through without a
 * second full-size copy.
 */
export function convertRows(conversion: WeightConversion, fileShape: readonly number[], src: Float32Array, start: number, end: number, out: Float32Array): void {
  const rowSize = fileShape.slice(1).reduce((a, b) => a * b, 1);
  if (src.length !== (end - start) * rowSize) throw new Error(`convertRows: got ${src.length} values for rows ${start}..${end} of ${fmt(fileShape)}`);
  switch (conversion.kind) {
    case "copy":
      out.set(src, start * rowSize);
      return;
    case "theano-kernel": {
      // W_tf[i, j, c, o] = W_th[o, c, kh-1-i, kw-1-j]
      const [O, C, KH, KW] = fileShape as [number, number, number, number];
      for (let o = start; o < end; o++) {
        const rowBase = (o - start) * rowSize;
        for (let c = 0; c < C; c++) {
          for (let i = 0; i < KH; i++) {
            const srcRow = rowBase + (c * KH + (KH - 1 - i)) * KW;
            for (let j = 0; j < KW; j++) out[((i * KW + j) * C + c) * O + o] = src[srcRow + (KW - 1 - j)]!;
          }
        }
      }
      return;
    }
    case "flip-kernel": {
      // W[i, j, c, o] = W_stored[kh-1-i, kw-1-j, c, o]; rows are i (the first spatial axis)
      const [KH, KW] = fileShape as [number, number, number, number];
      const inner = rowSize / KW;
      for (let i = start; i < end; i++) {
        for (let j = 0; j < KW; j++) {
          const from = ((i - start) * KW + j) * inner;
          out.set(src.subarray(from, from + inner), ((KH - 1 - i) * KW + (KW - 1 - j)) * inner);
        }
      }
      return;
    }
    case "channels-first-dense": {
      // W_nhwc[(h*W + w)*C + c, :] = W_nchw[c*H*W + h*W + w, :]
      const [H, W, C] = conversion.featureShape;
      const spatial = H * W;
      for (let r = start; r < end; r++) {
        const c = Math.floor(r / spatial);
        const hw = r - c * spatial;
        const from = (r - start) * rowSize;
        out.set(src.subarray(from, from + rowSize), (hw * C + c) * rowSize);
      }
      return;
    }
  }
}

/** Converts a whole stored array. */
export function convertWeight(conversion: WeightConversion, data: Float32Array, fileShape: readonly number[]): Float32Array {
  checkConversion(conversion, fileShape);
  const out = new Float32Array(data.length);
  convertRows(conversion, fileShape, data, 0, fileShape.length ? fileShape[0]! : 1, out);
  return out;
}

/** Throws when `conversion` cannot apply to an array of `fileShape`. */
export function checkConversion(conversion: WeightConversion, fileShape: readonly number[]): void {
  if ((conversion.kind === "theano-kernel" || conversion.kind === "flip-kernel") && fileShape.length !== 4) {
    throw new Error(`${conversion.kind} needs a 4-D kernel, got ${fmt(fileShape)}`);
  }
  if (conversion.kind === "channels-first-dense") {
    const [H, W, C] = conversion.featureShape;
    if (fileShape.length !== 2 || fileShape[0] !== H * W * C) {
      throw new Error(`channels-first-dense: kernel ${fmt(fileShape)} does not follow a flattened ${H}×${W}×${C} map`);
    }
  }
}

/** Theano kernel `(out, in, kh, kw)` → tfjs `(kh, kw, in, out)` with both spatial axes flipped. */
export function theanoKernelToTf(data: Float32Array, shape: readonly number[]): Float32Array {
  return convertWeight({ kind: "theano-kernel" }, data, shape);
}

/** Dense kernel after a channels-first Flatten of `[H, W, C]`: rows `(c, h, w)` → `(h, w, c)`. */
export function channelsFirstDenseToNhwc(data: Float32Array, shape: readonly number[], featureShape: readonly [number, number, number]): Float32Array {
  return convertWeight({ kind: "channels-first-dense", featureShape }, data, shape);
}

export function fmt(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
