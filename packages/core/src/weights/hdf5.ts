/**
 * Thin, read-only access to HDF5 files through h5wasm: open with real validation, read string and
 * numeric attributes whatever their HDF5 encoding, and read float datasets one at a time.
 *
 * h5wasm runs in a worker thread (`hdf5-thread.ts`), so that a damaged file that loops or aborts HDF5
 * ends in an FtError rather than a hung or dead process. Files are checked here (signature, size) before
 * h5wasm ever sees them, and a dataset's declared size is checked against its file before it is read.
 */
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { FtError } from "../errors.js";
import { callHdf5, currentThread, Hdf5CallError } from "./hdf5-thread.js";

/** HDF5 format signature; the superblock sits at offset 0, 512, 1024, 2048, … */
const SIGNATURE = Uint8Array.of(0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a);

/** A file open in the HDF5 worker. */
interface OpenFile {
  id: number;
  path: string;
  bytes: number;
  /** The worker it is open in: a worker ended by another file's hang or abort took it along. */
  thread: object | undefined;
}

/** A group of an open file, by its path in the file. */
export interface Group {
  file: OpenFile;
  path: string;
}

/** A dataset of an open file, with its header. */
export interface Dataset extends Group {
  shape: number[];
  /** HDF5 type class (0 integer, 1 float, …) and element size in bytes. */
  type: number;
  size: number;
  /** Whether an integer type is signed. */
  signed: boolean;
  /** Number of filters (compression) in its pipeline. */
  filters: number;
}

/** An open HDF5 file; call `close()` when done (datasets are read lazily through it). */
export interface Hdf5File {
  path: string;
  /** Size of the file in bytes. */
  bytes: number;
  root: Group;
  close(): void;
}

/** One call to the worker on `file`, its failures as FtErrors naming the file. */
function call<T>(file: OpenFile, op: string, ...args: unknown[]): T {
  if (file.thread !== currentThread()) {
    throw new FtError(`${file.path}: the HDF5 reader was restarted after another file damaged it; open this file again`);
  }
  try {
    return callHdf5<T>(op, [file.id, ...args]);
  } catch (e) {
    throw damaged(file.path, e);
  }
}

/** What HDF5 reported, as an FtError naming the file. */
function damaged(path: string, e: unknown): FtError {
  if (e instanceof FtError) return e;
  const kind = e instanceof Hdf5CallError ? e.kind : "error";
  const cause = kind === "aborted" ? "the HDF5 library aborted" : hdf5Cause(String((e as Error)?.message ?? e));
  return new FtError(`${path}: the HDF5 file is damaged (${cause}); fetch it again, or check it with h5dump`);
}

/**
 * Runs `read` over a file's structure, turning anything but an FtError (a TypeError on a value a damaged
 * file lacks, say) into one naming the file; an FtError is given the file's name if it lacks it.
 */
