import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * Finds `shared/manifests/<name>` whether `shared/` sits beside the repository (`/work/shared` next
 * to `/work/main`, or `../shared` next to any clone) or inside it.
 */
export function manifestPath(name: string): string {
  const candidates = [
    new URL(`../../../../shared/manifests/${name}`, import.meta.url), // <repo>/../shared
    new URL(`../../../shared/manifests/${name}`, import.meta.url), // <repo>/shared
  ].map((u) => fileURLToPath(u));
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`manifest ${name} not found; looked at ${candidates.join(", ")}`);
  return found;
}

export interface ManifestEntry {
  name: string;
  kind: string;
  weights: string[];
}

/** Reads `name<TAB>kind<TAB>w1,w2,…` lines. */
export function readManifest(name: string): ManifestEntry[] {
  return readFileSync(manifestPath(name), "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const [layer, kind, weights] = line.split("\t");
      return { name: layer!, kind: kind!, weights: weights!.split(",") };
    });
}
