import { randomBytes } from "node:crypto";
import { mkdir, readdir, rename, rm, rmdir, stat } from "node:fs/promises";
import { isAbsolute, join, posix, win32 } from "node:path";
import { downloadFile, FtError, ftHome, type DownloadProgress } from "@ft/core";
import * as tar from "tar";

/** The official binary version of CIFAR-10 (Krizhevsky, 2009). */
export const CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";
export const CIFAR10_MD5 = "c32a1d4ab5d03f1284b67883e8d87530";
export const CIFAR10_BYTES = 170_052_171;
/** Environment variable naming a mirror of the archive (same file, same checksum). */
export const CIFAR10_URL_ENV = "FT_CIFAR10_URL";

const ARCHIVE_NAME = "cifar-10-binary.tar.gz";
/** The folder the archive unpacks to. */
export const BATCHES_FOLDER = "cifar-10-batches-bin";
export const TRAIN_FILES = ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];
export const TEST_FILES = ["test_batch.bin"];

export interface Cifar10ArchiveOptions {
  /** Where to download from (default: `FT_CIFAR10_URL`, else the official URL). */
  url?: string;
  /** Expected archive; defaults to the official one. Change it only for a different file (tests). */
  expected?: { md5: string; bytes: number };
  /** Cache folder (default `ftHome()/datasets`). */
  cacheDir?: string;
  onProgress?: (progress: DownloadProgress) => void;
  /** One-line status messages ("downloading …", "extracting …"). */
  onStatus?: (message: string) => void;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Whether `dir` holds every batch file of the binary version. */
async function isComplete(dir: string): Promise<boolean> {
  for (const name of [...TRAIN_FILES, ...TEST_FILES]) if (!(await exists(join(dir, name)))) return false;
  return true;
}

/**
 * Why a tar entry may not be extracted, or undefined when it is a plain file or folder that stays
 * inside the target folder. Absolute paths (POSIX or Windows), `..` segments and links are refused.
 */
export function unsafeEntryReason(path: string, type: string): string | undefined {
  if (type !== "File" && type !== "OldFile" && type !== "Directory") return `entry type ${type} is not allowed (only files and folders)`;
  if (isAbsolute(path) || posix.isAbsolute(path) || win32.isAbsolute(path) || /^[a-zA-Z]:/.test(path)) return "absolute path";
  if (path.split(/[\\/]+/).includes("..")) return "path escapes the target folder (..)";
  return undefined;
}

/**
 * Extracts a .tar.gz into `targetDir` safely: every entry is checked first (see
 * {@link unsafeEntryReason}) and the archive is refused as a whole with an FtError naming the
 * entry; the files are unpacked into a temporary sibling folder that is renamed into place, so
 * `targetDir` never holds a partial extraction. `pick` names the folder inside the archive that
 * becomes `targetDir`; `required` lists files it must contain.
 */
export async function extractTarGz(archive: string, targetDir: string, pick: string, required: string[] = []): Promise<void> {
  const problems: string[] = [];
  await tar.t({
    file: archive,
    onReadEntry: (entry) => {
      const reason = unsafeEntryReason(entry.path, entry.type);
      if (reason && problems.length < 5) problems.push(`"${entry.path}": ${reason}`);
    },
  });
  if (problems.length > 0) {
    throw new FtError(`refusing to extract ${archive}: unsafe entr${problems.length > 1 ? "ies" : "y"} ${problems.join("; ")}`);
  }
  const parent = join(targetDir, "..");
  const temp = join(parent, `.extract-${randomBytes(6).toString("hex")}`);
  await mkdir(temp, { recursive: true });
  try {
    // strict turns tar's warnings (bad checksums, truncated data) into errors; the filter is a
    // second line of defence behind the listing above.
    await tar.x({ file: archive, cwd: temp, strict: true, filter: (path, entry) => !("type" in entry) || unsafeEntryReason(path, entry.type) === undefined });
    const picked = join(temp, pick);
    if (!(await exists(picked))) {
      const found = await readdir(temp);
      throw new FtError(`${archive} has no folder ${pick}/ (found: ${found.join(", ") || "nothing"})`);
    }
    const missing: string[] = [];
    for (const name of required) if (!(await exists(join(picked, name)))) missing.push(name);
    if (missing.length > 0) throw new FtError(`${archive} lacks ${missing.map((m) => `${pick}/${m}`).join(", ")}`);
    try {
      await rename(picked, targetDir);
    } catch (error) {
      // Another process finished the same extraction first: keep its copy.
      if (!(await isComplete(targetDir))) throw error;
    }
  } catch (error) {
    if (error instanceof FtError) throw error;
    throw new FtError(`cannot extract ${archive}: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}

/**
 * Makes sure the CIFAR-10 batch files are in the cache and returns their folder
 * (`<cacheDir>/cifar-10-batches-bin`). Downloads the archive once (verified: size and md5),
 * then extracts it. Without network, throws one FtError naming the URL and the `--data DIR`
 * alternative, and leaves nothing behind in the cache.
 */
export async function ensureCifar10(options: Cifar10ArchiveOptions = {}): Promise<string> {
  const cacheDir = options.cacheDir ?? join(ftHome(), "datasets");
  const batchesDir = join(cacheDir, BATCHES_FOLDER);
  if (await isComplete(batchesDir)) return batchesDir;

  const url = options.url ?? process.env[CIFAR10_URL_ENV] ?? CIFAR10_URL;
  const expected = options.expected ?? { md5: CIFAR10_MD5, bytes: CIFAR10_BYTES };
  const archive = join(cacheDir, ARCHIVE_NAME);
  // Folders downloadFile may create, innermost first, to remove again if the download fails.
  const created = [cacheDir, join(cacheDir, "..")];
  const existed = await Promise.all(created.map(exists));
  if (!(await exists(archive))) {
    options.onStatus?.(`downloading CIFAR-10 from ${url} to ${archive}`);
    try {
      await downloadFile(url, archive, {
        bytes: expected.bytes,
        checksum: { algorithm: "md5", value: expected.md5 },
        onProgress: options.onProgress,
        manualHint:
          `pass --data DIR to use a folder of your own images (DIR/train/<class>/…) instead, ` +
          `or download ${url} by other means and save it as ${archive} (${CIFAR10_URL_ENV} sets a mirror)`,
      });
    } catch (error) {
      // downloadFile creates the cache folder; leave no empty folder behind either.
      for (let i = 0; i < created.length && !existed[i]; i++) await rmdir(created[i]).catch(() => undefined);
      throw error;
    }
  }
  options.onStatus?.(`extracting ${archive}`);
  await extractTarGz(archive, batchesDir, BATCHES_FOLDER, [...TRAIN_FILES, ...TEST_FILES]);
  return batchesDir;
}
