/**
 * Inception-V3 (Szegedy et al. 2015) in the two layouts of its Keras weight files:
 * - `inception_v3`: deep-learning-models release v0.2 (Keras 1, the seed's Theano file):
 *   conv **with bias** and ReLU → BN; auto names `convolution2d_k`, `batchnormalization_k`;
 *   pool branch 32 filters in mixed0–mixed2; 8×8 average pool → Flatten → `predictions`.
 * - `inception_v3.keras`: release v0.5 / Keras applications (Keras 2): conv without bias → BN
 *   (scale=False) → ReLU; auto names `conv2d_k`, `batch_normalization_k`; pool branches 32/64/64;
 *   global average pool `avg_pool` → `predictions`.
 *
 * Order of this file: building blocks, the generic builder, the weight records.
 */
import * as tfl from "@tensorflow/tfjs-layers";
import type { BuildOptions, InputShape } from "@ft/core";
import { resolveBuildOptions } from "@ft/core";
import { AutoNames, apply, globalPooling, smallestInputSide, validOut, type Tensor } from "./common.js";

export const INCEPTION_V3_INPUT_SHAPE: InputShape = [299, 299, 3];
export const INCEPTION_V3_CLASSES = 1000;

/** What differs between the two Inception-V3 weight layouts. */
export interface InceptionV3Variant {
  /** Registry name. */
  name: "inception_v3" | "inception_v3.keras";
  /** `keras1`: conv+bias+ReLU → BN, Keras 1 names; `keras2`: conv → BN(scale=False) → ReLU, Keras 2 names. */
  block: "keras1" | "keras2";
  /** Filters of the pool branch of mixed0, mixed1, mixed2. */
  mixed012PoolFilters: [number, number, number];
  /** The pool branch of mixed8 (the 17→8 reduction). */
  mixed8Pool: "avg" | "max";
  /** Classifier: Keras 1 `avg_pool` 8×8/8 → `flatten` → `predictions`; Keras 2 global `avg_pool` → `predictions`. */
  head: "pool8x8-flatten" | "global-avg";
}

/**
 * The seed's file. Porting note: the seed's script (copied from deep-learning-models at v0.2) pools
 * mixed8's third branch with a 3×3/2 *average* pool; later Keras versions use a max pool. The
 * branch has no weights, so the file cannot tell; this follows the seed.
 */
export const INCEPTION_V3_KERAS1: InceptionV3Variant = {
  name: "inception_v3",
  block: "keras1",
  mixed012PoolFilters: [32, 32, 32],
  mixed8Pool: "avg",
  head: "pool8x8-flatten",
};

export const INCEPTION_V3_KERAS2: InceptionV3Variant = {
  name: "inception_v3.keras",
  block: "keras2",
  mixed012PoolFilters: [32, 64, 64],
  mixed8Pool: "max",
  head: "global-avg",
};

/** Auto-name prefixes of Keras 1 (class name lower-cased) and Keras 2 (snake case). */
const PREFIXES = {
  keras1: { conv: "convolution2d", bn: "batchnormalization", maxPool: "maxpooling2d", avgPool: "averagepooling2d", concat: "merge", input: "input" },
  keras2: { conv: "conv2d", bn: "batch_normalization", maxPool: "max_pooling2d", avgPool: "average_pooling2d", concat: "concatenate", input: "input" },
} as const;

export function inceptionV3TopLayers(variant: InceptionV3Variant): string[] {
  return variant.head === "pool8x8-flatten" ? ["avg_pool", "flatten", "predictions"] : ["avg_pool", "predictions"];
}

export function inceptionV3FeatureLayer(variant: InceptionV3Variant): string {
  return variant.head === "pool8x8-flatten" ? "flatten" : "avg_pool";
}

// ---------------------------------------------------------------------------------------------
// Building blocks

/** Creates the layers of one Inception-V3 in creation order, with the names of its weight file. */
class InceptionV3Builder {
  private readonly names = new AutoNames();
  private readonly prefix;

  constructor(readonly variant: InceptionV3Variant) {
    this.prefix = PREFIXES[variant.block];
  }

  input(shape: InputShape): Tensor {
    return tfl.input({ shape, name: this.names.next(this.prefix.input) });
  }

