import { FtError } from "../errors.js";
import type { RawImage } from "./dataset.js";

type Sharp = typeof import("sharp");
let sharpModule: Promise<Sharp> | undefined;

/**
 * sharp (libvips, ~17 MB) is an optional peer of @ft/core: it is loaded on the first image decoded, so
 * building models and importing weights never need it.
 */
function loadSharp(): Promise<Sharp> {
  sharpModule ??= import("sharp").then(
    (module) => module.default,
    (error: unknown) => {
      sharpModule = undefined;
      throw new FtError(`decoding images needs the optional package sharp, which cannot be loaded (${reasonOf(error)}): npm install sharp@0.34`);
    },
  );
  return sharpModule;
}

/**
 * Decodes a JPEG/PNG (or any format sharp reads) to 8-bit RGB, row-major HWC.
 * Greyscale becomes three equal channels; an alpha channel is dropped (not composited),
 * like PIL's `convert("RGB")` used by Keras' `load_img`. EXIF orientation is not applied.
 * Throws an FtError naming `origin` (the path by default) and sharp's reason.
 */
export async function decodeImage(input: string | Uint8Array, origin = typeof input === "string" ? input : "image buffer"): Promise<RawImage> {
  const sharp = await loadSharp();
  try {
    const { data, info } = await sharp(input).removeAlpha().toColourspace("srgb").raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), height: info.height, width: info.width, channels: 3 };
  } catch (error) {
    throw new FtError(`cannot decode image ${origin}: ${decodeFailure(error)}`);
  }
}

/**
 * libvips reports a damaged body (a truncated JPEG) with the decoder's own warning ("Premature end of
 * JPEG file") or, depending on which of its threads saw it first, only with this generic line.
 */
function decodeFailure(error: unknown): string {
  const reason = reasonOf(error);
  return /treated as error due to failOn/i.test(reason) ? `corrupt or truncated image data (${reason})` : reason;
}

/**
 * Reads only the image header (fast) and returns its size; throws an FtError naming the path
 * for a file that is not a readable image. A truncated body is only found by a full decode.
 */
export async function probeImage(path: string): Promise<{ height: number; width: number; format: string }> {
  const sharp = await loadSharp();
  try {
    const meta = await sharp(path).metadata();
    if (!meta.width || !meta.height) throw new Error("no image size in header");
    return { height: meta.height, width: meta.width, format: meta.format ?? "unknown" };
  } catch (error) {
    throw new FtError(`cannot read image ${path}: ${reasonOf(error)}`);
  }
}

/** The message of an error (sharp/libvips messages can span lines: keep the first). */
export function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n")[0].trim();
}
