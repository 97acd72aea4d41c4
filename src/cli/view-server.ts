/**
 * The `ffasim view` server: serves the prebuilt web bundle (web/dist, built at install by `npm run build:web`;
 * nothing is built at run time) and one trace on 127.0.0.1 only. Static files are looked up inside the bundle
 * folder and nowhere else.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from './errors.ts';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.png': 'image/png',
};

/** The folder of a built bundle (`dist` for the served view, `dist-report` for `--report`). */
export function webBundle(kind: 'dist' | 'dist-report'): string {
  // src/cli/view-server.ts → ../../web/…; the esbuild bundle dist/ffasim.mjs → ../web/….
  const here = fileURLToPath(new URL('.', import.meta.url));
  for (const up of ['../..', '..']) {
    const dir = join(here, up, 'web', kind);
    const probe = kind === 'dist' ? 'index.html' : 'report.js';
    if (existsSync(join(dir, probe))) return dir;
  }
  throw new UsageError(
    `the web view is not built (web/${kind} is missing): run 'npm run build:web' (npm ci does this)`,
  );
}

export interface ViewServerOptions {
  /** The trace: JSONL text or gzip bytes. */
  trace?: Uint8Array;
  /** A replay file the trace came from (what-if re-runs it in the page). */
  replay?: string;
  /** The world JSON the trace ran in (`--world`), for what-if. */
  world?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Extra files to serve (tests: a Perfetto stub page). */
  extra?: Record<string, { type: string; body: string | Uint8Array }>;
}

export interface ViewServer {
  server: Server;
  /** Base URL, e.g. http://127.0.0.1:7160/ */
  base: string;
  /** The URL that opens the trace. */
  url: string;
  close(): Promise<void>;
}

export function startViewServer(o: ViewServerOptions = {}): Promise<ViewServer> {
  const root = webBundle('dist');
  const files = new Map<string, { type: string; body: string | Uint8Array }>();
  if (o.trace !== undefined) {
    const gz = o.trace.length >= 2 && o.trace[0] === 0x1f && o.trace[1] === 0x8b;
    files.set('/trace.jsonl', { type: gz ? 'application/gzip' : 'application/x-ndjson', body: o.trace });
  }
  if (o.replay !== undefined) files.set('/replay.jsonl', { type: 'application/x-ndjson', body: o.replay });
  if (o.world !== undefined) files.set('/world.json', { type: 'application/json', body: o.world });
  for (const [k, v] of Object.entries(o.extra ?? {})) files.set(k, v);
  let port = 0;
  const server = createServer((req, res) => {
    const headers = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };
    try {
      // Only this machine's own names: a web page elsewhere cannot reach the view through DNS rebinding.
      const host = req.headers.host ?? '';
      if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) {
        res.writeHead(421, { ...headers, 'Content-Type': 'text/plain' }).end('misdirected request');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, headers).end();
        return;
      }
      let path: string;
      try {
        path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      } catch {
        res.writeHead(400, { ...headers, 'Content-Type': 'text/plain' }).end('bad path');
        return;
      }
      const mem = files.get(path);
      if (mem !== undefined) {
        res.writeHead(200, { ...headers, 'Content-Type': mem.type }).end(mem.body);
        return;
      }
      const rel = path === '/' ? 'index.html' : path.slice(1);
      const full = normalize(join(root, rel));
      if (!full.startsWith(root + sep) || !existsSync(full) || !statSync(full).isFile()) {
        res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end('not found');
        return;
      }
      res
        .writeHead(200, { ...headers, 'Content-Type': TYPES[extname(full)] ?? 'application/octet-stream' })
        .end(readFileSync(full));
    } catch (e) {
      // A request never takes the server down.
      if (!res.headersSent) res.writeHead(500, { ...headers, 'Content-Type': 'text/plain' });
      res.end(`internal error: ${(e as Error).message}`);
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new UsageError(`cannot listen on 127.0.0.1:${o.port ?? 0}: ${e.code ?? e.message}`)),
    );
    server.listen(o.port ?? 0, '127.0.0.1', () => {
      const addr = server.address();
      port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      const base = `http://127.0.0.1:${port}/`;
      const q = new URLSearchParams();
      if (o.trace !== undefined) q.set('trace', '/trace.jsonl');
      if (o.replay !== undefined) q.set('replay', '/replay.jsonl');
      if (o.world !== undefined) q.set('world', '/world.json');
      const qs = q.toString();
      resolve({
        server,
        base,
        url: qs === '' ? base : `${base}?${qs}`,
        close: () =>
          new Promise((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}

/** One self-contained HTML file: the report build's script and style inlined, the trace embedded (gzip+base64). */
export function reportHtml(traceGz: Uint8Array, title: string, replay?: string, world?: string): string {
  const dir = webBundle('dist-report');
  const js = readFileSync(join(dir, 'report.js'), 'utf8').replace(/<\/(script)/gi, '<\\/$1');
  const cssPath = join(dir, 'report.css');
  const css = existsSync(cssPath) ? readFileSync(cssPath, 'utf8').replace(/<\/(style)/gi, '<\\/$1') : '';
  const data = JSON.stringify({
    trace: Buffer.from(traceGz).toString('base64'),
    ...(replay === undefined ? {} : { replay }),
    ...(world === undefined ? {} : { world }),
  }).replace(/</g, '\\u003c');
  const esc = title.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return (
    '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
    `<title>${esc}</title>\n<style>${css}</style>\n</head>\n<body>\n<div id="app"></div>\n` +
    `<script>window.__FFASIM_REPORT__ = ${data};</script>\n<script type="module">${js}</script>\n</body>\n</html>\n`
  );
}
