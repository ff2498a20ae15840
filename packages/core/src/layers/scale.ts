/**
 * Caffe's `Scale` layer as the Caffe-converted Keras models (ResNet-101/152, DenseNet-121/169/161)
 * use it after every BatchNormalization: a learned per-channel affine map `y = gamma * x + beta`.
 */
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { channelAffine } from "./channel-affine.js";

export interface ScaleArgs {
  /** Channel axis (default -1, the last axis of an NHWC tensor). */
  axis?: number;
  name?: string;
  trainable?: boolean;
  inputShape?: number[];
  batchInputShape?: (number | null)[];
}

/** Tensors that already carry a Scale layer's map (folded into the BatchNorm before it), by that layer. */
const carriesScale = new WeakMap<tf.Tensor, Scale>();

/**
 * Marks `y` as already scaled and shifted by `layer`'s weights, which the caller folded into the
 * computation of `y` (finetune/batchnorm.ts: a training BatchNorm feeding only this layer); `layer`
 * then passes `y` through unchanged.
 */
export function markScaled(y: tf.Tensor, layer: Scale): void {
  carriesScale.set(y, layer);
}

/**
 * Per-channel `y = gamma * x + beta`, weights `[gamma, beta]` of shape `[channels]`
 * (gamma starts at 1, beta at 0). Porting note: the Keras original takes `momentum`, `weights` and
 * initializer arguments it never uses for inference; only `axis` is kept.
 */
export class Scale extends tfl.layers.Layer {
  static className = "Scale";
  readonly axis: number;
  private gamma?: tfl.LayerVariable;
  private beta?: tfl.LayerVariable;

  constructor(args: ScaleArgs = {}) {
    super(args as ConstructorParameters<typeof tfl.layers.Layer>[0]);
    this.axis = args.axis ?? -1;
    this.supportsMasking = true;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    const axis = this.axis < 0 ? shape.length + this.axis : this.axis;
    const channels = shape[axis];
    if (channels == null) throw new Error(`Scale "${this.name}": the channel axis ${this.axis} of input ${JSON.stringify(shape)} must be known`);
    this.gamma = this.addWeight("gamma", [channels], "float32", tfl.initializers.ones());
    this.beta = this.addWeight("beta", [channels], "float32", tfl.initializers.zeros());
    this.built = true;
  }

  /** [gamma, beta] as tensors (built layers only). */
  read(): [tf.Tensor, tf.Tensor] {
    if (!this.gamma || !this.beta) throw new Error(`Scale "${this.name}" is not built`);
    return [this.gamma.read(), this.beta.read()];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    if (carriesScale.get(x) === this) return x;
    return tf.tidy(() => {
      const axis = this.axis < 0 ? x.rank + this.axis : this.axis;
      const broadcast = x.shape.map((d, i) => (i === axis ? d : 1));
      const [gamma, beta] = this.read();
      if (axis === x.rank - 1) return channelAffine(x, gamma, beta);
      return tf.add(tf.mul(x, tf.reshape(gamma, broadcast)), tf.reshape(beta, broadcast));
    });
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    return inputShape;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), axis: this.axis };
  }
}

tf.serialization.registerClass(Scale);
