/**
 * Inception-V4 (Szegedy et al. 2016) as kentsommer/keras-inceptionV4 release 2.0 built it from TF-slim
 * in Keras 1: every layer auto-named (`convolution2d_1 … 149`, `batchnormalization_1 … 149`, `dense_1`),
 * so this builder creates the layers in exactly the original order. 1001 classes (0 = background).
 *
 * Order of this file: building blocks, the generic builder, the weight records.
 */
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import type { BuildOptions, InputShape } from "@ft/core";
import { resolveBuildOptions } from "@ft/core";
import { AutoNames, apply, globalPooling, smallestInputSide, validOut, type Tensor } from "./common.js";

export const INCEPTION_V4_INPUT_SHAPE: InputShape = [299, 299, 3];
/** 1000 ImageNet classes plus the background class 0 of TF-slim. */
export const INCEPTION_V4_CLASSES = 1001;

/**
 * Dropout before the classifier. Porting note: the original passes `dropout_keep_prob=0.8` to Keras'
 * `Dropout`, whose argument is the *drop* rate (drops 80 %); the seed uses 0.2, the intended rate.
 */
export const INCEPTION_V4_DROPOUT = 0.2;

/** Head layer names (auto names: the 15th average pool, first dropout/flatten/dense of the session). */
export const INCEPTION_V4_TOP_LAYERS = ["averagepooling2d_15", "dropout_1", "flatten_1", "dense_1"];
export const INCEPTION_V4_FEATURE_LAYER = "flatten_1";

// ---------------------------------------------------------------------------------------------
// Building blocks

/** Creates the layers in the creation order of kentsommer's `inception_v4.py` (release 2.0), with Keras 1 auto names. */
class InceptionV4Builder {
  readonly names = new AutoNames();

  /** `conv2d_bn`: convolution without bias → BN (eps 1e-3) → ReLU. */
  convBn(x: Tensor, filters: number, rows: number, cols: number, strides = 1, padding: "same" | "valid" = "same"): Tensor {
    const conv = tfl.layers.conv2d({ filters, kernelSize: [rows, cols], strides, padding, useBias: false, name: this.names.next("convolution2d") });
    const bn = tfl.layers.batchNormalization({ axis: -1, epsilon: 1e-3, momentum: 0.99, name: this.names.next("batchnormalization") });
    return apply(tfl.layers.activation({ activation: "relu", name: this.names.next("activation") }), apply(bn, apply(conv, x)));
  }

  maxPool(x: Tensor): Tensor {
    return apply(tfl.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: "valid", name: this.names.next("maxpooling2d") }), x);
  }

  /** 3×3/1 average pool, `same` padding (TensorFlow.js, like Keras, averages over the valid inputs only). */
  avgPoolSame(x: Tensor): Tensor {
    return apply(tfl.layers.averagePooling2d({ poolSize: 3, strides: 1, padding: "same", name: this.names.next("averagepooling2d") }), x);
  }

  concat(inputs: Tensor[]): Tensor {
    return apply(tfl.layers.concatenate({ axis: -1, name: this.names.next("merge") }), inputs);
  }

  /** Stem: 299×299×3 → 35×35×384. */
  stem(input: Tensor): Tensor {
    let net = this.convBn(input, 32, 3, 3, 2, "valid");
    net = this.convBn(net, 32, 3, 3, 1, "valid");
    net = this.convBn(net, 64, 3, 3);
    let b0 = this.maxPool(net);
    let b1 = this.convBn(net, 96, 3, 3, 2, "valid");
    net = this.concat([b0, b1]);

    b0 = this.convBn(net, 64, 1, 1);
    b0 = this.convBn(b0, 96, 3, 3, 1, "valid");
    b1 = this.convBn(net, 64, 1, 1);
    b1 = this.convBn(b1, 64, 1, 7);
    b1 = this.convBn(b1, 64, 7, 1);
    b1 = this.convBn(b1, 96, 3, 3, 1, "valid");
    net = this.concat([b0, b1]);

    b0 = this.convBn(net, 192, 3, 3, 2, "valid");
    b1 = this.maxPool(net);
    return this.concat([b0, b1]);
  }

  /** Inception-A (35×35×384): 1×1 96 | 1×1 64 → 3×3 96 | 1×1 64 → 3×3 96 → 3×3 96 | avg pool → 1×1 96. */
  blockA(x: Tensor): Tensor {
    const b0 = this.convBn(x, 96, 1, 1);
    let b1 = this.convBn(x, 64, 1, 1);
    b1 = this.convBn(b1, 96, 3, 3);
    let b2 = this.convBn(x, 64, 1, 1);
    b2 = this.convBn(b2, 96, 3, 3);
    b2 = this.convBn(b2, 96, 3, 3);
    const b3 = this.convBn(this.avgPoolSame(x), 96, 1, 1);
    return this.concat([b0, b1, b2, b3]);
  }

  /** Reduction-A (35 → 17, 1024 channels): 3×3/2 384 | 1×1 192 → 3×3 224 → 3×3/2 256 | max pool. */
  reductionA(x: Tensor): Tensor {
    const b0 = this.convBn(x, 384, 3, 3, 2, "valid");
    let b1 = this.convBn(x, 192, 1, 1);
    b1 = this.convBn(b1, 224, 3, 3);
    b1 = this.convBn(b1, 256, 3, 3, 2, "valid");
    const b2 = this.maxPool(x);
    return this.concat([b0, b1, b2]);
  }

  /** Inception-B (17×17×1024) with factorised 7×7 convolutions. */
  blockB(x: Tensor): Tensor {
    const b0 = this.convBn(x, 384, 1, 1);
    let b1 = this.convBn(x, 192, 1, 1);
    b1 = this.convBn(b1, 224, 1, 7);
    b1 = this.convBn(b1, 256, 7, 1);
    let b2 = this.convBn(x, 192, 1, 1);
    b2 = this.convBn(b2, 192, 7, 1);
    b2 = this.convBn(b2, 224, 1, 7);
    b2 = this.convBn(b2, 224, 7, 1);
    b2 = this.convBn(b2, 256, 1, 7);
    const b3 = this.convBn(this.avgPoolSame(x), 128, 1, 1);
    return this.concat([b0, b1, b2, b3]);
  }

  /** Reduction-B (17 → 8, 1536 channels): 1×1 192 → 3×3/2 192 | 1×1 256 → 1×7 256 → 7×1 320 → 3×3/2 320 | max pool. */
  reductionB(x: Tensor): Tensor {
    let b0 = this.convBn(x, 192, 1, 1);
    b0 = this.convBn(b0, 192, 3, 3, 2, "valid");
    let b1 = this.convBn(x, 256, 1, 1);
    b1 = this.convBn(b1, 256, 1, 7);
    b1 = this.convBn(b1, 320, 7, 1);
    b1 = this.convBn(b1, 320, 3, 3, 2, "valid");
    const b2 = this.maxPool(x);
    return this.concat([b0, b1, b2]);
  }

  /** Inception-C (8×8×1536): 1×1 256 | 1×1 384 → (1×3 ‖ 3×1) 256 | 1×1 384 → 3×1 448 → 1×3 512 → (1×3 ‖ 3×1) 256 | avg pool → 1×1 256. */
  blockC(x: Tensor): Tensor {
    const b0 = this.convBn(x, 256, 1, 1);
    const b1 = this.convBn(x, 384, 1, 1);
    const b10 = this.convBn(b1, 256, 1, 3);
    const b11 = this.convBn(b1, 256, 3, 1);
    const b1cat = this.concat([b10, b11]);
    let b2 = this.convBn(x, 384, 1, 1);
    b2 = this.convBn(b2, 448, 3, 1);
    b2 = this.convBn(b2, 512, 1, 3);
    const b20 = this.convBn(b2, 256, 1, 3);
    const b21 = this.convBn(b2, 256, 3, 1);
    const b2cat = this.concat([b20, b21]);
    const b3 = this.convBn(this.avgPoolSame(x), 256, 1, 1);
    return this.concat([b0, b1cat, b2cat, b3]);
  }
}

