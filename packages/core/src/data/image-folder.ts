import { readdir, stat } from "node:fs/promises";
import { extname, join, resolve } from "node:path";
import { FtError } from "../errors.js";
import type { Example, ImageDataset } from "./dataset.js";
import { decodeImage, probeImage, reasonOf } from "./decode.js";
import { hashSeed, mulberry32, permutation } from "./random.js";

/** File extensions read as images (case-insensitive). */
export const IMAGE_EXTENSIONS = [".jpg", ".jpeg", ".png", ".webp"] as const;

/** A file left out of a data set, and why. */
export interface SkippedFile {
  path: string;
  reason: string;
}

/** How much of each image to read while listing a folder. */
export type ImageVerification = "none" | "header" | "decode";

export interface ImageFolderOptions {
  /**
   * Fraction of `train/` held out for validation when the folder has neither `val/` nor `test/`
   * (default 0.2). The held-out images are chosen per class with `seed`, so both splits keep every class.
   */
  valFraction?: number;
  /** Seed of the hold-out split (default 0). */
  seed?: number;
  /**
   * Check each file while listing: `header` (default) reads the image header only — fast, catches
   * files that are not images; `decode` decodes every image once — slow, also catches truncated files;
   * `none` trusts the extensions. Files failing later, while training, are skipped by the batch source.
   */
  verify?: ImageVerification;
  /**
   * Class names to use, in this order (e.g. those of a trained run when evaluating). Every class
   * folder must be one of them; classes without a folder are allowed. Default: the sorted names
   * of the class folders.
   */
  classes?: string[];
  /** Files checked at once when verifying (default 16). */
  concurrency?: number;
}

/** Where the validation images of an image folder come from. */
export type ValidationSource = "val" | "test" | "split" | "none";

/** The examples of an image folder, ready to stream. */
export interface ImageFolder {
  /** Absolute path of the folder. */
  root: string;
  classes: string[];
  /** The `train/` images (less the held-out fraction when there is no `val/`/`test/`). */
  train: ImageDataset;
  /** Validation images; empty when `valSource` is `none`. */
  val: ImageDataset;
  valSource: ValidationSource;
  /** Unreadable or unsupported files that were left out (path and reason). */
  skipped: SkippedFile[];
}

/** One split of an image folder, with the files left out of it. */
export interface ImageFolderDataset extends ImageDataset {
  skipped: SkippedFile[];
  valSource: ValidationSource;
}

interface ListedFile {
  path: string;
  label: number;
}

const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** Sorted subfolder names of `dir`, hidden ones excluded. */
async function subfolders(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const names: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith(".")) continue;
    if (entry.isDirectory() || (entry.isSymbolicLink() && (await isDirectory(join(dir, entry.name))))) names.push(entry.name);
  }
  return names.sort(byCodePoint);
}

/** All files under `dir` (recursively, sorted, hidden entries skipped). */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => byCodePoint(a.name, b.name));
  for (const entry of entries) {
    if (entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory() || (entry.isSymbolicLink() && (await isDirectory(path)))) out.push(...(await filesUnder(path)));
    else out.push(path);
  }
  return out;
}

/**
 * Lists `splitDir/<class>/**` into labelled files. Files with other extensions are reported in
 * `skipped`; an empty class folder is an error naming it.
 */
async function listSplit(splitDir: string, classes: string[] | undefined, skipped: SkippedFile[]): Promise<{ classes: string[]; files: ListedFile[] }> {
  const folders = await subfolders(splitDir);
  if (folders.length === 0) {
    throw new FtError(`no class folders in ${splitDir}: expected ${join(splitDir, "<class>", "<image>.jpg")}`);
  }
  const classNames = classes ?? folders;
  const files: ListedFile[] = [];
  for (const folder of folders) {
    const label = classNames.indexOf(folder);
    if (label < 0) {
      throw new FtError(`class folder ${join(splitDir, folder)} is not one of the classes: ${classNames.join(", ")}`);
    }
    const classDir = join(splitDir, folder);
    let count = 0;
    for (const path of await filesUnder(classDir)) {
      if ((IMAGE_EXTENSIONS as readonly string[]).includes(extname(path).toLowerCase())) {
        files.push({ path, label });
        count++;
      } else {
        skipped.push({ path, reason: `not an image file (extensions read: ${IMAGE_EXTENSIONS.join(", ")})` });
      }
    }
    if (count === 0) throw new FtError(`class folder ${classDir} contains no images (${IMAGE_EXTENSIONS.join(", ")})`);
  }
  return { classes: classNames, files };
}

