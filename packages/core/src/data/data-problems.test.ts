import * as tf from "@tensorflow/tfjs-core";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useCpu } from "../train/test-utils/fixtures.js";
import { openData, type OpenDataConfig } from "./sources.js";

// What people's image folders hold besides clean RGB JPEGs (issue #17, "Data problems").
let root: string;
beforeAll(async () => {
  await useCpu();
  root = await mkdtemp(join(tmpdir(), "ft-data-problems-"));
});
afterAll(() => rm(root, { recursive: true, force: true }));

const noise = (width: number, height: number, channels: 1 | 3 | 4, seed: number) => {
  const data = Buffer.alloc(width * height * channels);
  let s = seed;
  for (let i = 0; i < data.length; i++) data[i] = (s = (s * 1103515245 + 12345) >>> 0) >>> 24;
  return sharp(data, { raw: { width, height, channels } });
};

/** train/<class>/… with one clean JPEG per class and the odd files of `extra`. */
async function folder(name: string, extra: Record<string, Buffer | Promise<Buffer>>): Promise<string> {
  const dir = join(root, name);
  for (const [i, c] of ["cat", "dog", "Émile's photos"].entries()) {
    await mkdir(join(dir, "train", c), { recursive: true });
    await writeFile(join(dir, "train", c, "clean.jpg"), await noise(40, 30, 3, i + 1).jpeg().toBuffer());
  }
  for (const [path, bytes] of Object.entries(extra)) {
    await mkdir(join(dir, "train", path, ".."), { recursive: true });
    await writeFile(join(dir, "train", path), await bytes);
  }
  return dir;
}

const config = (source: string): OpenDataConfig => ({
  data: { source, trainSize: null, valSize: 0, valFraction: 0, augment: false },
  batchSize: 4,
  inputShape: [24, 24, 3],
  preprocess: "none",
  seed: 0,
});

describe("data problems in an image folder", () => {
  it("odd but valid images are read as RGB; unreadable and non-image files are reported once each and skipped", async () => {
    const jpeg = await noise(40, 30, 3, 9).jpeg().toBuffer();
    const dir = await folder("mixed", {
      "cat/grey.png": noise(20, 20, 1, 2).png().toBuffer(),
      "cat/cmyk.jpg": noise(20, 20, 3, 3).toColourspace("cmyk").jpeg().toBuffer(),
      "cat/deep.png": noise(20, 20, 3, 4).toColourspace("rgb16").png().toBuffer(),
      "dog/alpha.png": noise(20, 20, 4, 5).png().toBuffer(),
      "dog/huge.jpg": noise(3000, 3000, 3, 6).jpeg({ quality: 50 }).toBuffer(),
      "dog/empty.jpg": Buffer.alloc(0),
      "dog/truncated.jpg": jpeg.subarray(0, 200),
      "dog/notes.txt": Buffer.from("not an image"),
      "dog/scan.bmp": Buffer.from("BM not really"),
      "cat/anim.gif": noise(8, 8, 3, 7).gif().toBuffer(),
    });
    const skipped: { path: string; reason: string }[] = [];
    const { train } = await openData(config(dir), { onSkip: (f) => skipped.push(f) });
    const seen: number[] = [];
    for await (const batch of train.batches(0)) {
      const values = await batch.images.data();
      expect(batch.images.shape.slice(1)).toEqual([24, 24, 3]);
      expect(values.every((v) => Number.isFinite(v) && v >= 0 && v <= 255)).toBe(true);
      seen.push(...(await tf.argMax(batch.labels, -1).data()));
      batch.images.dispose();
      batch.labels.dispose();
    }
    // The truncated JPEG passes the header check and is skipped when its decode fails; the rest while listing.
    const skippedNames = skipped.map((f) => f.path.slice(dir.length + "/train/".length)).sort();
    expect(skippedNames).toEqual(["cat/anim.gif", "dog/empty.jpg", "dog/notes.txt", "dog/scan.bmp", "dog/truncated.jpg"]);
    // 3 clean images, and the grey, CMYK, 16-bit, alpha and 3000×3000 ones.
    expect(seen).toHaveLength(8);
    expect(new Set(skipped.map((f) => f.path)).size).toBe(skipped.length);
    for (const f of skipped) expect(f.reason.length).toBeGreaterThan(5);
    expect(train.classes).toEqual(["cat", "dog", "Émile's photos"]);
  });

  it("a class whose only files are unreadable fails at start, naming the class and its files", async () => {
    const dir = await folder("dead-class", { "bird/broken.jpg": Buffer.from("garbage"), "bird/empty.png": Buffer.alloc(0) });
    await expect(openData(config(dir))).rejects.toThrow(/class "bird" of \S+ has no readable training image\n {2}skipped \S+broken\.jpg: /);
  });

  it("one class, or none left, fails at start with a clear message", async () => {
    const one = join(root, "one-class");
    await mkdir(join(one, "train", "cat"), { recursive: true });
    await writeFile(join(one, "train", "cat", "a.jpg"), await noise(10, 10, 3, 1).jpeg().toBuffer());
    await expect(openData(config(one))).rejects.toThrow(/has one class \(cat\): fine-tuning a classifier needs two or more class folders/);
    const empty = join(root, "empty-split");
    await mkdir(join(empty, "train"), { recursive: true });
    await expect(openData(config(empty))).rejects.toThrow(/no class folders in \S+train/);
  });
});
