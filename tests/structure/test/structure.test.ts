import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * The design rules a reader relies on, checked over the files git tracks (and untracked ones it does not
 * ignore): imports go one way (CLI → families → core), no module imports itself through a circle, no
 * source file is over 400 lines without saying why at its top, and every README link resolves.
 */
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" })
  .split("\n")
  .filter((f) => f && existsSync(join(ROOT, f)));
const isTest = (f: string) => /(\.test\.ts$|\/test\/|\/test-utils\/|^tests\/)/.test(f);
const sources = files.filter((f) => /^(packages|apps)\/[^/]+\/(src|scripts|bench)\/.*\.(ts|mts|mjs)$/.test(f) && !f.endsWith(".d.mts"));

/** The workspace package a path belongs to (`packages/core`), and each package's rank: a package may only import lower ranks. */
const packageOf = (f: string) => f.split("/").slice(0, 2).join("/");
const RANK: Record<string, number> = {
  "tests/support": -1,
  "packages/core": 0,
  "tests/model-proofs": 0.5,
  "packages/backend-native-linux-x64-gnu": 0,
  "packages/backend-native": 1,
  "packages/vgg": 1,
  "packages/resnet": 1,
  "packages/inception": 1,
  "packages/densenet": 1,
  "packages/cifar10": 1,
  "apps/cli": 2,
};
const PACKAGE_NAMES: Record<string, string> = {
  "@ft/test-support": "tests/support",
  "@ft/model-proofs": "tests/model-proofs",
  "@ft/core": "packages/core",
  "@ft/backend-native": "packages/backend-native",
  "@ft/vgg": "packages/vgg",
  "@ft/resnet": "packages/resnet",
  "@ft/inception": "packages/inception",
  "@ft/densenet": "packages/densenet",
  "@ft/cifar10": "packages/cifar10",
};

function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  const pattern = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"|(?:^|\n)\s*import\s+"([^"]+)"|import\(\s*"([^"]+)"\s*\)/g;
  return [...text.matchAll(pattern)].map((m) => (m[1] ?? m[2] ?? m[3])!);
}

/** A relative import's target file in the repository (`.js` written for `.ts`). */
function resolveRelative(from: string, spec: string): string | undefined {
  const base = normalize(join(dirname(from), spec));
  for (const candidate of [base, base.replace(/\.js$/, ".ts"), base.replace(/\.mjs$/, ".mts"), join(base, "index.ts")]) {
    if (files.includes(candidate)) return candidate;
  }
  return undefined;
}

