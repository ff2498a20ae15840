import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { FtError } from "../errors.js";

/** File name of the topology + manifest in a TensorFlow.js layers-format directory. */
export const MODEL_JSON = "model.json";
/** Shard size of the TensorFlow.js converter (4 MiB), which browsers fetch comfortably. */
export const DEFAULT_SHARD_BYTES = 4 * 1024 * 1024;
const SHARD_NAME = /^group\d+-shard\d+of\d+\.bin$/;

export interface SaveModelDirOptions {
  /**
   * Stored as `userDefinedMetadata` in model.json (merged over any the model already carries):
   * preprocessing mode, class names, source weight file… Must be JSON-serialisable.
   */
  metadata?: Record<string, unknown>;
  /** Bytes per weight shard (default 4 MiB, like the tfjs converter). */
  shardBytes?: number;
  /** Also save the optimizer's state (default false). */
  includeOptimizer?: boolean;
}

export interface SavedModelDir {
  dir: string;
  modelJson: string;
  /** Shard file names, in manifest order. */
  shards: string[];
  /** Total bytes of weight data. */
  weightBytes: number;
  weightCount: number;
}

/**
 * Saves a LayersModel as a TensorFlow.js layers-format directory (`model.json` +
 * `group1-shard1ofN.bin` …), the format `tf.loadLayersModel` reads from a URL or from disk.
 * Every file is written under a temporary name and renamed; model.json is renamed last, so a
 * reader never sees a manifest whose shards are missing. Shards of an earlier save that the new
 * manifest does not list are removed afterwards.
 * Custom layers are saved by their registered class name and need the same registration to load.
 */
export async function saveModelDir(model: tfl.LayersModel, dir: string, options: SaveModelDirOptions = {}): Promise<SavedModelDir> {
  const shardBytes = options.shardBytes ?? DEFAULT_SHARD_BYTES;
  if (!(shardBytes > 0)) throw new FtError(`shardBytes must be positive (got ${shardBytes})`);
  await mkdir(dir, { recursive: true });
  const tmpTag = `.tmp-${process.pid}-${Date.now()}`;
  let saved: SavedModelDir | undefined;

  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const data = new tf.io.CompositeArrayBuffer(artifacts.weightData ?? []);
      const count = Math.max(1, Math.ceil(data.byteLength / shardBytes));
      const shards = Array.from({ length: count }, (_, i) => `group1-shard${i + 1}of${count}.bin`);
      const written: string[] = [];
      try {
        for (let i = 0; i < count; i++) {
          const tmp = join(dir, shards[i]! + tmpTag);
          written.push(tmp);
          await writeFile(tmp, new Uint8Array(data.slice(i * shardBytes, Math.min((i + 1) * shardBytes, data.byteLength))));
        }
        const userDefinedMetadata = { ...(artifacts.userDefinedMetadata ?? {}), ...(options.metadata ?? {}) } as Record<string, {}>;
        const modelJson: tf.io.ModelJSON = {
          modelTopology: artifacts.modelTopology!,
          format: artifacts.format ?? "layers-model",
          generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tfl.version_layers}`,
          convertedBy: artifacts.convertedBy ?? "ft",
          weightsManifest: [{ paths: shards, weights: artifacts.weightSpecs ?? [] }],
          ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
          ...(Object.keys(userDefinedMetadata).length ? { userDefinedMetadata } : {}),
        };
        const jsonTmp = join(dir, MODEL_JSON + tmpTag);
        written.push(jsonTmp);
        await writeFile(jsonTmp, JSON.stringify(modelJson));
        for (let i = 0; i < count; i++) await rename(written[i]!, join(dir, shards[i]!));
        await rename(jsonTmp, join(dir, MODEL_JSON));
      } catch (e) {
        await Promise.all(written.map((p) => rm(p, { force: true })));
        throw new FtError(`cannot write the model to ${dir}: ${(e as Error).message}`);
      }
      for (const name of await readdir(dir)) {
        if (SHARD_NAME.test(name) && !shards.includes(name)) await rm(join(dir, name), { force: true });
      }
      saved = { dir, modelJson: join(dir, MODEL_JSON), shards, weightBytes: data.byteLength, weightCount: artifacts.weightSpecs?.length ?? 0 };
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
    { includeOptimizer: options.includeOptimizer ?? false },
  );
  return saved!;
}

/**
 * Loads a TensorFlow.js layers-format model from a directory (or the path of its model.json),
 * without tfjs-node. Custom layer classes in the topology must be registered beforehand
 * (importing the package that defines them does that).
 */
export async function loadModelDir(dirOrModelJson: string): Promise<tfl.LayersModel> {
  const { path, json } = await readModelJson(dirOrModelJson);
  const dir = dirname(path);
  const artifacts = await tf.io.getModelArtifactsForJSON(json, async (manifest) => {
    const specs: tf.io.WeightsManifestEntry[] = [];
    const buffers: ArrayBuffer[] = [];
    for (const group of manifest) {
      specs.push(...group.weights);
      for (const shard of group.paths) {
        const shardPath = join(dir, shard);
        let bytes: Buffer;
        try {
          bytes = await readFile(shardPath);
        } catch {
          throw new FtError(`${path} lists the weight shard ${shard}, but ${shardPath} cannot be read`);
        }
        buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
      }
    }
    const expected = specs.reduce((sum, s) => sum + weightSpecBytes(s), 0);
    const found = buffers.reduce((sum, b) => sum + b.byteLength, 0);
    if (!Number.isNaN(expected) && found !== expected) throw new FtError(`the weight shards of ${path} hold ${found} bytes, but its manifest describes ${expected}: a shard is truncated or from another save`);
    return [specs, buffers];
  });
  try {
    return await tfl.loadLayersModel({ load: async () => artifacts });
  } catch (e) {
    const message = (e as Error).message;
    if (/^Unknown layer/.test(message)) {
      throw new FtError(`${path}: ${message.split(". ")[0]}. Import the package that defines this layer (it registers the class) before loading.`);
    }
    throw e;
  }
}

/** The `userDefinedMetadata` of a saved model directory, without loading its weights. */
export async function readModelDirMetadata(dirOrModelJson: string): Promise<Record<string, unknown> | undefined> {
  return (await readModelJson(dirOrModelJson)).json.userDefinedMetadata as Record<string, unknown> | undefined;
}

async function readModelJson(dirOrModelJson: string): Promise<{ path: string; json: tf.io.ModelJSON }> {
  let path = dirOrModelJson;
  try {
    if ((await stat(dirOrModelJson)).isDirectory()) path = join(dirOrModelJson, MODEL_JSON);
  } catch {
    throw new FtError(`no model at ${dirOrModelJson}: the path does not exist`);
  }
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    throw new FtError(`no model at ${dirOrModelJson}: ${basename(path)} is missing (expected a TensorFlow.js layers-format directory)`);
  }
  let json: tf.io.ModelJSON;
  try {
    json = JSON.parse(text) as tf.io.ModelJSON;
  } catch (e) {
    throw new FtError(`${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (!json || typeof json !== "object" || !json.modelTopology || !Array.isArray(json.weightsManifest)) {
    throw new FtError(`${path} is not a TensorFlow.js layers model (no modelTopology or weightsManifest)`);
  }
  return { path, json };
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8 };

function weightSpecBytes(spec: tf.io.WeightsManifestEntry): number {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  if (spec.quantization) return size * (spec.quantization.dtype === "uint8" ? 1 : 2);
  if (spec.dtype === "string") return NaN;
  return size * (DTYPE_BYTES[spec.dtype] ?? 4);
}
