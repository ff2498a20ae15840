import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";

/** Arguments of {@link LRN}; the names and defaults are those of the GoogLeNet Keras port (Caffe's LRN). */
export interface LRNArgs {
  /** Layer name; GoogLeNet uses `pool1/norm1` and `conv2/norm2`. */
  name?: string;
  /** Scaling numerator, divided by `n` before use as in Caffe (default 1e-4). */
  alpha?: number;
  /** Additive constant of the denominator (default 1). */
  k?: number;
  /** Exponent of the denominator (default 0.75). */
  beta?: number;
  /** Size of the channel window, odd: the channel itself and `(n - 1) / 2` on each side (default 5). */
  n?: number;
  trainable?: boolean;
}

/**
 * Local response normalisation across channels (channels-last), as in Caffe's `LRN` layer and the
 * GoogLeNet Keras port:
 * `y = x / (k + (alpha / n) · Σ_{c' = c - ⌊n/2⌋ … c + ⌊n/2⌋} x[c']²) ^ beta`, channels outside the
 * tensor counting as zero. With the defaults this is TensorFlow's `local_response_normalization`
 * with depth_radius 2, bias 1, alpha 2e-5, beta 0.75.
 *
 * Built from elementwise ops and slices rather than `tf.localResponseNormalization`, because the
 * wasm backend has no LRN kernel; this way it runs and differentiates on every backend.
 */
export class LRN extends tfl.layers.Layer {
  static className = "LRN";
  readonly alpha: number;
  readonly k: number;
  readonly beta: number;
  readonly n: number;

  constructor(args: LRNArgs = {}) {
    super(args);
    this.alpha = args.alpha ?? 1e-4;
    this.k = args.k ?? 1;
    this.beta = args.beta ?? 0.75;
    this.n = args.n ?? 5;
    if (!Number.isInteger(this.n) || this.n < 1 || this.n % 2 === 0) {
      throw new Error(`LRN layer "${this.name}": n must be a positive odd integer (got ${this.n})`);
    }
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    return inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      const rank = x.rank;
      const channels = x.shape[rank - 1]!;
      const half = (this.n - 1) / 2;
      const padding = x.shape.map((): [number, number] => [0, 0]);
      padding[rank - 1] = [half, half];
      const squared = tf.pad(tf.square(x), padding);
      const begin = new Array<number>(rank).fill(0);
      const size = [...x.shape.slice(0, rank - 1), channels];
      let windowSum: tf.Tensor | null = null;
      for (let offset = 0; offset < this.n; offset++) {
        begin[rank - 1] = offset;
        const slice = tf.slice(squared, begin, size);
        windowSum = windowSum === null ? slice : tf.add(windowSum, slice);
      }
      const denominator = tf.pow(tf.add(tf.mul(windowSum!, this.alpha / this.n), this.k), this.beta);
      return tf.div(x, denominator);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), alpha: this.alpha, k: this.k, beta: this.beta, n: this.n };
  }
}
tf.serialization.registerClass(LRN);
