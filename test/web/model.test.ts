import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createProfile } from '../../src/hyp/profiles.ts';
import { filterHops, parseFilter } from '../../web/src/model/filter.ts';
import { pageRows, rangesAt, secureReachable } from '../../web/src/model/pages.ts';
import { hasLayout, mbzMask, registerFields } from '../../web/src/model/regfields.ts';
import { buildRows, headerCall, virtualWindow } from '../../web/src/model/rows.ts';
import {
  callInfo,
  eventAt,
  F,
  IndexBuilder,
  indexTrace,
  matchingHop,
} from '../../web/src/model/trace-index.ts';
import { defaultState, fromHash, toHash } from '../../web/src/model/view-state.ts';
import { firstDivergence, profileOfHeader, runWhatIf } from '../../web/src/model/whatif.ts';

function trace(name: string): string {
  const r = runWhatIf({ scenario: name }, 'ffa-1.2');
  if (!r.ok) throw new Error(r.error);
  return r.jsonl;
}

describe('trace index', () => {
  const text = trace('share-lend-reclaim');
  const ix = indexTrace(text);

  it('indexes every line, lanes in exception-level order, calls with status', () => {
    const lines = text.trimEnd().split('\n');
    expect(ix.n).toBe(lines.length - 1);
    expect(ix.errors).toEqual([]);
    expect(ix.components).toEqual(ix.header?.components);
    expect(ix.components.slice(0, 4)).toEqual(['host', 'hyp', 'spmd', 'spmc']);
    const share = ix.calls.find((c) => c.name === 'FFA_MEM_SHARE_64' || c.name === 'FFA_MEM_SHARE');
    expect(share?.status).toBe('SUCCESS');
    expect((share?.flags ?? 0) & F.PAGES).toBeTruthy();
    const denied = ix.calls.filter((c) => c.status === 'ERROR DENIED');
    expect(denied.length).toBeGreaterThan(0);
    // eventAt parses the raw line back exactly.
    expect(JSON.stringify(eventAt(ix, 5))).toBe(lines[6]);
  });

  it('gives the same index whatever the chunking', () => {
    const bytes = new TextEncoder().encode(text);
    for (const size of [1, 7, 333, 4096]) {
      const b = new IndexBuilder();
      for (let o = 0; o < bytes.length; o += size) b.push(bytes.subarray(o, o + size));
      const j = b.finish();
      expect(j.n).toBe(ix.n);
      expect([...j.lineStart]).toEqual([...ix.lineStart]);
      expect([...j.nameId]).toEqual([...ix.nameId]);
      expect(j.calls.map((c) => c.status)).toEqual(ix.calls.map((c) => c.status));
    }
  });

  it('pairs call and return hops', () => {
    const h = ix.hops[0]!;
    const r = matchingHop(ix, h)!;
    expect(ix.dir[r]).toBe(1);
    expect(matchingHop(ix, r)).toBe(h);
  });

  it('names bad lines and keeps going', () => {
    const bad = `${text.split('\n').slice(0, 3).join('\n')}\nnot json\n{"kind":"hop"}\n[1]\n{"seq":99,"call":1,"cpu":0,"kind":"bogus"}\n`;
    const j = indexTrace(bad);
    expect(j.n).toBe(2);
    expect(j.errors.map((e) => e.line)).toEqual([4, 5, 6, 7]);
    expect(j.errors[0]!.message).toMatch(/not JSON/);
    expect(j.errors[3]!.message).toMatch(/unknown event kind 'bogus'/);
    expect(indexTrace('').errors[0]!.message).toMatch(/no events/);
    expect(indexTrace(new Uint8Array([0xff, 0x00, 0x1f, 0x8b])).errors.length).toBe(1);
  });
});

