/// <reference lib="dom" />
/**
 * `npm run bench:web`: the web view on a 10⁵-hop trace in headless Debian Chromium. Prints each figure with its
 * target (issue 7) and the ratio measured / target. Numbers, not pass/fail: targets live here, never in tests.
 *
 *   first rows painted   navigation start → the first rows on screen (worker's first snapshot)   ≤ 300 ms
 *   full index           navigation start → the whole trace indexed                             ≤ 2 s
 *   renderer heap        JS heap after load and a GC (CDP) plus the index's array buffers       ≤ 150 MB
 *   next-hop step p95    `j` with all panes updated, incl. style and layout                     ≤ 16 ms
 *   filter               typing a filter to rows rebuilt and panes updated                      ≤ 50 ms
 *   page-map redraw p95  one full canvas redraw                                                 ≤ 16 ms
 *   scroll jump p95      the flow grid jumped anywhere, rows rendered, style and layout (ours)  ≤ 16 ms
 *   bundle               gzip of what first paint loads (JS + CSS), fonts excluded              ≤ 50 kB
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { startViewServer } from '../src/cli/view-server.ts';
import { ensureChromium, isolatedPage, launch } from '../test/web/browser.ts';
import { bigTrace } from '../test/web/synth.ts';

const root = new URL('..', import.meta.url).pathname;
const HOPS = Number(process.env.HOPS ?? 100_000);

function p95(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.95))]!;
}

function row(name: string, value: number, unit: string, target: number): void {
  const ratio = value / target;
  console.log(
    `${name.padEnd(22)} ${value.toFixed(unit === 'kB' || unit === 'MB' ? 1 : 2).padStart(10)} ${unit.padEnd(3)}  target ≤ ${String(target).padStart(5)} ${unit.padEnd(3)}  ratio ${ratio.toFixed(2)}${ratio <= 1 ? '' : '  (over)'}`,
  );
}

const found = ensureChromium();
if (found.path === undefined) {
  console.error(`bench:web needs Chromium: ${found.why}`);
  process.exit(2);
}
execFileSync('npm', ['run', '--silent', 'build:web'], { cwd: root, stdio: 'inherit' });

const t0 = performance.now();
const text = bigTrace(HOPS);
const bytes = new TextEncoder().encode(text);
console.log(
  `trace: ${HOPS} hops requested, ${(bytes.length / 1e6).toFixed(1)} MB JSONL, ${text.split('\n').length - 2} events (made in ${((performance.now() - t0) / 1000).toFixed(1)} s by the model)`,
);
const server = await startViewServer({ trace: bytes });
const browser = await launch(found.path);
try {
  const { page, context } = await isolatedPage(browser, [server.base]);
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');
  type W = {
    __ffasim: {
      debug(): { ready: boolean; hops: number; bufferBytes: number; metrics: Record<string, number> };
      timedStep(): number;
      timedMapDraw(): number;
      filter(f: string): number;
      select(i: number): void;
    };
  };
  await page.goto(server.url);
  await page.waitForFunction(() => (window as unknown as W).__ffasim?.debug().ready === true, null, {
    timeout: 120_000,
  });
  const m = await page.evaluate(() => (window as unknown as W).__ffasim.debug());
  await cdp.send('HeapProfiler.collectGarbage');
  const perf = (await cdp.send('Performance.getMetrics')) as { metrics: { name: string; value: number }[] };
  const heap = perf.metrics.find((x) => x.name === 'JSHeapUsedSize')?.value ?? Number.NaN;

  // Steps: 300 × `j`, each timed through style and layout (offsetHeight forces them).
  const steps = await page.evaluate(() => {
    const w = window as unknown as W;
    w.__ffasim.select(0);
    const out: number[] = [];
    for (let i = 0; i < 300; i++) {
      const t = performance.now();
      w.__ffasim.timedStep();
      void document.body.offsetHeight;
      out.push(performance.now() - t);
    }
    return out;
  });
  const filters = await page.evaluate(() => {
    const w = window as unknown as W;
    const out: Record<string, number> = {};
    for (const f of ['name:MEM_SHARE', 'status:!SUCCESS', 'from:hyp to:spmd', 'page:0x88000000', '']) {
      const t = performance.now();
      w.__ffasim.filter(f);
      void document.body.offsetHeight;
      out[f === '' ? '(clear)' : f] = performance.now() - t;
    }
    return out;
  });
  // Scrolling: jump the flow grid to 200 random places, each through row rendering, style and layout.
  const scrolls = await page.evaluate(() => {
    const g = document.querySelector('.grid') as HTMLElement;
    let x = 12345;
    const out: number[] = [];
    for (let i = 0; i < 200; i++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      const t = performance.now();
      g.scrollTop = (x / 2147483648) * (g.scrollHeight - g.clientHeight);
      g.dispatchEvent(new Event('scroll'));
      void document.body.offsetHeight;
      out.push(performance.now() - t);
    }
    return out;
  });
  const draws = await page.evaluate(() => {
    const w = window as unknown as W;
    const out: number[] = [];
    for (let i = 0; i < 100; i++) out.push(w.__ffasim.timedMapDraw());
    return out;
  });

  const assets = join(root, 'web/dist/assets');
  const files = readdirSync(assets);
  const gz = (f: string): number => gzipSync(readFileSync(join(assets, f)), { level: 9 }).length / 1024;
  const initial = files.filter((f) => /^index-.*\.(js|css)$/.test(f)).reduce((n, f) => n + gz(f), 0);
  const lazy = files.filter((f) => /\.js$/.test(f) && !f.startsWith('index-')).reduce((n, f) => n + gz(f), 0);

  console.log(`\nWeb view, ${m.hops} hops, headless Chromium (${found.path}):`);
  row('first rows painted', m.metrics.firstRowsAt ?? Number.NaN, 'ms', 300);
  row('full index', m.metrics.indexAt ?? Number.NaN, 'ms', 2000);
  row('renderer heap', (heap + m.bufferBytes) / 1e6, 'MB', 150);
  row('next-hop step p95', p95(steps), 'ms', 16);
  const worstFilter = Math.max(...Object.values(filters));
  row('filter (worst)', worstFilter, 'ms', 50);
  row('page-map redraw p95', p95(draws), 'ms', 16);
  row('scroll jump p95', p95(scrolls), 'ms', 16);
  row('bundle (first paint)', initial, 'kB', 50);
  console.log(
    `\n  filters: ${Object.entries(filters)
      .map(([k, v]) => `${k} ${v.toFixed(1)} ms`)
      .join(' · ')}`,
  );
  console.log(
    `  renderer heap = JS heap ${(heap / 1e6).toFixed(1)} MB (CDP JSHeapUsedSize after GC) + trace buffers ${(m.bufferBytes / 1e6).toFixed(1)} MB (raw bytes and typed columns, off the JS heap)`,
  );
  console.log(
    `  first rows: load started ${((m.metrics.firstRowsAt ?? 0) - (m.metrics.firstRowsMs ?? 0)).toFixed(0)} ms after navigation, rows ${(m.metrics.firstRowsMs ?? 0).toFixed(0)} ms later`,
  );
  console.log(
    `  step median ${[...steps].sort((a, b) => a - b)[150]!.toFixed(2)} ms · index ${(m.metrics.indexMs ?? 0).toFixed(0)} ms after load start (worker ${(m.metrics.workerMs ?? 0).toFixed(0)} ms, of which parsing ${(m.metrics.parseMs ?? 0).toFixed(0)} ms over ${m.metrics.chunks} chunks)`,
  );
  console.log(`  lazy chunk (what-if engine, exporters; loaded on first use): ${lazy.toFixed(1)} kB gzip`);
  await context.close();
} finally {
  await browser.close();
  await server.close();
}
