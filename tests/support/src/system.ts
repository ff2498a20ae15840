import { spawnSync } from "node:child_process";

/**
 * System packages that some tests need, checked in one place. `bash scripts/setup.sh --dev` installs
 * all of them; a test file that needs one that is missing fails with this message rather than skipping,
 * so a green run always means every test ran. `FT_TEST_ALLOW_MISSING=1` turns those failures into
 * visible skips (for a machine where the packages cannot be installed).
 */
export const PYTHON = "/usr/bin/python3";
const allowMissing = process.env.FT_TEST_ALLOW_MISSING === "1";
const SETUP = "run `bash scripts/setup.sh --dev` (or set FT_TEST_ALLOW_MISSING=1 to skip these tests)";

/**
 * Returns true when the requirement is met; throws when it is not and skipping is not allowed, so
 * `describe.skipIf(!requirement(…))` skips only with FT_TEST_ALLOW_MISSING=1.
 */
export function requirement(what: string, missing: string | undefined): boolean {
  if (missing === undefined) return true;
  if (!allowMissing) throw new Error(`${what} is needed by these tests but unavailable (${missing}): ${SETUP}`);
  console.warn(`SKIPPED (FT_TEST_ALLOW_MISSING=1): ${what} unavailable: ${missing}`);
  return false;
}

/** The message of what `run` throws, or undefined when it runs: the `missing` of {@link requirement}. */
export function failureOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/** Python 3 with numpy and h5py (Debian python3-h5py), which write HDF5 files the way Keras did. */
export const hasH5py = requirement(
  "python3-h5py",
  spawnSync(PYTHON, ["-c", "import h5py, numpy"]).status === 0 ? undefined : `${PYTHON} cannot import h5py and numpy`,
);

/** Python 3 with PyTorch (Debian python3-torch) as well: the independent reference of numerical tests. */
export const hasTorch = requirement(
  "python3-torch and python3-h5py",
  spawnSync(PYTHON, ["-c", "import torch, h5py, numpy"]).status === 0 ? undefined : `${PYTHON} cannot import torch, h5py and numpy`,
);
