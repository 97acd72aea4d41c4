/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The web view in a real browser (Debian's Chromium through playwright-core), served by `ffasim view`'s own
 * server on 127.0.0.1 with every other address blocked. Order of checks: meaning first (the read-only debug
 * hook: selection, registers shown, page ranges at a sequence number), then pixels (golden screenshots per pane,
 * pixelmatch; UPDATE_GOLDENS=1 regenerates), then accessibility (axe-core, zero WCAG A/AA violations), then the
 * keyboard. The Perfetto handshake runs against a local stub page that records what it receives.
 *
 * Chromium missing: installed with apt when running as root; under CI=true a missing browser fails the run.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import pixelmatch from 'pixelmatch';
import type { Browser, Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { viewInput } from '../../src/cli/view-cmd.ts';
import { reportHtml, startViewServer, type ViewServer } from '../../src/cli/view-server.ts';
import { parseReplay } from '../../src/scenario/replay.ts';
import { indexTrace } from '../../web/src/model/trace-index.ts';
import { firstDivergence, runWhatIf } from '../../web/src/model/whatif.ts';
import { ensureChromium, isolatedPage, launch } from './browser.ts';
import { bigTrace } from './synth.ts';

const root = new URL('../..', import.meta.url).pathname;
const goldenDir = join(root, 'test/web/golden');
const found = ensureChromium();
if (found.path === undefined && process.env.CI === 'true')
  throw new Error(`CI=true and no browser for the web view tests: ${found.why}`);
if (found.path === undefined)
  process.stderr.write(`\n*** web view browser tests SKIPPED: ${found.why} ***\n\n`);

type Debug = {
  ready: boolean;
  events: number;
  hops: number;
  components: string[];
  errors: { line: number; message: string }[];
  state: {
    sel: number;
    filter: string;
    reg: number;
    mode: string;
    collapsed: number[];
    zoom?: [number, number];
    explain: boolean;
    profileB: string;
  };
  hash: string;
  selection?: {
    event: number;
    seq: number;
    call: number;
    name: string;
    from: string;
    to: string;
    dir: string;
  };
  rowsShown: number;
  registers: { mode: string; a?: string[]; b?: string[]; changed: number[] };
  bytes: { tabs: string[]; fields: number; uncovered: number; overlaps: number; error?: string };
  detailsText: string;
  pageRows: number;
  traceB?: string;
  perfettoUrl: string;
};

const debug = (page: Page): Promise<Debug> =>
  page.evaluate(() => (window as unknown as { __ffasim: { debug(): Debug } }).__ffasim.debug());

async function open(page: Page, url: string): Promise<Debug> {
  await page.goto(url);
  await page.waitForFunction(
    () =>
      (window as unknown as { __ffasim?: { debug(): { ready: boolean } } }).__ffasim?.debug().ready === true,
    null,
    { timeout: 30_000 },
  );
  return debug(page);
}

/** Compares a screenshot with its golden; regenerates with UPDATE_GOLDENS=1. Returns the mismatch ratio. */
function compareGolden(name: string, shot: Buffer): number {
  const file = join(goldenDir, `${name}.png`);
  if (process.env.UPDATE_GOLDENS === '1') {
    writeFileSync(file, shot);
    return 0;
  }
  const want = PNG.sync.read(readFileSync(file));
  const got = PNG.sync.read(shot);
  if (want.width !== got.width || want.height !== got.height) return 1;
  const diff = new PNG({ width: want.width, height: want.height });
  const bad = pixelmatch(want.data, got.data, diff.data, want.width, want.height, { threshold: 0.15 });
  if (bad > 0) writeFileSync(join(tmpdir(), `ffasim-golden-${name}-diff.png`), PNG.sync.write(diff));
  return bad / (want.width * want.height);
}

/** Screenshots each region (by accessible name) and compares it with its golden: under 0.5 % of pixels may differ. */
async function expectGoldens(page: Page, regions: [string, string | RegExp][]): Promise<void> {
  const worst: Record<string, number> = {};
  for (const [name, label] of regions) {
    const shot = await page
      .getByRole('region', { name: label, exact: typeof label === 'string' })
      .screenshot({ animations: 'disabled', caret: 'hide' });
    worst[name] = compareGolden(name, shot);
  }
  for (const [name, ratio] of Object.entries(worst))
    expect(ratio, `${name} differs from its golden`).toBeLessThan(0.005);
}

describe.skipIf(found.path === undefined)('ffasim view in Chromium', { timeout: 60_000 }, () => {
  let browser: Browser;
  let boot: ViewServer;
  let slr: ViewServer;
  let vmsg: ViewServer;
  const servers: ViewServer[] = [];
  const stub = readFileSync(join(root, 'test/web/perfetto-stub.html'), 'utf8');

  beforeAll(async () => {
    // Test the view as it is now, not as it was at install.
    execFileSync('npm', ['run', '--silent', 'build:web'], { cwd: root, stdio: 'pipe' });
    browser = await launch(found.path!);
    const opts = { port: '0', seed: '1', profile: 'ffa-1.2' };
    const b = await viewInput('boot', opts);
    boot = await startViewServer({ trace: b.trace! });
    const s = await viewInput('share-lend-reclaim', opts);
    slr = await startViewServer({
      trace: s.trace!,
      extra: { '/perfetto-stub.html': { type: 'text/html', body: stub } },
    });
    const v = await viewInput('virtio-msg', { ...opts, profile: 'ffa-1.2-direct-msg' });
    vmsg = await startViewServer({ trace: v.trace! });
    servers.push(boot, slr, vmsg);
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
    for (const s of servers) await s.close();
  });

  it('boot: every pane, the first invariant break selected, nothing fetched from elsewhere', async () => {
    const { page, blocked, context } = await isolatedPage(browser, [boot.base]);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const d = await open(page, boot.url);
    expect(d.errors).toEqual([]);
    expect(d.components.slice(0, 4)).toEqual(['host', 'hyp', 'spmd', 'spmc']);
    // Boot on ffa-1.2 breaks I3 on host call 1 (stale hyp stack in FFA_VERSION's reply): the view opens there.
    expect(d.selection).toMatchObject({ call: 1, to: 'host', dir: 'ret' });
    expect(d.detailsText).toMatch(/I3 fail/);
    expect(d.detailsText).toMatch(/Call FFA_VERSION \(SMC32\)/);
    // In: FFA_VERSION asking for 1.2; out: 1.2 — and the stale stack in x1… (the break the view opened at).
    expect(d.registers.a?.slice(0, 2)).toEqual(['0x0000000084000063', '0x0000000000010002']);
    expect(d.registers.b?.[0]).toBe('0x0000000000010002');
    expect(d.registers.b?.[1]).toBe('0xffff8000cafe0001');
    expect(d.registers.changed).toContain(1);
    expect(d.pageRows).toBeGreaterThan(0);
    expect(await page.locator('.row').count()).toBeGreaterThan(10);
    for (const label of ['Flow', 'Details', 'Registers', 'Bytes', 'Page map'])
      expect(await page.getByRole('region', { name: label, exact: true }).count()).toBe(1);
    const grid = page.getByRole('grid');
    expect(Number(await grid.getAttribute('aria-rowcount'))).toBe(d.rowsShown);
    expect(await page.getByRole('tree').count()).toBe(1);
    expect(await page.locator('canvas').count()).toBe(2);
    expect(blocked).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('share/reclaim of 3 constituents: descriptor bytes, registers and page states at a sequence number', async () => {
    const { page, context } = await isolatedPage(browser, [slr.base]);
    await open(page, slr.url);
    await page.evaluate(() => {
      const w = window as unknown as { __ffasim: { filter(f: string): number } };
      w.__ffasim.filter('name:MEM_SHARE from:host');
    });
    let d = await debug(page);
    expect(d.selection?.name).toBe('FFA_MEM_SHARE_64');
    expect(d.selection?.from).toBe('host');
    // The descriptor: header, one EMAD, composite and 3 constituents, nothing uncovered or claimed twice.
    expect(d.bytes.tabs[0]).toMatch(/hyp-tx/);
    expect(d.bytes.uncovered).toBe(0);
    expect(d.bytes.overlaps).toBe(0);
    expect(await page.locator('.fields div', { hasText: 'constituent[2].address' }).count()).toBe(1);
    // Hovering a field outlines its bytes; hovering a byte highlights its field.
    await page.locator('.fields div', { hasText: 'constituent[0].address' }).hover();
    expect(await page.locator('.hex .hot').count()).toBe(8);
    await page.locator('.hex span.b').nth(0).hover();
    expect(await page.locator('.fields div.hot').count()).toBe(1);
    // The same from the keyboard: focus the field list, move to the second field (attributes, 2 bytes).
    await page.mouse.move(0, 0);
    await page.locator('.fieldlist').focus();
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toMatch(/header\.attributes/);
    expect(await page.locator('.hex .hot').count()).toBe(2);
    // In vs out of the host's call: x0 FFA_MEM_SHARE_64 in, FFA_SUCCESS out.
    expect(d.registers.a?.[0]).toBe('0x00000000c4000073');
    expect(d.registers.b?.[0]).toBe('0x0000000084000061');
    // Proxy mode: the proxy forwards the same FN64 call (the handle comes back).
    await page.keyboard.press('Escape');
    await page.locator('.grid').focus();
    await page.keyboard.press('r');
    d = await debug(page);
    expect(d.registers.mode).toBe('proxy');
    expect(d.registers.b?.[0]).toBe('0x00000000c4000073');
    // Page ranges: after the share 3 ranges are reachable by the secure world, after the reclaims none.
    const seqs = await page.evaluate(() => {
      const w = window as unknown as {
        __ffasim: { app: { ix: { calls: { name: string; last: number }[]; seq: Float64Array; n: number } } };
      };
      const ix = w.__ffasim.app.ix;
      const share = ix.calls.find((c) => c.name === 'FFA_MEM_SHARE_64')!;
      return { afterShare: ix.seq[share.last]!, end: ix.seq[ix.n - 1]! };
    });
    type R = { secure: boolean; host: string };
    const at = (s: number) =>
      page.evaluate(
        (q) => (window as unknown as { __ffasim: { pageRangesAt(s: number): R[] } }).__ffasim.pageRangesAt(q),
        s,
      );
    expect((await at(seqs.afterShare)).filter((r) => r.secure).length).toBe(3);
    expect((await at(seqs.end)).filter((r) => r.secure)).toEqual([]);
    await context.close();
  });

  it('virtio-msg: decoded messages in the flow, the payload in the bytes pane, the virtqueue area on the page map', async () => {
    const { page, blocked, context } = await isolatedPage(browser, [vmsg.base]);
    await open(page, vmsg.url);
    // The call tree names each REQ2 by the virtio-msg message it carries.
    const names = await page.evaluate(() => {
      const w = window as unknown as { __ffasim: { app: { ix: { calls: { name: string }[] } } } };
      return w.__ffasim.app.ix.calls.map((c) => c.name);
    });
    expect(names).toEqual(expect.arrayContaining(['FFA_MSG_SEND_DIRECT_REQ2 · virtio-msg SET_VQUEUE']));
    await page.evaluate(() => {
      const w = window as unknown as { __ffasim: { filter(f: string): number } };
      w.__ffasim.filter('name:SET_VQUEUE from:host');
    });
    const d = (await debug(page)) as Debug & {
      bytes: { virtio?: { kind: string; name?: string; size: number; paths: string[] } };
      pageLabels: { addr: string; size: number; label: string; from: number; to?: number }[];
    };
    expect(d.selection?.from).toBe('host');
    expect(d.bytes.tabs[0]).toMatch(/^virtio-msg request host→hyp/);
    expect(d.bytes.virtio).toMatchObject({ kind: 'msg', name: 'SET_VQUEUE', size: 40 });
    expect(d.bytes.virtio?.paths).toEqual(
      expect.arrayContaining(['header.msg_id', 'SET_VQUEUE.desc_addr', 'SET_VQUEUE.device_addr']),
    );
    expect(await page.locator('.fields div', { hasText: 'SET_VQUEUE.desc_addr' }).textContent()).toMatch(
      /area 1 \+ 0x/,
    );
    // The page map: area 1's ring page and buffer pages labelled, over the time the area holds.
    expect(d.pageLabels.map((l) => l.label)).toEqual([
      'virtio area 1: vq0 desc/avail/used, vq1 desc/avail/used, buffer space',
      'virtio area 1: buffer space',
      'virtio area 2: AREA_SHARE refused (ERROR NO_MEMORY)',
    ]);
    const ring = d.pageLabels[0]!;
    type R = { label?: string; secure: boolean };
    const at = (s: number) =>
      page.evaluate(
        (q) => (window as unknown as { __ffasim: { pageRangesAt(s: number): R[] } }).__ffasim.pageRangesAt(q),
        s,
      );
    const during = await at(ring.from);
    expect(during.filter((r) => r.label === ring.label).length).toBe(1);
    expect((await at(ring.from - 1)).some((r) => r.label !== undefined)).toBe(false);
    expect(await page.locator('.rowlabels div', { hasText: 'virtio area 1' }).count()).toBeGreaterThan(0);
    expect(blocked).toEqual([]);
    await context.close();
  });

  it('keyboard: j/k, J/K, Enter, /, e, r, w/s, ?, and the URL hash reproduces the view', async () => {
    const { page, context } = await isolatedPage(browser, [slr.base]);
    await open(page, `${slr.url}#sel=0`);
    await page.locator('.grid').focus();
    let d = await debug(page);
    expect(d.state.sel).toBe(0);
    await page.keyboard.press('j');
    d = await debug(page);
    const second = d.state.sel;
    expect(second).toBeGreaterThan(0);
    await page.keyboard.press('k');
    expect((await debug(page)).state.sel).toBe(0);
    await page.keyboard.press('Shift+J');
    d = await debug(page);
    expect(d.selection?.call).toBe(1);
    expect(d.selection?.from).toBe('host');
    await page.keyboard.press('Shift+J');
    expect((await debug(page)).selection?.call).toBe(2);
    await page.keyboard.press('Shift+K');
    expect((await debug(page)).selection?.call).toBe(1);
    const rows = (await debug(page)).rowsShown;
    await page.keyboard.press('Enter');
    d = await debug(page);
    expect(d.state.collapsed).toEqual([1]);
    expect(d.rowsShown).toBeLessThan(rows);
    expect(await page.locator('.row.head .twisty[aria-expanded="false"]').count()).toBe(1);
    await page.keyboard.press('Enter');
    await page.keyboard.press('e');
    expect((await debug(page)).state.explain).toBe(true);
    // Explain opens the decisions: their source lines are visible.
    expect(
      await page
        .locator('[role="tree"] li[aria-expanded="true"]', { hasText: /^(forward|handle|reject) · / })
        .count(),
    ).toBeGreaterThan(0);
    // i: the first invariant break (I3 on FFA_VERSION here).
    await page.keyboard.press('i');
    expect((await debug(page)).detailsText).toMatch(/I3 fail/);
    await page.keyboard.press('r');
    await page.keyboard.press('r');
    expect((await debug(page)).state.mode).toBe('profiles');
    await page.keyboard.press('r');
    await page.keyboard.press('3');
    expect((await debug(page)).state.reg).toBe(3);
    await page.keyboard.press('Shift+Digit5');
    expect((await debug(page)).state.reg).toBe(15);
    // The details tree follows the ARIA tree pattern: roving focus, ↓ moves, ← collapses, → expands.
    const selBeforeTree = (await debug(page)).state.sel;
    await page.locator('[role="tree"] li[tabindex="0"]').focus();
    await page.keyboard.press('ArrowDown');
    const focused = () =>
      page.evaluate(() => document.activeElement?.querySelector('.label')?.textContent ?? '');
    expect(await focused()).toMatch(/^Call /);
    await page.keyboard.press('ArrowLeft');
    expect(await page.locator('[role="tree"] li[aria-expanded="false"]', { hasText: /^Call / }).count()).toBe(
      1,
    );
    await page.keyboard.press('ArrowRight');
    expect((await debug(page)).state.sel).toBe(selBeforeTree); // arrows in the tree do not move the selection
    await page.locator('.grid').focus();
    await page.keyboard.press('w');
    d = await debug(page);
    expect(d.state.zoom).toBeDefined();
    const z0 = d.state.zoom!;
    await page.keyboard.press('d');
    const z1 = (await debug(page)).state.zoom!;
    expect(z1[0]).toBeGreaterThan(z0[0]);
    expect(z1[1] - z1[0]).toBe(z0[1] - z0[0]);
    await page.keyboard.press('a');
    expect((await debug(page)).state.zoom).toEqual(z0);
    await page.keyboard.press('s');
    await page.keyboard.press('s');
    await page.keyboard.press('s');
    await page.keyboard.press('s');
    expect((await debug(page)).state.zoom).toBeUndefined();
    await page.keyboard.press('/');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('filter');
    await page.keyboard.type('status:ERROR');
    d = await debug(page);
    expect(d.state.filter).toBe('status:ERROR');
    expect(d.selection?.call).toBeGreaterThan(0);
    await page.keyboard.press('Escape');
    await page.keyboard.press('?');
    expect(await page.getByRole('dialog', { name: 'Keyboard' }).isVisible()).toBe(true);
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => location.hash.includes('f=status'));
    // A link reproduces the view.
    const hash = await page.evaluate(() => location.hash);
    const state = (await debug(page)).state;
    const { page: p2, context: c2 } = await isolatedPage(browser, [slr.base]);
    const d2 = await open(p2, `${slr.url}${hash}`);
    expect(d2.state).toEqual(state);
    // A hand-edited hash out of range falls back to something that exists.
    await p2.evaluate(() => {
      location.hash = '#sel=99999999&z=5-999999';
    });
    await p2.waitForFunction(
      () =>
        (window as unknown as { __ffasim: { debug(): { state: { sel: number } } } }).__ffasim.debug().state
          .sel < 1000,
    );
    const d3 = await debug(p2);
    expect(d3.state.zoom![1]).toBeLessThan(1000);
    await c2.close();
    await context.close();
  });

  it('a link with profile B re-runs B', async () => {
    const { page, context } = await isolatedPage(browser, [boot.base]);
    await open(page, `${boot.url}#b=linux-6.6&mode=profiles`);
    await page.waitForFunction(
      () =>
        (window as unknown as { __ffasim: { debug(): { traceB?: string } } }).__ffasim.debug().traceB ===
        'linux-6.6',
    );
    const d = await debug(page);
    expect(d.registers.mode).toBe('profiles');
    expect(d.registers.b).toBeDefined();
    await context.close();
  });

  it('what-if: profile B, the first divergence, and a register edit re-run in the page', async () => {
    const { page, context } = await isolatedPage(browser, [boot.base]);
    await open(page, boot.url);
    await page.evaluate(() =>
      (window as unknown as { __ffasim: { runProfileB(p: string): Promise<void> } }).__ffasim.runProfileB(
        'linux-6.6',
      ),
    );
    let d = await debug(page);
    expect(d.traceB).toBe('linux-6.6');
    expect(d.registers.mode).toBe('profiles');
    await page.locator('.grid').focus();
    await page.keyboard.press('n');
    await page.waitForFunction(() =>
      /first divergence/.test(document.querySelector('.status')?.textContent ?? ''),
    );
    d = await debug(page);
    expect(d.selection?.from).toBe('host');
    // The same answer the model gives in Node.
    const ra = runWhatIf({ scenario: 'boot' }, 'ffa-1.2');
    const rb = runWhatIf({ scenario: 'boot' }, 'linux-6.6');
    if (!ra.ok || !rb.ok) throw new Error('what-if failed');
    expect(d.selection?.call).toBe(firstDivergence(indexTrace(ra.jsonl), indexTrace(rb.jsonl))?.call);
    // Edit x1 of host call 1 (FFA_VERSION) to request 1.0 and re-run.
    await page.evaluate(() =>
      (window as unknown as { __ffasim: { select(i: number): void } }).__ffasim.select(8),
    );
    await page.keyboard.press('x');
    const dlg = page.getByRole('dialog', { name: 'What-if' });
    await dlg.waitFor();
    await dlg.getByLabel('x1 of host call 1').fill('0x10000');
    await dlg.getByRole('button', { name: 'Re-run' }).click();
    await page.waitForFunction(() => /what-if/.test(document.querySelector('.status')?.textContent ?? ''));
    d = await debug(page);
    expect(d.selection?.call).toBe(1);
    expect(await page.locator('.status').textContent()).toMatch(/first divergence at call #1/);
    await context.close();
  });

  it('a ?perfetto= link elsewhere is ignored: the trace goes only to ui.perfetto.dev or the view itself', async () => {
    const { page, context } = await isolatedPage(browser, [slr.base]);
    for (const bad of ['javascript:alert(1)', 'https://evil.example/perfetto', 'data:text/html,x']) {
      await open(page, `${slr.url}&perfetto=${encodeURIComponent(bad)}`);
      expect((await debug(page)).perfettoUrl).toBe('https://ui.perfetto.dev');
    }
    await context.close();
  });

  it('Open in Perfetto: PING/PONG, then the trace, then the selected range (local stub)', async () => {
    const stubUrl = `${slr.base}perfetto-stub.html`;
    const { page, context } = await isolatedPage(browser, [slr.base]);
    await open(page, `${slr.url}&perfetto=${encodeURIComponent(stubUrl)}`);
    const popup = context.waitForEvent('page');
    await page.locator('.grid').focus();
    await page.keyboard.press('p');
    const stubPage = await popup;
    await page.waitForFunction(
      () => /sent \d+ bytes/.test(document.querySelector('.status')?.textContent ?? ''),
      null,
      { timeout: 20_000 },
    );
    type Rec = { kind: string; json?: string; keepApiOpen?: boolean; timeStart?: number; timeEnd?: number };
    const got = await stubPage.evaluate(() => (window as unknown as { __received: Rec[] }).__received);
    expect(got[0]!.kind).toBe('PING');
    const kinds = got.filter((r) => r.kind !== 'PING').map((r) => r.kind);
    expect(kinds).toEqual(['trace', 'range']);
    const tr = got.find((r) => r.kind === 'trace')!;
    expect(tr.keepApiOpen).toBe(true);
    const json = JSON.parse(tr.json!) as {
      traceEvents: { ph: string; ts?: number; dur?: number; pid: number; tid: number; bind_id?: number }[];
    };
    const slices = json.traceEvents.filter((e) => e.ph === 'X');
    expect(slices.length).toBe((await debug(page)).hops / 2);
    // Slices nest strictly per track.
    const byTrack = new Map<string, { ts: number; end: number }[]>();
    for (const s of slices) {
      const k = `${s.pid}/${s.tid}`;
      const list = byTrack.get(k) ?? [];
      list.push({ ts: s.ts!, end: s.ts! + s.dur! });
      byTrack.set(k, list);
    }
    for (const list of byTrack.values())
      for (const a of list)
        for (const b of list)
          expect(
            a.end <= b.ts ||
              b.end <= a.ts ||
              (a.ts <= b.ts && b.end <= a.end) ||
              (b.ts <= a.ts && a.end <= b.end),
          ).toBe(true);
    // One flow per host call, each bound in and out; page-state counters.
    const want = await page.evaluate(() => {
      const w = window as unknown as {
        __ffasim: {
          app: {
            ix: {
              calls: { call: number; hops: number; first: number; last: number }[];
              seq: Float64Array;
              call: Int32Array;
            };
            state: { sel: number };
          };
        };
      };
      const { ix, state } = w.__ffasim.app;
      const sel = ix.calls.find((c) => c.call === ix.call[state.sel])!;
      return {
        calls: ix.calls.filter((c) => c.call > 0 && c.hops > 0).length,
        start: ix.seq[sel.first]!,
        end: ix.seq[sel.last]! + 1,
      };
    });
    const flows = new Set(slices.filter((s) => s.bind_id !== undefined).map((s) => s.bind_id));
    // Every host call that crossed more than one boundary is exactly one flow; one the hyp answered alone, none.
    const perCall = new Map<number, number>();
    for (const sl of slices as { args?: { host_call?: number } }[]) {
      const c = sl.args?.host_call ?? 0;
      if (c > 0) perCall.set(c, (perCall.get(c) ?? 0) + 1);
    }
    expect([...flows].sort((x, y) => x! - y!)).toEqual([...perCall].filter(([, n]) => n > 1).map(([c]) => c));
    expect(perCall.size).toBe(want.calls);
    const all = json.traceEvents as { bind_id?: number; flow_in?: boolean; flow_out?: boolean; ph: string }[];
    for (const id of flows) {
      expect(all.some((e) => e.bind_id === id && e.flow_out === true)).toBe(true);
      expect(all.some((e) => e.bind_id === id && e.flow_in === true)).toBe(true);
    }
    expect(all.some((e) => e.ph === 'C')).toBe(true);
    // The range is the selected host call's, in seconds of the exporter's 1 µs-per-seq clock.
    const range = got.find((r) => r.kind === 'range')!;
    expect(range.timeStart).toBeCloseTo(want.start / 1e6, 9);
    expect(range.timeEnd).toBeCloseTo(want.end / 1e6, 9);
    await context.close();
  });

  it('a gzip trace, a malformed trace and a shrunk fuzzer finding', async () => {
    const s = await viewInput('share-lend-reclaim', { port: '0', seed: '1', profile: 'ffa-1.2' });
    const text = new TextDecoder().decode(s.trace!);
    const gz = await startViewServer({ trace: gzipSync(s.trace!) });
    const lines = text.split('\n');
    const bad = [...lines.slice(0, 10), '{"seq": oops', ...lines.slice(10, 20), '[]'].join('\n');
    // A descriptor whose composite offset points past its end: the bytes pane marks the located decode error.
    const bufLine = lines.findIndex((l) => l.includes('"kind":"buffer"'));
    const ev = JSON.parse(lines[bufLine]!) as { hex: string; call: number };
    const hex = `${ev.hex.slice(0, 2 * 52)}ff000000${ev.hex.slice(2 * 56)}`; // emad[0].composite_off = 255
    const corrupt = [...lines];
    corrupt[bufLine] = JSON.stringify({ ...ev, hex });
    const desc = await startViewServer({ trace: new TextEncoder().encode(corrupt.join('\n')) });
    servers.push(desc);
    const broken = await startViewServer({ trace: new TextEncoder().encode(bad) });
    const fin = await viewInput(join(root, 'findings/h14-ffa-1.2.jsonl'), {
      port: '0',
      seed: '1',
      profile: 'ffa-1.2',
    });
    const finding = await startViewServer({ trace: fin.trace!, replay: fin.replay! });
    servers.push(gz, broken, finding);
    const h20 = await viewInput(join(root, 'findings/h20-ffa-1.2.jsonl'), {
      port: '0',
      seed: '1',
      profile: 'ffa-1.2',
    });
    const h20s = await startViewServer({ trace: h20.trace!, replay: h20.replay! });
    servers.push(h20s);
    const { page, context } = await isolatedPage(browser, [
      gz.base,
      broken.base,
      finding.base,
      desc.base,
      h20s.base,
    ]);
    let d = await open(page, gz.url);
    expect(d.events).toBe(lines.length - 2);
    d = await open(page, broken.url);
    expect(d.errors.map((e) => e.line)).toEqual([11, 22]);
    expect(await page.locator('.errors').textContent()).toMatch(/line 11: not JSON/);
    expect(d.events).toBe(19);
    await open(page, `${desc.url}`);
    await page.evaluate((c) => {
      const w = window as unknown as {
        __ffasim: { app: { ix: { hops: Int32Array; call: Int32Array } }; select(i: number): void };
      };
      const h = [...w.__ffasim.app.ix.hops].find((x) => w.__ffasim.app.ix.call[x] === c)!;
      w.__ffasim.select(h);
    }, ev.call);
    const dd = await debug(page);
    expect(dd.bytes.error).toMatch(/^DESC_/);
    expect(await page.locator('.hex .errb').count()).toBe(1);
    // h20: I1 names 0x88002000 — the page map outlines that range in red from the break on.
    const d20 = (await open(page, h20s.url)) as Debug & { pageBreaks: { addr: string; id: string }[] };
    expect(d20.pageBreaks).toEqual([{ addr: '0x88002000', seq: expect.any(Number), id: 'I1' }]);
    expect(await page.locator('#pagemap-alt').textContent()).toMatch(
      /Invariant breaks: I1 at #\d+ on 0x88002000/,
    );
    // h14: the replay names I4; the view opens where I4 first broke, not at the earlier I3.
    d = await open(page, finding.url);
    expect(d.detailsText).toMatch(/I4 fail/);
    await context.close();
  });

  it('--report: one self-contained HTML file that works from file://', async () => {
    const s = await viewInput('share-lend-reclaim', { port: '0', seed: '1', profile: 'ffa-1.2' });
    const html = reportHtml(gzipSync(s.trace!), 'report test');
    const dir = mkdtempSync(join(tmpdir(), 'ffasim-report-'));
    const file = join(dir, 'report.html');
    writeFileSync(file, html);
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=/);
    const { page, blocked, context } = await isolatedPage(browser, ['file://']);
    const d = await open(page, `file://${file}`);
    expect(d.hops).toBeGreaterThan(50);
    expect(d.pageRows).toBeGreaterThan(0);
    expect(blocked).toEqual([]);
    await context.close();
  });

  it('virtualised flow: 10⁵ hops keep a few dozen rows in the DOM', async () => {
    const big = await startViewServer({ trace: new TextEncoder().encode(bigTrace(100_000)) });
    servers.push(big);
    const { page, context } = await isolatedPage(browser, [big.base]);
    const d = await open(page, big.url);
    expect(d.hops).toBeGreaterThanOrEqual(100_000);
    expect(await page.locator('.row').count()).toBeLessThan(120);
    await page.locator('.grid').evaluate((g) => {
      g.scrollTop = g.scrollHeight;
    });
    const maxRow = () =>
      Math.max(...[...document.querySelectorAll('.row')].map((r) => Number(r.getAttribute('aria-rowindex'))));
    await page.waitForFunction(
      () =>
        Math.max(
          ...[...document.querySelectorAll('.row')].map((r) => Number(r.getAttribute('aria-rowindex'))),
        ) > 1000,
    );
    expect(await page.evaluate(maxRow)).toBe(d.rowsShown);
    expect(await page.locator('.row').count()).toBeLessThan(120);
    await context.close();
  }, 120_000);

  it('copy as replay line, crash-log dump and Mermaid; fragments get a tab each and a reassembled tab', async () => {
    const fr = await viewInput('fragmented-share', { port: '0', seed: '1', profile: 'ffa-1.2' });
    const frag = await startViewServer({ trace: fr.trace! });
    servers.push(frag);
    const { page, context } = await isolatedPage(browser, [slr.base, frag.base]);
    await open(page, slr.url);
    await page.evaluate(() =>
      (window as unknown as { __ffasim: { filter(f: string): number } }).__ffasim.filter(
        'name:MEM_SHARE from:host',
      ),
    );
    type C = { __ffasim: { copy(w: string): Promise<string> } };
    const replay = await page.evaluate(() => (window as unknown as C).__ffasim.copy('replay'));
    const parsed = parseReplay(replay);
    expect(parsed.ok).toBe(true);
    if (parsed.ok)
      // All 18 registers (zeros too): a copied line never relies on the missing-registers-are-0 rule.
      expect(parsed.value.actions[0]).toMatchObject({
        kind: 'smc',
        regs: [0xc4000073n, 144n, 144n, ...Array<bigint>(15).fill(0n)],
      });
    const crash = await page.evaluate(() => (window as unknown as C).__ffasim.copy('crash'));
    expect(crash.split('\n')[0]).toMatch(/^x17: 0{16} x16: 0{16}$/);
    expect(crash).toMatch(/ x0: 00000000c4000073\n$/);
    const mermaid = await page.evaluate(() => (window as unknown as C).__ffasim.copy('mermaid'));
    expect(mermaid).toMatch(/^sequenceDiagram\n/);
    expect(mermaid).toMatch(/host->>hyp: FFA_MEM_SHARE/);
    // With a filter, every call it shows: both host MEM_SHAREs (the second is denied).
    expect(mermaid.match(/host->>hyp: FFA_MEM_SHARE/g)?.length).toBe(2);
    // fragmented-share: the first fragment's call shows its buffer; the last FRAG_TX also the reassembled whole.
    await open(page, frag.url);
    await page.evaluate(() =>
      (window as unknown as { __ffasim: { filter(f: string): number } }).__ffasim.filter(
        'name:FRAG_TX from:host',
      ),
    );
    const d = await debug(page);
    expect(d.bytes.tabs.some((t) => /reassembled \(\d+ fragments\)/.test(t))).toBe(true);
    await page.getByRole('tab', { name: /reassembled/ }).click();
    expect((await debug(page)).bytes.error).toBeUndefined();
    expect((await debug(page)).bytes.fields).toBeGreaterThan(600); // 600 constituents, each with its fields
    expect(
      await page.locator('.fields', { hasText: /mem descriptor v1\.2, \d+ bytes/ }).count(),
    ).toBeGreaterThan(0);
    await context.close();
  });

  it('no trace: a file picker, and a dropped file opens', async () => {
    const { page, context } = await isolatedPage(browser, [slr.base]);
    await page.goto(slr.base);
    await page.getByRole('button', { name: 'Choose a file…' }).waitFor();
    const text = await (await fetch(new URL('/trace.jsonl', slr.base))).text();
    await page.evaluate((t) => {
      const dt = new DataTransfer();
      dt.items.add(new File([t], 'dropped.jsonl', { type: 'application/x-ndjson' }));
      window.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, text);
    await page.waitForFunction(
      () => (window as unknown as { __ffasim: { debug(): { ready: boolean } } }).__ffasim.debug().ready,
    );
    expect((await debug(page)).events).toBe(text.trimEnd().split('\n').length - 1);
    await context.close();
  });

  it('page map: hover names state, time and rule; dragging lists what changed; the overview zooms both', async () => {
    const { page, context } = await isolatedPage(browser, [slr.base]);
    await open(page, `${slr.url}#sel=47`);
    const map = page.getByRole('img', { name: /^Page map:/ });
    const box = (await map.boundingBox())!;
    // Row 2 (0x88002000, shared with the secure world after the share) near the end of the trace's first half.
    await page.mouse.move(box.x + box.width * 0.45, box.y + 2 * 24 + 12);
    const tip = await page.locator('.tip').textContent();
    expect(tip).toMatch(
      /0x88002000–0x88003000 at #\d+\nshared with secure world \(host SHARED_OWNED, hyp NOPAGE\)\nsince #\d+, host call #4 FFA_MEM_SHARE_64, rule mem-xfer\/ok/,
    );
    await page.mouse.move(box.x + 2, box.y + 10);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width - 2, box.y + 10, { steps: 4 });
    await page.mouse.up();
    expect(await page.locator('.changes').textContent()).toMatch(
      /^[1-9]\d* change\(s\) between #\d+ and #\d+/,
    );
    // Overview: drag a window; flow rows and the page map's axis follow.
    const before = (await debug(page)).rowsShown;
    const ov = (await page.getByRole('img', { name: /^Overview of/ }).boundingBox())!;
    await page.mouse.move(ov.x + ov.width * 0.3, ov.y + 20);
    await page.mouse.down();
    await page.mouse.move(ov.x + ov.width * 0.6, ov.y + 20, { steps: 4 });
    await page.mouse.up();
    const d = await debug(page);
    expect(d.state.zoom).toBeDefined();
    expect(d.rowsShown).toBeLessThan(before);
    expect(await map.getAttribute('aria-label')).toMatch(
      new RegExp(`sequence ${d.state.zoom![0]}–${d.state.zoom![1]}`),
    );
    await page.getByRole('img', { name: /^Overview of/ }).dblclick();
    expect((await debug(page)).state.zoom).toBeUndefined();
    await context.close();
  });

  it('pixels: golden screenshots of each pane', async () => {
    const { page, context } = await isolatedPage(browser, [slr.base]);
    await open(page, `${slr.url}#sel=47`);
    await page.evaluate(
      () => (window as unknown as { __ffasim: { fontReady: Promise<void> } }).__ffasim.fontReady,
    );
    await page.mouse.move(0, 0);
    await expectGoldens(page, [
      ['flow', 'Flow'],
      ['details', 'Details'],
      ['registers', 'Registers'],
      ['bytes', 'Bytes'],
      ['pagemap', 'Page map'],
    ]);
    await context.close();
  });

  it('pixels: a second state per pane (boot, a collapsed call, proxy diff, a hovered field, a zoomed map)', async () => {
    const { page, context } = await isolatedPage(browser, [boot.base]);
    await open(page, boot.url);
    await page.evaluate(
      () => (window as unknown as { __ffasim: { fontReady: Promise<void> } }).__ffasim.fontReady,
    );
    await page.evaluate(() =>
      (window as unknown as { __ffasim: { filter(f: string): number } }).__ffasim.filter(
        'name:MEM_ from:host',
      ),
    );
    await page.locator('.grid').focus();
    await page.keyboard.press('Enter'); // collapse the selected call
    await page.keyboard.press('r'); // proxy diff
    await page.keyboard.press('w'); // zoom in time
    await page.locator('.fields div', { hasText: 'constituent[0].address' }).hover();
    await expectGoldens(page, [
      ['flow-boot', 'Flow'],
      ['registers-boot', 'Registers'],
      ['bytes-boot', 'Bytes'],
      ['pagemap-boot', 'Page map'],
      ['overview-boot', /^Overview/],
    ]);
    await context.close();
  });

  it('accessibility: axe-core finds no WCAG A/AA violation', async () => {
    const { page, context } = await isolatedPage(browser, [slr.base]);
    await open(page, `${slr.url}#sel=47`);
    const axe = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
    await page.addScriptTag({ content: axe });
    const check = () =>
      page.evaluate(async () => {
        const r = await (
          window as unknown as {
            axe: {
              run(o: unknown): Promise<{ violations: { id: string; nodes: { target: string[] }[] }[] }>;
            };
          }
        ).axe.run({
          runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
        });
        return r.violations.map(
          (v) =>
            `${v.id}: ${v.nodes
              .slice(0, 3)
              .map((n) => n.target.join(' '))
              .join(', ')}`,
        );
      });
    expect(await check()).toEqual([]);
    // With each dialog open.
    await page.locator('.grid').focus();
    await page.keyboard.press('?');
    expect(await check()).toEqual([]);
    await page.keyboard.press('Escape');
    await page.keyboard.press('x');
    await page.getByRole('dialog', { name: 'What-if' }).waitFor();
    expect(await check()).toEqual([]);
    await page.keyboard.press('Escape');
    await page.keyboard.press('b');
    await page.getByRole('dialog', { name: 'Profile B' }).waitFor();
    expect(await check()).toEqual([]);
    await page.keyboard.press('Escape');
    const res = await check();
    expect(res).toEqual([]);
    await context.close();
  });
});
