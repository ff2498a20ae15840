import { rename, rm, writeFile } from "node:fs/promises";

/**
 * Where a file of a run is written before it is renamed over `path`: a crash leaves the previous file whole
 * and, at worst, this temporary, which the next start of the run removes (`isInterruptedWrite`).
 */
export function temporaryPath(path: string): string {
  return `${path}.tmp-${process.pid}`;
}

/** True for the name of a file `temporaryPath` made. */
export function isInterruptedWrite(name: string): boolean {
  return /\.tmp-\d+$/.test(name);
}

/** Writes `text` to `path` through a temporary file and a rename. */
export async function writeFileAtomic(path: string, text: string | Uint8Array): Promise<void> {
  const temp = temporaryPath(path);
  try {
    await writeFile(temp, text);
    await rename(temp, path);
  } catch (e) {
    await rm(temp, { force: true });
    throw e;
  }
}