describe('filter', () => {
  const ix = indexTrace(trace('share-lend-reclaim'));
  const run = (f: string) => {
    const p = parseFilter(f);
    if (!p.ok) throw new Error(p.error);
    return [...filterHops(ix, p.terms)];
  };
  it('selects by name, lane, status, rule, page and invariant', () => {
    const share = run('name:MEM_SHARE');
    expect(share.length).toBeGreaterThan(0);
    expect(run('status:DENIED').length).toBeGreaterThan(0);
    expect(run('status:ERROR_DENIED')).toEqual(run('status:DENIED'));
    expect(run('status:INVALID')).toEqual([]);
    for (const h of share) expect(callInfo(ix, ix.call[h]!)!.name).toMatch(/MEM_SHARE/);
    const fromHyp = run('from:hyp');
    expect(fromHyp.length).toBeGreaterThan(0);
    for (const h of fromHyp) expect(ix.components[ix.from[h]!]).toBe('hyp');
    const notOk = run('status:!SUCCESS');
    expect(notOk.length).toBeGreaterThan(0);
    for (const h of notOk) expect(callInfo(ix, ix.call[h]!)!.status).not.toBe('SUCCESS');
    expect(run('status:ERROR').length).toBeGreaterThan(0);
    expect(run('rule:mem-xfer/share').length).toBeGreaterThan(0);
    const pg = ix.pages.find((p) => p.table === 'host' && p.to === 'SHARED_OWNED' && p.seq > 40)!;
    const byPage = run(`page:0x${pg.addr.toString(16)}`);
    expect(byPage.length).toBeGreaterThan(0);
    expect(run('inv:I3').length).toBeGreaterThan(0);
    expect(run('inv:I1')).toEqual([]);
    const hostShares = run('name:MEM_SHARE from:host');
    expect(hostShares.length).toBe(2);
    expect(hostShares.every((h) => ix.components[ix.from[h]!] === 'host')).toBe(true);
  });
  it('names bad terms with their column', () => {
    expect(parseFilter('name:X bogus:1')).toEqual({
      ok: false,
      error: "column 8: unknown filter key 'bogus' (name, from, to, status, rule, page, inv)",
    });
    expect(parseFilter('page:zz').ok).toBe(false);
  });
});

describe('page rows', () => {
  const ix = indexTrace(trace('share-lend-reclaim'));
  const rows = pageRows(ix);
  it('collapses gaps and tracks states over time', () => {
    expect(rows.length).toBeGreaterThan(2);
    expect(rows.some((r) => r.gapBefore)).toBe(true);
    const shareEnd = ix.calls.find((c) => /MEM_SHARE/.test(c.name))!.last;
    const at = rangesAt(rows, ix.seq[shareEnd]!);
    expect(at.filter((r) => r.secure).length).toBeGreaterThanOrEqual(3);
    const end = rangesAt(rows, ix.seq[ix.n - 1]!);
    // After reclaim nothing is reachable by the secure world any more.
    expect(end.filter((r) => r.secure)).toEqual([]);
    expect(secureReachable('SHARED_OWNED', 'SHARED_BORROWED')).toBe(false);
  });
});

describe('view state and rows', () => {
  it('round-trips through the hash and ignores junk', () => {
    const s = {
      ...defaultState(),
      sel: 42,
      filter: 'name:MEM status:!SUCCESS',
      reg: 3,
      mode: 'proxy' as const,
    };
    s.collapsed = [1, 2];
    s.zoom = [10, 90];
    expect(fromHash(toHash(s))).toEqual(s);
    expect(fromHash('#sel=abc&reg=99&mode=evil&z=9-1')).toEqual(defaultState());
  });
  it('builds header rows and a virtual window', () => {
    const ix = indexTrace(trace('boot'));
    const rows = buildRows(ix, ix.hops, new Set([1]));
    expect(rows[0]).toBeLessThan(0);
    const calls = [...rows].filter((v) => v < 0).map(headerCall);
    expect(calls).toEqual(ix.calls.filter((c) => c.hops > 0).map((c) => c.call));
    const w = virtualWindow(100_000, 20, 20_000, 600);
    expect(w.start).toBe(992);
    expect(w.end).toBe(1039);
    expect(w.height).toBe(2_000_000);
  });
});

