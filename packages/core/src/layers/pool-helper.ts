import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";

/** Arguments of {@link PoolHelper}. */
export interface PoolHelperArgs {
  name?: string;
  trainable?: boolean;
}

/**
 * Drops the first row and the first column of a channels-last feature map: `y = x[:, 1:, 1:, :]`.
 *
 * The GoogLeNet Keras port places it between `ZeroPadding2D(1)` and a 3×3/2 valid max pool, which
 * together reproduce Caffe's ceil-mode pooling (padding only at the bottom and right):
 * 112 → 56 → 28 → 14 → 7.
 */
export class PoolHelper extends tfl.layers.Layer {
  static className = "PoolHelper";

  constructor(args: PoolHelperArgs = {}) {
    super(args);
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    if (shape.length !== 4) throw new Error(`PoolHelper layer "${this.name}": expected a 4-D NHWC input, got shape [${shape.join(", ")}]`);
    const [batch, height, width, channels] = shape;
    const shrink = (d: number | null | undefined): number | null => (d == null ? null : d - 1);
    return [batch ?? null, shrink(height), shrink(width), channels ?? null];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      return tf.slice(x, [0, 1, 1, 0], [-1, -1, -1, -1]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig() };
  }
}
tf.serialization.registerClass(PoolHelper);
