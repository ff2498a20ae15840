import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readKerasWeights } from "../../src/weights/keras-file.js";
import { fuzzCorpus } from "./corpus.js";
import { runFuzz, type FuzzSummary } from "./harness.js";

const dir = mkdtempSync(join(tmpdir(), "ft-fuzz-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Seeded: a failure reproduces with the same seed (and `pnpm --filter @ft/core fuzz:hdf5 --seed S`). */
const SEED = 20261207;
const MUTANTS = 2000;

describe("the HDF5 reader under fuzzing", () => {
  let summary: FuzzSummary | undefined;

  it(`${MUTANTS} mutants of every layout: each a correct read or a clear error, never a crash or runaway memory`, async () => {
    const corpus = fuzzCorpus(dir);
    expect(corpus.length).toBeGreaterThanOrEqual(8);
    summary = await runFuzz({ corpus, mutants: MUTANTS, seed: SEED, dir, timeoutMs: 10_000, rssLimitBytes: 1536 * 1024 * 1024 });
    console.log(summary.line);
    const failures = summary.results.filter((r) => r.outcome === "crash" || r.outcome === "memory");
    expect(failures.map((r) => `${r.outcome} ${r.path} (${r.description}): ${r.message.slice(0, 300)}`)).toEqual([]);
    // Both outcomes occur, so the harness exercises the reader rather than a wall in front of it.
    expect(summary.counts.accepted).toBeGreaterThan(MUTANTS / 10);
    expect(summary.counts.error).toBeGreaterThan(MUTANTS / 10);
    for (const r of summary.results.filter((r) => r.outcome === "error")) {
      expect(r.message, r.path).toContain(r.path);
      expect(r.message.length, r.path).toBeLessThan(600);
      // Nothing on stderr: no HDF5 error stacks, stack traces, h5wasm source or abort lines.
      expect(r.stderr, r.path).toBe("");
    }
  });

  // Found by this harness: damaged metadata that sends HDF5 into an endless loop (5 of these 2000 mutants
  // before h5wasm moved to a worker thread with a time limit per call).
  it("no mutant hangs the reader", () => {
    expect(summary, "the fuzz run above did not finish").toBeDefined();
    expect(summary!.results.filter((r) => r.outcome === "hang").map((r) => `${r.path} (${r.description}): ${r.message}`)).toEqual([]);
    const loops = summary!.results.filter((r) => r.outcome === "error" && /structure loops/.test(r.message));
    expect(loops.length).toBeGreaterThan(0);
  });

  it("a file whose second half is zeroed (was: TypeError reading 'attrs') gets a clear error naming it", async () => {
    const original = readFileSync(join(fuzzCorpus(dir)[0]!));
    const zeroed = join(dir, "zeroed-half.h5");
    writeFileSync(zeroed, Buffer.concat([original.subarray(0, original.length >> 1), Buffer.alloc(original.length - (original.length >> 1))]));
    await expect(readKerasWeights(zeroed)).rejects.toThrow(new RegExp(`^${zeroed.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: `));
  });
});
