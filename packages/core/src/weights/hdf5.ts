/**
 * Thin, read-only access to HDF5 files through h5wasm: open with real validation, read string and
 * numeric attributes whatever their HDF5 encoding, and read float datasets one at a time.
 *
 * h5wasm returns a file id of -1 instead of throwing for a missing, non-HDF5 or truncated file (and
 * prints the HDF5 error stack), so files are checked here before h5wasm ever sees them.
 */
import { closeSync, openSync, readSync, statSync } from "node:fs";
import type { Dataset, File as H5File, Group } from "h5wasm/node";
import { FtError } from "../errors.js";

export type { Dataset, Group };

/** HDF5 format signature; the superblock sits at offset 0, 512, 1024, 2048, … */
const SIGNATURE = Uint8Array.of(0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a);

type H5wasm = typeof import("h5wasm/node");
/** h5wasm (5 MB of wasm) is loaded on the first file opened, not when @ft/core is imported. */
let h5: H5wasm | undefined;
let ready: Promise<H5wasm> | undefined;
/** Instances lost to an abort: the next file gets a fresh one (a module URL of its own). */
let aborted = 0;

/** Loads and initialises h5wasm (idempotent until an abort). */
function h5Ready(): Promise<H5wasm> {
  ready ??= (aborted === 0 ? import("h5wasm/node") : (import(`${import.meta.resolve("h5wasm/node")}?instance=${aborted}`) as Promise<H5wasm>)).then(
    async (module) => {
      const instance = await module.default.ready;
      // HDF5 errors become exceptions (turned into FtErrors below) instead of traces printed on stderr.
      instance.activate_throwing_error_handler();
      h5 = module;
      return module;
    },
  );
  return ready;
}

/** The loaded h5wasm: every Group and Dataset comes from a file that `openHdf5` opened, so it is loaded. */
function h5wasm(): H5wasm {
  if (!h5) throw new Error("h5wasm is used before openHdf5 loaded it");
  return h5;
}

/**
 * Runs `read` on a file h5wasm has open, turning what HDF5 throws on a damaged file (h5wasm's "name not
 * defined!", a TypeError on a missing object, the WebAssembly abort of a failed assertion) into an FtError
 * naming the file. After an abort that instance of h5wasm is dead, so the next file loads another.
 */
export function readingHdf5<T>(path: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    if (e instanceof FtError) throw e.message.includes(path) ? e : new FtError(`${path}: ${e.message}`, e.exitCode);
    const message = hdf5Cause(String((e as Error)?.message ?? e));
    if (e instanceof WebAssembly.RuntimeError || /^Aborted\(/.test(message)) {
      aborted++;
      h5 = undefined;
      ready = undefined;
      openFileBytes.clear();
    }
    throw new FtError(`${path}: the HDF5 file is damaged (${message}); fetch it again, or check it with h5dump`);
  }
}

/**
 * One line of what went wrong: an HDF5 error stack (`#000: … in H5Gopen2(): unable to open group`, …, down
 * to the root cause) gives its last entry; other messages their first line.
 */
