import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { resolveSchedule, scheduleFactor } from "./schedules.js";

const clock = (step: number, totalSteps = 100, stepsPerEpoch = 10) => ({ step, totalSteps, stepsPerEpoch });

describe("schedules", () => {
  it("constant is 1, with a linear warm-up when asked", () => {
    expect(scheduleFactor({ kind: "constant" }, clock(0))).toBe(1);
    expect(scheduleFactor({ kind: "constant" }, clock(99))).toBe(1);
    // warm-up over 4 updates: (step + 1) / 4
    expect(scheduleFactor({ kind: "constant", warmupSteps: 4 }, clock(0))).toBe(0.25);
    expect(scheduleFactor({ kind: "constant", warmupSteps: 4 }, clock(2))).toBe(0.75);
    expect(scheduleFactor({ kind: "constant", warmupSteps: 4 }, clock(10))).toBe(1);
  });

  it("step multiplies by gamma every N epochs", () => {
    const s = { kind: "step" as const, everyEpochs: 3, gamma: 0.1 };
    expect(scheduleFactor(s, clock(29))).toBe(1); // epoch 2 (0-based), 10 updates per epoch
    expect(scheduleFactor(s, clock(30))).toBeCloseTo(0.1, 12); // epoch 3
    expect(scheduleFactor(s, clock(65))).toBeCloseTo(0.01, 12); // epoch 6
  });

  it("cosine goes from 1 to minFactor: ½(1 + cos(π t/(T−1))) scaled", () => {
    const s = { kind: "cosine" as const, minFactor: 0.1 };
    expect(scheduleFactor(s, clock(0, 11))).toBeCloseTo(1, 12);
    expect(scheduleFactor(s, clock(5, 11))).toBeCloseTo(0.1 + 0.9 * 0.5, 12); // t = ½: cos(π/2) = 0
    expect(scheduleFactor(s, clock(10, 11))).toBeCloseTo(0.1, 12);
  });

  it("one-cycle matches PyTorch OneCycleLR (cos annealing), fixture from scripts/onecycle-reference.py", () => {
    const ref = JSON.parse(readFileSync(new URL("../../test/fixtures/onecycle.json", import.meta.url), "utf8")) as {
      cases: { totalSteps: number; pctStart: number; divFactor: number; finalDivFactor: number; factors: number[] }[];
    };
    for (const c of ref.cases) {
      const s = { kind: "onecycle" as const, pctStart: c.pctStart, divFactor: c.divFactor, finalDivFactor: c.finalDivFactor };
      c.factors.forEach((f, step) => expect(scheduleFactor(s, clock(step, c.totalSteps))).toBeCloseTo(f, 5));
    }
  });

  it("rejects bad numbers naming the option", () => {
    expect(() => resolveSchedule({ kind: "step", everyEpochs: 0, gamma: 0.1 })).toThrow(/everyEpochs/);
    expect(() => resolveSchedule({ kind: "onecycle", pctStart: 1.5 })).toThrow(/pctStart/);
    expect(() => resolveSchedule({ kind: "bogus" } as never)).toThrow(/unknown schedule "bogus"/);
    expect(resolveSchedule({ kind: "onecycle" })).toEqual({ kind: "onecycle", pctStart: 0.25, divFactor: 25, finalDivFactor: 1e4 });
  });
});
