import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The published packages as a consumer gets them: packed by pnpm (workspace ranges and publishConfig
 * applied), installed with npm into fresh projects outside the workspace, the peers resolved by npm.
 */
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const FIXTURES = fileURLToPath(new URL("./fixtures/", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "ft-consumer-"));
const tarballDir = join(work, "tarballs");
const tarballs: Record<string, string> = {};

const run = (command: string, args: string[], cwd: string) =>
  execFileSync(command, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });

/** Packs a workspace package; returns the tarball's path. */
function pack(dir: string): string {
  const before = new Set(readdirSync(tarballDir));
  run("pnpm", ["pack", "--pack-destination", tarballDir], join(ROOT, dir));
  const added = readdirSync(tarballDir).filter((f) => !before.has(f));
  expect(added).toHaveLength(1);
  return join(tarballDir, added[0]!);
}

/**
 * A fresh project depending on the named tarballs (and registry packages), installed by npm or pnpm
 * (pnpm 12, which refuses unapproved install scripts); returns its folder.
 */
function project(name: string, ft: string[], registry: Record<string, string>, installArgs: string[] = [], manager: "npm" | "pnpm" = "npm"): string {
  const dir = join(work, name);
  mkdirSync(dir);
  const local = Object.fromEntries(ft.map((p) => [p, `file:${tarballs[p]}`]));
  // Overrides: the @ft packages' own ranges between each other resolve to these tarballs, not the registry.
  const manifest = { name, private: true, type: "module", dependencies: { ...local, ...registry }, ...(manager === "npm" ? { overrides: local } : {}) };
  writeFileSync(join(dir, "package.json"), JSON.stringify(manifest, null, 2));
  if (manager === "pnpm") {
    writeFileSync(join(dir, "pnpm-workspace.yaml"), `overrides:\n${Object.entries(local).map(([p, spec]) => `  "${p}": "${spec}"`).join("\n")}\n`);
    run("pnpm", ["install", ...installArgs], dir);
  } else {
    run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", ...installArgs], dir);
  }
  return dir;
}

function node(dir: string, script: string): Record<string, unknown> {
  copyFileSync(join(FIXTURES, script), join(dir, script));
  const out = spawnSync(process.execPath, [script], { cwd: dir, encoding: "utf8", env: { ...process.env, FT_BACKEND: "" } });
  expect(out.status, out.stderr).toBe(0);
  return JSON.parse(out.stdout.trim().split("\n").pop()!) as Record<string, unknown>;
}

/** Every published package but the platform package, which `pack:prebuilt` packs with its binaries. */
const PUBLISHED = readdirSync(join(ROOT, "packages"))
  .map((dir) => ({ dir: `packages/${dir}`, manifest: JSON.parse(readFileSync(join(ROOT, "packages", dir, "package.json"), "utf8")) as { name: string; private?: boolean } }))
  .filter(({ manifest }) => !manifest.private && !manifest.name.startsWith("@ft/backend-native-"));

