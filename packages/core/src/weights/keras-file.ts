/**
 * Reads the weight files Keras wrote with h5py, in any of its four containers: legacy Keras 0.x
 * (`nb_layers`, `layer_K/param_P`), Keras 1 `save_weights`, Keras 2 `save_weights` and `model.save`. Only metadata is read up front; every weight is read lazily, one at a time.
 */
import { FtError } from "../errors.js";
import type { ContainerLayout } from "../spec.js";
import {
  attrNumber,
  attrString,
  attrStrings,
  datasetShape,
  datasetDtype,
  getDataset,
  getGroup,
  hasAttr,
  isNumericDataset,
  openHdf5,
  readFloat32,
  readFloat32Blocks,
  type Group,
  readingHdf5,
  groupKeys,
  checkDeclaredSize,
  type Hdf5File,
} from "./hdf5.js";

/** One weight array of a layer, read on demand. */
export interface KerasWeight {
  /** Name as recorded in the file (`conv1_W`, `conv1/kernel:0`, `param_0`). */
  name: string;
  /**
   * The weight's role without layer prefix or `:N` suffix: `W`, `b`, `kernel`, `gamma`,
   * `running_std`, `moving_variance`, … (`param_N` in legacy files).
   */
  role: string;
  /** HDF5 path of the dataset. */
  path: string;
  /** Shape as stored in the file. */
  shape: number[];
  /** Number of elements. */
  size: number;
  /** Element type as stored (`float32`, `float16`, `float64`, …); reading always gives float32. */
  dtype: string;
  /** Reads the whole array (a new Float32Array; nothing is cached). */
  read(): Float32Array;
  /** Reads rows `[start, end)` along axis 0, for converting large arrays piece by piece. */
  readRows(start: number, end: number): Float32Array;
  /**
   * Streams the array in blocks of at most `rowsPerBlock` rows; each block is a view that is only
   * valid during the callback (it may point into the HDF5 reader's memory).
   */
  readBlocks(rowsPerBlock: number, onBlock: (block: Float32Array, start: number, end: number) => void): void;
}

/** One layer of the file, in file order. */
export interface KerasLayerWeights {
  /** Layer name (`layer_K` for legacy files, which record no names). */
  name: string;
  /** Position in the file's layer list (weightless layers included). */
  index: number;
  /** Weights in the order Keras saved them (empty for weightless layers). */
  weights: KerasWeight[];
}

/** A Keras HDF5 weight file opened for reading. Call `close()` when done. */
export interface KerasWeightFile {
  path: string;
  /** File size in bytes. */
  bytes: number;
  layout: ContainerLayout;
  /** `keras_version` attribute, when recorded (Keras 2 and `model.save` files). */
  kerasVersion?: string;
  /** Major Keras version that wrote the weights: 0 (legacy), 1 or 2. */
  kerasMajor: 0 | 1 | 2;
  /** `backend` attribute (`theano`, `tensorflow`), when recorded. */
  backend?: string;
  /** Every layer the file lists, in order, weightless ones included. */
  layers: KerasLayerWeights[];
  /** `model_config` of a `model.save` file, parsed as JSON data (never evaluated). */
  modelConfig?: unknown;
  /** `training_config` of a `model.save` file, parsed as JSON data. */
  trainingConfig?: unknown;
  /** Total number of weight values. */
  totalValues: number;
  /** Releases the file handle. */
  close(): void;
}

/**
 * Whether the file carries a classifier: any of `topLayers` (a model's `topLayers`) with weights.
 * Legacy files have no layer names and are taken to have it (all published ones do).
 */
export function hasTopLayers(file: Pick<KerasWeightFile, "layout" | "layers">, topLayers: readonly string[]): boolean {
  if (file.layout === "legacy" || topLayers.length === 0) return true;
  const top = new Set(topLayers);
  return file.layers.some((l) => top.has(l.name) && l.weights.length > 0);
}

/** Layers that carry at least one weight. */
export function weightedLayers(file: Pick<KerasWeightFile, "layers">): KerasLayerWeights[] {
  return file.layers.filter((l) => l.weights.length > 0);
}

/**
 * Opens a Keras HDF5 weight file and reads its structure. Throws `FtError` for a missing,
 * non-HDF5, truncated or non-Keras file.
 */
export async function readKerasWeights(path: string): Promise<KerasWeightFile> {
  const h5 = await openHdf5(path);
  try {
    return readingHdf5(path, () => describe(h5));
  } catch (e) {
    try {
      h5.close();
    } catch {
      // The reader's own error says what is wrong with the file.
    }
    throw e;
  }
}

function describe(h5: Hdf5File): KerasWeightFile {
  const root = h5.root;
  const base = {
    path: h5.path,
    bytes: h5.bytes,
    close: () => h5.close(),
  };
  if (hasAttr(root, "nb_layers")) {
    const layers = readLegacyLayers(h5.path, root);
    return finish({ ...base, layout: "legacy", kerasMajor: 0, layers });
  }
  let container = root;
  let layout: ContainerLayout;
  let modelConfig: unknown;
  let trainingConfig: unknown;
  if (getGroup(root, "model_weights") && (hasAttr(root, "model_config") || !hasChunkedAttr(root, "layer_names"))) {
    layout = "model";
    container = getGroup(root, "model_weights")!;
    modelConfig = parseJsonAttr(h5.path, root, "model_config");
    trainingConfig = parseJsonAttr(h5.path, root, "training_config");
  } else if (hasChunkedAttr(root, "layer_names")) {
    layout = "keras1"; // refined below
  } else {
    throw new FtError(
      `${h5.path}: an HDF5 file, but not a Keras weight file (no "layer_names", "nb_layers" or "model_weights"); root holds: ${groupKeys(root).slice(0, 10).join(", ") || "nothing"}`,
    );
  }
  const kerasVersion = attrString(container, "keras_version") ?? attrString(root, "keras_version");
  const backend = attrString(container, "backend") ?? attrString(root, "backend");
  const layerNames = readChunkedStrings(container, "layer_names");
  if (layerNames === undefined) throw new FtError(`${h5.path}: the "model_weights" group has no "layer_names" attribute`);
  const layers = layerNames.map((name, index) => readNamedLayer(h5.path, container, name, index));
  const kerasMajor = majorVersion(kerasVersion, backend, layers);
  if (layout !== "model") layout = kerasMajor === 2 ? "keras2" : "keras1";
  return finish({ ...base, layout, kerasMajor, kerasVersion, backend, layers, modelConfig, trainingConfig });
}

