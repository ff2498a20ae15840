import type { RawImage } from "./dataset.js";
import { randomInt, randomUniform, type Random } from "./random.js";
import { resizeBilinear } from "./resize.js";

/** Training-time augmentation (off unless asked for). */
export interface AugmentOptions {
  /**
   * `pad` (default): zero-pad each side by `padFraction` of the image size, then crop a random
   * window of the original size (the CIFAR recipe: 4 px around 32×32);
   * `resized`: a random-resized crop — a random area fraction `scale` and aspect ratio `ratio`
   * of the source (the Inception/torchvision recipe), resized to the target size;
   * `none`: no crop.
   */
  crop?: "pad" | "resized" | "none";
  /** Mirror left–right with probability 1/2 (default true). */
  flip?: boolean;
  /** Padding of the `pad` crop, as a fraction of height/width (default 0.125). */
  padFraction?: number;
  /** Area fraction range of the `resized` crop (default [0.35, 1]; torchvision uses [0.08, 1], harsh for 32 px images). */
  scale?: [number, number];
  /** Aspect ratio (w/h) range of the `resized` crop (default [3/4, 4/3]). */
  ratio?: [number, number];
}

/** A crop window in source pixels; it may extend past the image (zero padding). */
export interface CropWindow {
  top: number;
  left: number;
  height: number;
  width: number;
}

/** Copies `window` out of `image`; pixels outside the image are 0. */
export function cropImage(image: RawImage, window: CropWindow): RawImage {
  const { top, left, height, width } = window;
  const out = new Uint8Array(height * width * 3);
  const y0 = Math.max(0, -top);
  const y1 = Math.min(height, image.height - top);
  const x0 = Math.max(0, -left);
  const x1 = Math.min(width, image.width - left);
  if (x1 > x0) {
    for (let y = y0; y < y1; y++) {
      const from = ((top + y) * image.width + left + x0) * 3;
      out.set(image.data.subarray(from, from + (x1 - x0) * 3), (y * width + x0) * 3);
    }
  }
  return { data: out, height, width, channels: 3 };
}

/** Mirrors an image left–right (a new image). */
export function flipHorizontal(image: RawImage): RawImage {
  const { height, width, data } = image;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < height; y++) {
    const row = y * width * 3;
    for (let x = 0; x < width; x++) {
      const from = row + x * 3;
      const to = row + (width - 1 - x) * 3;
      out[to] = data[from];
      out[to + 1] = data[from + 1];
      out[to + 2] = data[from + 2];
    }
  }
  return { data: out, height, width, channels: 3 };
}

/** The window of a pad-and-crop: offsets drawn uniformly in [−pad, +pad] per axis. */
export function randomPadCropWindow(height: number, width: number, padFraction: number, random: Random): CropWindow {
  const padY = Math.round(height * padFraction);
  const padX = Math.round(width * padFraction);
  const top = randomInt(random, 2 * padY + 1) - padY;
  const left = randomInt(random, 2 * padX + 1) - padX;
  return { top, left, height, width };
}

/**
 * The window of a random-resized crop, as torchvision's `RandomResizedCrop.get_params`:
 * up to 10 draws of (area fraction, log-uniform aspect ratio); a draw that fits is placed
 * uniformly; if none fits, the largest centred window within the ratio range.
 */
export function randomResizedCropWindow(
  height: number,
  width: number,
  scale: [number, number],
  ratio: [number, number],
  random: Random,
): CropWindow {
  const area = height * width;
  const logRatio = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * randomUniform(random, scale[0], scale[1]);
    const aspect = Math.exp(randomUniform(random, logRatio[0], logRatio[1]));
    const w = Math.round(Math.sqrt(targetArea * aspect));
    const h = Math.round(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      return { top: randomInt(random, height - h + 1), left: randomInt(random, width - w + 1), height: h, width: w };
    }
  }
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < ratio[0]) h = Math.round(w / ratio[0]);
  else if (inRatio > ratio[1]) w = Math.round(h * ratio[1]);
  return { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), height: h, width: w };
}

/**
 * Produces one `height`×`width` training image: random crop (drawn first), OpenCV-exact bilinear
 * resize, then random flip (drawn second). Without `augment` it is the plain resize. The draws
 * depend only on `random`, so a per-batch seeded generator makes a batch reproducible.
 */
export function augmentAndResize(image: RawImage, height: number, width: number, augment: AugmentOptions | undefined, random: Random): RawImage {
  let source = image;
  if (augment) {
    const crop = augment.crop ?? "pad";
    if (crop === "pad") {
      source = cropImage(image, randomPadCropWindow(image.height, image.width, augment.padFraction ?? 0.125, random));
    } else if (crop === "resized") {
      source = cropImage(image, randomResizedCropWindow(image.height, image.width, augment.scale ?? [0.35, 1], augment.ratio ?? [3 / 4, 4 / 3], random));
    }
  }
  let out = source.height === height && source.width === width ? source : resizeBilinear(source, height, width);
  if (augment && (augment.flip ?? true) && random() < 0.5) out = flipHorizontal(out);
  return out;
}
