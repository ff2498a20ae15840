/**
 * Seeded mutations of an HDF5 file for the reader's fuzz harness: what corrupted downloads, bad disks and
 * hostile files do. Each mutant is reproducible from (corpus file, seed, index).
 */
import { hashSeed, mulberry32, randomInt } from "../../src/data/random.js";

export type MutationKind = "bit-flips" | "byte-sets" | "truncation" | "zeroed-range" | "header-edit" | "huge-size" | "chunk-copy";

export const MUTATION_KINDS: readonly MutationKind[] = ["bit-flips", "byte-sets", "truncation", "zeroed-range", "header-edit", "huge-size", "chunk-copy"];

export interface Mutant {
  kind: MutationKind;
  /** What was changed, enough to redo it by hand. */
  description: string;
  bytes: Uint8Array;
}

/** Sizes and addresses that make a reader allocate or seek far past the file when it trusts them. */
const HUGE = [0xffffffffn, 0x7fffffffffffffffn, 0xffffffffffffffffn, 1n << 40n, 1n << 33n, 0x80000000n];

/** The `index`-th mutant of `original` for `seed`. */
export function mutate(original: Uint8Array, seed: number, index: number): Mutant {
  const random = mulberry32(hashSeed(seed, index, original.length));
  const kind = MUTATION_KINDS[index % MUTATION_KINDS.length]!;
  const bytes = original.slice();
  const at = (limit = bytes.length) => randomInt(random, Math.max(1, Math.min(limit, bytes.length)));
  switch (kind) {
    case "bit-flips": {
      const n = 1 + randomInt(random, 8);
      const where = Array.from({ length: n }, () => [at(), randomInt(random, 8)] as const);
      for (const [p, bit] of where) bytes[p]! ^= 1 << bit;
      return { kind, description: `flipped bits ${where.map(([p, b]) => `${p}:${b}`).join(" ")}`, bytes };
    }
    case "byte-sets": {
      const n = 1 + randomInt(random, 8);
      const where = Array.from({ length: n }, () => [at(), [0x00, 0xff, 0x7f, 0x80][randomInt(random, 4)]!] as const);
      for (const [p, v] of where) bytes[p] = v;
      return { kind, description: `set bytes ${where.map(([p, v]) => `${p}=${v}`).join(" ")}`, bytes };
    }
    case "truncation": {
      const length = at();
      return { kind, description: `truncated to ${length} bytes`, bytes: bytes.slice(0, length) };
    }
    case "zeroed-range": {
      const start = at();
      const length = 1 + randomInt(random, Math.max(1, Math.min(4096, bytes.length - start)));
      bytes.fill(0, start, start + length);
      return { kind, description: `zeroed ${length} bytes from ${start}`, bytes };
    }
    case "header-edit": {
      // The superblock, the root group's object header and the first B-tree and heap live in the first ~2 KB.
      const n = 1 + randomInt(random, 4);
      const where = Array.from({ length: n }, () => [at(2048), randomInt(random, 256)] as const);
      for (const [p, v] of where) bytes[p] = v;
      return { kind, description: `header bytes ${where.map(([p, v]) => `${p}=${v}`).join(" ")}`, bytes };
    }
    case "huge-size": {
      const p = Math.floor(at(bytes.length - 8) / 8) * 8;
      const value = HUGE[randomInt(random, HUGE.length)]!;
      new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setBigUint64(p, value, true);
      return { kind, description: `wrote ${value} at ${p}`, bytes };
    }
    case "chunk-copy": {
      // A block of the file copied over another (a misplaced sector).
      const length = 16 + randomInt(random, 496);
      const from = at(bytes.length - length);
      const to = at(bytes.length - length);
      bytes.copyWithin(to, from, from + length);
      return { kind, description: `copied ${length} bytes from ${from} to ${to}`, bytes };
    }
  }
}

