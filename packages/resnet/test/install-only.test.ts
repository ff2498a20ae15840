import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const packagesDir = fileURLToPath(new URL("../../", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "ft-install-only-"));

afterAll(() => rmSync(work, { recursive: true, force: true }));

function sh(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false" } });
}

/**
 * "A user can install only @ft/resnet": pack @ft/core and @ft/resnet as they would be published
 * (workspace: versions rewritten), install the two tarballs with plain npm into an empty project,
 * and build a model from plain Node ESM. Needs the packages built (turbo's test task depends on build)
 * and the npm registry for tfjs, h5wasm and sharp.
 */
describe("install only @ft/resnet", () => {
  it("packs, installs with npm and builds resnet50 from plain Node ESM", () => {
    const tarballs = ["core", "resnet"].map((name) => {
      const out = join(work, `ft-${name}.tgz`);
      sh("pnpm", ["pack", "--out", out], join(packagesDir, name));
      return out;
    });
    const project = join(work, "app");
    sh("mkdir", ["-p", project], work);
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
    sh("npm", ["install", "--prefer-offline", ...tarballs], project);

    expect(readdirSync(join(project, "node_modules", "@ft")).sort()).toEqual(["core", "resnet"]);
    writeFileSync(
      join(project, "main.js"),
      [
        'import { getModel, listModels, selectBackend, countParams } from "@ft/core";',
        'import "@ft/resnet";',
        "const backend = await selectBackend();",
        'const model = getModel("resnet50").build({ includeTop: true, classes: 7, inputShape: [64, 64, 3] });',
        "console.log(JSON.stringify({ backend: backend.name, models: listModels().map((m) => m.name), output: model.outputs[0].shape, params: countParams(model) }));",
      ].join("\n"),
    );
    const result = JSON.parse(sh("node", ["main.js"], project).trim().split("\n").pop()!) as { backend: string; models: string[]; output: number[]; params: number };
    expect(result.backend).toBe("wasm");
    expect(result.models).toContain("resnet50");
    expect(result.output).toEqual([null, 7]);
    // 25,636,712 with 1000 classes; the 2048×1000 dense + bias becomes 2048×7 + 7.
    expect(result.params).toBe(25_636_712 - (2048 * 1000 + 1000) + (2048 * 7 + 7));
  });
});
