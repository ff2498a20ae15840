/**
 * Seeded test values. Test inputs and fixture weights come from here (never `Math.random`), so a
 * failing comparison fails the same way on every run.
 */

/** Floats uniform in [0, 1) from a 32-bit LCG: plenty for test values (not for statistics). */
export function uniformStream(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state >>> 8) / 16777216;
  };
}

const shared = uniformStream(2024);

/** `n` values uniform in [-1, 1) from one stream shared by the test file (deterministic per file). */
export function random(n: number): Float32Array {
  return Float32Array.from({ length: n }, () => 2 * shared() - 1);
}
