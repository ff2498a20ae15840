/**
 * Small seeded pseudo-random generators for data order and augmentation.
 *
 * Everything the data pipeline draws comes from these functions (never `Math.random`), so the
 * same `--seed` gives the same epochs on every machine and run. The algorithms are fixed:
 * changing them changes every shuffled order, which breaks `--resume` of older runs.
 */

/** A generator of floats uniform in [0, 1). */
export type Random = () => number;

/** 32-bit finaliser of MurmurHash3 / splitmix32: a bijective avalanche mix of one uint32. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * Hashes a list of integers (e.g. seed, epoch, batch index, a stream tag) into one uint32 seed.
 * Each value is reduced modulo 2^32; different lists give (with overwhelming probability)
 * unrelated seeds.
 */
export function hashSeed(...values: number[]): number {
  let h = 0x9e3779b9;
  for (const value of values) {
    if (!Number.isFinite(value)) throw new Error(`hashSeed: non-finite value ${value}`);
    // Fold in the high part too, so seeds above 2^32 are not silently truncated.
    const low = value >>> 0;
    const high = Math.floor(value / 4294967296) >>> 0;
    h = mix32(h ^ low);
    h = mix32((h + 0x9e3779b9 + high) >>> 0);
  }
  return h;
}

/** mulberry32: a fast 32-bit-state generator, plenty for shuffling and augmentation. */
export function mulberry32(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer uniform in [0, n). */
export function randomInt(random: Random, n: number): number {
  return Math.floor(random() * n);
}

/** A float uniform in [low, high). */
export function randomUniform(random: Random, low: number, high: number): number {
  return low + (high - low) * random();
}

/** A uniformly random permutation of 0..n-1 (Fisher–Yates, drawing from `random`). */
export function permutation(n: number, random: Random): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = randomInt(random, i + 1);
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}