/** Drops the files that fail `verify`, recording them in `skipped`. */
async function verifyFiles(files: ListedFile[], verify: ImageVerification, concurrency: number, skipped: SkippedFile[]): Promise<ListedFile[]> {
  if (verify === "none") return files;
  const ok = new Array<boolean>(files.length).fill(true);
  const reasons = new Array<string>(files.length);
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const i = next++;
      try {
        if (verify === "decode") await decodeImage(files[i].path);
        else await probeImage(files[i].path);
      } catch (error) {
        ok[i] = false;
        reasons[i] = reasonOf(error).replace(/^cannot (read|decode) image .*?: /, "");
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, files.length)) }, worker));
  files.forEach((file, i) => {
    if (!ok[i]) skipped.push({ path: file.path, reason: reasons[i] });
  });
  return files.filter((_, i) => ok[i]);
}

function toExamples(files: ListedFile[]): Example[] {
  return files.map(({ path, label }) => ({ label, origin: path, load: () => decodeImage(path) }));
}

/**
 * Holds out `fraction` of each class (at least one image when a class has two or more),
 * chosen with a permutation seeded by `seed`. Both halves keep the sorted file order.
 */
function splitByClass(files: ListedFile[], classCount: number, fraction: number, seed: number): { train: ListedFile[]; val: ListedFile[] } {
  const heldOut = new Set<ListedFile>();
  for (let label = 0; label < classCount; label++) {
    const ofClass = files.filter((f) => f.label === label);
    if (ofClass.length < 2) continue;
    const count = Math.min(ofClass.length - 1, Math.max(1, Math.round(ofClass.length * fraction)));
    const order = permutation(ofClass.length, mulberry32(hashSeed(seed, label, 0x5e1)));
    for (let i = 0; i < count; i++) heldOut.add(ofClass[order[i]]);
  }
  return { train: files.filter((f) => !heldOut.has(f)), val: files.filter((f) => heldOut.has(f)) };
}

/**
 * Reads an image-folder data set (`--data DIR`):
 *
 * - `DIR/train/<class>/…` and `DIR/val/<class>/…` (or `DIR/test/…`) — the usual layout;
 * - `DIR/train/<class>/…` alone — `valFraction` of each class is held out with `seed`;
 * - `DIR/<class>/…` (no `train/`, `val/` or `test/`) — the same hold-out split of `DIR`;
 * - `DIR/val/…` or `DIR/test/…` alone — validation only (for `ft eval`); `train` is empty.
 *
 * Class names are the sorted names of the class folders (or `options.classes`); images are
 * `.jpg/.jpeg/.png/.webp` files anywhere below a class folder, in sorted path order.
 * Unreadable files are left out and listed in `skipped` (the caller reports them and their count).
 * Throws an FtError naming the path for a missing folder, a folder without class folders and an
 * empty class folder.
 */
