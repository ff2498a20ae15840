import * as tf from "@tensorflow/tfjs-core";
import { afterEach, describe, expect, it } from "vitest";
import type { NativeBackendCPU } from "./native-backend.js";
import { nativeUnavailable, skipReason } from "./test-utils/compare.js";
import { random } from "@ft/test-support/random";

const shape = [4, 8, 8, 32]; // 8192 floats: above the pooling threshold
const n = shape.reduce((a, b) => a * b);

describe.skipIf(nativeUnavailable)(`ft-native output pool${skipReason}`, () => {
  afterEach(() => void tf.setBackend("cpu"));
  const backend = () => tf.findBackend("ft-native") as NativeBackendCPU;

  it("recycles a disposed kernel output for the next output of that size", () => {
    tf.setBackend("ft-native");
    const a = tf.tensor(random(n), shape), b = tf.tensor(random(n), shape);
    const before = backend().idleBytes;
    const first = tf.mul(a, b);
    const firstValues = backend().data.get(first.dataId).values;
    first.dispose();
    expect(backend().idleBytes).toBe(before + n * 4);
    const second = tf.add(a, b);
    expect(backend().data.get(second.dataId).values).toBe(firstValues);
    expect(backend().idleBytes).toBe(before);
    // And the reused array holds the right result.
    const expected = a.dataSync().map((v, i) => v + b.dataSync()[i]!);
    expect(Array.from(second.dataSync())).toEqual(Array.from(expected));
    tf.dispose([a, b, second]);
  });

  it("over its cap, evicts the least recently used lengths first", () => {
    tf.setBackend("ft-native");
    const pool = backend();
    const cap = pool.maxPooledBytes;
    const sizes = [5000, 6000, 7000];
    const outputs = sizes.map((m) => tf.relu(tf.tensor(random(m))));
    pool.maxPooledBytes = pool.idleBytes + (5000 + 7000) * 4; // room for two of the three
    try {
      outputs[1]!.dispose();
      outputs[0]!.dispose();
      // 6000 was used least recently: 7000 evicts it and keeps 5000.
      outputs[2]!.dispose();
      const reused = (m: number) => {
        const before = pool.idleBytes;
        tf.dispose(tf.relu(tf.tensor(random(m))));
        return pool.idleBytes === before; // the output came from the pool and went back to it
      };
      expect([5000, 7000, 6000].map(reused)).toEqual([true, true, false]);
    } finally {
      pool.maxPooledBytes = cap;
    }
  });

  it("never recycles an array a caller read (dataSync returns the backing array)", () => {
    tf.setBackend("ft-native");
    const a = tf.tensor(random(n), shape), b = tf.tensor(random(n), shape);
    const product = tf.mul(a, b);
    const held = product.dataSync();
    const copy = Float32Array.from(held);
    product.dispose();
    const others = [tf.add(a, b), tf.sub(a, b), tf.mul(b, a)];
    expect(Array.from(held)).toEqual(Array.from(copy));
    tf.dispose([a, b, ...others]);
  });

  it("never recycles an array that a cpu kernel's output views (Slice keeps a subarray)", () => {
    tf.setBackend("ft-native");
    const a = tf.tensor(random(n), shape), b = tf.tensor(random(n), shape);
    const product = tf.mul(a, b);
    const slice = tf.slice(product, [1, 0, 0, 0], [2, 8, 8, 32]);
    const expected = tf.tidy(() => tf.slice(tf.mul(a, b), [1, 0, 0, 0], [2, 8, 8, 32]).dataSync().slice());
    product.dispose();
    const others = [tf.add(a, b), tf.sub(a, b), tf.div(b, tf.add(a, 3))];
    expect(Array.from(slice.dataSync())).toEqual(Array.from(expected));
    tf.dispose([a, b, slice, ...others]);
  });

  it("does not recycle a tensor still referenced through a reshape", () => {
    tf.setBackend("ft-native");
    const a = tf.tensor(random(n), shape), b = tf.tensor(random(n), shape);
    const product = tf.mul(a, b);
    const flat = tf.reshape(product, [n]);
    const expected = tf.tidy(() => tf.mul(a, b).dataSync().slice());
    product.dispose();
    const others = [tf.add(a, b), tf.sub(a, b)];
    expect(Array.from(flat.dataSync())).toEqual(Array.from(expected));
    tf.dispose([a, b, flat, ...others]);
  });
});