// ---------------------------------------------------------------------------------------------
// The model

/** Feature-map sides after the stem (35), Reduction-A (17) and Reduction-B (8) for an input side. */
export function inceptionV4StageSides(side: number): [number, number, number] {
  let s = validOut(side, 3, 2);
  s = validOut(s, 3, 1);
  s = validOut(s, 3, 2);
  s = validOut(s, 3, 1);
  const s35 = validOut(s, 3, 2);
  const s17 = validOut(s35, 3, 2);
  const s8 = validOut(s17, 3, 2);
  return [s35, s17, s8];
}

const MIN_SIZE = smallestInputSide((side) => inceptionV4StageSides(side)[2] >= 1);

/**
 * Builds Inception-V4: stem, 4×A, Reduction-A, 7×B, Reduction-B, 3×C, then 8×8 average pool →
 * Dropout 0.2 → Flatten → `dense_1` (1001-way softmax). Without the top the output is the last
 * Inception-C concatenation (8×8×1536 at 299), optionally pooled.
 */
export function buildInceptionV4(options: BuildOptions = {}): tfl.LayersModel {
  const { includeTop, classes, pooling, inputShape } = resolveBuildOptions(
    "inception_v4",
    { inputShape: INCEPTION_V4_INPUT_SHAPE, classes: INCEPTION_V4_CLASSES, minSize: MIN_SIZE },
    options,
  );
  const b = new InceptionV4Builder();
  const input = tfl.input({ shape: inputShape, name: b.names.next("input") });
  let x = b.stem(input);
  for (let i = 0; i < 4; i++) x = b.blockA(x);
  x = b.reductionA(x);
  for (let i = 0; i < 7; i++) x = b.blockB(x);
  x = b.reductionB(x);
  for (let i = 0; i < 3; i++) x = b.blockC(x);

  if (!includeTop) return tfl.model({ inputs: input, outputs: globalPooling(x, pooling), name: "inception_v4" });
  // Porting note: 8×8 is the whole final map at 299 px; pooling the whole map is identical there and
  // lets the model (and its seed head) run on smaller inputs.
  const [, h, w] = x.shape;
  x = apply(tfl.layers.averagePooling2d({ poolSize: [h!, w!], strides: [h!, w!], padding: "valid", name: b.names.next("averagepooling2d") }), x);
  x = apply(tfl.layers.dropout({ rate: INCEPTION_V4_DROPOUT, name: b.names.next("dropout") }), x);
  x = apply(tfl.layers.flatten({ name: b.names.next("flatten") }), x);
  x = apply(tfl.layers.dense({ units: classes, activation: "softmax", name: b.names.next("dense") }), x);
  return tfl.model({ inputs: input, outputs: x, name: "inception_v4" });
}

/**
 * Drops TF-slim's background class 0 from 1001-way predictions, leaving the 1000 ImageNet classes in the
 * usual order (so ImageNet labels decode). The probabilities are not renormalised.
 */
export function dropBackgroundClass(predictions: tf.Tensor2D): tf.Tensor2D {
  const classes = predictions.shape[1];
  if (classes !== INCEPTION_V4_CLASSES) throw new Error(`expected ${INCEPTION_V4_CLASSES}-way predictions, got ${classes}`);
  return tf.slice(predictions, [0, 1], [-1, classes - 1]);
}
