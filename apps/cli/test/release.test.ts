import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../../", import.meta.url));

describe("release set-up (changesets)", () => {
  it("versions every published package independently (the native engine with its prebuilt package) and leaves the private CLI out", () => {
    const config = JSON.parse(readFileSync(`${root}.changeset/config.json`, "utf8")) as Record<string, unknown>;
    expect(config.fixed).toEqual([["@ft/backend-native", "@ft/backend-native-linux-x64-gnu"]]);
    expect(config.linked).toEqual([]);
    expect(config.privatePackages).toEqual({ version: false, tag: false });
    const cli = JSON.parse(readFileSync(`${root}apps/cli/package.json`, "utf8")) as { private?: boolean };
    expect(cli.private).toBe(true);
  });

  it("an unreleased package (0.0.0) is released first as 0.1.0", () => {
    const out = join(mkdtempSync(join(tmpdir(), "ft-changeset-")), "status.json");
    execFileSync("pnpm", ["changeset", "status", `--output=${out}`], { cwd: root, stdio: "ignore" });
    const { releases } = JSON.parse(readFileSync(out, "utf8")) as { releases: Array<{ name: string; type: string; oldVersion: string; newVersion: string }> };
    const first = releases.filter((r) => r.type !== "none" && r.oldVersion === "0.0.0");
    expect(first.map((r) => r.name)).toContain("@ft/backend-native-linux-x64-gnu");
    for (const release of first) expect(release.newVersion, release.name).toBe("0.1.0");
  });

  it("`changeset status` passes on this tree", () => {
    const out = execFileSync("pnpm", ["changeset", "status"], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    expect(out).not.toMatch(/error/i);
  });
});
