/**
 * The HTTP side of a download: GET with redirects, cookies and an idle timeout, errors that say what
 * failed in words, Content-Range parsing, and the confirmation pages of Google Drive (where the seed's
 * weights are hosted).
 */
import * as http from "node:http";
import * as https from "node:https";
import { FtError } from "../errors.js";

const USER_AGENT = "ft-weights-downloader (+https://github.com/ft)";

/** Cookies by host, enough for Google Drive's `download_warning` cookie to follow redirects. */
export type CookieJar = Map<string, Map<string, string>>;

export interface RequestOptions {
  /** Redirects followed before giving up (default 10). */
  maxRedirects?: number;
  /** Milliseconds without data before the request fails (default 30 000). */
  idleTimeoutMs?: number;
  signal?: AbortSignal;
}

/** Issues GET requests, following up to `maxRedirects` redirects and carrying cookies. */
export async function requestFollowingRedirects(
  startUrl: string,
  rangeStart: number,
  jar: CookieJar,
  options: RequestOptions,
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

function get(url: string, rangeStart: number, jar: CookieJar, options: RequestOptions, originalUrl: string, hint: string): Promise<http.IncomingMessage> {
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

export function describeNetworkError(e: Error & { code?: string }): string {
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

export function httpError(originalUrl: string, finalUrl: string, status: number, message: string | undefined, hint: string): FtError {
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

export function parseContentRange(header: string | undefined): { start: number; end: number; total?: number } | undefined {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/i.exec(header?.trim() ?? "");
  if (!m) return undefined;
  return { start: Number(m[1]), end: Number(m[2]), total: m[3] === "*" ? undefined : Number(m[3]) };
}

export function parseContentRangeTotal(header: string | undefined): number | undefined {
  const m = /^bytes (?:\*|\d+-\d+)\/(\d+)$/i.exec(header?.trim() ?? "");
  return m ? Number(m[1]) : undefined;
}

export function readText(response: http.IncomingMessage, limit: number): Promise<string> {
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
