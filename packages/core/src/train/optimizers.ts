import * as tf from "@tensorflow/tfjs-core";
import { KERAS_ADAM_UPDATE, KERAS_SGD_UPDATE, type KerasAdamUpdateAttrs, type KerasSgdUpdateAttrs } from "../backend/contract.js";
import { UsageError } from "../errors.js";

/**
 * SGD exactly as Keras 1.2.2 `keras.optimizers.SGD` (the seed's optimiser):
 * `lr_t = lr / (1 + decay · iterations)` (iterations = updates done before this one),
 * `v = momentum · v − lr_t · g`, then `p += momentum · v − lr_t · g` (Nesterov) or `p += v`.
 */
export interface SgdConfig {
  kind: "sgd";
  /** Base learning rate (default 1e-3, the seed's). */
  lr: number;
  /** Momentum (default 0.9). */
  momentum: number;
  /** Nesterov momentum (default true). */
  nesterov: boolean;
  /** Keras-1 per-update decay (default 1e-6). */
  decay: number;
}

/** Adam as Keras 1.2.2 (`lr_t = lr · √(1−β2^t) / (1−β1^t)`, ε added to `√v`), with the same Keras-1 decay. */
export interface AdamConfig {
  kind: "adam";
  /** Base learning rate (default 1e-3). */
  lr: number;
  /** Default 0.9. */
  beta1: number;
  /** Default 0.999. */
  beta2: number;
  /** Default 1e-8 (Keras 1). */
  epsilon: number;
  /** Keras-1 per-update decay (default 0). */
  decay: number;
}

export type OptimizerConfig = SgdConfig | AdamConfig;

/** The seed's optimiser: SGD lr 1e-3, momentum 0.9, Nesterov, decay 1e-6. */
export const SEED_SGD: SgdConfig = { kind: "sgd", lr: 1e-3, momentum: 0.9, nesterov: true, decay: 1e-6 };

/** Fills in defaults for a partial optimiser description (`{kind: "adam", lr: 3e-4}`). */
export function resolveOptimizerConfig(partial: Partial<OptimizerConfig> & { kind?: string }): OptimizerConfig {
  const kind = partial.kind ?? "sgd";
  if (kind === "sgd") {
    const p = partial as Partial<SgdConfig>;
    const cfg: SgdConfig = { kind, lr: p.lr ?? SEED_SGD.lr, momentum: p.momentum ?? SEED_SGD.momentum, nesterov: p.nesterov ?? SEED_SGD.nesterov, decay: p.decay ?? SEED_SGD.decay };
    checkNumbers(cfg, ["lr", "momentum", "decay"]);
    return cfg;
  }
  if (kind === "adam") {
    const p = partial as Partial<AdamConfig>;
    const cfg: AdamConfig = { kind, lr: p.lr ?? 1e-3, beta1: p.beta1 ?? 0.9, beta2: p.beta2 ?? 0.999, epsilon: p.epsilon ?? 1e-8, decay: p.decay ?? 0 };
    checkNumbers(cfg, ["lr", "beta1", "beta2", "epsilon", "decay"]);
    return cfg;
  }
  throw new UsageError(`unknown optimizer "${kind}"; choose sgd or adam`);
}

/** Options that must stay below 1 (a momentum or a moving-average rate of 1 never forgets). */
const BELOW_ONE = new Set(["momentum", "beta1", "beta2"]);

function checkNumbers<T extends object>(cfg: T, keys: (keyof T)[]): void {
  for (const k of keys) {
    const v = cfg[k] as unknown as number;
    if (!Number.isFinite(v) || v < 0) throw new UsageError(`optimizer option ${String(k)} must be a non-negative number (got ${v})`);
    if (BELOW_ONE.has(String(k)) && v >= 1) throw new UsageError(`optimizer option ${String(k)} must be below 1 (got ${v})`);
  }
  if ((cfg as { lr?: number }).lr === 0) throw new UsageError("optimizer option lr must be positive: at 0 nothing trains (to keep layers as they are, freeze them)");
}

/** One parameter to update: its stable key (`layer/weight`), the variable, its gradient and its learning-rate multiplier. */
export interface ParamUpdate {
  key: string;
  variable: tf.Variable;
  grad: tf.Tensor;
  /** Multiplies the learning rate for this parameter (discriminative learning rates); 1 = base. */
  lrScale: number;
}

/** Serialisable optimiser state: the update counter and each parameter's slot tensors (momentum, Adam moments). */
export interface OptimizerState {
  iterations: number;
  /** Slot tensors by parameter key; owned by the optimiser (do not dispose). */
  slots: Map<string, tf.Tensor[]>;
}

/**
 * An optimiser that updates tf.Variables in place from explicit gradients. Unlike tfjs' built-in
 * optimisers it takes a learning rate per call (schedules) and per parameter (layer groups), and
 * its whole state can be saved and restored (exact resume).
 */
export abstract class Optimizer {
  /** Updates applied so far (Keras `iterations`). */
  iterations = 0;
  protected readonly slots = new Map<string, tf.Variable[]>();

  constructor(readonly config: OptimizerConfig) {}

  /** The learning rate the next update uses for a parameter with `lrScale` 1, given the schedule's `lr`. */
  decayedLr(lr: number): number {
    return lr / (1 + this.config.decay * this.iterations);
  }

