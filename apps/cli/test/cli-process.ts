import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const BIN = join(ROOT, "apps", "cli", "src", "bin.ts");

export interface CliProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The first line of stderr. */
  firstLine: string;
}

/**
 * Runs `ft` from source in a child process at the repository root (the engine is chosen once per process),
 * with `nodeFlags` before the script (a profiler, say) and FT_BACKEND cleared unless `env` sets it.
 */
export function ftProcess(args: string[], options: { env?: Record<string, string>; nodeFlags?: string[]; timeoutMs?: number } = {}): CliProcessResult {
  const run = spawnSync(process.execPath, [...(options.nodeFlags ?? []), "--conditions=source", "--import", "tsx", BIN, ...args], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, FT_BACKEND: "", ...options.env },
    timeout: options.timeoutMs ?? 600_000,
  });
  return { code: run.status, signal: run.signal, stdout: run.stdout, stderr: run.stderr, firstLine: run.stderr.split("\n")[0]! };
}
