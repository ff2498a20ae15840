import { createHash, type Hash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, rm, stat, truncate } from "node:fs/promises";
import * as http from "node:http";
import * as https from "node:https";
import { dirname } from "node:path";
import { FtError } from "../errors.js";
import type { Checksum } from "../spec.js";

/** What a progress callback receives, at most every `progressIntervalMs` and once at the end. */
export interface DownloadProgress {
  /** Bytes in the partial file so far, a resumed prefix included. */
  received: number;
  /** Size of the whole file, when the server or the caller says it. */
  total?: number;
  /** Bytes per second received in this call (resumed bytes not counted). */
  rate: number;
  /** Seconds left at the current rate, when `total` is known and the rate is not zero. */
  etaSeconds?: number;
}

export interface DownloadOptions {
  /** Expected size in bytes; the file is refused when its size differs. */
  bytes?: number;
  /** `bytes` is a rounded size (e.g. "553 MB"): accept a file within 10 % of it. */
  bytesApproximate?: boolean;
  /** Expected digest; the file is refused when it differs. */
  checksum?: Checksum;
  onProgress?: (progress: DownloadProgress) => void;
  /** Aborting keeps the `.part` file, so a later call resumes. */
  signal?: AbortSignal;
  /**
   * How the user can supply the file without this download, appended to network errors.
   * Default: "download it by other means and save it as <destPath>".
   */
  manualHint?: string;
  /** Redirects followed per request (default 10). */
  maxRedirects?: number;
  /** A connection silent for this long fails (default 30 s). */
  idleTimeoutMs?: number;
  /** Automatic resumes after an interrupted transfer within this call (default 3). */
  retries?: number;
  /** Minimum time between progress callbacks (default 200 ms). */
  progressIntervalMs?: number;
}

export interface DownloadResult {
  path: string;
  bytes: number;
  /** The verified checksum, when one was asked for. */
  checksum?: Checksum;
  /** Bytes taken from an existing `.part` file instead of the network. */
  resumedFrom: number;
  /** The URL the file finally came from, after redirects and confirm pages. */
  finalUrl: string;
}

/** Suffix of the file a download is written to before it is verified and renamed into place. */
export const PARTIAL_SUFFIX = ".part";

const USER_AGENT = "ft-weights-downloader (+https://github.com/ft)";
/** Largest HTML page read when the server answers with a page instead of the file. */
const MAX_HTML_BYTES = 1 << 20;
/** Google Drive needs at most one confirm step; two allows for a changed interstitial. */
const MAX_CONFIRM_STEPS = 2;
/** Relative tolerance for `bytesApproximate` sizes. */
export const APPROXIMATE_TOLERANCE = 0.1;

/**
 * Downloads `url` to `destPath` safely:
 * - bytes go to `destPath + ".part"`; an existing `.part` is resumed with an HTTP Range request
 *   (206 appends; 200 means the server ignored the range, so the file restarts from zero);
 * - redirects are followed (bounded) and cookies are kept across them;
 * - an HTML answer is treated as an interstitial (Google Drive "can't scan for viruses" page,
 *   `download_warning` cookie, `download-form`) and re-requested with its confirm token;
 * - size and checksum are verified before the file is renamed to `destPath`, so a partial or
 *   wrong file never appears under the final name and whatever was there stays untouched.
 *
 * Errors are `FtError`s that name the URL and say how to supply the file by hand.
 */
