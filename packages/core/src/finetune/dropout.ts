import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";

type CallFn = (inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];

/** The counter that makes each dropout mask different yet reproducible: set it before every training forward pass. */
export interface DropoutClock {
  /** Run seed. */
  seed: number;
  /** Index of the forward pass (micro-batch) in the run. */
  pass: number;
}

const seeded = new WeakMap<tfl.layers.Layer, { clock: DropoutClock }>();

/**
 * Makes every `Dropout` layer of `model` draw its mask from (seed, pass, layer index), so that a resumed run
 * drops the same units as an uninterrupted one. Returns the number of layers changed.
 * Porting note: tfjs' Dropout draws from an unseeded global generator (or, with `seed`, the same mask on every
 * call), which makes exact resume impossible; inference is unchanged (no dropout).
 */
export function seedDropout(model: tfl.LayersModel, clock: DropoutClock): number {
  let count = 0;
  model.layers.forEach((layer, index) => {
    if (layer.getClassName() !== "Dropout") return;
    count++;
    const state = seeded.get(layer);
    if (state) {
      state.clock = clock;
      return;
    }
    const own = { clock };
    seeded.set(layer, own);
    const rate = (layer as unknown as { rate: number }).rate;
    const target = layer as unknown as { call: CallFn };
    const original = target.call.bind(layer) as CallFn;
    target.call = (inputs, kwargs) => {
      if (!kwargs?.training || rate <= 0) return original(inputs, kwargs);
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      return tf.tidy(() => {
        const seed = mixSeed(own.clock.seed, own.clock.pass, index);
        const keep = tf.cast(tf.greaterEqual(tf.randomUniform(x.shape, 0, 1, "float32", seed), rate), "float32");
        return tf.div(tf.mul(x, keep), 1 - rate);
      });
    };
  });
  return count;
}

/** A 31-bit seed from three integers (splitmix-style integer mixing). */
export function mixSeed(a: number, b: number, c: number): number {
  let h = (a ^ 0x9e3779b9) >>> 0;
  for (const v of [b, c]) {
    h = Math.imul(h ^ (v >>> 0), 0x85ebca6b) >>> 0;
    h = (h ^ (h >>> 13)) >>> 0;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
  }
  return h & 0x7fffffff;
}
