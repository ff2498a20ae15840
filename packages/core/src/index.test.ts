import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as core from "./index.js";

const source = readFileSync(new URL("./index.ts", import.meta.url), "utf8");
const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const api = readme.slice(readme.indexOf("## API by room"), readme.indexOf("\nMIT licence"));

/** Every name the entry exports, types included (read from its export lists). */
const exported = [...source.matchAll(/export\s*\{([^}]*)\}/g)].flatMap((m) =>
  m[1]!
    .split(",")
    .map((n) => n.replace(/^\s*type\s+/, "").trim())
    .filter(Boolean),
);

describe("@ft/core's public surface", () => {
  it("the README's API section lists every exported name, and only those", () => {
    expect(api.length).toBeGreaterThan(100);
    const documented = [...api.matchAll(/`([A-Za-z_]\w*)`/g)].map((m) => m[1]!);
    expect(exported.filter((n) => !documented.includes(n))).toEqual([]);
    expect(documented.filter((n) => !exported.includes(n))).toEqual([]);
  });

  it("every exported value exists at run time (the export lists are not stale)", () => {
    const values = Object.keys(core);
    expect(values.length).toBeGreaterThan(50);
    for (const name of values) expect(exported).toContain(name);
  });
});
