import * as tf from "@tensorflow/tfjs-core";
import { version_wasm } from "@tensorflow/tfjs-backend-wasm";
import { beforeAll, describe, expect, it } from "vitest";
import { allocate, assertWasmBackend, heapView, matmul, release, runWasmKernel, TESTED_WASM_VERSIONS, withShape } from "./wasm-heap.js";

// Pins the parts of tfjs-backend-wasm's backend object that the training kernels rely on. If a
// tfjs update breaks one of these, this file says which, before any gradient goes wrong.
describe("wasm backend surface used by the training kernels", () => {
  beforeAll(async () => {
    await tf.setBackend("wasm");
    await tf.ready();
  });

  it("is the tested tfjs-backend-wasm version", () => {
    expect(TESTED_WASM_VERSIONS).toContain(version_wasm);
  });

  it("accepts the wasm backend and names what is missing from anything else", () => {
    expect(() => assertWasmBackend(tf.backend())).not.toThrow();
    expect(() => assertWasmBackend({ makeOutput() {} })).toThrow(/typedArrayFromHeap, disposeData/);
  });

  it("allocates on the heap, exposes the bytes, and frees them", () => {
    const backend = tf.backend();
    assertWasmBackend(backend);
    const before = backend.numDataIds();
    const info = allocate(backend, [2, 3]);
    heapView(backend, info).set([1, 2, 3, 4, 5, 6]);
    expect(Array.from(backend.readSync(info.dataId) as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
    const t = tf.engine().makeTensorFromTensorInfo(withShape(info, [3, 2]));
    expect(t.shape).toEqual([3, 2]);
    expect(t.arraySync()).toEqual([[1, 2], [3, 4], [5, 6]]);
    t.dispose();
    expect(backend.numDataIds()).toBe(before);
    const other = allocate(backend, [4]);
    release(backend, other);
    expect(backend.numDataIds()).toBe(before);
  });

  it("multiplies matrices through BatchMatMul and runs kernels by name", () => {
    const backend = tf.backend();
    assertWasmBackend(backend);
    const before = backend.numDataIds();
    const a = allocate(backend, [2, 3]);
    const b = allocate(backend, [3, 2]);
    heapView(backend, a).set([1, 2, 3, 4, 5, 6]);
    heapView(backend, b).set([7, 8, 9, 10, 11, 12]);
    const c = matmul(backend, a, b, 2, 3, 2);
    expect(c.shape).toEqual([2, 2]);
    expect(Array.from(heapView(backend, c))).toEqual([58, 64, 139, 154]);
    const t = runWasmKernel(backend, "Transpose", { x: c }, { perm: [1, 0] });
    expect(Array.from(heapView(backend, t))).toEqual([58, 139, 64, 154]);
    for (const info of [a, b, c, t]) release(backend, info);
    expect(backend.numDataIds()).toBe(before);
  });
});
