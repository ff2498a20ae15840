import type * as tf from "@tensorflow/tfjs-core";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { nativeBackend } from "./util.js";

/**
 * Recipes of deferred outputs (NativeBackendCPU.defer) that let a consumer skip materialising them.
 * Keras pads with a layer of its own (VGG's ZeroPadding2D before every 3×3 convolution, ResNet's
 * before conv1): eagerly that is a padded copy of each activation forward and a cropping copy of each
 * input gradient backward, both as large as the activation.
 */

/** A zero padding of an NHWC tensor along H and W: convolutions read `source` and add `pads` to their own padding. */
export interface ZeroPad2d {
  kind: "zeroPad2d";
  source: tf.TensorInfo;
  /** top, bottom, left, right */
  pads: [number, number, number, number];
}

/**
 * A convolution's output before its bias: tfjs adds the bias in a kernel of its own while a tape
 * records (and keeps the convolution's output for the Add's gradient, which only reads its shape).
 * Add computes the convolution with the bias fused instead, and the plain output is never computed.
 */
export interface BiasableConv {
  kind: "biasableConv";
  channels: number;
  /** The convolution's output with `bias` (one value per output channel) added. */
  withBias(bias: Float32Array): Float32Array;
}

/** A value that can compute a slice of itself without computing the rest (a convolution's input gradient). */
export interface Sliceable {
  kind: "sliceable";
  /** The slice's values, or undefined when this slice is not one it can compute directly. */
  slice(begin: number[], size: number[]): Float32Array | undefined;
}

type Recipe = ZeroPad2d | BiasableConv | Sliceable;

/** The recipe of `t` when it is a deferred output of that kind. */
export function recipeOf<K extends Recipe["kind"]>(backend: MathBackendCPU, t: tf.TensorInfo, kind: K): Extract<Recipe, { kind: K }> | undefined {
  const recipe = nativeBackend(backend)?.recipeOf(t.dataId) as Recipe | undefined;
  return recipe?.kind === kind ? (recipe as Extract<Recipe, { kind: K }>) : undefined;
}

/**
 * The addon's convolution geometry (see convGeometry) for the unpadded input of `padding`: the same
 * output, with the padding layer's rows and columns added to the convolution's own.
 */
export function throughPadding(geometry: number[], padding: Pick<ZeroPad2d, "pads">): number[] {
  const [top, bottom, left, right] = padding.pads;
  const g = [...geometry];
  g[4]! += top;
  g[5]! += bottom;
  g[6]! += left;
  g[7]! += right;
  return g;
}