  /** Applies one update to every parameter, then counts it. `lr` is the schedule's base rate for this update. */
  apply(updates: ParamUpdate[], lr: number): void {
    const lrT = this.decayedLr(lr);
    for (const u of updates) {
      const slots = this.slotsFor(u);
      tf.tidy(() => this.update(u, slots, lrT * u.lrScale));
    }
    this.iterations++;
  }

  protected abstract slotCount(): number;
  protected abstract update(u: ParamUpdate, slots: tf.Variable[], lr: number): void;

  private slotsFor(u: ParamUpdate): tf.Variable[] {
    let slots = this.slots.get(u.key);
    if (!slots) {
      slots = Array.from({ length: this.slotCount() }, () => tf.variable(tf.zerosLike(u.variable), false));
      this.slots.set(u.key, slots);
    }
    return slots;
  }

  getState(): OptimizerState {
    return { iterations: this.iterations, slots: new Map([...this.slots].map(([k, v]) => [k, v as tf.Tensor[]])) };
  }

  /** Replaces the state with copies of `state`'s tensors (the caller keeps ownership of its tensors). */
  setState(state: OptimizerState): void {
    this.disposeSlots();
    this.iterations = state.iterations;
    for (const [key, tensors] of state.slots) {
      if (tensors.length !== this.slotCount()) {
        throw new Error(`optimizer state for "${key}" has ${tensors.length} slots, ${this.config.kind} needs ${this.slotCount()}`);
      }
      this.slots.set(key, tensors.map((t) => tf.variable(t.clone(), false)));
    }
  }

  private disposeSlots(): void {
    for (const vs of this.slots.values()) for (const v of vs) v.dispose();
    this.slots.clear();
  }

  dispose(): void {
    this.disposeSlots();
  }
}

/** The one-pass update kernels of backend/contract.ts, where the engine has them (ft-native); tensor ops give the same values. */
function runUpdateKernel(kernelName: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap): tf.Tensor[] | undefined {
  if (!tf.getKernel(kernelName, tf.getBackend())) return undefined;
  return tf.engine().runKernel(kernelName, inputs, attrs) as unknown as tf.Tensor[];
}

/** [new param, new velocity] */
function sgdWithTensorOps(u: ParamUpdate, velocity: tf.Tensor, lr: number, momentum: number, nesterov: boolean): tf.Tensor[] {
  const step = tf.mul(u.grad, lr);
  const v = tf.sub(tf.mul(velocity, momentum), step);
  return [nesterov ? tf.sub(tf.add(u.variable, tf.mul(v, momentum)), step) : tf.add(u.variable, v), v];
}

/** [new param, new m, new v] */
function adamWithTensorOps(u: ParamUpdate, m: tf.Tensor, v: tf.Tensor, lrCorrected: number, { beta1, beta2, epsilon }: AdamConfig): tf.Tensor[] {
  const mNext = tf.add(tf.mul(m, beta1), tf.mul(u.grad, 1 - beta1));
  const vNext = tf.add(tf.mul(v, beta2), tf.mul(tf.square(u.grad), 1 - beta2));
  return [tf.sub(u.variable, tf.div(tf.mul(mNext, lrCorrected), tf.add(tf.sqrt(vNext), epsilon))), mNext, vNext];
}

/** Keras-1 SGD (see `SgdConfig`). */
export class KerasSgd extends Optimizer {
  declare readonly config: SgdConfig;
  protected slotCount(): number {
    return 1;
  }
  protected update(u: ParamUpdate, [velocity]: tf.Variable[], lr: number): void {
    const { momentum: m, nesterov } = this.config;
    const [next, v] = runUpdateKernel(KERAS_SGD_UPDATE, { param: u.variable, velocity: velocity!, grad: u.grad }, { lr, momentum: m, nesterov } satisfies KerasSgdUpdateAttrs) ??
      sgdWithTensorOps(u, velocity!, lr, m, nesterov);
    velocity!.assign(v!);
    u.variable.assign(next!);
  }
}

/** Keras-1 Adam (see `AdamConfig`). */
export class KerasAdam extends Optimizer {
  declare readonly config: AdamConfig;
  protected slotCount(): number {
    return 2;
  }
  override apply(updates: ParamUpdate[], lr: number): void {
    const t = this.iterations + 1;
    const { beta1, beta2 } = this.config;
    // Keras folds the bias corrections into the step size.
    this.correction = Math.sqrt(1 - Math.pow(beta2, t)) / (1 - Math.pow(beta1, t));
    super.apply(updates, lr);
  }
  private correction = 1;
  protected update(u: ParamUpdate, [m, v]: tf.Variable[], lr: number): void {
    const { beta1, beta2, epsilon } = this.config;
    const lrCorrected = lr * this.correction;
    const [next, mNext, vNext] = runUpdateKernel(KERAS_ADAM_UPDATE, { param: u.variable, m: m!, v: v!, grad: u.grad }, { lrCorrected, beta1, beta2, epsilon } satisfies KerasAdamUpdateAttrs) ??
      adamWithTensorOps(u, m!, v!, lrCorrected, this.config);
    m!.assign(mNext!);
    v!.assign(vNext!);
    u.variable.assign(next!);
  }
}

export function createOptimizer(config: OptimizerConfig): Optimizer {
  return config.kind === "sgd" ? new KerasSgd(config) : new KerasAdam(config);
}
