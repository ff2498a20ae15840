import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../../", import.meta.url));

describe("release set-up (changesets)", () => {
  it("versions every published package independently and leaves the private CLI out", () => {
    const config = JSON.parse(readFileSync(`${root}.changeset/config.json`, "utf8")) as Record<string, unknown>;
    expect(config.fixed).toEqual([]);
    expect(config.linked).toEqual([]);
    expect(config.privatePackages).toEqual({ version: false, tag: false });
    const cli = JSON.parse(readFileSync(`${root}apps/cli/package.json`, "utf8")) as { private?: boolean };
    expect(cli.private).toBe(true);
  });

  it("`changeset status` passes on this tree", () => {
    const out = execFileSync("pnpm", ["changeset", "status"], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    expect(out).not.toMatch(/error/i);
  });
});
