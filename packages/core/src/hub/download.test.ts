import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FtError } from "../errors.js";
import { downloadFile, formatBytes, hashFile, type DownloadProgress } from "./download.js";
import { confirmUrl } from "./http.js";
import { serveBytes, startTestServer, testPayload, type TestServer } from "@ft/test-support/http-server";

const payload = testPayload(200_000, 7);
const md5 = createHash("md5").update(payload).digest("hex");
const sha256 = createHash("sha256").update(payload).digest("hex");

/** First request of each `/cut` download sends only this many bytes, then drops the connection. */
const CUT_AT = 70_000;
let cutServed = 0;

let server: TestServer;
let dir: string;

beforeAll(async () => {
  server = await startTestServer({
    "/file.bin": serveBytes(payload),
    "/norange.bin": serveBytes(payload, { ignoreRange: true }),
    "/redirect1": (_req, res) => res.writeHead(302, { location: "/redirect2" }).end(),
    "/redirect2": (_req, res) => res.writeHead(301, { location: `${server.base}/file.bin` }).end(),
    "/loop": (_req, res) => res.writeHead(302, { location: "/loop" }).end(),
    "/cut.bin": (req, res) => {
      if (req.headers.range || cutServed > 0) return serveBytes(payload)(req, res, new URL("http://x"));
      cutServed++;
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": payload.length });
      res.write(payload.subarray(0, CUT_AT), () => setTimeout(() => res.socket?.destroy(), 20));
    },
    "/silent": () => {
      /* never answers */
    },
    // Google Drive, older interstitial: a cookie and a confirm link.
    "/uc": (req, res, url) => {
      const cookieOk = /download_warning_13058876669334088843_1Abc=Tk9z/.test(req.headers.cookie ?? "");
      if (url.searchParams.get("confirm") === "Tk9z" && cookieOk && url.searchParams.get("id") === "1Abc") return serveBytes(payload)(req, res, url);
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "set-cookie": "download_warning_13058876669334088843_1Abc=Tk9z; Domain=127.0.0.1; Path=/; Secure; HttpOnly" });
      res.end(
        `<html><body><p>Google Drive can't scan this file for viruses.</p>` +
          `<a id="uc-download-link" href="/uc?export=download&amp;confirm=Tk9z&amp;id=1Abc">Download anyway</a></body></html>`,
      );
    },
    // Google Drive, current interstitial: a form to drive.usercontent.google.com with hidden inputs.
    "/drive-file": (_req, res) => {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(
        `<html><body>Virus scan warning<form id="download-form" action="${server.base}/download" method="get">` +
          `<input type="submit" id="uc-download-link" value="Download anyway"/>` +
          `<input type="hidden" name="id" value="1Abc"><input type="hidden" name="export" value="download">` +
          `<input type="hidden" name="confirm" value="t"><input type="hidden" name="uuid" value="9f0e-11"></form></body></html>`,
      );
    },
    "/download": (req, res, url) => {
      const p = url.searchParams;
      if (p.get("id") === "1Abc" && p.get("confirm") === "t" && p.get("uuid") === "9f0e-11" && p.get("export") === "download") return serveBytes(payload)(req, res, url);
      res.writeHead(400).end();
    },
    "/quota": (_req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end("<html><body>Too many users have viewed or downloaded this file recently.</body></html>");
    },
  });
});
afterAll(() => server.close());
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ft-download-"));
  server.requests.length = 0;
  cutServed = 0;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function failure(p: Promise<unknown>): Promise<FtError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(FtError);
  return e as FtError;
}

