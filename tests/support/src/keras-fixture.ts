/**
 * Test support: writes Keras weight files of the exact structure of the published ones (from the
 * committed `fixtures/structures/*.json`, made by the package's h5py generator script) filled with
 * seeded random values, with h5wasm, so the loading proofs run where Python is not installed.
 *
 * One set of values ("canonical", TensorFlow layout) fills every file of a model: a th file stores
 * them converted the Theano way, so a correct loader must bring th and tf files back to the same
 * arrays. The conversions here go the file's way (tf → th), written from docs/weights-format.md and
 * checked against NumPy in keras-fixture.test.ts; the loader under test goes the other way.
 *
 * Shared by the tests of the architecture packages (test code, never built or published).
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { uniformStream } from "./random.js";
import { PYTHON } from "./system.js";

/** One weight of a layer as the file stores it. */
export interface WeightEntry {
  /** Dataset name, relative to the layer group (`conv1_W`, `conv2d_1/kernel:0`). */
  name: string;
  /** `kernel`, `bias`, `gamma`, `beta`, `moving_mean`, `moving_variance` (Keras 2 terms). */
  role: string;
  /** Shape in the file. */
  shape: number[];
  /** Shape in the TensorFlow layout (what tfjs holds); omitted when equal to `shape`. */
  tfShape?: number[];
  /** How the TensorFlow-layout array became the stored one; omitted for "copy". */
  conversion?: "copy" | "th-kernel" | "channels-first-dense";
  /** `[h, w, c]` of the channels-first map flattened before a Dense (`channels-first-dense` only). */
  feature?: [number, number, number];
}

export interface LayerEntry {
  name: string;
  /** Empty for weightless layers (they are still listed in `layer_names`). */
  weights: WeightEntry[];
}

/** One published weight file's structure. */
export interface FileStructure {
  /** File id, e.g. `inception_v4_th`. */
  file: string;
  layout: "keras1" | "keras2";
  ordering: "th" | "tf";
  /** Root string attributes besides `layer_names` (Keras 2: `backend`, `keras_version`). */
  attrs: Record<string, string>;
  /** Every layer, in the file's `layer_names` order. */
  layers: LayerEntry[];
}

/** TensorFlow-layout values per layer name, one array per weight in file order. */
export type WeightValues = Map<string, Float32Array[]>;

/**
 * `test/fixtures/` of the package whose tests run: vitest runs with that package as its root (where its
 * vitest.config.ts is), which is the working directory.
 */
const FIXTURES = join(process.cwd(), "test", "fixtures");

/** A file in the tested package's `test/fixtures/`. */
export function fixturePath(name: string): string {
  if (!existsSync(FIXTURES)) throw new Error(`${FIXTURES} not found: run the tests from the package folder (cd packages/X && npx vitest run)`);
  return join(FIXTURES, name);
}

/** Reads `fixtures/structures/<file>.json`. */
export function readStructure(file: string): FileStructure {
  return JSON.parse(readFileSync(fixturePath(`structures/${file}.json`), "utf8")) as FileStructure;
}

/** The TensorFlow-layout shape of a weight. */
export function tfShapeOf(w: Pick<WeightEntry, "shape" | "tfShape">): number[] {
  return w.tfShape ?? w.shape;
}

/** How a weight was converted for the file. */
export function conversionOf(w: Pick<WeightEntry, "conversion">): "copy" | "th-kernel" | "channels-first-dense" {
  return w.conversion ?? "copy";
}

/** The weighted layers of a structure. */
export function weightedLayers(structure: FileStructure): LayerEntry[] {
  return structure.layers.filter((l) => l.weights.length > 0);
}


function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

/**
 * Seeded values of every weight in the TensorFlow layout, the same for any file of the model (they
 * depend on the seed, the layer name and the weight's position). Kernels are He-uniform so that
 * activations neither vanish nor explode over 100+ layers; variances and gammas lie in [0.5, 1.5].
 */