  /** `conv2d_bn` of the original script: a `rows`×`cols` convolution with its batch normalisation. */
  convBn(x: Tensor, filters: number, rows: number, cols: number, strides = 1, padding: "same" | "valid" = "same"): Tensor {
    if (this.variant.block === "keras1") {
      const conv = tfl.layers.conv2d({ filters, kernelSize: [rows, cols], strides, padding, activation: "relu", useBias: true, name: this.names.next(this.prefix.conv) });
      return apply(tfl.layers.batchNormalization({ axis: -1, epsilon: 1e-3, momentum: 0.99, name: this.names.next(this.prefix.bn) }), apply(conv, x));
    }
    const conv = tfl.layers.conv2d({ filters, kernelSize: [rows, cols], strides, padding, useBias: false, name: this.names.next(this.prefix.conv) });
    const bn = tfl.layers.batchNormalization({ axis: -1, epsilon: 1e-3, momentum: 0.99, scale: false, name: this.names.next(this.prefix.bn) });
    return apply(tfl.layers.activation({ activation: "relu", name: this.names.next("activation") }), apply(bn, apply(conv, x)));
  }

  maxPool(x: Tensor, size: number, stride: number, padding: "same" | "valid" = "valid"): Tensor {
    return apply(tfl.layers.maxPooling2d({ poolSize: size, strides: stride, padding, name: this.names.next(this.prefix.maxPool) }), x);
  }

  /** Average pooling; with `same` padding TensorFlow.js averages over the valid inputs only, as Keras/Theano `average_exc_pad`. */
  avgPool(x: Tensor, size: number, stride: number, padding: "same" | "valid" = "valid"): Tensor {
    return apply(tfl.layers.averagePooling2d({ poolSize: size, strides: stride, padding, name: this.names.next(this.prefix.avgPool) }), x);
  }

  concat(inputs: Tensor[], name?: string): Tensor {
    return apply(tfl.layers.concatenate({ axis: -1, name: name ?? this.names.next(this.prefix.concat) }), inputs);
  }

  /** mixed0–2 (35×35): 1×1 64 | 1×1 48 → 5×5 64 | 1×1 64 → 3×3 96 → 3×3 96 | avg pool → 1×1 `poolFilters`. */
  blockA(x: Tensor, poolFilters: number, name: string): Tensor {
    const b1 = this.convBn(x, 64, 1, 1);
    let b5 = this.convBn(x, 48, 1, 1);
    b5 = this.convBn(b5, 64, 5, 5);
    let b3 = this.convBn(x, 64, 1, 1);
    b3 = this.convBn(b3, 96, 3, 3);
    b3 = this.convBn(b3, 96, 3, 3);
    const bp = this.convBn(this.avgPool(x, 3, 1, "same"), poolFilters, 1, 1);
    return this.concat([b1, b5, b3, bp], name);
  }

  /** mixed3 (35 → 17): 3×3/2 384 | 1×1 64 → 3×3 96 → 3×3/2 96 | 3×3/2 max pool. */
  reductionA(x: Tensor): Tensor {
    const b3 = this.convBn(x, 384, 3, 3, 2, "valid");
    let bd = this.convBn(x, 64, 1, 1);
    bd = this.convBn(bd, 96, 3, 3);
    bd = this.convBn(bd, 96, 3, 3, 2, "valid");
    const bp = this.maxPool(x, 3, 2);
    return this.concat([b3, bd, bp], "mixed3");
  }

  /** mixed4–7 (17×17) with factorised 7×7 convolutions of width `c7`. */
  blockB(x: Tensor, c7: number, name: string): Tensor {
    const b1 = this.convBn(x, 192, 1, 1);
    let b7 = this.convBn(x, c7, 1, 1);
    b7 = this.convBn(b7, c7, 1, 7);
    b7 = this.convBn(b7, 192, 7, 1);
    let bd = this.convBn(x, c7, 1, 1);
    bd = this.convBn(bd, c7, 7, 1);
    bd = this.convBn(bd, c7, 1, 7);
    bd = this.convBn(bd, c7, 7, 1);
    bd = this.convBn(bd, 192, 1, 7);
    const bp = this.convBn(this.avgPool(x, 3, 1, "same"), 192, 1, 1);
    return this.concat([b1, b7, bd, bp], name);
  }

  /** mixed8 (17 → 8): 1×1 192 → 3×3/2 320 | 1×1 192 → 1×7 → 7×1 → 3×3/2 192 | 3×3/2 pool. */
  reductionB(x: Tensor): Tensor {
    let b3 = this.convBn(x, 192, 1, 1);
    b3 = this.convBn(b3, 320, 3, 3, 2, "valid");
    let b7 = this.convBn(x, 192, 1, 1);
    b7 = this.convBn(b7, 192, 1, 7);
    b7 = this.convBn(b7, 192, 7, 1);
    b7 = this.convBn(b7, 192, 3, 3, 2, "valid");
    const bp = this.variant.mixed8Pool === "avg" ? this.avgPool(x, 3, 2) : this.maxPool(x, 3, 2);
    return this.concat([b3, b7, bp], "mixed8");
  }