describe("downloadFile", () => {
  it("downloads, verifies size + md5 and reports progress with rate and ETA", async () => {
    const dest = join(dir, "w.h5");
    const progress: DownloadProgress[] = [];
    const result = await downloadFile(`${server.base}/file.bin`, dest, {
      bytes: payload.length,
      checksum: { algorithm: "md5", value: md5 },
      onProgress: (p) => progress.push(p),
      progressIntervalMs: 0,
    });
    expect(readFileSync(dest).equals(payload)).toBe(true);
    expect(existsSync(dest + ".part")).toBe(false);
    expect(result).toMatchObject({ bytes: payload.length, resumedFrom: 0, checksum: { algorithm: "md5", value: md5 } });
    const last = progress.at(-1)!;
    expect(last.received).toBe(payload.length);
    expect(last.total).toBe(payload.length);
    expect(last.rate).toBeGreaterThan(0);
    expect(last.etaSeconds).toBe(0);
    expect(progress.every((p, i) => i === 0 || p.received >= progress[i - 1]!.received)).toBe(true);
  });

  it("verifies a sha256 checksum", async () => {
    const dest = join(dir, "w.h5");
    await downloadFile(`${server.base}/file.bin`, dest, { checksum: { algorithm: "sha256", value: sha256.toUpperCase() } });
    expect(await hashFile(dest, "sha256")).toBe(sha256);
  });

  it("resumes an existing .part with a Range request (206)", async () => {
    const dest = join(dir, "w.h5");
    writeFileSync(dest + ".part", payload.subarray(0, 12_345));
    const result = await downloadFile(`${server.base}/file.bin`, dest, { bytes: payload.length, checksum: { algorithm: "md5", value: md5 } });
    expect(server.requests.map((r) => r.range)).toEqual(["bytes=12345-"]);
    expect(result.resumedFrom).toBe(12_345);
    expect(readFileSync(dest).equals(payload)).toBe(true);
  });

  it("restarts from zero when the server ignores the range (200)", async () => {
    const dest = join(dir, "w.h5");
    writeFileSync(dest + ".part", Buffer.alloc(5000, 0xee)); // wrong bytes: must not survive
    await downloadFile(`${server.base}/norange.bin`, dest, { checksum: { algorithm: "md5", value: md5 } });
    expect(server.requests[0]!.range).toBe("bytes=5000-");
    expect(readFileSync(dest).equals(payload)).toBe(true);
  });

  it("an interrupted transfer keeps the .part, never the final name, and the next call resumes it", async () => {
    const dest = join(dir, "w.h5");
    const e = await failure(downloadFile(`${server.base}/cut.bin`, dest, { bytes: payload.length, retries: 0 }));
    expect(e.message).toMatch(/interrupted after 70\.0 kB of 200 kB/);
    expect(e.message).toContain(`${server.base}/cut.bin`);
    expect(e.message).toMatch(/run the command again to resume/);
    expect(existsSync(dest)).toBe(false);
    expect(readFileSync(dest + ".part").equals(payload.subarray(0, CUT_AT))).toBe(true);

    await downloadFile(`${server.base}/cut.bin`, dest, { bytes: payload.length, checksum: { algorithm: "md5", value: md5 }, retries: 0 });
    expect(server.requests.map((r) => r.range)).toEqual([undefined, `bytes=${CUT_AT}-`]);
    expect(readFileSync(dest).equals(payload)).toBe(true);
  });

  it("resumes automatically within one call after an interruption", async () => {
    const dest = join(dir, "w.h5");
    await downloadFile(`${server.base}/cut.bin`, dest, { checksum: { algorithm: "md5", value: md5 } });
    expect(server.requests.map((r) => r.range)).toEqual([undefined, `bytes=${CUT_AT}-`]);
    expect(readFileSync(dest).equals(payload)).toBe(true);
  });

  it("a wrong checksum leaves the user's existing file untouched and says expected vs found", async () => {
    const dest = join(dir, "w.h5");
    writeFileSync(dest, "the user's own copy");
    const wrong = "0123456789abcdef0123456789abcdef";
    const e = await failure(downloadFile(`${server.base}/file.bin`, dest, { checksum: { algorithm: "md5", value: wrong } }));
    expect(e.message).toContain(`expected md5 ${wrong}, found ${md5}`);
    expect(e.message).toMatch(/existing .* was left as it was/);
    expect(readFileSync(dest, "utf8")).toBe("the user's own copy");
    expect(existsSync(dest + ".part")).toBe(false);
  });

  it("refuses a file whose size differs from the expected one, before renaming", async () => {
    const dest = join(dir, "w.h5");
    const e = await failure(downloadFile(`${server.base}/file.bin`, dest, { bytes: payload.length + 1 }));
    expect(e.message).toMatch(new RegExp(`serves ${payload.length} bytes but ${payload.length + 1} were expected`));
    expect(existsSync(dest)).toBe(false);
    // A rounded size within 10 % is accepted.
    await downloadFile(`${server.base}/file.bin`, dest, { bytes: 210_000, bytesApproximate: true });
    expect(readFileSync(dest).equals(payload)).toBe(true);
    rmSync(dest);
    const far = await failure(downloadFile(`${server.base}/file.bin`, dest, { bytes: 500_000, bytesApproximate: true }));
    expect(far.message).toMatch(/wrong size: expected about 500000 bytes, found 200000/);
    expect(existsSync(dest)).toBe(false);
  });

  it("follows redirects, and gives up on a redirect loop", async () => {
    const dest = join(dir, "w.h5");
    const result = await downloadFile(`${server.base}/redirect1`, dest, { checksum: { algorithm: "md5", value: md5 } });
    expect(result.finalUrl).toBe(`${server.base}/file.bin`);
    expect(server.requests.map((r) => r.path)).toEqual(["/redirect1", "/redirect2", "/file.bin"]);
    const e = await failure(downloadFile(`${server.base}/loop`, join(dir, "x"), { maxRedirects: 3 }));
    expect(e.message).toMatch(/redirected more than 3 times/);
  });

  it("a 404 names the URL and how to supply the file", async () => {
    const dest = join(dir, "w.h5");
    const e = await failure(downloadFile(`${server.base}/missing.h5`, dest, { manualHint: "pass --weights FILE" }));
    expect(e.message).toBe(`cannot download ${server.base}/missing.h5: HTTP 404 Not Found: the file is not there (moved or deleted). To supply the file yourself, pass --weights FILE.`);
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(dest + ".part")).toBe(false);
  });

  it("passes Google Drive's confirm page (download_warning cookie + confirm link)", async () => {
    const dest = join(dir, "w.h5");
    await downloadFile(`${server.base}/uc?export=download&id=1Abc`, dest, { checksum: { algorithm: "md5", value: md5 } });
    expect(readFileSync(dest).equals(payload)).toBe(true);
    expect(server.requests).toHaveLength(2);
    expect(server.requests[1]!.url).toMatch(/confirm=Tk9z/);
    expect(server.requests[1]!.cookie).toMatch(/download_warning_\w+=Tk9z/);
  });

  it("passes Google Drive's current download-form page", async () => {
    const dest = join(dir, "w.h5");
    await downloadFile(`${server.base}/drive-file`, dest, { checksum: { algorithm: "md5", value: md5 } });
    expect(readFileSync(dest).equals(payload)).toBe(true);
    expect(server.requests.map((r) => r.path)).toEqual(["/drive-file", "/download"]);
  });

  it("an HTML page with no confirm token is an error, not a weight file", async () => {
    const dest = join(dir, "w.h5");
    const e = await failure(downloadFile(`${server.base}/quota`, dest));
    expect(e.message).toMatch(/answered with a web page instead of the file/);
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(dest + ".part")).toBe(false);
  });

  it("no network: one clear error naming the URL and the manual alternative", async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((r) => closed.close(() => r()));
    const url = `http://127.0.0.1:${port}/resnet50.h5`;
    const e = await failure(downloadFile(url, join(dir, "w.h5"), { manualHint: `pass --weights FILE, or drop the file at ${join(dir, "w.h5")}` }));
    expect(e.message).toBe(`cannot download ${url}: connection refused (ECONNREFUSED). To work without the network, pass --weights FILE, or drop the file at ${join(dir, "w.h5")}.`);
  });

  it("a silent server times out with a clear error", async () => {
    const e = await failure(downloadFile(`${server.base}/silent`, join(dir, "w.h5"), { idleTimeoutMs: 150 }));
    expect(e.message).toMatch(new RegExp(`cannot download ${server.base}/silent: timed out`));
  });

  it("aborting keeps the partial file for a later resume", async () => {
    const dest = join(dir, "w.h5");
    const controller = new AbortController();
    controller.abort();
    const e = await failure(downloadFile(`${server.base}/file.bin`, dest, { signal: controller.signal }));
    expect(e.message).toMatch(/cancelled/);
    expect(existsSync(dest)).toBe(false);
  });
});

describe("confirmUrl", () => {
  it("returns undefined for a page that is not an interstitial", () => {
    expect(confirmUrl("https://example.org/x", "<html>hello</html>")).toBeUndefined();
  });
});

describe("formatBytes", () => {
  it("uses decimal units like the publishers", () => {
    expect(formatBytes(999)).toBe("999 B");
    expect(formatBytes(553_000_000)).toBe("553 MB");
    expect(formatBytes(102_853_048)).toBe("103 MB");
    expect(formatBytes(1_500)).toBe("1.50 kB");
  });
});