export function canonicalWeights(structure: FileStructure, seed: number): WeightValues {
  const values: WeightValues = new Map();
  for (const layer of weightedLayers(structure)) {
    values.set(
      layer.name,
      layer.weights.map((w, i) => {
        const next = uniformStream(hash(`${seed}/${layer.name}/${i}`));
        const shape = tfShapeOf(w);
        const size = shape.reduce((a, b) => a * b, 1);
        const out = new Float32Array(size);
        if (w.role === "kernel") {
          const fanIn = size / shape[shape.length - 1]!;
          const limit = Math.sqrt(6 / fanIn);
          for (let k = 0; k < size; k++) out[k] = (2 * next() - 1) * limit;
        } else if (w.role === "gamma" || w.role === "moving_variance") {
          for (let k = 0; k < size; k++) out[k] = 0.5 + next();
        } else {
          for (let k = 0; k < size; k++) out[k] = 0.2 * (next() - 0.5);
        }
        return out;
      }),
    );
  }
  return values;
}

/**
 * What the file stores for a TensorFlow-layout value:
 * - `th-kernel`: `W_th[o, c, kh-1-i, kw-1-j] = W_tf[i, j, c, o]` (Theano kernels are used for true convolution);
 * - `channels-first-dense`: row `(h·W + w)·C + c` of the tf kernel is row `c·H·W + h·W + w` in the file.
 */
