import { UsageError } from "../errors.js";

/**
 * How the base learning rate changes over the run, as a factor of the optimiser's `lr`.
 * Steps are optimiser updates (batches, or accumulated batches), counted from 0.
 * The Keras-1 `decay` of the optimiser applies on top of the schedule.
 */
export type ScheduleConfig =
  /** Factor 1 throughout (the seed). */
  | { kind: "constant"; warmupSteps?: number }
  /** Factor `gamma^floor(epoch / everyEpochs)`. */
  | { kind: "step"; everyEpochs: number; gamma: number; warmupSteps?: number }
  /** Cosine from 1 down to `minFactor` (default 0) over the run. */
  | { kind: "cosine"; minFactor?: number; warmupSteps?: number }
  /**
   * One-cycle (Smith; PyTorch `OneCycleLR` with cosine annealing): warm-up from `1/divFactor` to 1 over
   * the first `pctStart` of the run, then down to `1/(divFactor·finalDivFactor)`. Defaults 0.25, 25, 1e4.
   */
  | { kind: "onecycle"; pctStart?: number; divFactor?: number; finalDivFactor?: number };

export type ScheduleKind = ScheduleConfig["kind"];

/** Where in the run an update is. */
export interface ScheduleClock {
  /** Index of this update, from 0. */
  step: number;
  /** Updates in the whole run. */
  totalSteps: number;
  /** Updates per epoch. */
  stepsPerEpoch: number;
}

/** The factor the schedule applies to the base learning rate at `clock.step`. */
export function scheduleFactor(schedule: ScheduleConfig, clock: ScheduleClock): number {
  const { step, totalSteps, stepsPerEpoch } = clock;
  const warm = "warmupSteps" in schedule && schedule.warmupSteps ? Math.min(1, (step + 1) / schedule.warmupSteps) : 1;
  switch (schedule.kind) {
    case "constant":
      return warm;
    case "step":
      return warm * Math.pow(schedule.gamma, Math.floor(step / stepsPerEpoch / schedule.everyEpochs));
    case "cosine": {
      const min = schedule.minFactor ?? 0;
      const t = totalSteps <= 1 ? 0 : Math.min(1, step / (totalSteps - 1));
      return warm * (min + ((1 - min) * (1 + Math.cos(Math.PI * t))) / 2);
    }
    case "onecycle": {
      const pct = schedule.pctStart ?? 0.25;
      const div = schedule.divFactor ?? 25;
      const finalDiv = schedule.finalDivFactor ?? 1e4;
      const start = 1 / div;
      const end = start / finalDiv;
      // PyTorch's phase ends: warm-up ends at pct·T − 1, annealing at T − 1.
      const upEnd = pct * totalSteps - 1;
      const downEnd = totalSteps - 1;
      const cos = (from: number, to: number, frac: number) => to + ((from - to) * (1 + Math.cos(Math.PI * frac))) / 2;
      if (step <= upEnd) return cos(start, 1, upEnd <= 0 ? 1 : step / upEnd);
      return cos(1, end, downEnd - upEnd <= 0 ? 1 : Math.min(1, (step - upEnd) / (downEnd - upEnd)));
    }
    default:
      throw new UsageError(`unknown schedule "${(schedule as { kind: string }).kind}"`);
  }
}

/** Checks a schedule's numbers and fills in its defaults, naming the option at fault. */
export function resolveSchedule(schedule: ScheduleConfig): ScheduleConfig {
  const positive = (name: string, v: number | undefined) => {
    if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new UsageError(`schedule option ${name} must be a positive number (got ${v})`);
  };
  switch (schedule.kind) {
    case "constant":
      positive("warmupSteps", schedule.warmupSteps);
      return { kind: "constant", warmupSteps: schedule.warmupSteps ?? 0 };
    case "step":
      positive("everyEpochs", schedule.everyEpochs);
      positive("gamma", schedule.gamma);
      positive("warmupSteps", schedule.warmupSteps);
      return { kind: "step", everyEpochs: schedule.everyEpochs, gamma: schedule.gamma, warmupSteps: schedule.warmupSteps ?? 0 };
    case "cosine":
      positive("warmupSteps", schedule.warmupSteps);
      if (schedule.minFactor !== undefined && !(schedule.minFactor >= 0 && schedule.minFactor <= 1)) {
        throw new UsageError(`schedule option minFactor must be within [0, 1] (got ${schedule.minFactor})`);
      }
      return { kind: "cosine", minFactor: schedule.minFactor ?? 0, warmupSteps: schedule.warmupSteps ?? 0 };
    case "onecycle":
      if (schedule.pctStart !== undefined && !(schedule.pctStart > 0 && schedule.pctStart < 1)) {
        throw new UsageError(`schedule option pctStart must be within (0, 1) (got ${schedule.pctStart})`);
      }
      positive("divFactor", schedule.divFactor);
      positive("finalDivFactor", schedule.finalDivFactor);
      return { kind: "onecycle", pctStart: schedule.pctStart ?? 0.25, divFactor: schedule.divFactor ?? 25, finalDivFactor: schedule.finalDivFactor ?? 1e4 };
    default:
      throw new UsageError(`unknown schedule "${(schedule as { kind: string }).kind}"; choose constant, step, cosine or onecycle`);
  }
}
