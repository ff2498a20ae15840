import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { UsageError } from "../errors.js";
import { batchNormTraining, hasBatchNormTrainingKernel } from "../layers/batch-norm-training.js";
import { markScaled, Scale } from "../layers/scale.js";

/**
 * What BatchNormalization layers do during training steps:
 * - `train`: normalise with batch statistics and update the moving averages, frozen or not
 *   (Keras 1 and tfjs behaviour; the seed's);
 * - `frozen`: every BN layer runs in inference mode (moving statistics, left unchanged); its gamma/beta
 *   still learn when the layer is trainable;
 * - `auto`: Keras ≥ 2.1.3: BN layers that are frozen (`trainable = false`) run in inference mode, the others train.
 */
export type BatchNormPolicy = "train" | "frozen" | "auto";

export const BATCH_NORM_POLICIES: readonly BatchNormPolicy[] = ["train", "frozen", "auto"];

type CallFn = (inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];
interface Patched {
  policy: BatchNormPolicy;
  /**
   * The Scale layer that alone reads this BN's output in `model`, folded into the BN in training mode
   * while `model` runs (another model sharing the layer may read the BN's output itself).
   */
  fold?: { scale: Scale; model: tfl.LayersModel };
}
const patched = new WeakMap<tfl.layers.Layer, Patched>();
/** How many calls of each model (with a fold) are running now. */
const running = new WeakMap<tfl.LayersModel, number>();

/** True for layers that keep moving statistics updated in training mode. */
export function isBatchNorm(layer: tfl.layers.Layer): boolean {
  return layer.getClassName() === "BatchNormalization";
}

/**
 * Applies `policy` to every BatchNormalization layer of `model` (can be called again to change it).
 * Porting note: tfjs ignores `trainable` for BN statistics, so the layer's `call` is wrapped to pass
 * `training: false` when the policy says inference mode. In training mode, on a backend with a fused
 * training-BatchNorm kernel (ft-native), the wrapper normalises with that kernel instead of tfjs-layers'
 * moments + batchNorm: the same values, a fraction of the memory passes; and where the BN's output feeds
 * only a Caffe Scale layer (Caffe-converted DenseNets and ResNets), that layer's affine map is folded into
 * the BN's (scale·gamma, scale·beta + offset): one full-size pass each way instead of two, and one
 * activation less kept for the backward pass.
 * Returns the number of BN layers.
 */
export function applyBatchNormPolicy(model: tfl.LayersModel, policy: BatchNormPolicy): number {
  if (!BATCH_NORM_POLICIES.includes(policy)) throw new UsageError(`unknown BatchNorm policy "${policy}"; choose ${BATCH_NORM_POLICIES.join(", ")}`);
  let count = 0;
  for (const layer of model.layers) {
    if (!isBatchNorm(layer)) continue;
    count++;
    const scale = onlyScaleAfter(model, layer);
    if (scale) trackRunning(model);
    const fold = scale && { scale, model };
    const state = patched.get(layer);
    if (state) {
      state.policy = policy;
      state.fold = fold;
      continue;
    }
    const own: Patched = { policy, fold };
    patched.set(layer, own);
    const target = layer as unknown as { call: CallFn };
    const original = target.call.bind(layer) as CallFn;
    target.call = (inputs, kwargs) => {
      const inference = own.policy === "frozen" || (own.policy === "auto" && !layer.trainable);
      const args = inference && kwargs?.training ? { ...kwargs, training: false } : kwargs;
      const scale = own.fold && running.get(own.fold.model) ? own.fold.scale : undefined;
      const fused = args?.training ? trainWithOneKernel(layer, inputs, scale) : undefined;
      if (fused) return fused;
      // Any training step, in batch-statistics or inference mode, needs the constant affine: tfjs's gradient
      // of batchNorm fails on a missing scale.
      return kwargs?.training ? withConstantAffine(layer, () => original(inputs, args)) : original(inputs, args);
    };
  }
  return count;
}

interface LayerVariable {
  shape: number[];
  read(): tf.Tensor;
  write(value: tf.Tensor): void;
}

