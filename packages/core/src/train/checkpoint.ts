import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { open, readFile, rename, rm } from "node:fs/promises";
import { FtError } from "../errors.js";
import { temporaryPath } from "./atomic.js";
import type { OptimizerState } from "./optimizers.js";

/**
 * A checkpoint is one file: the magic `FTCKPT01`, a little-endian u32 header length, a JSON header
 * (`meta` and the tensor table), zero padding to 8 bytes, then raw little-endian tensor data.
 * It is written to a temporary file renamed over `path` (`temporaryPath`), so a crash leaves the previous file intact.
 */
const MAGIC = "FTCKPT01";

interface TensorEntry {
  name: string;
  shape: number[];
  dtype: "float32" | "int32";
  offset: number;
  bytes: number;
}

interface Header<M> {
  version: 1;
  meta: M;
  tensors: TensorEntry[];
}

/** Stable key of a model weight: `<layer name>/<weight name>`, independent of tfjs' per-process unique suffixes. */
export function weightKey(weight: tfl.LayerVariable): string {
  return (weight as unknown as { originalName: string }).originalName;
}

/** A checkpoint read back: metadata and tensors by name (`model/<key>`, `opt/<key>/<slot>`). Dispose when done. */
export interface LoadedCheckpoint<M> {
  meta: M;
  tensors: Map<string, tf.Tensor>;
  dispose(): void;
}

export interface WriteCheckpointOptions {
  /** Test hook: runs after the temporary file is complete and before it is renamed into place. */
  beforeRename?: (tempPath: string) => void | Promise<void>;
}

/** Writes model weights (trainable or not), optimiser state and `meta` to `path` atomically. */
export async function writeCheckpoint<M>(
  path: string,
  model: tfl.LayersModel,
  optimizer: OptimizerState | undefined,
  meta: M,
  options: WriteCheckpointOptions = {},
): Promise<void> {
  const named: [string, tf.Tensor][] = model.weights.map((w) => [`model/${weightKey(w)}`, w.read()]);
  if (optimizer) {
    for (const [key, slots] of optimizer.slots) slots.forEach((t, i) => named.push([`opt/${key}/${i}`, t]));
  }
  const entries: TensorEntry[] = [];
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of named) {
    const values = await t.data();
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    if (t.dtype !== "float32" && t.dtype !== "int32") throw new Error(`checkpoint: tensor ${name} has unsupported dtype ${t.dtype}`);
    entries.push({ name, shape: t.shape, dtype: t.dtype, offset, bytes: bytes.byteLength });
    chunks.push(bytes);
    offset += bytes.byteLength;
  }
  const header: Header<M> = { version: 1, meta, tensors: entries };
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const prefix = Buffer.alloc(align8(MAGIC.length + 4 + json.length));
  prefix.write(MAGIC, 0, "latin1");
  prefix.writeUInt32LE(json.length, MAGIC.length);
  json.copy(prefix, MAGIC.length + 4);

  const temp = temporaryPath(path);
  try {
    const fh = await open(temp, "w");
    try {
      await fh.write(prefix);
      for (const c of chunks) await fh.write(c);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await options.beforeRename?.(temp);
    await rename(temp, path);
  } catch (e) {
    await rm(temp, { force: true });
    throw e;
  }
}

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

/** Reads a checkpoint file; errors name the file. */
export async function readCheckpoint<M>(path: string): Promise<LoadedCheckpoint<M>> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (e) {
    throw new FtError(`cannot read checkpoint ${path}: ${(e as Error).message}`);
  }
  if (buf.length < MAGIC.length + 4 || buf.toString("latin1", 0, MAGIC.length) !== MAGIC) throw new FtError(`${path} is not an ft checkpoint`);
  const header = parseHeader<M>(buf, path);
  const base = align8(MAGIC.length + 4 + buf.readUInt32LE(MAGIC.length));
  const tensors = new Map<string, tf.Tensor>();
  for (const e of header.tensors) {
    const start = base + e.offset;
    if (start + e.bytes > buf.length) {
      tensors.forEach((t) => t.dispose());
      throw new FtError(`checkpoint ${path} is truncated (tensor ${e.name})`);
    }
    const copy = buf.buffer.slice(buf.byteOffset + start, buf.byteOffset + start + e.bytes);
    const values = e.dtype === "int32" ? new Int32Array(copy) : new Float32Array(copy);
    tensors.set(e.name, tf.tensor(values, e.shape, e.dtype));
  }
  return { meta: header.meta, tensors, dispose: () => tensors.forEach((t) => t.dispose()) };
}

/** The JSON header, checked entry by entry: a damaged header is reported naming the file, never thrown raw. */
function parseHeader<M>(buf: Buffer, path: string): Header<M> {
  const damaged = (what: string) => new FtError(`checkpoint ${path} is damaged: ${what} (write it again, or resume from another checkpoint)`);
  const headerLength = buf.readUInt32LE(MAGIC.length);
  if (MAGIC.length + 4 + headerLength > buf.length) throw damaged(`its header claims ${headerLength} bytes, the file has ${buf.length}`);
  let header: Header<M>;
  try {
    header = JSON.parse(buf.toString("utf8", MAGIC.length + 4, MAGIC.length + 4 + headerLength)) as Header<M>;
  } catch {
    // Not the SyntaxError's message: it quotes the header's text.
    throw damaged("its header is not valid JSON");
  }
  if (header?.version !== 1 || !Array.isArray(header.tensors)) throw damaged("its header has no version 1 tensor table");
  for (const e of header.tensors) {
    const valid =
      typeof e?.name === "string" &&
      (e.dtype === "float32" || e.dtype === "int32") &&
      Array.isArray(e.shape) &&
      e.shape.every((d) => Number.isInteger(d) && d >= 0) &&
      Number.isInteger(e.offset) &&
      e.offset >= 0 &&
      e.bytes === 4 * e.shape.reduce((a, b) => a * b, 1);
    if (!valid) throw damaged(`tensor entry ${JSON.stringify(e).slice(0, 200)} is not valid`);
  }
  return header;
}

/** Assigns a checkpoint's model weights to `model` by key, checking that every weight is present with its shape. */
export function loadModelWeights(model: tfl.LayersModel, checkpoint: LoadedCheckpoint<unknown>, origin: string): void {
  for (const w of model.weights) {
    const key = weightKey(w);
    const t = checkpoint.tensors.get(`model/${key}`);
    if (!t) throw new FtError(`checkpoint ${origin} has no weight "${key}" (was it written by another model or head?)`);
    if (!tf.util.arraysEqual(t.shape, w.shape as number[])) {
      throw new FtError(`checkpoint ${origin}: weight "${key}" has shape [${t.shape}], the model expects [${w.shape}]`);
    }
    w.write(t);
  }
}

/** The optimiser state stored in a checkpoint (tensors stay owned by the checkpoint). */
export function optimizerStateOf(checkpoint: LoadedCheckpoint<unknown>, iterations: number): OptimizerState {
  const slots = new Map<string, tf.Tensor[]>();
  for (const [name, t] of checkpoint.tensors) {
    const m = /^opt\/(.+)\/(\d+)$/.exec(name);
    if (!m) continue;
    const list = slots.get(m[1]!) ?? [];
    list[Number(m[2])] = t;
    slots.set(m[1]!, list);
  }
  return { iterations, slots };
}

/** Keys of the model's trainable weights, for tests and reports. */
export function trainableKeys(model: tfl.LayersModel): string[] {
  return model.trainableWeights.map(weightKey);
}
