import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FtError } from "../errors.js";
import type { WeightRecord } from "../spec.js";
import { ensureWeightFile, mirrorOverridesPath, verifyWeightFile, weightCachePath, weightCacheState, weightSource } from "./cache.js";
import { serveBytes, startTestServer, testPayload, type TestServer } from "@ft/test-support/http-server";

const payload = testPayload(50_000, 3);
const md5 = createHash("md5").update(payload).digest("hex");
let server: TestServer;
let home: string;
const savedEnv = { FT_HOME: process.env.FT_HOME, FT_MIRROR: process.env.FT_MIRROR };

/** A port nothing listens on: requests there fail like a machine without network. */
const OFFLINE = "http://127.0.0.1:9/";

function record(overrides: Partial<WeightRecord> = {}): WeightRecord {
  return {
    id: "tiny.th",
    url: `${server.base}/origin/tiny_th.h5`,
    fileName: "tiny_th.h5",
    bytes: payload.length,
    checksum: { algorithm: "md5", value: md5 },
    layout: "keras1",
    ordering: "th",
    includeTop: true,
    preprocessing: "caffe",
    ...overrides,
  };
}

beforeAll(async () => {
  server = await startTestServer({
    "/origin/tiny_th.h5": serveBytes(payload),
    "/mirror/tiny_th.h5": serveBytes(payload),
    "/elsewhere/any-name.h5": serveBytes(payload),
  });
});
afterAll(() => server.close());
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), "ft-home-"));
  process.env.FT_HOME = home;
  delete process.env.FT_MIRROR;
  server.requests.length = 0;
});
afterEach(() => {
  rmSync(home, { recursive: true, force: true });
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

async function failure(p: Promise<unknown>): Promise<FtError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(FtError);
  return e as FtError;
}

describe("weight cache", () => {
  it("lives under FT_HOME/weights", () => {
    expect(weightCachePath(record())).toBe(join(home, "weights", "tiny_th.h5"));
  });

  it("downloads once, then serves the verified cached file without the network", async () => {
    const r = record();
    expect(await weightCacheState(r)).toBe("missing");
    const path = await ensureWeightFile(r);
    expect(path).toBe(weightCachePath(r));
    expect(readFileSync(path).equals(payload)).toBe(true);
    expect(JSON.parse(readFileSync(path + ".verified", "utf8"))).toMatchObject({ algorithm: "md5", value: md5, size: payload.length });
    expect(await weightCacheState(r)).toBe("cached");

    expect(await ensureWeightFile({ ...r, url: OFFLINE + "tiny_th.h5" })).toBe(path);
    expect(server.requests).toHaveLength(1);
  });

  it("hashes a cached file once: the sidecar is trusted while size and mtime are unchanged", async () => {
    const r = record();
    const path = await ensureWeightFile(r);
    const { atime, mtime } = statSync(path);
    // Corrupt one byte but keep size and mtime: the remembered verification still stands.
    const bytes = readFileSync(path);
    bytes[100] ^= 0xff;
    writeFileSync(path, bytes);
    utimesSync(path, atime, mtime);
    await ensureWeightFile(r);
    expect(server.requests).toHaveLength(1);
    // Once the file's mtime changes it is hashed again, found wrong and downloaded afresh.
    utimesSync(path, atime, new Date(mtime.getTime() + 5000));
    await ensureWeightFile(r);
    expect(server.requests).toHaveLength(2);
    expect(readFileSync(path).equals(payload)).toBe(true);
  });

  it("a cached file dropped in by the user is verified and used without a download", async () => {
    const r = record({ url: OFFLINE + "tiny_th.h5" });
    mkdirSync(join(home, "weights"), { recursive: true });
    writeFileSync(weightCachePath(r), payload);
    expect(await ensureWeightFile(r)).toBe(weightCachePath(r));
    expect(existsSync(weightCachePath(r) + ".verified")).toBe(true);
  });

  it("a wrong cached file is kept when the new download cannot happen, and the error says both", async () => {
    const r = record({ url: OFFLINE + "tiny_th.h5" });
    mkdirSync(join(home, "weights"), { recursive: true });
    writeFileSync(weightCachePath(r), "not the weights");
    const e = await failure(ensureWeightFile(r));
    expect(e.message).toContain(`The cached ${weightCachePath(r)} does not match its record (size: expected ${payload.length} bytes, found 15)`);
    expect(e.message).toContain(`cannot download ${OFFLINE}tiny_th.h5`);
    expect(e.message).toContain("--weights FILE");
    expect(readFileSync(weightCachePath(r), "utf8")).toBe("not the weights");
  });

  it("no network: names the URL, --weights FILE and the cache path", async () => {
    const r = record({ url: OFFLINE + "tiny_th.h5" });
    const e = await failure(ensureWeightFile(r));
    expect(e.message).toBe(
      `cannot download ${OFFLINE}tiny_th.h5: connection refused (ECONNREFUSED). To work without the network, pass a local copy with --weights FILE, or drop the file at ${weightCachePath(r)}.`,
    );
  });

  it("FT_MIRROR replaces the host: the file name is appended to the base URL", async () => {
    process.env.FT_MIRROR = `${server.base}/mirror/`;
    const r = record({ url: OFFLINE + "tiny_th.h5" });
    expect(weightSource(r)).toEqual({ url: `${server.base}/mirror/tiny_th.h5`, via: "mirror" });
    await ensureWeightFile(r);
    expect(server.requests.map((q) => q.path)).toEqual(["/mirror/tiny_th.h5"]);
  });

  it("a per-record override in mirrors.json wins over FT_MIRROR", async () => {
    process.env.FT_MIRROR = OFFLINE;
    writeFileSync(mirrorOverridesPath(), JSON.stringify({ "tiny.th": `${server.base}/elsewhere/any-name.h5` }));
    const r = record();
    expect(weightSource(r).via).toBe("override");
    await ensureWeightFile(r);
    expect(server.requests.map((q) => q.path)).toEqual(["/elsewhere/any-name.h5"]);
    writeFileSync(mirrorOverridesPath(), "{ not json");
    expect(() => weightSource(r)).toThrow(/mirrors\.json is not valid JSON/);
  });

  it("a dead record fails with its explanation and how to pass a local file, unless a mirror serves it", async () => {
    const r = record({ dead: "Google Drive removed this file in 2019." });
    const e = await failure(ensureWeightFile(r));
    expect(e.message).toBe(
      `weights "tiny.th" cannot be downloaded: Google Drive removed this file in 2019. To use them, pass a local copy with --weights FILE, or drop the file at ${weightCachePath(r)} (or set FT_MIRROR to a host that serves tiny_th.h5).`,
    );
    expect(server.requests).toHaveLength(0);
    process.env.FT_MIRROR = `${server.base}/mirror`;
    await ensureWeightFile(r);
    expect(readFileSync(weightCachePath(r)).equals(payload)).toBe(true);
  });

  it("a record without checksum is checked by size only; an approximate size tolerates rounding", async () => {
    const r = record({ checksum: undefined, bytes: 50_500, bytesApproximate: true });
    const path = await ensureWeightFile(r);
    expect(existsSync(path + ".verified")).toBe(false);
    expect(statSync(path).size).toBe(payload.length);
  });
});

describe("verifyWeightFile", () => {
  it("reports expected and found size and checksum", async () => {
    const path = join(home, "f.h5");
    writeFileSync(path, payload);
    const good = await verifyWeightFile(path, record());
    expect(good).toEqual({
      ok: true,
      expected: { bytes: payload.length, bytesApproximate: false, checksum: { algorithm: "md5", value: md5 } },
      found: { bytes: payload.length, checksum: { algorithm: "md5", value: md5 } },
      problems: [],
    });
    writeFileSync(path, payload.subarray(1));
    const bad = await verifyWeightFile(path, record());
    expect(bad.ok).toBe(false);
    expect(bad.found.bytes).toBe(payload.length - 1);
    expect(bad.problems).toEqual([
      `size: expected ${payload.length} bytes, found ${payload.length - 1}`,
      `md5: expected ${md5}, found ${createHash("md5").update(payload.subarray(1)).digest("hex")}`,
    ]);
    await expect(verifyWeightFile(join(home, "nope.h5"), record())).rejects.toThrow(/no such file/);
  });
});