export function readingHdf5<T>(path: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    if (e instanceof FtError) throw e.message.includes(path) ? e : new FtError(`${path}: ${e.message}`, e.exitCode);
    throw damaged(path, e);
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

/** Deflate and its kin cannot expand data more than ~1032 times. */
const MAX_COMPRESSION_RATIO = 1100;

/**
 * Refuses a dataset that declares more data than its file can hold (uncompressed: the file's size;
 * with filters, that times the best compression ratio), before anything is allocated for it.
 */
export function checkDeclaredSize(path: string, dataset: Dataset, what: string): void {
  const declared = dataset.shape.reduce((a, b) => a * b, 1) * dataset.size;
  const limit = dataset.filters ? dataset.file.bytes * MAX_COMPRESSION_RATIO : dataset.file.bytes;
  if (!(declared <= limit)) {
    throw new FtError(`${path}: ${what} declares ${dataset.shape.join("×")} values (${declared} bytes), more than a file of ${dataset.file.bytes} bytes can hold: the file is damaged`);
  }
}

/**
 * Opens an HDF5 file read-only after checking that it exists, carries the HDF5 signature and is
 * not shorter than its superblock says. Every failure is an `FtError` naming the path.
 */
export async function openHdf5(path: string): Promise<Hdf5File> {
  const bytes = checkHdf5File(path);
  let id: number;
  try {
    id = callHdf5<number>("open", [path]);
  } catch (e) {
    throw damaged(path, e);
  }
  if (id < 0) throw new FtError(`${path}: HDF5 could not open this file (it has an HDF5 signature but is damaged or unsupported)`);
  const file: OpenFile = { id, path, bytes, thread: currentThread() };
  let open = true;
  return {
    path,
    bytes,
    root: { file, path: "/" },
    close() {
      if (!open) return;
      open = false;
      // A file whose worker ended has nothing left to close.
      if (file.thread === currentThread()) call(file, "close");
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
export function attrNames(node: Group): string[] {
  return call<string[]>(node.file, "attrNames", node.path);
}

/** Whether the node has the attribute. */
export function hasAttr(node: Group, name: string): boolean {
  return attrNames(node).includes(name);
}

/**
 * A string-list attribute (fixed-length byte strings in old files, variable-length UTF-8 in newer
 * h5py, scalar or 1-D); `undefined` when absent.
 */
export function attrStrings(node: Group, name: string): string[] | undefined {
  if (!hasAttr(node, name)) return undefined;
  return toStrings(call(node.file, "attr", node.path, name), name);
}

/** A single-string attribute; `undefined` when absent. */
export function attrString(node: Group, name: string): string | undefined {
  const list = attrStrings(node, name);
  if (list === undefined) return undefined;
  return list.join("");
}

/** A numeric scalar attribute (integer or float); `undefined` when absent. */
export function attrNumber(node: Group, name: string): number | undefined {
  if (!hasAttr(node, name)) return undefined;
  const value = call<unknown>(node.file, "attr", node.path, name);
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

const childPath = (group: Group, path: string) => (group.path === "/" ? `/${path}` : `${group.path}/${path}`);

/** The dataset at `path` (relative to `group`), or `undefined` when absent or not a dataset. */
export function getDataset(group: Group, path: string): Dataset | undefined {
  const full = childPath(group, path);
  if (call<string | undefined>(group.file, "kind", full) !== "dataset") return undefined;
  const header = call<{ shape: number[]; type: number; size: number; signed: boolean; filters: number }>(group.file, "dataset", full);
  return { file: group.file, path: full, ...header };
}

/** The group at `path` (relative to `group`), or `undefined` when absent or not a group. */
export function getGroup(group: Group, path: string): Group | undefined {
  const full = childPath(group, path);
  return call<string | undefined>(group.file, "kind", full) === "group" ? { file: group.file, path: full } : undefined;
}

/** Names of a group's members. */
export function groupKeys(group: Group): string[] {
  return call<string[]>(group.file, "keys", group.path);
}

/** Shape of a dataset (`[]` for a scalar). */
export function datasetShape(dataset: Dataset): number[] {
  return dataset.shape;
}

/** The dataset's element type in NumPy's terms (`float32`, `float16`, `int64`, `uint8`, …; `class N` for non-numeric types). */
export function datasetDtype(dataset: Dataset): string {
  const bits = dataset.size * 8;
  if (dataset.type === 1) return `float${bits}`;
  if (dataset.type === 0) return `${dataset.signed ? "" : "u"}int${bits}`;
  return `class ${dataset.type}`;
}

/** Whether a dataset holds integer or floating-point numbers (what a weight must be). */
export function isNumericDataset(dataset: Dataset): boolean {
  return dataset.type === 0 || dataset.type === 1;
}

/** Reads rows `[start, end)` along axis 0 of a numeric dataset (all of it by default) as a new Float32Array. */
export function readFloat32(dataset: Dataset, start?: number, end?: number): Float32Array {
  const shape = dataset.shape;
  const whole = start === undefined || shape.length === 0 || (start === 0 && (end ?? shape[0]) >= shape[0]!);
  return call<Float32Array>(dataset.file, "read", dataset.path, ...(whole ? [] : [start, end ?? shape[0]!]));
}

/** Streams a numeric dataset in blocks of at most `rowsPerBlock` rows along axis 0 (each a new Float32Array). */
export function readFloat32Blocks(dataset: Dataset, rowsPerBlock: number, onBlock: (block: Float32Array, start: number, end: number) => void): void {
  const rows = dataset.shape.length ? dataset.shape[0]! : 1;
  const step = Math.max(1, Math.floor(rowsPerBlock));
  if (dataset.shape.length === 0) return onBlock(readFloat32(dataset), 0, 1);
  for (let start = 0; start < rows; start += step) {
    const end = Math.min(rows, start + step);
    onBlock(readFloat32(dataset, start, end), start, end);
  }
}
