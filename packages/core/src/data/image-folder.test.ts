import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FtError } from "../errors.js";
import { imageFolderDataset, loadImageFolder } from "./image-folder.js";

/** The real CIFAR-10 JPEGs shipped in the repository (examples/cifar10-sample). */
const SAMPLE = fileURLToPath(new URL("../../../../examples/cifar10-sample", import.meta.url));
const CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

describe("image folder on the real CIFAR-10 sample", () => {
  it("lists train/ and test/ with sorted classes and decodes the JPEGs", async () => {
    const folder = await loadImageFolder(SAMPLE);
    expect(folder.classes).toEqual(CIFAR_CLASSES);
    expect(folder.valSource).toBe("test");
    expect(folder.train.examples).toHaveLength(300);
    expect(folder.val.examples).toHaveLength(200);
    expect(folder.skipped).toEqual([]);
    const first = folder.train.examples[0];
    expect(first.origin).toBe(join(SAMPLE, "train", "airplane", "0000.jpg"));
    expect(first.label).toBe(0);
    const truck = folder.val.examples[199];
    expect(truck.label).toBe(9);
    expect(truck.origin).toContain(join("test", "truck"));
    const image = await first.load();
    expect(image).toMatchObject({ height: 32, width: 32, channels: 3 });
    // Compare with an independent decode of the same file.
    const reference = await sharp(await readFile(first.origin)).raw().toBuffer();
    expect(Buffer.from(image.data).equals(reference)).toBe(true);
  });

  it("imageFolderDataset picks one split", async () => {
    const val = await imageFolderDataset(SAMPLE, { split: "val", verify: "none" });
    expect(val.examples).toHaveLength(200);
    expect(val.name).toBe(join(SAMPLE, "test"));
    // Evaluation with a run's class order: a permutation of the names is honoured.
    const reversed = [...CIFAR_CLASSES].reverse();
    const evalSet = await imageFolderDataset(join(SAMPLE), { split: "val", classes: reversed, verify: "none" });
    expect(evalSet.classes).toEqual(reversed);
    expect(evalSet.examples[0].label).toBe(9); // airplane
  });
});

describe("image folder with bad data", () => {
  let root: string;
  let truncatedPath: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "ft-imgfolder-"));
    const png = (value: number) =>
      sharp(Buffer.alloc(6 * 5 * 3, value), { raw: { width: 5, height: 6, channels: 3 } })
        .png()
        .toBuffer();
    // A noisy 64×64 JPEG is mostly scan data: cut at 70 % its header stays readable.
    const noise = Buffer.from(Array.from({ length: 64 * 64 * 3 }, (_, i) => (i * 7919) % 251));
    const jpeg = await sharp(noise, { raw: { width: 64, height: 64, channels: 3 } }).jpeg().toBuffer();
    const flat = join(root, "flat");
    for (const cls of ["dog", "cat"]) {
      await mkdir(join(flat, cls, "nested"), { recursive: true });
      for (let i = 0; i < 5; i++) await writeFile(join(flat, cls, `${i}.png`), await png(10 * i));
    }
    await writeFile(join(flat, "cat", "nested", "deep.PNG"), await png(200));
    await writeFile(join(flat, "cat", "corrupt.jpg"), Buffer.from("this is not a JPEG at all"));
    truncatedPath = join(flat, "dog", "truncated.jpg");
    await writeFile(truncatedPath, jpeg.subarray(0, Math.floor(jpeg.length * 0.7)));
    await writeFile(join(flat, "dog", "notes.txt"), "hello");
    await writeFile(join(flat, "dog", ".DS_Store"), "hidden");
    await mkdir(join(root, "empty-class", "train", "a"), { recursive: true });
    await mkdir(join(root, "empty-class", "train", "b"), { recursive: true });
    await writeFile(join(root, "empty-class", "train", "a", "x.png"), await png(1));
    await mkdir(join(root, "no-classes", "train"), { recursive: true });
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("skips and reports unreadable files, reading classes from DIR itself", async () => {
    const folder = await loadImageFolder(join(root, "flat"), { valFraction: 0.2, seed: 1 });
    expect(folder.classes).toEqual(["cat", "dog"]);
    expect(folder.valSource).toBe("split");
    const skipped = new Map(folder.skipped.map((s) => [s.path, s.reason]));
    expect(skipped.get(join(root, "flat", "cat", "corrupt.jpg"))).toMatch(/unsupported image format/i);
    expect(skipped.get(join(root, "flat", "dog", "notes.txt"))).toMatch(/not an image file/);
    expect(folder.skipped, JSON.stringify(folder.skipped)).toHaveLength(2); // hidden files are ignored; the truncated JPEG has a valid header
    const all = [...folder.train.examples, ...folder.val.examples].map((e) => e.origin);
    expect(all).toHaveLength(12);
    expect(all).toContain(join(root, "flat", "cat", "nested", "deep.PNG"));
    expect(all).toContain(truncatedPath);
    // 20 % of 6 images per class → 1 held out of each class.
    expect(folder.val.examples.map((e) => e.label).sort()).toEqual([0, 1]);
  });

  it("a full decode check also catches the truncated JPEG", async () => {
    const folder = await loadImageFolder(join(root, "flat"), { verify: "decode", valFraction: 0 });
    expect(folder.valSource).toBe("none");
    expect(folder.skipped.map((s) => s.path)).toContain(truncatedPath);
    expect(folder.skipped.find((s) => s.path === truncatedPath)!.reason).toMatch(/premature end|truncated|corrupt/i);
    expect(folder.train.examples).toHaveLength(11);
  });

  it("the hold-out split is deterministic in the seed", async () => {
    const a = await loadImageFolder(join(root, "flat"), { valFraction: 0.4, seed: 3, verify: "none" });
    const b = await loadImageFolder(join(root, "flat"), { valFraction: 0.4, seed: 3, verify: "none" });
    const names = (f: typeof a) => f.val.examples.map((e) => e.origin);
    expect(names(a)).toEqual(names(b));
    const others = await Promise.all([4, 5, 6, 7].map((seed) => loadImageFolder(join(root, "flat"), { valFraction: 0.4, seed, verify: "none" })));
    expect(others.some((o) => names(o).join() !== names(a).join())).toBe(true);
  });

  it("errors name the folder at fault", async () => {
    const missing = join(root, "missing");
    await expect(loadImageFolder(missing)).rejects.toThrow(FtError);
    await expect(loadImageFolder(missing)).rejects.toThrow(missing);
    await expect(loadImageFolder(join(root, "empty-class"))).rejects.toThrow(`class folder ${join(root, "empty-class", "train", "b")} contains no images`);
    await expect(loadImageFolder(join(root, "no-classes"))).rejects.toThrow(`no class folders in ${join(root, "no-classes", "train")}`);
    await expect(loadImageFolder(join(root, "flat"), { classes: ["cat"] })).rejects.toThrow(`class folder ${join(root, "flat", "dog")} is not one of the classes: cat`);
    await expect(imageFolderDataset(join(root, "flat"), { split: "val", valFraction: 0 })).rejects.toThrow(/no validation images/);
  });
});
