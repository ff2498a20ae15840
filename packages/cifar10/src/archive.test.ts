import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FtError } from "@ft/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { extractTarGz, unsafeEntryReason } from "./archive.js";
import { tarGz } from "@ft/test-support/cifar10-archive";

/** An absolute path an evil archive tries to write (checked not to appear). */
const ABSOLUTE_TARGET = join(tmpdir(), `ft-absolute-escape-${process.pid}.txt`);

describe("safe tar extraction", () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "ft-tar-"));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("classifies entries", () => {
    expect(unsafeEntryReason("a/b.bin", "File")).toBeUndefined();
    expect(unsafeEntryReason("a/", "Directory")).toBeUndefined();
    expect(unsafeEntryReason("a/../../x", "File")).toMatch(/escapes/);
    expect(unsafeEntryReason("/etc/passwd", "File")).toMatch(/absolute/);
    expect(unsafeEntryReason("C:\\x", "File")).toMatch(/absolute/);
    expect(unsafeEntryReason("a\\..\\x", "File")).toMatch(/escapes/);
    expect(unsafeEntryReason("a/link", "SymbolicLink")).toMatch(/SymbolicLink is not allowed/);
  });

  it("extracts a good archive into place through a temporary folder", async () => {
    const archive = join(root, "good.tar.gz");
    await writeFile(archive, tarGz([{ path: "top/", type: "Directory" }, { path: "top/a.bin", data: Buffer.from("hello") }, { path: "top/sub/b.txt", data: Buffer.from("x".repeat(700)) }]));
    const target = join(root, "good-out");
    await extractTarGz(archive, target, "top", ["a.bin"]);
    expect(await readFile(join(target, "a.bin"), "utf8")).toBe("hello");
    expect((await readFile(join(target, "sub", "b.txt"), "utf8")).length).toBe(700);
    expect((await readdir(root)).filter((n) => n.startsWith(".extract-"))).toEqual([]);
  });

  for (const [name, entry] of [
    ["a .. path", { path: "top/../../escaped.txt", data: Buffer.from("evil") }],
    ["an absolute path", { path: ABSOLUTE_TARGET, data: Buffer.from("evil") }],
    ["a symbolic link", { path: "top/link", type: "SymbolicLink" as const, linkpath: "/etc" }],
  ] as const) {
    it(`refuses an archive with ${name}, writing nothing`, async () => {
      const dir = await mkdtemp(join(root, "case-"));
      const archive = join(dir, "evil.tar.gz");
      await writeFile(archive, tarGz([{ path: "top/", type: "Directory" }, { path: "top/ok.bin", data: Buffer.from("fine") }, entry]));
      const target = join(dir, "out", "target");
      const error = await extractTarGz(archive, target, "top").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FtError);
      expect((error as Error).message).toContain(`refusing to extract ${archive}: unsafe entry "${entry.path}"`);
      expect(existsSync(target)).toBe(false);
      expect(existsSync(join(root, "escaped.txt"))).toBe(false);
      expect(existsSync(join(root, "..", "escaped.txt"))).toBe(false);
      expect(existsSync(ABSOLUTE_TARGET)).toBe(false);
    });
  }

  it("names what is missing from an archive", async () => {
    const archive = join(root, "partial.tar.gz");
    await writeFile(archive, tarGz([{ path: "top/a.bin", data: Buffer.from("a") }]));
    await expect(extractTarGz(archive, join(root, "p1"), "elsewhere")).rejects.toThrow(`${archive} has no folder elsewhere/ (found: top)`);
    await expect(extractTarGz(archive, join(root, "p2"), "top", ["a.bin", "b.bin"])).rejects.toThrow(`${archive} lacks top/b.bin`);
    expect(existsSync(join(root, "p2"))).toBe(false);
    const notTar = join(root, "not.tar.gz");
    await writeFile(notTar, Buffer.from("definitely not a tarball, just some text that is long enough ".repeat(20)));
    await expect(extractTarGz(notTar, join(root, "p3"), "top")).rejects.toThrow(FtError);
  });
});
