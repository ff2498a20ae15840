import * as http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A throwaway HTTP server on 127.0.0.1 for download tests (no network needed). `routes` maps a
 * path (without query) to a handler; every request is recorded with its headers.
 */
export interface TestServer {
  base: string;
  /** `base` + `path`. */
  url(path: string): string;
  requests: { path: string; url: string; range?: string; cookie?: string }[];
  close(): Promise<void>;
}

export type Route = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => void;

export async function startTestServer(routes: Record<string, Route>): Promise<TestServer> {
  const requests: TestServer["requests"] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    requests.push({ path: url.pathname, url: req.url ?? "/", range: req.headers.range, cookie: req.headers.cookie });
    const route = routes[url.pathname];
    if (!route) {
      res.writeHead(404, "Not Found").end("not found");
      return;
    }
    route(req, res, url);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  return {
    base,
    url: (path) => `${base}${path}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Serves `payload` honouring `Range: bytes=N-` (206) unless `ignoreRange`. */
export function serveBytes(payload: Buffer, { ignoreRange = false, contentType = "application/octet-stream" } = {}): Route {
  return (req, res) => {
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    if (m && !ignoreRange) {
      const start = Number(m[1]);
      if (start >= payload.length) {
        res.writeHead(416, { "content-range": `bytes */${payload.length}` }).end();
        return;
      }
      res.writeHead(206, {
        "content-type": contentType,
        "content-length": payload.length - start,
        "content-range": `bytes ${start}-${payload.length - 1}/${payload.length}`,
      });
      res.end(payload.subarray(start));
      return;
    }
    res.writeHead(200, { "content-type": contentType, "content-length": payload.length });
    res.end(payload);
  };
}

/** A deterministic, non-repeating byte pattern of length `n`. */
export function testPayload(n: number, seed = 1): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Serves fixed files (URL path → bytes), ranges honoured. */
export function serveFiles(files: Record<string, Buffer>, contentType?: string): Promise<TestServer> {
  return startTestServer(Object.fromEntries(Object.entries(files).map(([path, bytes]) => [path, serveBytes(bytes, { contentType })])));
}

/** A URL on 127.0.0.1 where nothing listens (connection refused), like having no network. */
export async function deadUrl(path: string): Promise<string> {
  const server = await startTestServer({});
  const url = server.url(path);
  await server.close();
  return url;
}