function hdf5Cause(text: string): string {
  const entries = [...text.matchAll(/#\d+: .* in (\w+)\(\): (.*)$/gm)];
  const last = entries[entries.length - 1];
  return (last ? `${last[2]!.trim()} in ${last[1]}` : text.split("\n")[0]!).slice(0, 160);
}

/** Sizes of the files open now, by h5wasm file id (to bound what their datasets may declare). */
const openFileBytes = new Map<bigint, number>();

/** Deflate and its kin cannot expand data more than ~1032 times. */
const MAX_COMPRESSION_RATIO = 1100;

/**
 * Refuses a dataset that declares more data than its file can hold (uncompressed: the file's size;
 * with filters, that times the best compression ratio), before anything is allocated for it.
 */
export function checkDeclaredSize(path: string, dataset: Dataset, what: string): void {
  const fileBytes = openFileBytes.get(dataset.file_id);
  if (fileBytes === undefined) return;
  readingHdf5(path, () => {
    const declared = datasetShape(dataset).reduce((a, b) => a * b, 1) * dataset.metadata.size;
    const limit = dataset.filters.length ? fileBytes * MAX_COMPRESSION_RATIO : fileBytes;
    if (!(declared <= limit)) {
      throw new FtError(`${path}: ${what} declares ${datasetShape(dataset).join("×")} values (${declared} bytes), more than a file of ${fileBytes} bytes can hold: the file is damaged`);
    }
  });
}

/** An open HDF5 file; call `close()` when done (datasets are read lazily through it). */
export interface Hdf5File {
  path: string;
  /** Size of the file in bytes. */
  bytes: number;
  root: Group;
  close(): void;
}

/**
 * Opens an HDF5 file read-only after checking that it exists, carries the HDF5 signature and is
 * not shorter than its superblock says. Every failure is an `FtError` naming the path.
 */
export async function openHdf5(path: string): Promise<Hdf5File> {
  const bytes = checkHdf5File(path);
  const { File } = (await h5Ready()).default;
  const file: H5File = readingHdf5(path, () => new File(path, "r"));
  if (typeof file.file_id !== "bigint" || file.file_id < 0n) {
    throw new FtError(`${path}: HDF5 could not open this file (it has an HDF5 signature but is damaged or unsupported)`);
  }
  let open = true;
  openFileBytes.set(file.file_id, bytes);
  return {
    path,
    bytes,
    root: file,
    close() {
      if (!open) return;
      open = false;
      openFileBytes.delete(file.file_id);
      readingHdf5(path, () => file.close());
    },
  };
}

/** Validates the file header without h5wasm; returns the file size. */
function checkHdf5File(path: string): number {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new FtError(`${path}: not a regular file (a weight file must be an .h5 file)`);
    size = st.size;
  } catch (e) {
    if (e instanceof FtError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new FtError(`weight file not found: ${path}`);
    throw new FtError(`${path}: cannot read the weight file (${code ?? (e as Error).message})`);
  }
  const fd = openSync(path, "r");
  try {
    for (let offset = 0; offset + SIGNATURE.length <= size; offset = offset === 0 ? 512 : offset * 2) {
      const head = Buffer.alloc(Math.min(96, size - offset));
      readSync(fd, head, 0, head.length, offset);
      if (!SIGNATURE.every((b, i) => head[i] === b)) continue;
      const eof = superblockEndOfFile(head);
      if (eof !== undefined && offset + eof > size) {
        throw new FtError(
          `${path}: truncated HDF5 file: it is ${size} bytes but its header says ${offset + eof}; the download or copy was interrupted, fetch the file again`,
        );
      }
      return size;
    }
  } finally {
    closeSync(fd);
  }
  throw new FtError(`${path}: not an HDF5 file (no HDF5 signature); expected a Keras .h5 weight file`);
}

/** End-of-file address recorded in a superblock (versions 0–3), relative to the superblock's base. */
function superblockEndOfFile(head: Buffer): number | undefined {
  const version = head[8];
  let offsetSize: number;
  let eofAt: number;
  if (version === 0 || version === 1) {
    offsetSize = head[13]!;
    // signature 8, versions/sizes 8, leaf K 2, internal K 2, flags 4, (v1: istore K 2 + reserved 2), base, free-space
    const addrStart = 24 + (version === 1 ? 4 : 0);
    eofAt = addrStart + 2 * offsetSize;
  } else if (version === 2 || version === 3) {
    offsetSize = head[9]!;
    // signature 8, version 1, offset size 1, length size 1, flags 1, base, extension
    eofAt = 12 + 2 * offsetSize;
  } else {
    return undefined;
  }
  if (offsetSize !== 8 && offsetSize !== 4) return undefined;
  if (eofAt + offsetSize > head.length) return undefined;
  const value = offsetSize === 8 ? head.readBigUInt64LE(eofAt) : BigInt(head.readUInt32LE(eofAt));
  if (value === 0xffffffffffffffffn) return undefined; // undefined address
  return Number(value);
}

/** Names of the attributes of a group or dataset. */
export function attrNames(node: Group | Dataset): string[] {
  return Object.keys(node.attrs);
}

/** Whether the node has the attribute. */
export function hasAttr(node: Group | Dataset, name: string): boolean {
  return Object.prototype.hasOwnProperty.call(node.attrs, name);
}

/**
 * A string-list attribute (fixed-length byte strings in old files, variable-length UTF-8 in newer
 * h5py, scalar or 1-D); `undefined` when absent.
 */
export function attrStrings(node: Group | Dataset, name: string): string[] | undefined {
  if (!hasAttr(node, name)) return undefined;
  const value = node.attrs[name]!.value;
  return toStrings(value, name);
}

/** A single-string attribute; `undefined` when absent. */
export function attrString(node: Group | Dataset, name: string): string | undefined {
  const list = attrStrings(node, name);
  if (list === undefined) return undefined;
  return list.join("");
}

/** A numeric scalar attribute (integer or float); `undefined` when absent. */
export function attrNumber(node: Group | Dataset, name: string): number | undefined {
  if (!hasAttr(node, name)) return undefined;
  const value = node.attrs[name]!.value;
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  if (ArrayBuffer.isView(value) && (value as unknown as ArrayLike<unknown>).length === 1) {
    const v = (value as unknown as ArrayLike<number | bigint>)[0]!;
    return Number(v);
  }
  if (typeof value === "string" && value.trim() !== "" && !Number.isNaN(Number(value))) return Number(value);
  throw new FtError(`attribute "${name}" of ${node.path} is not a number`);
}

function toStrings(value: unknown, name: string): string[] {
  if (value === null || value === undefined) return [];
  if (typeof value === "string") return [value];
  if (value instanceof Uint8Array || value instanceof Int8Array) return [new TextDecoder().decode(stripNul(value))];
  if (Array.isArray(value)) return value.flatMap((v) => toStrings(v, name));
  // An empty list written without a string type (e.g. numpy's default float64 for `[]`).
  if (ArrayBuffer.isView(value) && (value as unknown as ArrayLike<unknown>).length === 0) return [];
  throw new FtError(`attribute "${name}" is not a string (got ${typeof value})`);
}

function stripNul(bytes: Uint8Array | Int8Array): Uint8Array {
  const u = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = u.indexOf(0);
  return end < 0 ? u : u.subarray(0, end);
}

/** The dataset at `path` (relative to `group`), or `undefined` when absent or not a dataset. */
export function getDataset(group: Group, path: string): Dataset | undefined {
  const entity = group.get(path);
  return entity instanceof h5wasm().default.Dataset ? entity : undefined;
}

/** The group at `path` (relative to `group`), or `undefined` when absent or not a group. */
export function getGroup(group: Group, path: string): Group | undefined {
  const entity = group.get(path);
  return entity instanceof h5wasm().default.Group ? entity : undefined;
}

/** Shape of a dataset (`[]` for a scalar). */
export function datasetShape(dataset: Dataset): number[] {
  return dataset.shape ?? [];
}

/** Whether a dataset holds integer or floating-point numbers (what a weight must be). */
export function isNumericDataset(dataset: Dataset): boolean {
  const m = dataset.metadata;
  return m.type === 0 || m.type === 1;
}

/**
 * Reads rows `[start, end)` along axis 0 of a numeric dataset (all of it by default) as a new
 * Float32Array. h5wasm frees its wasm buffer before returning; the caller owns the result.
 */
export function readFloat32(dataset: Dataset, start?: number, end?: number): Float32Array {
  const shape = datasetShape(dataset);
  const whole = start === undefined || shape.length === 0 || (start === 0 && (end ?? shape[0]) >= shape[0]!);
  let value: unknown;
  try {
    value = whole ? dataset.value : dataset.slice([[start!, end ?? shape[0]!]]);
  } catch (e) {
    throw new FtError(`${dataset.path}: could not read the dataset (${(e as Error).message}); the file may be damaged`);
  }
  if (value instanceof Float32Array) return value;
  if (typeof value === "number") return Float32Array.of(value);
  if (typeof value === "bigint") return Float32Array.of(Number(value));
  if (value instanceof BigInt64Array || value instanceof BigUint64Array) return Float32Array.from(value, Number);
  if (ArrayBuffer.isView(value)) return Float32Array.from(value as unknown as ArrayLike<number>);
  throw new FtError(`${dataset.path}: dataset is not numeric and cannot be a weight`);
}

/**
 * Streams a numeric dataset in blocks of at most `rowsPerBlock` rows along axis 0. Float32 data is
 * read into one reused wasm buffer and handed over as a view into wasm memory (valid only during
 * the callback), so no JS copy is made per block; other types go through `readFloat32`.
 */
export function readFloat32Blocks(dataset: Dataset, rowsPerBlock: number, onBlock: (block: Float32Array, start: number, end: number) => void): void {
  const shape = datasetShape(dataset);
  const m = dataset.metadata;
  const rows = shape.length ? shape[0]! : 1;
  const step = Math.max(1, Math.floor(rowsPerBlock));
  if (shape.length === 0 || !(m.type === 1 && m.size === 4)) {
    for (let start = 0; start < rows; start += step) {
      const end = Math.min(rows, start + step);
      onBlock(readFloat32(dataset, start, end), start, end);
    }
    return;
  }
  const rowSize = shape.slice(1).reduce((a, b) => a * b, 1);
  const blockValues = Math.min(rows, step) * rowSize;
  if (blockValues === 0) return;
  const { Module } = h5wasm();
  const ptr = Module._malloc(blockValues * 4);
  if (!ptr) throw new FtError(`${dataset.path}: could not allocate ${blockValues * 4} bytes in the HDF5 reader's memory`);
  try {
    for (let start = 0; start < rows; start += step) {
      const end = Math.min(rows, start + step);
      const count = [BigInt(end - start), ...shape.slice(1).map(BigInt)];
      const offset = [BigInt(start), ...shape.slice(1).map(() => 0n)];
      const strides = shape.map(() => 1n);
      const status = Module.get_dataset_data(dataset.file_id, dataset.path, count, offset, strides, BigInt(ptr));
      if (status < 0) throw new FtError(`${dataset.path}: could not read rows ${start}–${end} (the file may be damaged)`);
      // The heap may have grown during the read: take the view afterwards.
      onBlock(new Float32Array(Module.HEAPU8.buffer, ptr, (end - start) * rowSize), start, end);
    }
  } finally {
    Module._free(ptr);
  }
}