export async function loadImageFolder(dir: string, options: ImageFolderOptions = {}): Promise<ImageFolder> {
  const root = resolve(dir);
  const { valFraction = 0.2, seed = 0, verify = "header", concurrency = 16 } = options;
  if (!(valFraction >= 0 && valFraction < 1)) throw new FtError(`valFraction must be in [0, 1), got ${valFraction}`);
  if (!(await isDirectory(root))) throw new FtError(`data folder ${root} does not exist or is not a folder`);

  const trainDir = join(root, "train");
  const valName = (await isDirectory(join(root, "val"))) ? "val" : (await isDirectory(join(root, "test"))) ? "test" : undefined;
  const hasTrain = await isDirectory(trainDir);
  const skipped: SkippedFile[] = [];

  let classes: string[];
  let trainFiles: ListedFile[] = [];
  let valFiles: ListedFile[] = [];
  let valSource: ValidationSource;
  if (hasTrain || !valName) {
    // With no train/val/test at all, DIR itself holds the class folders.
    const listed = await listSplit(hasTrain ? trainDir : root, options.classes, skipped);
    classes = listed.classes;
    trainFiles = listed.files;
    if (valName) {
      valFiles = (await listSplit(join(root, valName), classes, skipped)).files;
      valSource = valName as "val" | "test";
    } else if (valFraction > 0) {
      ({ train: trainFiles, val: valFiles } = splitByClass(trainFiles, classes.length, valFraction, seed));
      valSource = "split";
    } else {
      valSource = "none";
    }
  } else {
    const listed = await listSplit(join(root, valName), options.classes, skipped);
    classes = listed.classes;
    valFiles = listed.files;
    valSource = valName as "val" | "test";
  }

  trainFiles = await verifyFiles(trainFiles, verify, concurrency, skipped);
  valFiles = await verifyFiles(valFiles, verify, concurrency, skipped);
  const label = hasTrain ? "train" : ".";
  return {
    root,
    classes,
    train: { name: `${root}${hasTrain ? "/train" : ""}`, classes, examples: toExamples(trainFiles) },
    val: {
      name: valSource === "split" ? `${root}/${label}[${valFraction} held out, seed ${seed}]` : valSource === "none" ? `${root} (no validation)` : `${root}/${valSource}`,
      classes,
      examples: toExamples(valFiles),
    },
    valSource,
    skipped,
  };
}

/**
 * One split of an image folder (see {@link loadImageFolder}): `train` (default) or `val`
 * (the `val/` or `test/` folder, else the held-out fraction). The returned data set carries the
 * files that were skipped while listing; print them with their count.
 */
export async function imageFolderDataset(
  dir: string,
  options: ImageFolderOptions & { split?: "train" | "val" } = {},
): Promise<ImageFolderDataset> {
  const { split = "train", ...rest } = options;
  const folder = await loadImageFolder(dir, rest);
  const dataset = split === "train" ? folder.train : folder.val;
  if (split === "train" && dataset.examples.length > 0) checkTrainable(folder);
  if (dataset.examples.length === 0) {
    const what =
      split === "train" ? `no training images: expected ${join(folder.root, "train", "<class>", "<image>.jpg")}` : `no validation images: add ${join(folder.root, "val", "<class>", "…")} or use a valFraction > 0`;
    throw new FtError(`data folder ${folder.root} has ${what}`);
  }
  return { ...dataset, skipped: folder.skipped, valSource: folder.valSource };
}

/**
 * A training split needs two classes or more, each with a readable image: a class whose files were all
 * skipped would otherwise leave a model that never sees it.
 */
function checkTrainable(folder: ImageFolder): void {
  if (folder.classes.length < 2) {
    throw new FtError(`data folder ${folder.root} has one class (${folder.classes.join("")}): fine-tuning a classifier needs two or more class folders`);
  }
  const seen = new Set(folder.train.examples.map((e) => e.label));
  const missing = folder.classes.filter((_, label) => !seen.has(label));
  if (missing.length === 0) return;
  const skippedIn = (name: string) => folder.skipped.filter((f) => f.path.startsWith(join(folder.train.name, name, "/")));
  throw new FtError(
    `class ${missing.map((c) => `"${c}"`).join(", ")} of ${folder.train.name} has no readable training image` +
      missing.flatMap((c) => skippedIn(c).slice(0, 3).map((f) => `\n  skipped ${f.path}: ${f.reason}`)).join(""),
  );
}
