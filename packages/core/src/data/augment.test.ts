import { describe, expect, it } from "vitest";
import { augmentAndResize, cropImage, flipHorizontal, randomPadCropWindow, randomResizedCropWindow } from "./augment.js";
import type { RawImage } from "./dataset.js";
import { hashSeed, mulberry32, permutation } from "./random.js";
import { resizeBilinear } from "./resize.js";

/** A 4×5 image whose pixel (y, x, c) holds 100·c + 10·y + x + 1 (never 0, so padding is visible). */
function codedImage(height = 4, width = 5): RawImage {
  const data = new Uint8Array(height * width * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = 100 * c + 10 * y + x + 1;
  return { data, height, width, channels: 3 };
}
const at = (img: RawImage, y: number, x: number, c = 0) => img.data[(y * img.width + x) * 3 + c];

describe("random", () => {
  it("mulberry32 is deterministic, in [0, 1) and seed-sensitive", () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.05);
    expect(mulberry32(43)()).not.toBe(mulberry32(42)());
  });

  it("hashSeed separates argument lists and large seeds", () => {
    const seeds = new Set([hashSeed(0, 0), hashSeed(0, 1), hashSeed(1, 0), hashSeed(0), hashSeed(2 ** 32), hashSeed(0, 0, 0)]);
    expect(seeds.size).toBe(6);
    expect(hashSeed(7, 3)).toBe(hashSeed(7, 3));
  });

  it("permutation is a permutation and depends on the seed", () => {
    const p = permutation(100, mulberry32(1));
    expect(Array.from(p).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(Array.from(p)).not.toEqual(Array.from(permutation(100, mulberry32(2))));
  });
});

describe("augmentation", () => {
  it("cropImage shifts the image and zero-fills outside it", () => {
    const img = codedImage();
    const out = cropImage(img, { top: -1, left: 2, height: 4, width: 5 });
    expect(at(out, 0, 0)).toBe(0); // row −1 is padding
    expect(at(out, 1, 0)).toBe(at(img, 0, 2));
    expect(at(out, 3, 2, 2)).toBe(at(img, 2, 4, 2));
    expect(at(out, 2, 3)).toBe(0); // column 5 is padding
    expect(at(out, 2, 4)).toBe(0);
  });

  it("flipHorizontal mirrors columns and keeps channel order", () => {
    const img = codedImage();
    const out = flipHorizontal(img);
    for (let y = 0; y < 4; y++) for (let x = 0; x < 5; x++) for (let c = 0; c < 3; c++) expect(at(out, y, x, c)).toBe(at(img, y, 4 - x, c));
  });

  it("pad-crop offsets cover [−pad, pad] and stay within it", () => {
    const random = mulberry32(5);
    const tops = new Set<number>();
    for (let i = 0; i < 400; i++) {
      const w = randomPadCropWindow(32, 32, 0.125, random);
      expect(w.height).toBe(32);
      expect(Math.abs(w.top)).toBeLessThanOrEqual(4);
      expect(Math.abs(w.left)).toBeLessThanOrEqual(4);
      tops.add(w.top);
    }
    expect(tops.size).toBe(9);
  });

  it("resized-crop windows lie inside the image with area and ratio in range", () => {
    const random = mulberry32(9);
    for (let i = 0; i < 300; i++) {
      const w = randomResizedCropWindow(40, 60, [0.35, 1], [3 / 4, 4 / 3], random);
      expect(w.top).toBeGreaterThanOrEqual(0);
      expect(w.left).toBeGreaterThanOrEqual(0);
      expect(w.top + w.height).toBeLessThanOrEqual(40);
      expect(w.left + w.width).toBeLessThanOrEqual(60);
      const area = (w.height * w.width) / 2400;
      expect(area).toBeGreaterThan(0.3);
      expect(w.width / w.height).toBeGreaterThan(0.7);
      expect(w.width / w.height).toBeLessThan(1.4);
    }
    // Impossible ratio range for this image: the centred fallback.
    expect(randomResizedCropWindow(10, 100, [0.99, 1], [1, 1], mulberry32(1))).toEqual({ top: 0, left: 45, height: 10, width: 10 });
  });

  it("augmentAndResize without augmentation is the OpenCV resize; with it, seeded and varied", () => {
    const img = codedImage(8, 8);
    expect(augmentAndResize(img, 12, 10, undefined, mulberry32(0))).toEqual(resizeBilinear(img, 12, 10));
    const a = augmentAndResize(img, 12, 12, { crop: "pad", flip: true }, mulberry32(3));
    const b = augmentAndResize(img, 12, 12, { crop: "pad", flip: true }, mulberry32(3));
    expect(a).toEqual(b);
    const variants = new Set(Array.from({ length: 20 }, (_, s) => Buffer.from(augmentAndResize(img, 12, 12, { crop: "resized" }, mulberry32(s)).data).toString("hex")));
    expect(variants.size).toBeGreaterThan(10);
    // Flip only: either the plain resize or its mirror.
    const plain = resizeBilinear(img, 12, 12);
    for (let s = 0; s < 10; s++) {
      const out = augmentAndResize(img, 12, 12, { crop: "none", flip: true }, mulberry32(s));
      expect([plain.data, flipHorizontal(plain).data]).toContainEqual(out.data);
    }
  });
});
