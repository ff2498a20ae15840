import { homedir } from "node:os";
import { join, resolve } from "node:path";

/** Root of `ft`'s cache (weights, data sets): `FT_HOME`, else `~/.cache/ft`. */
export function ftHome(): string {
  return process.env.FT_HOME ? resolve(process.env.FT_HOME) : join(homedir(), ".cache", "ft");
}
