import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { PYTHON } from "@ft/test-support/system";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./capture.js";
import { ROOT } from "./cli-process.js";
import { registerTiny, TINY_TF } from "./tiny-model.js";

// Each case is one of "Found so far" in the issue that asked for them (#17), tried as a user would.
const root = mkdtempSync(join(tmpdir(), "ft-dead-ends-"));
let unregister: () => void;
beforeAll(() => (unregister = registerTiny("http://127.0.0.1:9")));
afterAll(() => {
  unregister();
  rmSync(root, { recursive: true, force: true });
});

const SAMPLE = join(ROOT, "examples", "cifar10-sample");
const small = ["--weights", "none", "--data", SAMPLE, "--image-size", "32", "--train-size", "16", "--val-size", "8", "--batch-size", "8", "--no-progress"];

describe("a model that diverges is never saved as a result", () => {
  it("ResNet-50 with training-mode BatchNorm at --lr 1e3: finite training loss, NaN validation loss → exit 1, nothing saved", async () => {
    const runDir = join(root, "diverged");
    const r = await runCli(["train", "resnet50", ...small, "--epochs", "2", "--lr", "1e3", "--run-dir", runDir]);
    expect(r.code).toBe(1);
    expect(r.stdout).not.toMatch(/^done/);
    expect(r.stderr).toMatch(/training stopped on a non-finite value \(epoch 1: (the validation loss is NaN|weight "[^"]+" is not finite)\); nothing was saved, it stopped before the end of its first epoch/);
    expect(readdirSync(join(runDir, "checkpoints"))).toEqual([]);
    // Not a dead end: the directory resumes (from its beginning, with its own settings).
    const again = await runCli(["train", "--resume", runDir, "--max-steps", "1", "--no-progress"]);
    expect(again.stderr).toContain("stopped before its first checkpoint: it starts again from the beginning");
    expect(again.code).toBe(0);
  });
});

describe("options that cannot train are refused before anything is written", () => {
  it("--lr 0", async () => {
    const runDir = join(root, "lr0");
    const r = await runCli(["train", "clitiny", ...small, "--image-size", "8", "--lr", "0", "--run-dir", runDir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/lr must be positive: at 0 nothing trains/);
    expect(existsSync(runDir)).toBe(false);
  });

  it("--freeze past the model's layers", async () => {
    const runDir = join(root, "freeze");
    const r = await runCli(["train", "clitiny", ...small, "--image-size", "8", "--freeze", "100000", "--run-dir", runDir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot freeze the first 100000 layers: the model has \d+/);
    expect(existsSync(runDir)).toBe(false);
  });
});

describe("train from a notop weight file", () => {
  it("loads the body and trains the new head (the classifier it lacks is replaced anyway)", async () => {
    const notop = join(root, "tiny_tf_notop.h5");
    const made = spawnSync(PYTHON, ["-c", `import h5py, shutil, sys
shutil.copy(sys.argv[1], sys.argv[2])
f = h5py.File(sys.argv[2], "r+")
del f["predictions"]
f.attrs["layer_names"] = [n for n in f.attrs["layer_names"] if (n.decode() if isinstance(n, bytes) else n) != "predictions"]`, TINY_TF, notop], { encoding: "utf8" });
    expect(made.status, made.stderr).toBe(0);
    const runDir = join(root, "notop");
    const r = await runCli(["train", "clitiny", ...small, "--weights", notop, "--image-size", "8", "--epochs", "1", "--run-dir", runDir]);
    expect(r.stderr).not.toMatch(/allow-partial/);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^done/);
  });
});

describe("Ctrl-C", () => {
  it("saves the position and exits 130, so that a script can tell it from a finished run", async () => {
    const runDir = join(root, "sigint");
    const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", join(ROOT, "apps", "cli", "src", "bin.ts"),
      "train", "resnet50", ...small, "--train-size", "400", "--epochs", "20", "--run-dir", runDir], { cwd: ROOT, env: { ...process.env, FT_BACKEND: "" } });
    let stderr = "";
    let timer: NodeJS.Timeout | undefined;
    child.stderr.on("data", (d: Buffer) => {
      stderr += String(d);
      // One Ctrl-C: a second one quits at once.
      if (!timer && stderr.includes("ft: training resnet50")) timer = setTimeout(() => child.kill("SIGINT"), 3000);
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
    expect(stderr).toContain("interrupted; saving the position");
    expect(stderr).toMatch(/interrupted; the position is saved: continue with ft train --resume \S+sigint/);
    expect(code).toBe(130);
    expect(readdirSync(join(runDir, "checkpoints"))).toContain("last.ckpt");
  });
});

describe("a damaged weight file", () => {
  it("gives weights inspect, convert and train one line naming the file, never a stack trace", async () => {
    const original = readFileSync(TINY_TF);
    const zeroed = join(root, "zeroed-half.h5");
    writeFileSync(zeroed, Buffer.concat([original.subarray(0, original.length >> 1), Buffer.alloc(original.length - (original.length >> 1))]));
    const header = join(root, "header-edit.h5");
    const edited = Buffer.from(original);
    edited.fill(0xff, 800, 880);
    writeFileSync(header, edited);
    for (const file of [zeroed, header]) {
      const runs = [
        await runCli(["weights", "inspect", file]),
        await runCli(["convert", file, "--model", "clitiny", "--out", join(root, "converted")]),
        await runCli(["train", "clitiny", ...small, "--image-size", "8", "--weights", file, "--run-dir", join(root, "damaged-run")]),
      ];
      for (const r of runs) {
        expect(r.code, r.stderr).toBe(1);
        expect(r.stderr).toContain(`ft: ${file}: `);
        expect(r.stderr).not.toMatch(/\n\s+at |HDF5-DIAG|Aborted/);
      }
      expect(existsSync(join(root, "damaged-run"))).toBe(false);
    }
  });
});