describe("repository structure", () => {
  it("imports go one way: test support → core → model proofs → families → CLI, and only tests use the test support", () => {
    const wrong: string[] = [];
    for (const file of files.filter((f) => /^(packages|apps|tests)\/.*\.(ts|mts|mjs)$/.test(f) && !f.endsWith(".d.mts"))) {
      const own = packageOf(file);
      for (const spec of importsOf(file)) {
        const target = spec.startsWith(".") ? (resolveRelative(file, spec) ? packageOf(resolveRelative(file, spec)!) : undefined) : PACKAGE_NAMES[spec.split("/").slice(0, 2).join("/")];
        // The consumer and structure tests stand above everything (they use packages as a user does).
        if (!target || !(target in RANK) || !(own in RANK) || target === own) continue;
        if (target.startsWith("tests/") && !isTest(file)) wrong.push(`${file} (not a test) imports test support ${spec}`);
        if (!(RANK[target]! < RANK[own]!)) wrong.push(`${file} imports ${spec} (${target})`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("no import circle among the modules of any package", () => {
    const graph = new Map<string, string[]>();
    for (const file of sources.filter((f) => !isTest(f))) {
      graph.set(file, importsOf(file).filter((s) => s.startsWith(".")).map((s) => resolveRelative(file, s)).filter((t): t is string => !!t && !isTest(t)));
    }
    const circles: string[] = [];
    const state = new Map<string, "open" | "done">();
    const visit = (node: string, path: string[]) => {
      if (state.get(node) === "done") return;
      if (state.get(node) === "open") {
        circles.push([...path.slice(path.indexOf(node)), node].join(" → "));
        return;
      }
      state.set(node, "open");
      for (const next of graph.get(node) ?? []) visit(next, [...path, node]);
      state.set(node, "done");
    };
    for (const node of graph.keys()) visit(node, []);
    expect(circles).toEqual([]);
  });

  it("every architecture package has the family shape: builders, records, registration, and the same tests", () => {
    const families = files.filter((f) => /^packages\/[^/]+\/src\/index\.ts$/.test(f) && f !== "packages/core/src/index.ts")
      .filter((f) => /\bregisterModel\(/.test(readFileSync(join(ROOT, f), "utf8")))
      .map((f) => packageOf(f));
    expect(families.sort()).toEqual(["packages/densenet", "packages/inception", "packages/resnet", "packages/vgg"]);
    const missing: string[] = [];
    for (const family of families) {
      const own = files.filter((f) => f.startsWith(`${family}/`));
      const need = (what: string, pattern: RegExp) => {
        if (!own.some((f) => pattern.test(f.slice(family.length + 1)))) missing.push(`${family}: ${what}`);
      };
      need("src/weights.ts (the weight records)", /^src\/weights\.ts$/);
      need("a builder test beside the builders (src/<model>.test.ts)", /^src\/(?!registry\.)[\w-]+\.test\.ts$/);
      need("src/registry.test.ts (the registry schema)", /^src\/registry\.test\.ts$/);
      need("a loading proof from generated Keras files (test/<model>.weights.test.ts)", /^test\/[\w.-]+\.weights\.test\.ts$/);
      const generators = own.filter((f) => /\/test\/fixtures\/[^/]+\.py$/.test(f));
      if (generators.length === 0) missing.push(`${family}: an h5py generator in test/fixtures/`);
      for (const g of generators) {
        if (!/from (keras_h5|make_\w+) import/.test(readFileSync(join(ROOT, g), "utf8"))) missing.push(`${g}: does not write through tests/support/python/keras_h5.py`);
      }
      if (!own.some((f) => f.endsWith(".test.ts") && /@ft\/model-proofs\//.test(readFileSync(join(ROOT, f), "utf8")))) missing.push(`${family}: no test uses @ft/model-proofs`);
    }
    expect(missing).toEqual([]);
  });

  it("no source file is over 400 lines without a comment at its top that says why", () => {
    const long = files
      .filter((f) => /^(packages|apps)\/.*\.(ts|mts|mjs|cc|h|py)$/.test(f) && !isTest(f))
      .map((f) => ({ f, lines: readFileSync(join(ROOT, f), "utf8").split("\n") }))
      .filter(({ lines }) => lines.length > 400)
      .filter(({ lines }) => !/over 400 lines|longer than 400 lines|\d{3} lines because/i.test(lines.slice(0, 15).join("\n")))
      .map(({ f, lines }) => `${f} (${lines.length} lines)`);
    expect(long).toEqual([]);
  });

  it("every link in every README resolves to a file in the repository", () => {
    const broken: string[] = [];
    for (const readme of files.filter((f) => /(^|\/)README\.md$/.test(f))) {
      const text = readFileSync(join(ROOT, readme), "utf8");
      for (const m of text.matchAll(/\]\(([^)\s#]+)(?:#[^)]*)?\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/.test(target)) continue;
        const path = normalize(join(dirname(readme), target));
        if (relative(ROOT, join(ROOT, path)).startsWith("..") || !existsSync(join(ROOT, path))) broken.push(`${readme}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("nothing refers to a ../shared folder beside the repository", () => {
    const offenders = files
      .filter((f) => /\.(ts|mts|mjs|py|sh|json|yaml)$/.test(f) || f === ".ci/run")
      .filter((f) => f !== "tests/structure/test/structure.test.ts")
      .filter((f) => /\.\.\/shared|shared\/manifests/.test(readFileSync(join(ROOT, f), "utf8")));
    expect(offenders).toEqual([]);
  });
});
