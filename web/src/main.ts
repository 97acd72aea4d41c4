/** Entry: reads where the trace comes from (a `--report` file's embedded data, `?trace=`, or a picker). */
import fontUrl from '@fontsource/jetbrains-mono/files/jetbrains-mono-latin-400-normal.woff2?url';
import { App, type Sources } from './app.ts';
import './style.css';

interface Embedded {
  /** base64 of the gzip of the JSONL trace. */
  trace: string;
  replay?: string;
  world?: string;
}

function b64(s: string): ArrayBuffer {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out.buffer;
}

const PERFETTO = 'https://ui.perfetto.dev';

/**
 * Where "Open in Perfetto" may go: ui.perfetto.dev, or a page of the view's own server (the tests' stub). Any other
 * `?perfetto=` value is ignored — a link must not send the trace elsewhere or open a `javascript:` URL.
 */
function perfettoUrl(param: string | null): string {
  if (param === null) return PERFETTO;
  try {
    const u = new URL(param, location.href);
    if (
      (u.protocol === 'http:' || u.protocol === 'https:') &&
      (u.origin === location.origin || u.origin === PERFETTO)
    )
      return u.href;
  } catch {
    // Not a URL: fall through.
  }
  return PERFETTO;
}

async function start(): Promise<void> {
  // The one shipped monospace font, loaded alongside the trace (text reflows when it lands; canvases draw none).
  const fontReady = new FontFace('ffasim-mono', `url(${fontUrl})`)
    .load()
    .then((face) => {
      document.fonts.add(face);
    })
    .catch(() => {
      // Fall back to the system monospace; nothing else depends on it.
    });
  const q = new URLSearchParams(location.search);
  const embedded = (window as unknown as { __FFASIM_REPORT__?: Embedded }).__FFASIM_REPORT__;
  const sources: Sources = { perfettoUrl: perfettoUrl(q.get('perfetto')) };
  if (embedded !== undefined) {
    sources.trace = { bytes: b64(embedded.trace) };
    if (embedded.replay !== undefined) sources.replay = embedded.replay;
    if (embedded.world !== undefined) sources.world = embedded.world;
  } else {
    const t = q.get('trace');
    if (t !== null) sources.trace = { url: new URL(t, location.href).href };
    // Side files for what-if, from the view's own server only (the CSP allows nothing else anyway).
    const side = async (param: string): Promise<string | undefined> => {
      const u = q.get(param);
      if (u === null) return undefined;
      try {
        const url = new URL(u, location.href);
        if (url.origin !== location.origin) return undefined;
        const res = await fetch(url);
        return res.ok ? await res.text() : undefined;
      } catch {
        return undefined; // What-if will say what it lacks.
      }
    };
    const [replay, world] = await Promise.all([side('replay'), side('world')]);
    if (replay !== undefined) sources.replay = replay;
    if (world !== undefined) sources.world = world;
  }
  const root = document.getElementById('app')!;
  const app = new App(root, sources);
  (window as unknown as { __ffasim: unknown }).__ffasim = {
    app,
    debug: () => app.debug(),
    pageRangesAt: (seq: number) => app.pageRangesAt(seq),
    timedStep: () => app.timedStep(),
    timedMapDraw: () => app.timedMapDraw(),
    filter: (f: string) => {
      app.applyFilter(f);
      return app.metrics.filterMs;
    },
    select: (i: number) => app.select(i),
    runProfileB: (p: string) => app.runProfileB(p),
    copy: (w: 'replay' | 'crash' | 'mermaid') => app.copy(w),
    loaded: app.load(),
    fontReady,
  };
}

void start();
