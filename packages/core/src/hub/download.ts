import { createHash, type Hash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, rm, stat, truncate } from "node:fs/promises";
import type * as http from "node:http";
import { dirname } from "node:path";
import { FtError } from "../errors.js";
import type { Checksum } from "../spec.js";
import { confirmUrl, describeNetworkError, httpError, parseContentRange, parseContentRangeTotal, readText, requestFollowingRedirects, type CookieJar } from "./http.js";

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