export function toFileLayout(entry: Pick<WeightEntry, "conversion" | "shape" | "tfShape" | "feature">, value: Float32Array): Float32Array {
  const conversion = conversionOf(entry);
  if (conversion === "copy") return value;
  const out = new Float32Array(value.length);
  const shape = tfShapeOf(entry);
  if (conversion === "th-kernel") {
    const [KH, KW, C, O] = shape as [number, number, number, number];
    for (let i = 0; i < KH; i++)
      for (let j = 0; j < KW; j++)
        for (let c = 0; c < C; c++)
          for (let o = 0; o < O; o++) out[((o * C + c) * KH + (KH - 1 - i)) * KW + (KW - 1 - j)] = value[((i * KW + j) * C + c) * O + o]!;
    return out;
  }
  const [H, W, C] = entry.feature!;
  const units = shape[1]!;
  for (let h = 0; h < H; h++)
    for (let w = 0; w < W; w++)
      for (let c = 0; c < C; c++) {
        const from = ((h * W + w) * C + c) * units;
        out.set(value.subarray(from, from + units), (c * H * W + h * W + w) * units);
      }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Writing with h5wasm (the HDF5 library @ft/core reads with)

interface H5Metadata {
  type: number;
  size: number;
  vlen: boolean;
  cset?: number;
  littleEndian: boolean;
  shape: number[] | null;
}
interface H5Node {
  attrs: Record<string, { metadata: H5Metadata; value: unknown }>;
}
interface H5Group extends H5Node {
  keys(): string[];
  get(name: string): unknown;
  create_group(name: string): H5Group;
  create_dataset(args: { name: string; data: Float32Array; shape: number[] }): unknown;
  create_attribute(name: string, data: unknown, shape?: number[] | null, dtype?: string | null): void;
}
interface H5File extends H5Group {
  close(): void;
}
interface H5Wasm {
  ready: Promise<unknown>;
  File: new (path: string, mode: string) => H5File;
  Group: abstract new (...args: never[]) => H5Group;
  Dataset: abstract new (...args: never[]) => H5Node & { metadata: H5Metadata };
}

let h5: Promise<H5Wasm> | undefined;

function h5wasm(): Promise<H5Wasm> {
  h5 ??= (async () => {
    const module = (await import("h5wasm/node")) as unknown as { default: H5Wasm };
    await module.default.ready;
    return module.default;
  })();
  return h5;
}

/**
 * A string-list attribute as Keras wrote it with h5py 2: fixed-length ASCII strings as long as the
 * longest; an empty list as an empty float64 array. (h5wasm marks fixed strings null-terminated where
 * h5py marks them null-padded; readers, h5py included, return the same strings.)
 */
function stringList(node: H5Group, name: string, values: string[]): void {
  if (values.length === 0) {
    node.create_attribute(name, new Float64Array(0), [0], "<d");
    return;
  }
  node.create_attribute(name, values, [values.length], `A${Math.max(...values.map((v) => Buffer.byteLength(v)))}`);
}

/**
 * Writes `structure` filled with `values` (TensorFlow layout; converted here to the file's layout) to
 * `path`, via a temporary name. A layer or weight name with `/` becomes nested groups, as with h5py.
 */
export async function writeKerasFile(structure: FileStructure, values: WeightValues, path: string): Promise<void> {
  const lib = await h5wasm();
  const tmp = `${path}.tmp-${process.pid}`;
  const file = new lib.File(tmp, "w");
  const groups = new Map<string, H5Group>([["", file]]);
  const group = (path: string): H5Group => {
    let g = groups.get(path);
    if (!g) {
      const cut = path.lastIndexOf("/");
      g = group(cut < 0 ? "" : path.slice(0, cut)).create_group(cut < 0 ? path : path.slice(cut + 1));
      groups.set(path, g);
    }
    return g;
  };
  try {
    stringList(file, "layer_names", structure.layers.map((l) => l.name));
    for (const [key, value] of Object.entries(structure.attrs)) file.create_attribute(key, value, [], `A${Buffer.byteLength(value)}`);
    for (const layer of structure.layers) {
      const g = group(layer.name);
      stringList(g, "weight_names", layer.weights.map((w) => w.name));
      layer.weights.forEach((w, i) => {
        const value = values.get(layer.name)?.[i];
        if (!value) throw new Error(`no value for ${layer.name} weight ${i}`);
        const data = toFileLayout(w, value);
        const cut = w.name.lastIndexOf("/");
        const parent = cut < 0 ? g : group(`${layer.name}/${w.name.slice(0, cut)}`);
        parent.create_dataset({ name: w.name.slice(cut + 1), data, shape: w.shape });
      });
    }
  } finally {
    file.close();
  }
  renameSync(tmp, path);
}

/** One node of {@link dumpHdf5}: groups and datasets with their attributes (type, size, shape, value). */
export interface DumpedNode {
  kind: "group" | "dataset";
  dataset?: { type: number; size: number; littleEndian: boolean; shape: number[] | null };
  attrs: Record<string, { type: number; size: number; vlen: boolean; cset?: number; shape: number[] | null; value: unknown }>;
}

/**
 * The structure of an HDF5 file as h5wasm (the reader @ft/core uses) sees it: every group and dataset
 * by path, dataset types and shapes, and every attribute's type, size, character set, shape and value.
 * Dataset values and string padding (null-terminated vs null-padded) are left out.
 */
export async function dumpHdf5(path: string): Promise<Record<string, DumpedNode>> {
  const lib = await h5wasm();
  const file = new lib.File(path, "r");
  const out: Record<string, DumpedNode> = {};
  const attrs = (node: H5Node): DumpedNode["attrs"] =>
    Object.fromEntries(
      Object.keys(node.attrs)
        .sort()
        .map((key) => {
          const { metadata: m, value } = node.attrs[key]!;
          const plain = ArrayBuffer.isView(value) ? Array.from(value as unknown as ArrayLike<number>) : value;
          return [key, { type: m.type, size: m.size, vlen: m.vlen, cset: m.cset, shape: m.shape, value: plain }];
        }),
    );
  const visit = (group: H5Group, prefix: string): void => {
    out[prefix || "/"] = { kind: "group", attrs: attrs(group) };
    for (const key of group.keys().sort()) {
      const child = group.get(key);
      const path = prefix ? `${prefix}/${key}` : key;
      if (child instanceof lib.Group) visit(child, path);
      else if (child instanceof lib.Dataset) {
        const m = child.metadata;
        out[path] = { kind: "dataset", dataset: { type: m.type, size: m.size, littleEndian: m.littleEndian, shape: m.shape }, attrs: attrs(child) };
      } else throw new Error(`${path}: neither a group nor a dataset`);
    }
  };
  try {
    visit(file, "");
  } finally {
    file.close();
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The h5py generator (Debian python3-h5py; see system.ts)

/** Runs the package's generator script with `args`; returns its stdout. */
export function runGenerator(script: string, args: string[]): string {
  const run = spawnSync(PYTHON, [fixturePath(script), ...args], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (run.status !== 0) throw new Error(`${script} ${args.join(" ")} failed: ${run.stderr}`);
  return run.stdout;
}