describe('what-if in the page', () => {
  it('re-runs a built-in under another profile and finds the first divergence', () => {
    const a = runWhatIf({ scenario: 'boot' }, 'linux-6.6');
    const b = runWhatIf({ scenario: 'boot' }, 'ffa-1.2');
    if (!a.ok || !b.ok) throw new Error('run failed');
    const d = firstDivergence(indexTrace(a.jsonl), indexTrace(b.jsonl));
    expect(d).toBeDefined();
    expect(firstDivergence(indexTrace(a.jsonl), indexTrace(a.jsonl))).toBeUndefined();
  });
  it('applies a register edit to one host call', () => {
    const base = runWhatIf({ scenario: 'boot' }, 'ffa-1.2');
    const edited = runWhatIf({ scenario: 'boot' }, 'ffa-1.2', [{ call: 1, reg: 1, value: 0x10000n }]);
    if (!base.ok || !edited.ok) throw new Error('run failed');
    const e = indexTrace(edited.jsonl);
    expect(eventAt(e, e.hops.find((h) => e.call[h] === 1)!).regs).toContain('0x0000000000010000');
    expect(firstDivergence(indexTrace(base.jsonl), e)?.call).toBe(1);
  });
  it('writes byte for byte the trace `ffasim run --format jsonl` writes', () => {
    const cli = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'run', 'share-lend-reclaim', '--format', 'jsonl'],
      {
        encoding: 'utf8',
      },
    );
    const page = runWhatIf({ scenario: 'share-lend-reclaim' }, 'ffa-1.2');
    expect(page.ok && page.jsonl).toBe(cli.stdout);
  });

  it('re-runs with the profile a trace names, changes added and removed included', () => {
    const made = profileOfHeader({
      profile: 'ffa-1.2 +deny-el3-intr-handle -version-trap',
      changes: createProfile('ffa-1.2', { with: ['deny-el3-intr-handle'], without: ['version-trap'] })
        .changes,
    });
    expect(made).toEqual({ base: 'ffa-1.2', with: ['deny-el3-intr-handle'], without: ['version-trap'] });
    expect(profileOfHeader({ profile: 'nonsense' }).base).toBe('ffa-1.2');
  });

  it('explains what it cannot do', () => {
    expect(runWhatIf({}, 'ffa-1.2')).toMatchObject({ ok: false });
    expect(runWhatIf({ scenario: 'boot' }, 'nope')).toMatchObject({
      ok: false,
      error: expect.stringMatching(/unknown profile/),
    });
  });
});

describe('register fields', () => {
  it('follow the decoder, including convention-dependent payloads, and mark MBZ bits', () => {
    const succ64 = registerFields('FFA_SUCCESS_64', true, 9);
    expect(succ64).toEqual([{ name: 'payload[7]', lo: 0, width: 64 }]);
    expect(registerFields('FFA_CONSOLE_LOG', false, 9)).toEqual([]);
    expect(mbzMask(registerFields('FFA_CONSOLE_LOG', false, 9), hasLayout('FFA_CONSOLE_LOG'))).toBe(
      (1n << 64n) - 1n,
    );
    // x0: function ID fields; bits 23:17 and 63:32 are MBZ.
    const x0 = mbzMask(registerFields('FFA_VERSION', false, 0), true);
    expect(x0).toBe(0xffff_ffff_00fe_0000n);
    // SMC32 MEM_SHARE: w1 is totalLength, the upper half MBZ.
    expect(mbzMask(registerFields('FFA_MEM_SHARE', false, 1), true)).toBe(0xffff_ffff_0000_0000n);
    expect(mbzMask(registerFields('FFA_MEM_SHARE_64', true, 3), true)).toBe(0n);
  });
});

describe('hostile traces', () => {
  it('rejects call numbers the column cannot hold and seqs that go back', () => {
    const t = [
      '{"seq":1,"call":2147483648,"cpu":0,"kind":"note","who":"host","text":"x"}',
      '{"seq":2,"call":1,"cpu":0,"kind":"note","who":"host","text":"x"}',
      '{"seq":1,"call":1,"cpu":0,"kind":"note","who":"host","text":"x"}',
    ].join('\n');
    const ix = indexTrace(t);
    expect(ix.n).toBe(1);
    expect(ix.errors.map((e) => e.line)).toEqual([1, 3, 1]);
    expect(ix.errors[1]!.message).toMatch(/does not increase.*skipped/);
  });
  it('skips an overlong line without quadratic work', () => {
    const b = new IndexBuilder();
    const mb = new Uint8Array(1 << 20).fill(0x78);
    for (let i = 0; i < 17; i++) b.push(mb);
    b.push(new TextEncoder().encode('\n{"seq":0,"call":0,"cpu":0,"kind":"step","text":"after"}\n'));
    const ix = b.finish();
    expect(ix.n).toBe(1);
    expect(ix.errors[0]!.message).toMatch(/line of 17825793 bytes is longer than/);
    expect(eventAt(ix, 0).text).toBe('after');
  });
  it('caps page-map work on overlapping ranges', () => {
    const pages = Array.from({ length: 3000 }, (_, k) => ({
      event: k,
      seq: k,
      table: 'host' as const,
      addr: k * 4096,
      size: 3000 * 4096,
      from: 'OWNED',
      to: k % 2 ? 'OWNED' : 'SHARED_OWNED',
    }));
    const info = { truncated: false };
    const rows = pageRows({ pages }, info);
    expect(info.truncated).toBe(true);
    expect(rows.length).toBeGreaterThan(0);
  });
});
