import { link, readFile, rm, writeFile } from "node:fs/promises";
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { join } from "node:path";
import { UsageError } from "../errors.js";

/** The lock file of a run directory: which process writes it. */
export const RUN_LOCK = ".lock";

interface LockOwner {
  pid: number;
  host: string;
  started: string;
}

/** The lock and the lock files of processes starting to take it (`.lock.<id>`): not the run's content. */
export function isLockFile(name: string): boolean {
  return name === RUN_LOCK || name.startsWith(`${RUN_LOCK}.`);
}

/** A lock held on a run directory; `release` removes it (idempotent). */
export interface RunLock {
  release(): Promise<void>;
}

/** True unless `pid` is certainly not a running process of this machine. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to another user.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function readOwner(path: string): Promise<LockOwner | undefined> {
  try {
    const owner = JSON.parse(await readFile(path, "utf8")) as Partial<LockOwner>;
    return typeof owner.pid === "number" && typeof owner.host === "string" ? (owner as LockOwner) : undefined;
  } catch {
    return undefined; // not ft's lock file: left alone
  }
}

/**
 * Makes this process the only writer of `runDir` (which must exist): creates `runDir/.lock` exclusively,
 * naming this process. A lock left by a process that no longer runs (killed, crashed) is taken over; a
 * lock of a live process, of another machine (its process cannot be checked from here) or that cannot
 * be read refuses with a message naming it, so two runs never write one directory.
 */
export async function lockRunDir(runDir: string): Promise<RunLock> {
  const path = join(runDir, RUN_LOCK);
  const me: LockOwner = { pid: process.pid, host: hostname(), started: new Date().toISOString() };
  // Written whole under another name, then linked: link() fails if the lock exists, so the lock file
  // appears complete and only one of two starting processes gets it.
  const tmp = `${path}.${randomUUID()}`; // unique per call: two runs of one process must not share it
  await writeFile(tmp, JSON.stringify(me) + "\n");
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await link(tmp, path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        const owner = await readOwner(path);
        if (!owner || owner.host !== me.host || alive(owner.pid)) throw inUse(runDir, path, owner);
        await rm(path, { force: true }); // stale: its process is gone
        continue;
      }
      let released = false;
      return {
        release: async () => {
          if (released) return;
          released = true;
          await rm(path, { force: true });
        },
      };
    }
    throw inUse(runDir, path, await readOwner(path));
  } finally {
    await rm(tmp, { force: true });
  }
}

function inUse(runDir: string, path: string, owner: LockOwner | undefined): UsageError {
  const who = !owner ? "another process" : owner.host === hostname() ? `process ${owner.pid} (since ${owner.started})` : `process ${owner.pid} on ${owner.host} (since ${owner.started})`;
  return new UsageError(`run directory ${runDir} is in use by ${who}: wait for it to end or stop it; if it is gone, remove ${path}`);
}