export async function downloadFile(url: string, destPath: string, options: DownloadOptions = {}): Promise<DownloadResult> {
  const partPath = destPath + PARTIAL_SUFFIX;
  const hint = options.manualHint ?? `download it by other means and save it as ${destPath}`;
  const retries = options.retries ?? 3;
  const expected = options.bytes;
  // Only an exact size can short-cut a complete .part or reject a server's length up front.
  const exactBytes = options.bytesApproximate ? undefined : expected;
  await mkdir(dirname(destPath), { recursive: true });

  let attempt = 0;
  let transfer: TransferOutcome;
  const started = await fileSize(partPath);
  for (;;) {
    try {
      transfer = await transferToPart(url, partPath, { ...options, bytes: exactBytes }, hint);
      break;
    } catch (e) {
      if (!(e instanceof InterruptedTransfer) || attempt >= retries || options.signal?.aborted) {
        if (e instanceof InterruptedTransfer && options.signal?.aborted) {
          throw new FtError(`download of ${url} was cancelled after ${formatBytes(e.received)}; ${partPath} is kept for resuming.`);
        }
        if (e instanceof InterruptedTransfer) {
          throw new FtError(
            `download of ${url} was interrupted after ${formatBytes(e.received)}${e.total ? ` of ${formatBytes(e.total)}` : ""} (${e.reason}). ` +
              `The partial file ${partPath} is kept: run the command again to resume, or ${hint}.`,
          );
        }
        throw e;
      }
      attempt++;
    }
  }

  const size = await fileSize(partPath);
  if (transfer.total !== undefined && size !== transfer.total) {
    throw new FtError(`download of ${url} ended early: ${formatBytes(size)} of ${formatBytes(transfer.total)}. Run again to resume, or ${hint}.`);
  }
  const sizeOk = expected === undefined || (options.bytesApproximate ? Math.abs(size - expected) <= expected * APPROXIMATE_TOLERANCE : size === expected);
  if (!sizeOk) {
    await rm(partPath, { force: true });
    throw new FtError(
      `download of ${url} has the wrong size: expected ${options.bytesApproximate ? "about " : ""}${expected} bytes, found ${size}. ` +
        `The download was discarded${await existingNote(destPath)}. Check the URL or mirror, or ${hint}.`,
    );
  }
  let checksum: Checksum | undefined;
  if (options.checksum) {
    const found = await hashFile(partPath, options.checksum.algorithm);
    if (found !== options.checksum.value.toLowerCase()) {
      await rm(partPath, { force: true });
      throw new FtError(
        `checksum mismatch for ${url}: expected ${options.checksum.algorithm} ${options.checksum.value.toLowerCase()}, found ${found}. ` +
          `The download was discarded${await existingNote(destPath)}. Check the URL or mirror, or ${hint}.`,
      );
    }
    checksum = { algorithm: options.checksum.algorithm, value: found };
  }
  await rename(partPath, destPath);
  return { path: destPath, bytes: size, checksum, resumedFrom: started, finalUrl: transfer.finalUrl };
}

/** Hex digest of a file, streamed. */
export async function hashFile(path: string, algorithm: Checksum["algorithm"]): Promise<string> {
  const hash = createHash(algorithm);
  await pipeFileInto(path, hash);
  return hash.digest("hex");
}