function finish(file: Omit<KerasWeightFile, "totalValues">): KerasWeightFile {
  return { ...file, totalValues: file.layers.reduce((n, l) => n + l.weights.reduce((m, w) => m + w.size, 0), 0) };
}

function majorVersion(version: string | undefined, backend: string | undefined, layers: KerasLayerWeights[]): 1 | 2 {
  const m = version?.match(/^(\d+)/);
  if (m) return Number(m[1]) >= 2 ? 2 : 1;
  if (backend !== undefined) return 2;
  // Keras 2 names weights `layer/kernel:0`; Keras 1 `layer_W` (`layer_W:0` under TensorFlow).
  const keras2Roles = new Set(["kernel", "bias", "moving_mean", "moving_variance", "depthwise_kernel", "pointwise_kernel"]);
  return layers.some((l) => l.weights.some((w) => w.name.includes("/") && keras2Roles.has(w.role))) ? 2 : 1;
}

function readLegacyLayers(path: string, root: Group): KerasLayerWeights[] {
  const count = attrNumber(root, "nb_layers")!;
  if (!Number.isInteger(count) || count < 0) throw new FtError(`${path}: legacy file with an invalid "nb_layers" (${count})`);
  const layers: KerasLayerWeights[] = [];
  for (let k = 0; k < count; k++) {
    const name = `layer_${k}`;
    const group = getGroup(root, name);
    if (!group) throw new FtError(`${path}: legacy file says ${count} layers but group "${name}" is missing`);
    const nbParams = attrNumber(group, "nb_params") ?? 0;
    const weights: KerasWeight[] = [];
    for (let p = 0; p < nbParams; p++) {
      weights.push(makeWeight(path, group, `param_${p}`, `param_${p}`, `param_${p}`, name));
    }
    layers.push({ name, index: k, weights });
  }
  return layers;
}

function readNamedLayer(path: string, container: Group, name: string, index: number): KerasLayerWeights {
  // Layer names containing "/" (GoogLeNet's `conv1/7x7_s2`) are nested groups; h5wasm resolves the path.
  const group = getGroup(container, name);
  if (!group) {
    throw new FtError(`${path}: layer "${name}" is listed in "layer_names" but has no group in the file`);
  }
  const names = readChunkedStrings(group, "weight_names") ?? [];
  const weights = names.map((weightName) => makeWeight(path, group, weightName, weightName, roleOf(name, weightName), name));
  return { name, index, weights };
}

function makeWeight(path: string, group: Group, name: string, relPath: string, role: string, layer: string): KerasWeight {
  const dataset = getDataset(group, relPath);
  if (!dataset) throw new FtError(`${path}: layer "${layer}" lists weight "${name}" but the file has no such dataset`);
  if (!isNumericDataset(dataset)) throw new FtError(`${path}: weight "${name}" of layer "${layer}" is not numeric`);
  const shape = datasetShape(dataset);
  const size = shape.reduce((a, b) => a * b, 1);
  checkDeclaredSize(path, dataset, `weight "${name}" of layer "${layer}"`);
  return {
    name,
    role,
    path: dataset.path,
    shape,
    size,
    dtype: datasetDtype(dataset),
    read: () => readFloat32(dataset),
    readRows: (start, end) => readFloat32(dataset, start, end),
    readBlocks: (rowsPerBlock, onBlock) => readFloat32Blocks(dataset, rowsPerBlock, onBlock),
  };
}

/** `conv1_W` → `W`; `conv1/kernel:0` → `kernel`; `bn_conv1_running_std:0` → `running_std`. */
export function roleOf(layerName: string, weightName: string): string {
  const role = weightName.replace(/:\d+$/, "");
  if (role.startsWith(`${layerName}/`) || role.startsWith(`${layerName}_`)) return role.slice(layerName.length + 1);
  return role.slice(role.lastIndexOf("/") + 1);
}

function hasChunkedAttr(group: Group, name: string): boolean {
  return hasAttr(group, name) || hasAttr(group, `${name}0`);
}

/** Keras 2 splits attributes over 64 KB into `name0`, `name1`, …; read either form. */
function readChunkedStrings(group: Group, name: string): string[] | undefined {
  if (hasAttr(group, name)) return attrStrings(group, name);
  if (!hasAttr(group, `${name}0`)) return undefined;
  const out: string[] = [];
  for (let i = 0; hasAttr(group, `${name}${i}`); i++) out.push(...attrStrings(group, `${name}${i}`)!);
  return out;
}

function parseJsonAttr(path: string, group: Group, name: string): unknown {
  const text = attrString(group, name);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new FtError(`${path}: attribute "${name}" is not valid JSON (${(e as Error).message})`);
  }
}