describe.skipIf(nativeUnavailable)(`ft-native side values${skipReason}`, () => {
  afterEach(() => void tf.setBackend("cpu"));
  const backend = () => tf.findBackend("ft-native") as NativeBackendCPU;

  it("keep a scratch array while their tensor's data lives, then return it to the pool", () => {
    tf.setBackend("ft-native");
    const t = tf.relu(tf.tensor(random(n), shape));
    const alias = tf.reshape(t, [n]);
    const scratch = backend().allocate(n);
    backend().attach(t.dataId, "test", scratch);
    const idle = backend().idleBytes;
    t.dispose();
    expect(backend().attached(alias.dataId, "test")).toBe(scratch); // the data lives on through the reshape
    alias.dispose();
    expect(backend().attached(alias.dataId, "test")).toBeUndefined();
    expect(backend().idleBytes).toBe(idle + 2 * n * 4); // the relu output and the scratch
  });
});

describe.skipIf(nativeUnavailable)(`ft-native deferred outputs${skipReason}`, () => {
  afterEach(() => void tf.setBackend("cpu"));
  const backend = () => tf.findBackend("ft-native") as NativeBackendCPU;

  /** A deferred a + b that counts how often it is computed. */
  function deferredSum(a: tf.Tensor, b: tf.Tensor) {
    const counter = { calls: 0 };
    const info = backend().defer(a.shape, [a, b], () => {
      counter.calls++;
      // By dataId, as a kernel would: the tensors may be disposed by now, their data is not.
      const [av, bv] = [a.dataId, b.dataId].map((id) => backend().readSync(id) as Float32Array);
      return av!.map((v, i) => v + bv![i]!);
    });
    return { tensor: tf.engine().makeTensorFromTensorInfo(info), counter };
  }

  it("computes on the first read, once, with its inputs held until then", () => {
    tf.setBackend("ft-native");
    const [av, bv] = [random(n), random(n)];
    const a = tf.tensor(av, shape), b = tf.tensor(bv, shape);
    const dataIds = backend().numDataIds();
    const { tensor, counter } = deferredSum(a, b);
    tf.dispose([a, b]); // held by the deferred output
    expect(backend().numDataIds()).toBe(dataIds + 1);
    expect(backend().isDeferred(tensor.dataId)).toBe(true);
    const doubled = tf.mul(tensor, 2); // a native kernel reads it
    expect(counter.calls).toBe(1);
    expect(backend().isDeferred(tensor.dataId)).toBe(false);
    expect(backend().numDataIds()).toBe(dataIds); // a and b released; tensor and doubled added
    expect(Array.from(tensor.dataSync())).toEqual(Array.from(av.map((v, i) => v + bv[i]!)));
    expect(Array.from(doubled.dataSync())).toEqual(Array.from(av.map((v, i) => 2 * (v + bv[i]!))));
    expect(counter.calls).toBe(1);
    tf.dispose([tensor, doubled]);
  });

  it("never computes an output disposed unread, and releases its inputs", () => {
    tf.setBackend("ft-native");
    const a = tf.tensor(random(n), shape), b = tf.tensor(random(n), shape);
    const dataIds = backend().numDataIds();
    const { tensor, counter } = deferredSum(a, b);
    const flat = tf.reshape(tensor, [n]); // shares the data: still unread
    tf.dispose([a, b, tensor]);
    expect(backend().numDataIds()).toBe(dataIds + 1);
    flat.dispose();
    expect(counter.calls).toBe(0);
    expect(backend().numDataIds()).toBe(dataIds - 2);
  });
});