/** "12.3 MB"-style size (decimal units, like the publishers' tables). */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let v = n / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) (v /= 1000), i++;
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`;
}

interface TransferOutcome {
  total?: number;
  finalUrl: string;
}

/** A transfer that broke off after some bytes were written: the `.part` file can be resumed. */
class InterruptedTransfer extends Error {
  constructor(
    readonly reason: string,
    readonly received: number,
    readonly total: number | undefined,
  ) {
    super(reason);
  }
}

/** Cookies by host, enough for Google Drive's `download_warning` cookie to follow redirects. */
type CookieJar = Map<string, Map<string, string>>;

/** Fetches `url` into `partPath`, resuming it when it exists. Resolves when the body ended. */
async function transferToPart(url: string, partPath: string, options: DownloadOptions, hint: string): Promise<TransferOutcome> {
  const jar: CookieJar = new Map();
  let current = url;
  let confirmSteps = 0;
  let rangeRetried = false;
  for (;;) {
    const have = await fileSize(partPath);
    if (options.bytes !== undefined && have > 0) {
      // A complete .part (a previous run was stopped between the last byte and the rename)
      // needs no network; a longer one cannot be this file.
      if (have === options.bytes) return { total: have, finalUrl: current };
      if (have > options.bytes) await rm(partPath, { force: true });
    }
    const { response, finalUrl } = await requestFollowingRedirects(current, have, jar, options, url, hint);
    const status = response.statusCode ?? 0;
    const type = String(response.headers["content-type"] ?? "");

    if (status === 416) {
      // The range starts at or past the end: the .part is complete, or belongs to another file.
      response.resume();
      const total = parseContentRangeTotal(response.headers["content-range"]);
      if (total !== undefined && total === have) return { total, finalUrl };
      if (rangeRetried) throw httpError(url, finalUrl, status, response.statusMessage, hint);
      rangeRetried = true;
      await rm(partPath, { force: true });
      continue;
    }
    if (status < 200 || status >= 300) {
      response.resume();
      throw httpError(url, finalUrl, status, response.statusMessage, hint);
    }
    if (/text\/html/i.test(type)) {
      const html = await readText(response, MAX_HTML_BYTES);
      const next = confirmUrl(finalUrl, html, jar);
      if (!next || confirmSteps >= MAX_CONFIRM_STEPS) {
        throw new FtError(
          `${url} answered with a web page instead of the file${/google/i.test(finalUrl) ? " (Google Drive: the file may be over its download quota, private or deleted)" : ""}. ` +
            `Open the URL in a browser to see why, or ${hint}.`,
        );
      }
      confirmSteps++;
      current = next;
      continue;
    }

    let offset = 0;
    let total: number | undefined;
    if (status === 206) {
      const range = parseContentRange(response.headers["content-range"]);
      if (!range || range.start !== have) {
        // A range we did not ask for: start over rather than splice the wrong bytes in.
        response.resume();
        if (rangeRetried) throw new FtError(`${url} answered a resume request with an unusable range (${response.headers["content-range"] ?? "none"}); delete ${partPath} or ${hint}.`);
        rangeRetried = true;
        await rm(partPath, { force: true });
        continue;
      }
      offset = have;
      total = range.total;
    } else {
      // 200: the whole file from byte 0, even if we asked for a range.
      const length = Number(response.headers["content-length"]);
      total = Number.isFinite(length) && response.headers["content-length"] !== undefined ? length : undefined;
    }
    total ??= options.bytes;
    if (options.bytes !== undefined && total !== undefined && total !== options.bytes) {
      response.resume();
      throw new FtError(
        `${finalUrl} serves ${total} bytes but ${options.bytes} were expected: it is not the file asked for. Check the URL or mirror, or ${hint}.`,
      );
    }
    await writeBody(response, partPath, offset, total, options);
    return { total, finalUrl };
  }
}

/** Streams a response body into the partial file at `offset` (truncating what lies beyond). */
async function writeBody(response: http.IncomingMessage, partPath: string, offset: number, total: number | undefined, options: DownloadOptions): Promise<void> {
  if (offset === 0) await rm(partPath, { force: true });
  else await truncate(partPath, offset);
  const out = createWriteStream(partPath, { flags: offset === 0 ? "w" : "a" });
  const began = Date.now();
  const interval = options.progressIntervalMs ?? 200;
  let received = offset;
  let lastReport = 0;
  const report = (force: boolean) => {
    if (!options.onProgress) return;
    const now = Date.now();
    if (!force && now - lastReport < interval) return;
    lastReport = now;
    const seconds = Math.max((now - began) / 1000, 1e-3);
    const rate = (received - offset) / seconds;
    const etaSeconds = total !== undefined && rate > 0 ? Math.max(total - received, 0) / rate : undefined;
    options.onProgress({ received, total, rate, etaSeconds });
  };

  await new Promise<void>((resolve, reject) => {
    let failed = false;
    const fail = (reason: string) => {
      if (failed) return;
      failed = true;
      response.destroy();
      // Flush what arrived so the next attempt resumes after it.
      out.end(() => reject(new InterruptedTransfer(reason, received, total)));
    };
    response.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (!out.write(chunk)) {
        response.pause();
        out.once("drain", () => response.resume());
      }
      report(false);
    });
    response.on("aborted", () => fail("connection closed by the server"));
    response.on("error", (e) => fail(describeNetworkError(e)));
    out.on("error", (e) => {
      failed = true;
      response.destroy();
      reject(new FtError(`cannot write ${partPath}: ${e.message}`));
    });
    response.on("end", () => {
      if (failed) return;
      if (!response.complete) return fail("connection closed before the end of the file");
      out.end(() => {
        report(true);
        if (total !== undefined && received < total) reject(new InterruptedTransfer("connection closed before the end of the file", received, total));
        else resolve();
      });
    });
  });
}

/** Issues GET requests, following up to `maxRedirects` redirects and carrying cookies. */
async function requestFollowingRedirects(
  startUrl: string,
  rangeStart: number,
  jar: CookieJar,
  options: DownloadOptions,
  originalUrl: string,
  hint: string,
): Promise<{ response: http.IncomingMessage; finalUrl: string }> {
  const maxRedirects = options.maxRedirects ?? 10;
  let current = startUrl;
  for (let hops = 0; ; hops++) {
    const response = await get(current, rangeStart, jar, options, originalUrl, hint);
    const status = response.statusCode ?? 0;
    if (![301, 302, 303, 307, 308].includes(status)) return { response, finalUrl: current };
    response.resume();
    const location = response.headers.location;
    if (!location) throw new FtError(`${current} redirected (HTTP ${status}) without a Location header; ${hint}.`);
    if (hops >= maxRedirects) throw new FtError(`${originalUrl} redirected more than ${maxRedirects} times (last: ${current}); ${hint}.`);
    current = new URL(location, current).toString();
  }
}

function get(url: string, rangeStart: number, jar: CookieJar, options: DownloadOptions, originalUrl: string, hint: string): Promise<http.IncomingMessage> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new FtError(`not a valid URL: "${url}"`);
  }
  const client = parsed.protocol === "https:" ? https : parsed.protocol === "http:" ? http : undefined;
  if (!client) throw new FtError(`cannot download ${url}: only http and https URLs are supported; ${hint}.`);
  const headers: Record<string, string> = { "user-agent": USER_AGENT, accept: "*/*" };
  if (rangeStart > 0) headers.range = `bytes=${rangeStart}-`;
  const cookies = jar.get(parsed.hostname);
  if (cookies?.size) headers.cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  const idleTimeoutMs = options.idleTimeoutMs ?? 30_000;

  return new Promise((resolve, reject) => {
    const request = client.get(parsed, { headers, signal: options.signal }, (response) => {
      storeCookies(jar, parsed.hostname, response.headers["set-cookie"]);
      resolve(response);
    });
    request.setTimeout(idleTimeoutMs, () => {
      const error = Object.assign(new Error(`no data for ${idleTimeoutMs / 1000} s`), { code: "ETIMEDOUT" });
      request.destroy(error);
    });
    request.on("error", (e) => reject(networkError(e, originalUrl, url, hint, options.signal)));
  });
}

function networkError(e: Error & { code?: string }, originalUrl: string, url: string, hint: string, signal?: AbortSignal): Error {
  if (signal?.aborted || e.name === "AbortError") return new FtError(`download of ${originalUrl} was cancelled; the partial file is kept for resuming.`);
  const via = url !== originalUrl ? ` (via ${url})` : "";
  return new FtError(`cannot download ${originalUrl}${via}: ${describeNetworkError(e)}. To work without the network, ${hint}.`);
}

function describeNetworkError(e: Error & { code?: string }): string {
  switch (e.code) {
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `host not found (${e.code}; no network or DNS?)`;
    case "ECONNREFUSED":
      return "connection refused (ECONNREFUSED)";
    case "ETIMEDOUT":
    case "ESOCKETTIMEDOUT":
      return `timed out (${e.message})`;
    case "ECONNRESET":
      return "connection reset (ECONNRESET)";
    case "ENETUNREACH":
    case "EHOSTUNREACH":
      return `network unreachable (${e.code})`;
    default:
      return e.code ? `${e.message} (${e.code})` : e.message;
  }
}

function httpError(originalUrl: string, finalUrl: string, status: number, message: string | undefined, hint: string): FtError {
  const via = finalUrl !== originalUrl ? ` (redirected to ${finalUrl})` : "";
  const meaning = status === 404 || status === 410 ? ": the file is not there (moved or deleted)" : status === 403 ? ": access denied (quota exceeded or private)" : "";
  return new FtError(`cannot download ${originalUrl}${via}: HTTP ${status}${message ? ` ${message}` : ""}${meaning}. To supply the file yourself, ${hint}.`);
}

/**
 * The URL that confirms a download interstitial, or undefined when the page is not one.
 * Handles Google Drive's two generations of pages: the `download-form` form posting to
 * drive.usercontent.google.com with hidden inputs (2024-), and the older page with a
 * `confirm=TOKEN` link and a `download_warning_*` cookie.
 */
export function confirmUrl(pageUrl: string, html: string, jar: CookieJar = new Map()): string | undefined {
  const form = /<form[^>]*id="download-form"[^>]*>([\s\S]*?)<\/form>/i.exec(html);
  if (form) {
    const action = /action="([^"]+)"/i.exec(form[0])?.[1];
    if (action) {
      const target = new URL(decodeHtml(action), pageUrl);
      for (const input of form[1]!.matchAll(/<input[^>]*>/gi)) {
        const name = /name="([^"]*)"/i.exec(input[0])?.[1];
        const value = /value="([^"]*)"/i.exec(input[0])?.[1];
        if (name && value !== undefined && /type="hidden"/i.test(input[0])) target.searchParams.set(decodeHtml(name), decodeHtml(value));
      }
      return target.toString();
    }
  }
  const host = new URL(pageUrl).hostname;
  const cookieToken = [...(jar.get(host) ?? [])].find(([k]) => k.startsWith("download_warning"))?.[1];
  const linkToken = /[?&;]confirm=([0-9A-Za-z_-]+)/.exec(html)?.[1];
  const token = cookieToken ?? linkToken;
  if (!token) return undefined;
  const href = /href="([^"]*[?&;]confirm=[^"]*)"/i.exec(html)?.[1];
  const target = href ? new URL(decodeHtml(href), pageUrl) : new URL(pageUrl);
  target.searchParams.set("confirm", token);
  return target.toString();
}

function decodeHtml(s: string): string {
  return s.replace(/&amp;/g, "&").replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">");
}

function storeCookies(jar: CookieJar, host: string, setCookie: string[] | undefined): void {
  if (!setCookie) return;
  let cookies = jar.get(host);
  if (!cookies) jar.set(host, (cookies = new Map()));
  for (const line of setCookie) {
    const pair = line.split(";", 1)[0]!;
    const eq = pair.indexOf("=");
    if (eq > 0) cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
  }
}

function parseContentRange(header: string | undefined): { start: number; end: number; total?: number } | undefined {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/i.exec(header?.trim() ?? "");
  if (!m) return undefined;
  return { start: Number(m[1]), end: Number(m[2]), total: m[3] === "*" ? undefined : Number(m[3]) };
}

function parseContentRangeTotal(header: string | undefined): number | undefined {
  const m = /^bytes (?:\*|\d+-\d+)\/(\d+)$/i.exec(header?.trim() ?? "");
  return m ? Number(m[1]) : undefined;
}

function readText(response: http.IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    response.on("data", (chunk: Buffer) => {
      if (size < limit) chunks.push(chunk);
      size += chunk.length;
    });
    response.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    response.on("error", reject);
  });
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

async function existingNote(destPath: string): Promise<string> {
  const size = await fileSize(destPath);
  return size > 0 ? `; the existing ${destPath} was left as it was` : "";
}

function pipeFileInto(path: string, hash: Hash): Promise<void> {
  return new Promise((resolve, reject) => {
    const input = createReadStream(path, { highWaterMark: 1 << 20 });
    input.on("data", (chunk) => hash.update(chunk));
    input.on("end", resolve);
    input.on("error", reject);
  });
}
