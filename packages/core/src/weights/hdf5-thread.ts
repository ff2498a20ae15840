/**
 * h5wasm runs in a worker thread, called synchronously (Atomics.wait, then receiveMessageOnPort), so that
 * the reader keeps its synchronous API while HDF5 is kept at arm's length: a damaged file can send HDF5's
 * metadata code into an endless loop (a cycle in a B-tree or a heap list), which WebAssembly cannot leave
 * on the thread that runs it, or abort the WebAssembly instance. A call that does not answer in time, or
 * whose instance aborted, ends that worker; the next file gets a fresh one.
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from "node:worker_threads";

/**
 * How long one call (opening a file, a lookup, reading a block of rows) may take: FT_HDF5_TIMEOUT_MS, else
 * 20 s (the slowest legitimate call, reading one block of a weight from a slow disk, takes about a second).
 */
export const HDF5_CALL_TIMEOUT_MS = Number(process.env.FT_HDF5_TIMEOUT_MS) > 0 ? Number(process.env.FT_HDF5_TIMEOUT_MS) : 20_000;

/** What went wrong in a call, for the caller to word. */
export class Hdf5CallError extends Error {
  constructor(
    message: string,
    /** `hang`: no answer in time; `aborted`: the WebAssembly instance died; `error`: HDF5 or h5wasm threw. */
    readonly kind: "hang" | "aborted" | "error",
  ) {
    super(message);
  }
}

// Plain JavaScript (no TypeScript loader runs in the worker); h5wasm's URL comes in workerData.
const WORKER_SOURCE = `
const { workerData } = require("node:worker_threads");
const { port, signal } = workerData;
// h5wasm binds console.error when it loads and prints an abort with it: this thread answers by message.
console.error = () => {};
let h5;
const files = new Map();
let nextId = 1;
const node = (id, path) => {
  const file = files.get(id);
  if (!file) throw new Error("file " + id + " is not open");
  return path === "/" ? file : file.get(path);
};
const toFloat32 = (value) => {
  if (value instanceof Float32Array) return value;
  if (typeof value === "number") return Float32Array.of(value);
  if (typeof value === "bigint") return Float32Array.of(Number(value));
  if (value instanceof BigInt64Array || value instanceof BigUint64Array) return Float32Array.from(value, Number);
  if (ArrayBuffer.isView(value)) return Float32Array.from(value);
  throw new Error("dataset is not numeric");
};
const ops = {
  open(path) {
    const file = new h5.File(path, "r");
    if (typeof file.file_id !== "bigint" || file.file_id < 0n) return -1;
    files.set(nextId, file);
    return nextId++;
  },
  close(id) {
    files.get(id)?.close();
    files.delete(id);
  },
  attrNames: (id, path) => Object.keys(node(id, path).attrs),
  attr: (id, path, name) => node(id, path).attrs[name].value,
  kind(id, path) {
    const entity = node(id, path);
    return entity instanceof h5.Dataset ? "dataset" : entity instanceof h5.Group ? "group" : undefined;
  },
  keys: (id, path) => node(id, path).keys(),
  dataset(id, path) {
    const d = node(id, path);
    return { shape: d.shape ?? [], type: d.metadata.type, size: d.metadata.size, signed: d.metadata.signed !== false, filters: d.filters.length };
  },
  read(id, path, start, end) {
    const d = node(id, path);
    return toFloat32(start === undefined ? d.value : d.slice([[start, end]]));
  },
};
port.on("message", async ({ op, args }) => {
  let answer;
  try {
    if (!h5) {
      const m = await import(workerData.h5wasm);
      (await m.default.ready).activate_throwing_error_handler();
      h5 = m.default;
    }
    const value = ops[op](...args);
    answer = { value };
  } catch (e) {
    const message = String((e && e.message) || e);
    answer = { error: message, aborted: e instanceof WebAssembly.RuntimeError || /^Aborted\\(/.test(message) };
  }
  const transfer = answer.value instanceof Float32Array ? [answer.value.buffer] : [];
  port.postMessage(answer, transfer);
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
});
`;

interface Thread {
  worker: Worker;
  port: MessagePort;
  signal: Int32Array;
}

let thread: Thread | undefined;

function startThread(): Thread {
  const { port1, port2 } = new MessageChannel();
  const signal = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { port: port2, signal, h5wasm: import.meta.resolve("h5wasm/node") },
    transferList: [port2],
  });
  worker.unref();
  port1.unref();
  return { worker, port: port1, signal };
}

/** Ends the worker (after a hang or an abort): its files are gone with it. */
function endThread(): void {
  if (!thread) return;
  void thread.worker.terminate();
  thread.port.close();
  thread = undefined;
}

/** The worker's generation: a file opened in an ended worker is closed with it. */
export function currentThread(): object | undefined {
  return thread;
}

/** Runs `op` in the worker and waits for its answer, at most `timeoutMs`. */
export function callHdf5<T>(op: string, args: unknown[], timeoutMs = HDF5_CALL_TIMEOUT_MS): T {
  const t = (thread ??= startThread());
  Atomics.store(t.signal, 0, 0);
  t.port.postMessage({ op, args });
  if (Atomics.wait(t.signal, 0, 0, timeoutMs) === "timed-out") {
    endThread();
    throw new Hdf5CallError(`no answer in ${timeoutMs / 1000} s: its structure loops`, "hang");
  }
  const answer = receiveMessageOnPort(t.port)?.message as { value?: T; error?: string; aborted?: boolean } | undefined;
  if (!answer) {
    endThread();
    throw new Hdf5CallError("the HDF5 worker ended without answering", "aborted");
  }
  if (answer.error !== undefined) {
    if (answer.aborted) endThread();
    throw new Hdf5CallError(answer.error, answer.aborted ? "aborted" : "error");
  }
  return answer.value as T;
}