  /** mixed9, mixed10 (8×8): 1×1 320 | 1×1 384 → (1×3 ‖ 3×1) `mixed9_i` | 1×1 448 → 3×3 384 → (1×3 ‖ 3×1) | avg pool → 1×1 192. */
  blockC(x: Tensor, i: number): Tensor {
    const b1 = this.convBn(x, 320, 1, 1);
    const b3 = this.convBn(x, 384, 1, 1);
    const b3a = this.convBn(b3, 384, 1, 3);
    const b3b = this.convBn(b3, 384, 3, 1);
    const b3cat = this.concat([b3a, b3b], `mixed9_${i}`);
    let bd = this.convBn(x, 448, 1, 1);
    bd = this.convBn(bd, 384, 3, 3);
    const bda = this.convBn(bd, 384, 1, 3);
    const bdb = this.convBn(bd, 384, 3, 1);
    const bdcat = this.concat([bda, bdb]);
    const bp = this.convBn(this.avgPool(x, 3, 1, "same"), 192, 1, 1);
    return this.concat([b1, b3cat, bdcat, bp], `mixed${9 + i}`);
  }
}

// ---------------------------------------------------------------------------------------------
// The model

/** Feature-map sides at the 35×35, 17×17 and 8×8 stages for an input side. */
export function inceptionV3StageSides(side: number): [number, number, number] {
  let s = validOut(side, 3, 2); // 299 → 149
  s = validOut(s, 3, 1); // 147
  s = validOut(s, 3, 2); // max pool → 73
  s = validOut(s, 3, 1); // 3×3 valid → 71
  const s35 = validOut(s, 3, 2); // max pool → 35
  const s17 = validOut(s35, 3, 2);
  const s8 = validOut(s17, 3, 2);
  return [s35, s17, s8];
}

const MIN_SIZE = smallestInputSide((side) => inceptionV3StageSides(side)[2] >= 1);

/**
 * Builds an Inception-V3 variant: stem, mixed0–2, mixed3, mixed4–7, mixed8, mixed9–10 and the head.
 * Without the top the output is `mixed10` (8×8×2048 at 299), optionally pooled.
 */
export function buildInceptionV3(variant: InceptionV3Variant, options: BuildOptions = {}): tfl.LayersModel {
  const { includeTop, classes, pooling, inputShape } = resolveBuildOptions(
    variant.name,
    {
      inputShape: INCEPTION_V3_INPUT_SHAPE,
      classes: INCEPTION_V3_CLASSES,
      minSize: MIN_SIZE,
    },
    options,
  );
  const b = new InceptionV3Builder(variant);
  const input = b.input(inputShape);

  let x = b.convBn(input, 32, 3, 3, 2, "valid");
  x = b.convBn(x, 32, 3, 3, 1, "valid");
  x = b.convBn(x, 64, 3, 3);
  x = b.maxPool(x, 3, 2);
  x = b.convBn(x, 80, 1, 1, 1, "valid");
  x = b.convBn(x, 192, 3, 3, 1, "valid");
  x = b.maxPool(x, 3, 2);

  for (let i = 0; i < 3; i++) x = b.blockA(x, variant.mixed012PoolFilters[i]!, `mixed${i}`);
  x = b.reductionA(x);
  x = b.blockB(x, 128, "mixed4");
  x = b.blockB(x, 160, "mixed5");
  x = b.blockB(x, 160, "mixed6");
  x = b.blockB(x, 192, "mixed7");
  x = b.reductionB(x);
  for (let i = 0; i < 2; i++) x = b.blockC(x, i);

  if (!includeTop) return tfl.model({ inputs: input, outputs: globalPooling(x, pooling), name: "inception_v3" });
  if (variant.head === "pool8x8-flatten") {
    // Porting note: the original pools 8×8, which is the whole final map at 299 px; pooling the whole
    // map is identical there and lets the model (and its seed head) run on smaller inputs.
    const [, h, w] = x.shape;
    x = apply(tfl.layers.averagePooling2d({ poolSize: [h!, w!], strides: [h!, w!], padding: "valid", name: "avg_pool" }), x);
    x = apply(tfl.layers.flatten({ name: "flatten" }), x);
  } else {
    x = apply(tfl.layers.globalAveragePooling2d({ name: "avg_pool" }), x);
  }
  x = apply(tfl.layers.dense({ units: classes, activation: "softmax", name: "predictions" }), x);
  return tfl.model({ inputs: input, outputs: x, name: "inception_v3" });
}
