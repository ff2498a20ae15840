import * as tf from "@tensorflow/tfjs-core";
import type { PreprocessingMode } from "./spec.js";

const CAFFE_MEAN_BGR = [103.939, 116.779, 123.68];
const DENSENET_MEAN_BGR = [103.94, 116.78, 123.68];
const TORCH_MEAN_RGB = [0.485, 0.456, 0.406];
const TORCH_STD_RGB = [0.229, 0.224, 0.225];

/** What each mode does to an RGB image with values 0–255, in words (shown by `ft models`). */
export const PREPROCESSING_DESCRIPTIONS: Record<PreprocessingMode, string> = {
  caffe: "RGB→BGR, subtract mean [103.939, 116.779, 123.68] (B, G, R), no scaling",
  densenet: "RGB→BGR, subtract mean [103.94, 116.78, 123.68], then ×0.017",
  inception: "x/255 − 0.5, ×2 → [−1, 1]",
  tf: "x/127.5 − 1 → [−1, 1]",
  torch: "x/255, subtract [0.485, 0.456, 0.406], divide by [0.229, 0.224, 0.225] (RGB)",
  none: "raw RGB 0–255 (the seed's CIFAR-10 scripts)",
};

/**
 * Applies a weight family's input normalisation to a batch of RGB images (NHWC, values 0–255).
 * Returns a new float32 tensor; the input is not disposed.
 */
export function preprocess(images: tf.Tensor4D, mode: PreprocessingMode): tf.Tensor4D {
  return tf.tidy(() => {
    const x = tf.cast(images, "float32");
    switch (mode) {
      case "caffe":
        return tf.sub(tf.reverse(x, -1), tf.tensor1d(CAFFE_MEAN_BGR));
      case "densenet":
        return tf.mul(tf.sub(tf.reverse(x, -1), tf.tensor1d(DENSENET_MEAN_BGR)), 0.017);
      case "inception":
        return tf.mul(tf.sub(tf.div(x, 255), 0.5), 2);
      case "tf":
        return tf.sub(tf.div(x, 127.5), 1);
      case "torch":
        return tf.div(tf.sub(tf.div(x, 255), tf.tensor1d(TORCH_MEAN_RGB)), tf.tensor1d(TORCH_STD_RGB));
      case "none":
        return x.clone();
      default:
        throw new Error(`unknown preprocessing mode "${mode as string}"`);
    }
  }) as tf.Tensor4D;
}

/** A preprocessing function bound to one mode, as attached to weight records and exported models. */
export function preprocessor(mode: PreprocessingMode): (images: tf.Tensor4D) => tf.Tensor4D {
  return (images) => preprocess(images, mode);
}
