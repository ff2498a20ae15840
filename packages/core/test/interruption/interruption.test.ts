import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readCheckpoint } from "../../src/train/checkpoint.js";
import { CSV_COLUMNS } from "../../src/train/callbacks.js";
import type { CheckpointMeta } from "../../src/train/state.js";
import { useCpu } from "../../src/train/test-utils/fixtures.js";

const CHILD = fileURLToPath(new URL("./child.ts", import.meta.url));
const root = mkdtempSync(join(tmpdir(), "ft-interruption-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The run has 3 epochs of 4 updates (14 examples, batch 4) and a validation pass after each. */
const KILL_POINTS = [
  "locked",
  "config.json:1:partial",
  "config.json:1:complete",
  "step:1",
  "after-step:2",
  "step:6",
  "after-step:8",
  "step:11",
  "eval:1",
  "eval:3",
  "last.ckpt:1:partial",
  "last.ckpt:1:complete",
  "last.ckpt:1:renamed",
  "last.ckpt:2:partial",
  "last.ckpt:3:complete",
  "best.ckpt:1:partial",
  "best.ckpt:1:complete",
  "best.ckpt:1:renamed",
  "metrics.csv:2:partial",
  "metrics.csv:3:complete",
  "metrics.jsonl:2:partial",
  "report.html:2:partial",
  "report.html:3:complete",
  "metrics.csv:4:renamed",
];

function child(runDir: string, mode: "new" | "resume", killPoint?: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ["--conditions=source", "--import", "tsx", CHILD, runDir, mode, ...(killPoint ? [killPoint] : [])], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    proc.stderr.on("data", (d: Buffer) => (stderr += String(d)));
    proc.on("close", (code, signal) => resolve({ code, signal, stderr }));
  });
}

/** A checkpoint's tensors and position (not its time of writing, nor its timings). */
async function contents(runDir: string, which: "last" | "best"): Promise<{ tensors: Map<string, number[]>; state: unknown }> {
  const ckpt = await readCheckpoint<CheckpointMeta>(join(runDir, "checkpoints", `${which}.ckpt`));
  const tensors = new Map([...ckpt.tensors].map(([k, t]) => [k, Array.from(t.dataSync())]));
  ckpt.dispose();
  // Timings differ from run to run; everything else of the position must not.
  const state = JSON.parse(JSON.stringify(ckpt.meta.state), (k, v: unknown) => (k === "seconds" || k === "images_per_sec" ? undefined : v)) as unknown;
  return { tensors, state };
}

/** What must hold of a run directory after any kill. */
async function checkConsistent(runDir: string, reference: string): Promise<void> {
  if (!existsSync(join(runDir, "config.json"))) return;
  expect(readFileSync(join(runDir, "config.json"), "utf8")).toBe(readFileSync(join(reference, "config.json"), "utf8"));
  const last = join(runDir, "checkpoints", "last.ckpt");
  let epochsSaved = 0;
  if (existsSync(last)) {
    const ckpt = await readCheckpoint<CheckpointMeta>(last);
    epochsSaved = ckpt.meta.state.history.length;
    ckpt.dispose();
  }
  if (existsSync(join(runDir, "metrics.csv"))) {
    const [header, ...rows] = readFileSync(join(runDir, "metrics.csv"), "utf8").trimEnd().split("\n");
    expect(header).toBe(CSV_COLUMNS.join(","));
    expect(rows.map((r) => Number(r.split(",")[0]))).toEqual(rows.map((_, i) => i + 1));
    for (const r of rows) expect(r.split(",")).toHaveLength(CSV_COLUMNS.length);
    // No row for an epoch the checkpoint does not hold.
    expect(rows.length).toBeLessThanOrEqual(epochsSaved);
  }
  if (existsSync(join(runDir, "metrics.jsonl"))) {
    const lines = readFileSync(join(runDir, "metrics.jsonl"), "utf8").split("\n").filter(Boolean);
    expect(lines.map((l) => (JSON.parse(l) as { epoch: number }).epoch)).toEqual(lines.map((_, i) => i + 1));
  }
  if (existsSync(join(runDir, "report.html"))) expect(readFileSync(join(runDir, "report.html"), "utf8")).toMatch(/<\/html>\s*$/);
}

describe("interruption at any point (SIGKILL, then --resume)", () => {
  const reference = join(root, "reference");
  let expected: Awaited<ReturnType<typeof contents>>;
  let expectedBest: Awaited<ReturnType<typeof contents>>;
  beforeAll(async () => {
    await useCpu();
    const run = await child(reference, "new");
    expect(run, run.stderr).toMatchObject({ code: 0 });
    expected = await contents(reference, "last");
    expectedBest = await contents(reference, "best");
  });

  it(`ends consistent after each of ${KILL_POINTS.length} kill points, and the resumed run ends with the uninterrupted run's weights`, async () => {
    const queue = [...KILL_POINTS];
    const failures: string[] = [];
    const worker = async () => {
      for (let point = queue.shift(); point; point = queue.shift()) {
        const dir = join(root, point.replace(/[:.]/g, "-"));
        try {
          const killed = await child(dir, "new", point);
          expect(killed.signal, `${point}: the kill point was not reached (${killed.code}) ${killed.stderr}`).toBe("SIGKILL");
          await checkConsistent(dir, reference);
          // A run killed before its config.json was written is started again; any other is resumed.
          const again = await child(dir, existsSync(join(dir, "config.json")) ? "resume" : "new");
          expect(again.code, `${point}: the second run failed: ${again.stderr}`).toBe(0);
          expect(readdirSync(dir).filter((n) => /\.tmp-\d+$/.test(n))).toEqual([]);
          expect(readdirSync(join(dir, "checkpoints")).sort()).toEqual(["best.ckpt", "last.ckpt"]);
          const got = await contents(dir, "last");
          for (const [k, v] of expected.tensors) expect(got.tensors.get(k), `${point}: ${k}`).toEqual(v);
          expect(got.state, `${point}: last.ckpt's position`).toEqual(expected.state);
          const best = await contents(dir, "best");
          expect(best.state, `${point}: best.ckpt`).toEqual(expectedBest.state);
          for (const [k, v] of expectedBest.tensors) expect(best.tensors.get(k), `${point}: best ${k}`).toEqual(v);
          await checkConsistent(dir, reference);
          expect(readFileSync(join(dir, "metrics.csv"), "utf8").split("\n").length).toBe(readFileSync(join(reference, "metrics.csv"), "utf8").split("\n").length);
        } catch (e) {
          failures.push(`${point}: ${(e as Error).message.split("\n").slice(0, 6).join(" | ")}`);
        }
      }
    };
    await Promise.all([worker(), worker()]);
    expect(failures).toEqual([]);
  });
});