interface BatchNormFields {
  axis: number;
  epsilon: number;
  momentum: number;
  gamma: LayerVariable | null;
  beta: LayerVariable | null;
  movingMean: LayerVariable;
  movingVariance: LayerVariable;
}

/**
 * tfjs-layers' BatchNormalization training path (normalise with batch statistics, then move the moving
 * statistics toward them by 1 − momentum) with the normalisation as one kernel. Undefined where that
 * kernel does not apply: another backend, a non-float input, or statistics over an axis other than the last.
 */
function trainWithOneKernel(layer: tfl.layers.Layer, inputs: tf.Tensor | tf.Tensor[], scale: Scale | undefined): tf.Tensor | undefined {
  const x = Array.isArray(inputs) ? (inputs.length === 1 ? inputs[0]! : undefined) : inputs;
  const bn = layer as unknown as BatchNormFields;
  if (!x || x.dtype !== "float32" || (bn.axis !== -1 && bn.axis !== x.rank - 1) || !hasBatchNormTrainingKernel()) return undefined;
  const y = tf.tidy(() => {
    const channels = [x.shape[x.rank - 1]!];
    let gamma = bn.gamma?.read() ?? tf.ones(channels), beta = bn.beta?.read() ?? tf.zeros(channels);
    if (scale) {
      const [s, o] = scale.read();
      [gamma, beta] = [tf.mul(gamma, s), tf.add(tf.mul(beta, s), o)];
    }
    const [y, mean, variance] = batchNormTraining(x, gamma, beta, bn.epsilon);
    for (const [variable, value] of [[bn.movingMean, mean], [bn.movingVariance, variance]] as const) {
      tf.tidy(() => {
        const current = variable.read();
        variable.write(tf.sub(current, tf.mul(tf.sub(current, value), 1 - bn.momentum)));
      });
    }
    return y;
  });
  if (scale) markScaled(y, scale);
  return y;
}

/** Counts the running calls of `model` in `running` (once per model). */
function trackRunning(model: tfl.LayersModel): void {
  if (running.has(model)) return;
  running.set(model, 0);
  const target = model as unknown as { call: CallFn };
  const original = target.call.bind(model) as CallFn;
  target.call = (inputs, kwargs) => {
    running.set(model, running.get(model)! + 1);
    try {
      return original(inputs, kwargs);
    } finally {
      running.set(model, running.get(model)! - 1);
    }
  };
}

/**
 * The Scale layer on the channel axis that is the only reader of `layer`'s output (one call of each, the
 * output not a model output), or undefined.
 */
function onlyScaleAfter(model: tfl.LayersModel, layer: tfl.layers.Layer): Scale | undefined {
  const next = layer.inboundNodes.length === 1 && layer.outboundNodes.length === 1 ? layer.outboundNodes[0]!.outboundLayer : undefined;
  if (!(next instanceof Scale) || next.inboundNodes.length !== 1 || model.outputs.some((o) => o.sourceLayer === layer)) return undefined;
  const shapes = next.inboundNodes[0]!.inputShapes;
  const rank = (Array.isArray(shapes[0]) ? shapes[0] : shapes).length;
  return next.axis === -1 || next.axis === rank - 1 ? next : undefined;
}

/**
 * Porting note: tfjs-layers 4.22 reads gamma and beta unconditionally in its training path, and the
 * gradient of tf.batchNorm fails without a scale, so a BN built with `scale: false` or `center: false`
 * (Keras-applications Inception-V3) throws in a training step, whether it uses batch or moving statistics. For the duration of
 * the call, the missing weight is replaced by the constant it stands for (gamma 1, beta 0); it gets no gradient.
 */
function withConstantAffine<T>(layer: tfl.layers.Layer, call: () => T): T {
  const bn = layer as unknown as BatchNormFields;
  if (bn.gamma && bn.beta) return call();
  const { gamma, beta } = bn;
  const shape = bn.movingMean.shape;
  bn.gamma ??= { read: () => tf.ones(shape) } as LayerVariable;
  bn.beta ??= { read: () => tf.zeros(shape) } as LayerVariable;
  try {
    return call();
  } finally {
    bn.gamma = gamma;
    bn.beta = beta;
  }
}