beforeAll(() => {
  mkdirSync(tarballDir);
  for (const { dir, manifest } of PUBLISHED) tarballs[manifest.name] = pack(dir);
  const prebuilt = run("pnpm", ["--filter", "@ft/backend-native", "pack:prebuilt", "--out", tarballDir], ROOT).trim().split("\n").pop()!;
  expect(prebuilt).toMatch(/ft-backend-native-linux-x64-gnu-[\d.]+\.tgz$/);
  tarballs["@ft/backend-native-linux-x64-gnu"] = prebuilt;
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("packed tarballs", () => {
  it("ship what they need and nothing that points outside them", () => {
    expect(Object.keys(tarballs)).toEqual(expect.arrayContaining(["@ft/core", "@ft/resnet", "@ft/vgg", "@ft/inception", "@ft/densenet", "@ft/cifar10", "@ft/backend-native"]));
    const license = readFileSync(join(ROOT, "LICENSE"), "utf8");
    for (const { manifest: { name } } of PUBLISHED) {
      const tarball = tarballs[name]!;
      const files = run("tar", ["tzf", tarball], work).split("\n").filter(Boolean);
      expect(run("tar", ["xzOf", tarball, "package/LICENSE"], work), name).toBe(license);
      expect(files, name).toContain("package/LICENSE");
      expect(files, name).toContain("package/README.md");
      expect(files.filter((f) => f.endsWith(".map")), name).toEqual([]);
      expect(files.filter((f) => f.includes("/src/") || f.endsWith(".test.js")), name).toEqual([]);
      const manifest = JSON.parse(run("tar", ["xzOf", tarball, "package/package.json"], work)) as Record<string, unknown>;
      expect(JSON.stringify(manifest.exports), name).not.toContain("source");
      expect(manifest.engines, name).toEqual({ node: ">=20" });
      const lifecycle = Object.keys((manifest.scripts ?? {}) as Record<string, string>).filter((k) => /^(pre|post)?install$/.test(k));
      expect(lifecycle, `${name}: install scripts fail pnpm consumers`).toEqual([]);
      expect(JSON.stringify(manifest), name).not.toContain("workspace:");
      const deps = manifest.dependencies as Record<string, string>;
      expect(Object.keys(deps).filter((d) => d.startsWith("@tensorflow/")), `${name}: tfjs is a peer`).toEqual([]);
      expect(Object.keys(deps), name).not.toContain("sharp");
    }
  });
});

describe("@ft/backend-native with its prebuilt platform package", () => {
  let dir: string;
  beforeAll(() => {
    dir = project("native", ["@ft/core", "@ft/resnet", "@ft/backend-native", "@ft/backend-native-linux-x64-gnu"], {});
  });

  it("resolves oneDNN, OpenMP and OpenCL from inside the package (ldd)", () => {
    const prebuilt = join(dir, "node_modules", "@ft", "backend-native-linux-x64-gnu");
    const ldd = run("ldd", [join(prebuilt, "ft_native.node")], dir);
    for (const library of ["libdnnl.so.2", "libgomp.so.1", "libOpenCL.so.1"]) {
      expect(ldd).toContain(`${library} => ${join(prebuilt, library)}`);
    }
    expect(readdirSync(join(prebuilt, "licenses"))).toEqual(expect.arrayContaining(["libdnnl.so.2.copyright", "Apache-2.0", "libgomp.so.1.copyright", "GPL-3"]));
    // Nothing was built: the package has no install script.
    expect(existsSync(join(dir, "node_modules", "@ft", "backend-native", "build"))).toBe(false);
  });

  it("trains one step of ResNet-50 at 32 px on the native engine", () => {
    const result = node(dir, "train-native.mjs");
    expect(result).toMatchObject({ backend: "native", warning: null, changed: true });
    expect(Number.isFinite(result.loss)).toBe(true);
  });
});

describe("installed by pnpm 12 (which fails on unapproved install scripts)", () => {
  it("installs @ft/core, @ft/resnet and the native engine, prebuilt, and trains a step on it", () => {
    // pnpm links only direct dependencies at the top: the app names the tfjs it imports itself.
    const tfjs = { "@tensorflow/tfjs-core": "4.22.0", "@tensorflow/tfjs-layers": "4.22.0" };
    const dir = project("pnpm", ["@ft/core", "@ft/resnet", "@ft/backend-native", "@ft/backend-native-linux-x64-gnu"], tfjs, [], "pnpm");
    expect(node(dir, "train-native.mjs")).toMatchObject({ backend: "native", warning: null, changed: true });
  });
});

describe("@ft/core and @ft/resnet without optional packages", () => {
  it("build and run a model; image decoding says what to install", () => {
    const dir = project("minimal", ["@ft/core", "@ft/resnet"], {}, ["--omit=optional"]);
    expect(existsSync(join(dir, "node_modules", "sharp"))).toBe(false);
    const result = node(dir, "build-model.mjs");
    expect(result).toMatchObject({ backend: "cpu", tfjs: "4.22.0", shape: [1, 10] });
    expect(result.decode).toMatch(/^decoding images needs the optional package sharp, which cannot be loaded \(.*\): npm install sharp@0\.34$/);
  });
});

describe("next to another tfjs 4.x", () => {
  const TFJS = "4.21.0";
  it(`uses the consumer's tfjs ${TFJS} (one copy) and type-checks against it`, () => {
    const tfjs = Object.fromEntries(["core", "layers", "backend-cpu", "backend-wasm"].map((p) => [`@tensorflow/tfjs-${p}`, TFJS]));
    const dir = project("other-tfjs", ["@ft/core", "@ft/resnet"], { ...tfjs, typescript: "5.9.3", "@types/node": "20.19.0" });
    const copies = run("npm", ["ls", "@tensorflow/tfjs-core", "--all", "--parseable"], dir).split("\n").filter(Boolean);
    expect(new Set(copies)).toEqual(new Set([join(dir, "node_modules", "@tensorflow", "tfjs-core")]));
    copyFileSync(join(FIXTURES, "consumer.ts"), join(dir, "consumer.ts"));
    const tsconfig = { compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, skipLibCheck: false, types: ["node"], outDir: "out" }, files: ["consumer.ts"] };
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify(tsconfig));
    // skipLibCheck is off, so the @ft declaration files are checked; tfjs's own (which do not pass under
    // strict TypeScript 5.9) are not ours to judge: only errors in the consumer or in @ft count.
    const tsc = spawnSync(process.execPath, [join(dir, "node_modules", "typescript", "bin", "tsc"), "-p", ".", "--listFiles"], { cwd: dir, encoding: "utf8" });
    expect(tsc.stdout).toContain(join(dir, "node_modules", "@ft", "core", "dist", "index.d.ts"));
    const ours = tsc.stdout.split("\n").filter((line) => /^(consumer\.ts|node_modules\/@ft\/).*error TS/.test(line));
    expect(ours).toEqual([]);
    const out = spawnSync(process.execPath, [join("out", "consumer.js")], { cwd: dir, encoding: "utf8" });
    expect(out.status, out.stderr).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ backend: "cpu", tfjs: TFJS, shape: [1, 10] });
  });
});
