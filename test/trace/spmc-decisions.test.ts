/**
 * Secure-world decisions in every trace format: `ffasim run reclaim-unknown --explain` shows the SPMC's rule,
 * reason and source for the reclaim of an unknown handle; JSONL carries `actor` (and proxy decisions stay as they
 * were); the web view's index and filter see the rules; Mermaid and Perfetto put them on the SPMC's lane.
 */
import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { runWithInvariants } from '../../src/check/invariants.ts';
import { builtinScenario } from '../../src/scenario/builtin/index.ts';
import { runScenario } from '../../src/scenario/scenario.ts';
import { runToJSONL } from '../../src/scenario/trace.ts';
import { toMermaid } from '../../src/trace/mermaid.ts';
import { toPerfetto } from '../../src/trace/perfetto.ts';
import { toText } from '../../src/trace/text.ts';
import { filterHops, parseFilter } from '../../web/src/model/filter.ts';
import { callInfo, F, indexTrace } from '../../web/src/model/trace-index.ts';

function ffasim(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const scenario = builtinScenario('reclaim-unknown')!;

describe('ffasim run reclaim-unknown --explain', () => {
  let r: ReturnType<typeof ffasim>;
  let lines: string[];
  beforeAll(() => {
    r = ffasim(['run', 'reclaim-unknown', '--explain']);
    lines = r.out.split('\n');
  });

  it('exits 0 with every expectation held', () => {
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/reclaim-unknown: (\d+)\/\1 expectations held/);
  });

  it("shows the SPMC's reason and source for the reclaim of an unknown handle", () => {
    const at = lines.findIndex((l) => /▸ reject spmc\/retrieve\/unknown-handle/.test(l));
    expect(at, r.out).toBeGreaterThan(0);
    const d = lines[at]!;
    expect(d).toMatch(/handle 0xdeadbeef is not a transaction this SPMC holds .* → INVALID_PARAMETERS/);
    expect(d).toMatch(/\[base\] FF-A v1\.0 §5\.12\.1–§5\.12\.2 \(ACS\)/);
    expect(d).toMatch(/Hafnium ffa_memory_retrieve_validate/);
    expect(d).toMatch(/abi\.md §9\.5 #17/);
    // Under the hop that reached the SPMC, before its answer; the proxy's own decision follows.
    expect(lines[at - 1]).toMatch(/spmd → spmc\s+FFA_MEM_RETRIEVE_REQ_64/);
    expect(lines[at + 1]).toMatch(/spmd ← spmc\s+FFA_ERROR INVALID_PARAMETERS/);
    expect(lines.slice(at).find((l) => l.includes('▸ handle'))).toMatch(/reclaim\/retrieve-failed/);
  });

  it('shows DENIED for a handle a partition still holds, with its source', () => {
    expect(r.out).toMatch(
      /▸ reject spmc\/reclaim\/retrieved handle 0x1 is still retrieved by 0x8001: .* → DENIED \[base\] FF-A v1\.0 §11\.7 \(ACS\); Hafnium reclaim_shared_state \(DENIED\); abi\.md §9\.5 #23/,
    );
  });

  it('every decision line, proxy or SPMC, names a change and a source', () => {
    const decisions = lines.filter((l) => l.includes('▸'));
    expect(decisions.filter((l) => / spmc\//.test(l)).length).toBe(3);
    for (const d of decisions) expect(d).toMatch(/\[(base|[a-z0-9.=-]+)\] \S/);
  });

  it('without --explain: rule and reason, no source', () => {
    const plain = ffasim(['run', 'reclaim-unknown']).out;
    const d = plain.split('\n').find((l) => l.includes('spmc/retrieve/unknown-handle'))!;
    expect(d).toMatch(/→ INVALID_PARAMETERS$/);
    expect(d).not.toMatch(/abi\.md/);
  });
});

describe('secure-world decisions in JSONL, the web index and the other formats', () => {
  const res = runWithInvariants(scenario, {});
  const jsonl = runToJSONL(res);
  const events = jsonl
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const decisions = events.filter((e) => e.kind === 'decision');

  it('JSONL: secure-world decisions carry actor right after kind; proxy decisions have no actor', () => {
    const sec = decisions.filter((e) => 'actor' in e);
    expect(sec.map((e) => e.rule)).toEqual([
      'spmc/retrieve/unknown-handle',
      'spmc/reclaim/retrieved',
      'spmc/retrieve/unknown-handle',
    ]);
    for (const e of sec) {
      expect(Object.keys(e)).toEqual([
        'seq',
        'call',
        'cpu',
        'kind',
        'actor',
        'action',
        'rule',
        'change',
        'source',
        'text',
      ]);
      expect(e.actor).toBe('spmc');
    }
    for (const e of decisions.filter((x) => !('actor' in x)))
      expect(Object.keys(e)).toEqual([
        'seq',
        'call',
        'cpu',
        'kind',
        'action',
        'rule',
        'change',
        'source',
        'text',
      ]);
  });

  it('the web index lists SPMC rules per call, flags the rejection, and `rule:spmc/` filters by them', () => {
    const ix = indexTrace(jsonl);
    expect(ix.errors).toEqual([]);
    const unknown = ix.calls.find((c) => c.rules.includes('spmc/retrieve/unknown-handle'))!;
    expect(unknown.name).toBe('FFA_MEM_RECLAIM');
    expect(unknown.rules).toEqual(['spmc/retrieve/unknown-handle', 'reclaim/retrieve-failed']);
    expect(unknown.flags & F.REJECT).not.toBe(0);
    const f = parseFilter('rule:spmc/ from:host');
    expect(f.ok).toBe(true);
    const hops = filterHops(ix, f.ok ? f.terms : []);
    expect([...new Set([...hops].map((h) => callInfo(ix, ix.call[h]!)!.name))]).toEqual(['FFA_MEM_RECLAIM']);
    expect(new Set([...hops].map((h) => ix.call[h])).size).toBe(3);
  });

  it('Mermaid notes and Perfetto instants sit on the SPMC lane', () => {
    const evs = res.world.trace!.events;
    expect(toMermaid(evs)).toMatch(/Note right of spmc: reject spmc\/retrieve\/unknown-handle \[base\]/);
    const p = toPerfetto(evs);
    const spmcPid = p.traceEvents.find((e) => e.name === 'process_name' && e.args?.name === 'spmc')!.pid;
    const inst = p.traceEvents.filter((e) => e.cat === 'decision' && e.name.includes('spmc/'));
    expect(inst.length).toBe(3);
    for (const e of inst) expect(e.pid).toBe(spmcPid);
  });

  it('no decision without a trace: the run is the same, the world records nothing', () => {
    const bare = runScenario(scenario, { trace: false });
    expect(bare.failures).toEqual([]);
    expect(bare.world.trace).toBeUndefined();
  });

  it('text: secure-world decisions render in their own colour', () => {
    const t = toText(res.world.trace!.events, { color: true, explain: true });
    expect(t).toContain('\x1b[34m▸ reject spmc/retrieve/unknown-handle');
    expect(t).toContain('\x1b[33m▸ handle reclaim/retrieve-failed');
  });
});
