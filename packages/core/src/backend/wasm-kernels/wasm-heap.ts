import * as tf from "@tensorflow/tfjs-core";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";

/**
 * The one place that touches the wasm backend's object beyond the public kernel API.
 *
 * Kernels registered from JS receive the `BackendWasm` instance; to build a kernel out of other
 * kernels and JS loops we need four of its methods (all declared in its `.d.ts`, none in the tfjs
 * public API): `makeOutput` (allocate a tensor on the wasm heap), `typedArrayFromHeap` (a
 * Float32Array view of it), `disposeData` and `dataIdMap`. `wasm-heap.test.ts` pins them against
 * the installed version; if a tfjs release renames one, `assertWasmBackend` fails with a message
 * saying which, rather than a kernel crashing halfway.
 */
export type WasmBackend = BackendWasm;

/** Versions of `@tensorflow/tfjs-backend-wasm` these kernels were written and tested against. */
export const TESTED_WASM_VERSIONS = ["4.22.0"] as const;

const REQUIRED_METHODS = ["makeOutput", "typedArrayFromHeap", "disposeData", "incRef"] as const;

/** Throws unless `backend` has the surface these kernels use. */
export function assertWasmBackend(backend: unknown): asserts backend is WasmBackend {
  const b = backend as Record<string, unknown> | null;
  const missing = REQUIRED_METHODS.filter((m) => typeof b?.[m] !== "function");
  if (!b || missing.length > 0 || typeof (b.dataIdMap as { get?: unknown } | undefined)?.get !== "function") {
    throw new Error(
      `the wasm backend lacks ${missing.length ? missing.join(", ") : "dataIdMap"}: the training kernels in @ft/core ` +
        `were tested with @tensorflow/tfjs-backend-wasm ${TESTED_WASM_VERSIONS.join(", ")}`,
    );
  }
}

/** Allocates an uninitialised float32 tensor on the wasm heap. The caller owns it (refCount 1). */
export function allocate(backend: WasmBackend, shape: number[]): tf.TensorInfo {
  return backend.makeOutput(shape, "float32");
}

/**
 * A Float32Array over the tensor's bytes on the wasm heap. Any allocation can grow the heap and
 * detach earlier views, so take views after the allocations of a step, never keep them across one.
 */
export function heapView(backend: WasmBackend, info: tf.TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

/** Frees a tensor this code allocated (or a kernel returned to it). */
export function release(backend: WasmBackend, info: tf.TensorInfo): void {
  backend.disposeData(info.dataId);
}

/** The same data seen with another shape; shares the dataId, so never release both. */
export function withShape(info: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  return { dataId: info.dataId, shape, dtype: info.dtype };
}

/** Runs another wasm kernel by name; its output is owned by the caller. */
export function runWasmKernel(
  backend: WasmBackend,
  kernelName: string,
  inputs: tf.NamedTensorInfoMap,
  attrs: tf.NamedAttrMap,
): tf.TensorInfo {
  const kernel = tf.getKernel(kernelName, "wasm");
  if (!kernel) throw new Error(`kernel ${kernelName} is not registered for the wasm backend`);
  const out = kernel.kernelFunc({ inputs, attrs, backend });
  return Array.isArray(out) ? out[0]! : out;
}

/** `a [m, k] · b [k, n] → [m, n]` through wasm's BatchMatMul in its fast (untransposed) layout. */
export function matmul(backend: WasmBackend, a: tf.TensorInfo, b: tf.TensorInfo, m: number, k: number, n: number): tf.TensorInfo {
  const out = runWasmKernel(
    backend,
    "BatchMatMul",
    { a: withShape(a, [1, m, k]), b: withShape(b, [1, k, n]) },
    { transposeA: false, transposeB: false },
  );
  return withShape(out, [m, n]);
}
