import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import h5wasm from "h5wasm/node";
import { FtError } from "../errors.js";
import { attrNumber, attrString, attrStrings, getDataset, getGroup, openHdf5, readFloat32, readFloat32Blocks } from "./hdf5.js";

const fixture = (name: string) => fileURLToPath(new URL(`../../test/fixtures/${name}`, import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "ft-hdf5-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
beforeAll(async () => {
  await h5wasm.ready;
});

describe("hdf5 attributes (files written by h5py)", () => {
  it("reads fixed-length byte-string lists (old Keras)", async () => {
    const f = await openHdf5(fixture("tiny_keras1_th.h5"));
    expect(attrStrings(f.root, "layer_names")).toEqual(["conv1", "bn1", "scale1", "relu1", "pool1", "flatten", "fc"]);
    expect(attrStrings(getGroup(f.root, "relu1")!, "weight_names")).toEqual([]);
    expect(attrStrings(f.root, "absent")).toBeUndefined();
    f.close();
  });

  it("reads variable-length UTF-8 lists and scalars (newer h5py)", async () => {
    const f = await openHdf5(fixture("tiny_keras2_tf.h5"));
    expect(attrStrings(f.root, "layer_names0")).toEqual(["block1/conv1", "block1/bn1", "block1/scale1", "block1/relu1"]);
    expect(attrString(f.root, "backend")).toBe("tensorflow");
    f.close();
  });

  it("reads fixed-length scalar strings and integer attributes", async () => {
    const saved = await openHdf5(fixture("tiny2_model_save.h5"));
    expect(attrString(saved.root, "keras_version")).toBe("2.2.4");
    expect(JSON.parse(attrString(saved.root, "model_config")!).class_name).toBe("Model");
    saved.close();
    const legacy = await openHdf5(fixture("tiny_legacy_th.h5"));
    expect(attrNumber(legacy.root, "nb_layers")).toBe(7);
    expect(attrNumber(getGroup(legacy.root, "layer_1")!, "nb_params")).toBe(4);
    legacy.close();
  });
});

describe("hdf5 datasets", () => {
  it("reads float64 and integer datasets as Float32Array, whole or by rows", async () => {
    const path = join(tmp, "types.h5");
    const w = new h5wasm.File(path, "w");
    w.create_dataset({ name: "f64", data: Float64Array.from([0.5, -1.25, 3, 4, 5, 6]), shape: [3, 2] });
    w.create_dataset({ name: "i32", data: Int32Array.from([7, -8, 9]) });
    w.close();
    const f = await openHdf5(path);
    const f64 = readFloat32(getDataset(f.root, "f64")!);
    expect(f64).toBeInstanceOf(Float32Array);
    expect(Array.from(f64)).toEqual([0.5, -1.25, 3, 4, 5, 6]);
    expect(Array.from(readFloat32(getDataset(f.root, "f64")!, 1, 3))).toEqual([3, 4, 5, 6]);
    expect(Array.from(readFloat32(getDataset(f.root, "i32")!))).toEqual([7, -8, 9]);
    const streamed: number[][] = [];
    readFloat32Blocks(getDataset(f.root, "f64")!, 2, (block, start, end) => streamed.push([start, end, ...block]));
    expect(streamed).toEqual([[0, 2, 0.5, -1.25, 3, 4], [2, 3, 5, 6]]);
    expect(getDataset(f.root, "missing")).toBeUndefined();
    f.close();
  });
});

describe("openHdf5 validation (h5wasm itself does not throw)", () => {
  it("detects truncation from a version-2+ superblock too", async () => {
    const path = join(tmp, "latest.h5");
    const w = new h5wasm.File(path, "w", { libver: "latest" });
    w.create_dataset({ name: "x", data: new Float32Array(4096) });
    w.close();
    const bytes = readFileSync(path);
    expect(bytes[8]).toBeGreaterThanOrEqual(2); // superblock version
    const cut = join(tmp, "latest-cut.h5");
    writeFileSync(cut, bytes.subarray(0, bytes.length - 1000));
    await expect(openHdf5(cut)).rejects.toThrow(/truncated HDF5 file/);
    const ok = await openHdf5(path);
    expect(ok.bytes).toBe(bytes.length);
    ok.close();
  });

  it("finds the signature after a user block", async () => {
    const path = join(tmp, "userblock.h5");
    const data = readFileSync(fixture("tiny_keras1_th.h5"));
    // h5py puts the superblock at 0; a 512-byte user block shifts it to 512.
    writeFileSync(path, Buffer.concat([Buffer.alloc(512), data]));
    const f = await openHdf5(path);
    expect(attrStrings(f.root, "layer_names")?.[0]).toBe("conv1");
    f.close();
  });

  it("gives FtErrors naming the path", async () => {
    await expect(openHdf5(join(tmp, "none.h5"))).rejects.toThrow(FtError);
    const junk = join(tmp, "junk.h5");
    writeFileSync(junk, Buffer.from("\x89HDF but not really"));
    await expect(openHdf5(junk)).rejects.toThrow(new RegExp(`${junk.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: not an HDF5 file`));
  });
});
