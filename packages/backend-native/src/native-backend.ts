import type * as tf from "@tensorflow/tfjs-core";
import { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { totalmem } from "node:os";

type DataId = object;

interface PooledBuffer {
  /** Handed out by `allocate` and not yet stored as a tensor's values. */
  fresh: boolean;
  /** Stored under more than one dataId, or viewed by another array: never recycled. */
  shared: boolean;
  /** Returned by readSync/read: the caller may still hold it, so never recycled. */
  exposed: boolean;
}

/** A kernel output not computed yet, and the input data it holds until it is. */
interface Deferred {
  compute: () => Float32Array;
  inputs: DataId[];
  /** What the value is, for a kernel that can use that instead of the values (see kernels/deferred.ts). */
  recipe?: object;
}

/** Below this, allocation is cheap and pooling is not worth the bookkeeping. */
const MIN_POOLED_FLOATS = 4096;

/**
 * The cpu backend with an output-buffer pool. Kernels of ft-native allocate their outputs with
 * `allocate`; when tfjs disposes the tensor, the array goes back to the pool instead of waiting
 * for the garbage collector. Reusing warm memory instead of fresh zeroed pages made large
 * elementwise ops several times faster here.
 *
 * An array is recycled only if it is certainly unreachable: it was stored under exactly one
 * dataId, no other array views its buffer (cpu kernels such as Slice may store a subarray of an
 * input), and it was never returned to a caller by readSync/read (dataSync returns the backing array).
 */
export class NativeBackendCPU extends MathBackendCPU {
  /** Idle arrays by length; Map order is least recently used length first. */
  private readonly pool = new Map<number, Float32Array[]>();
  private readonly pooled = new WeakMap<ArrayBufferLike, PooledBuffer>();
  private pooledBytes = 0;
  private readonly deferred = new Map<DataId, Deferred>();
  private readonly sideValues = new Map<DataId, Map<string, Float32Array>>();
  /**
   * Upper bound on idle pooled memory (half of RAM, or FT_NATIVE_POOL_MB); beyond it the arrays of
   * the least recently used lengths go to the GC. Arrays above 32 MB are fresh mappings whose pages
   * fault in on first write, which on this VM ran at ~200 MB/s: a VGG-19 update of two fresh 411 MB
   * arrays took 4 s instead of 80 ms, and a ResNet-50 batch-16 step 6-10 s instead of 2 s. Idle
   * arrays are what the last step freed and the next one needs, so keeping them does not raise the
   * peak; evicting by length only matters when shapes keep changing.
   */
  maxPooledBytes = process.env.FT_NATIVE_POOL_MB ? Number(process.env.FT_NATIVE_POOL_MB) * 2 ** 20 : totalmem() / 2;

  /** A float32 array of `length` elements with undefined contents, for a kernel to overwrite completely. */
  allocate(length: number): Float32Array {
    if (length < MIN_POOLED_FLOATS) return new Float32Array(length);
    const idle = this.pool.get(length);
    const reused = idle?.pop();
    if (idle) this.touch(length, idle);
    let array: Float32Array;
    if (reused) {
      this.pooledBytes -= reused.byteLength;
      array = reused;
    } else {
      const bytes = Buffer.allocUnsafeSlow(length * 4); // uninitialized: the kernel writes every element
      array = new Float32Array(bytes.buffer, bytes.byteOffset, length);
    }
    this.pooled.set(array.buffer, { fresh: true, shared: false, exposed: false });
    return array;
  }

  /**
   * A float32 tensor of `shape` whose values `compute` returns when something first reads them
   * (any kernel, dataSync, read). Until then the data of `inputs` stays alive; it is released once
   * computed, or when the tensor is disposed unread, in which case `compute` never runs.
   */
  defer(shape: number[], inputs: tf.TensorInfo[], compute: () => Float32Array, recipe?: object): tf.TensorInfo {
    const info = this.makeTensorInfo(shape, "float32", new Float32Array(0));
    const record = this.data.get(info.dataId)!;
    const pending: Deferred = { compute, inputs: inputs.map((t) => t.dataId), recipe };
    for (const id of pending.inputs) this.incRef(id);
    this.deferred.set(info.dataId, pending);
    const settle = (values: tf.backend_util.BackendValues) => {
      Object.defineProperty(record, "values", { value: values, writable: true, enumerable: true, configurable: true });
    };
    Object.defineProperty(record, "values", {
      configurable: true,
      enumerable: true,
      get: () => {
        const values = pending.compute();
        settle(values);
        this.note(values);
        this.settled(info.dataId, pending);
        return values;
      },
      set: (values: tf.backend_util.BackendValues) => {
        settle(values);
        this.settled(info.dataId, pending);
      },
    });
    return info;
  }

  private settled(dataId: DataId, pending: Deferred): void {
    if (this.deferred.get(dataId) !== pending) return;
    this.deferred.delete(dataId);
    for (const id of pending.inputs) this.disposeData(id);
  }

  /** Whether the tensor's values are still to be computed (for tests and diagnostics). */
  isDeferred(dataId: DataId): boolean {
    return this.deferred.has(dataId);
  }

  /** The recipe given to `defer` while the value is still to be computed (its inputs are alive until then). */
  recipeOf(dataId: DataId): object | undefined {
    return this.deferred.get(dataId)?.recipe;
  }

  /**
   * Keeps `scratch` (an array from `allocate`) under `key` for as long as the data of `dataId`
   * lives; then it goes back to the pool.
   */
  attach(dataId: DataId, key: string, scratch: Float32Array): void {
    if (!this.data.has(dataId)) return;
    let values = this.sideValues.get(dataId);
    if (!values) this.sideValues.set(dataId, (values = new Map()));
    values.set(key, scratch);
  }

  /** What `attach` kept under `key` for `dataId`, if its data still lives. */
  attached(dataId: DataId, key: string): Float32Array | undefined {
    return this.sideValues.get(dataId)?.get(key);
  }

  /**
   * The values of `dataId` for a kernel to overwrite in place (then it returns the same dataId), or
   * undefined where the change could be seen: another tensor shares the data, the array is not the
   * pool's own (a caller's, or a view of another) or readSync handed it out, or it is not computed yet.
   * What was attached to the old contents is dropped.
   */
  overwritable(dataId: DataId): Float32Array | undefined {
    if (!this.data.has(dataId) || this.deferred.has(dataId) || this.refCount(dataId) !== 1) return undefined;
    const values = this.data.get(dataId)!.values;
    if (!(values instanceof Float32Array)) return undefined;
    const record = this.pooled.get(values.buffer);
    if (!record || record.fresh || record.shared || record.exposed) return undefined;
    this.dropSideValues(dataId);
    return values;
  }

  /** Returns what `attach` kept for `dataId` to the pool. */
  private dropSideValues(dataId: DataId): void {
    for (const scratch of this.sideValues.get(dataId)?.values() ?? []) this.recycle(scratch, true);
    this.sideValues.delete(dataId);
  }

  private note(values: unknown): void {
    if (!ArrayBuffer.isView(values)) return;
    const record = this.pooled.get(values.buffer);
    if (!record) return;
    if (record.fresh && values instanceof Float32Array && values.byteOffset === 0 && values.length * 4 === values.buffer.byteLength) {
      record.fresh = false;
    } else {
      record.shared = true;
    }
  }

  override write(values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType): DataId {
    this.note(values);
    return super.write(values, shape, dtype);
  }

  override move(dataId: DataId, values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType, refCount: number): void {
    this.note(values);
    super.move(dataId, values, shape, dtype, refCount);
  }

  override readSync(dataId: DataId): tf.backend_util.BackendValues {
    const values = super.readSync(dataId);
    if (ArrayBuffer.isView(values)) {
      const record = this.pooled.get(values.buffer);
      if (record) record.exposed = true;
    }
    return values;
  }

  override disposeData(dataId: DataId, force = false): boolean {
    if (!this.data.has(dataId)) return super.disposeData(dataId, force);
    const pending = this.deferred.get(dataId);
    const values = pending ? undefined : this.data.get(dataId)!.values; // reading a deferred value would compute it
    const disposed = super.disposeData(dataId, force);
    if (!this.data.has(dataId)) {
      this.dropSideValues(dataId);
      if (pending) this.settled(dataId, pending);
      if (disposed && values instanceof Float32Array) this.recycle(values);
    }
    return disposed;
  }

  /** `scratch`: an array from `allocate` that was never a tensor's values, only a side value. */
  private recycle(array: Float32Array, scratch = false): void {
    const record = this.pooled.get(array.buffer);
    if (!record || (record.fresh && !scratch) || record.shared || record.exposed) return;
    this.pooled.delete(array.buffer);
    for (const [length, idle] of this.pool) {
      if (this.pooledBytes + array.byteLength <= this.maxPooledBytes || length === array.length) break;
      this.pooledBytes -= idle.length * length * 4;
      this.pool.delete(length);
    }
    if (this.pooledBytes + array.byteLength > this.maxPooledBytes) return;
    const idle = this.pool.get(array.length) ?? [];
    idle.push(array);
    this.touch(array.length, idle);
    this.pooledBytes += array.byteLength;
  }

  /** Marks `length` as the most recently used. */
  private touch(length: number, idle: Float32Array[]): void {
    this.pool.delete(length);
    this.pool.set(length, idle);
  }

  /** Idle pooled bytes (for tests and diagnostics). */
  get idleBytes(): number {
    return this.pooledBytes;
  }

  override dispose(): void {
    this.deferred.clear();
    this.sideValues.clear();
    this.pool.clear();
    this.pooledBytes = 0;
    super.dispose();
  }
}
