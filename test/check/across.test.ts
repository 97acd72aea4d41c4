/**
 * One flow across profiles: call-by-call differences explained by counterfactual profile changes, and the replay
 * recorder that turns any scenario run into a replay file (`run S --format replay`) to compare with `replay --profile`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acrossProfiles, acrossToText } from '../../src/check/across.ts';
import { runWithInvariants } from '../../src/check/invariants.ts';
import { createProfile, PROFILES } from '../../src/hyp/profiles.ts';
import { builtinScenario } from '../../src/scenario/builtin/index.ts';
import { parseReplay, ReplayRecorder, replayScenario, runAction } from '../../src/scenario/replay.ts';
import { createWorld } from '../../src/world/world.ts';

const boot = builtinScenario('boot')!;
const P = (name: string, o: { with?: string[]; without?: string[] } = {}) => createProfile(name, o);

function ffasim(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

function record(name: string, profile = 'ffa-1.2'): { text: string; outs: string[][] } {
  let rec: ReplayRecorder | undefined;
  const r = runWithInvariants(builtinScenario(name)!, {
    profile: P(profile),
    prepare: (w) => {
      rec = new ReplayRecorder(w);
    },
  });
  const outs = (r.world.trace?.events ?? [])
    .filter((e) => e.kind === 'hop' && e.to === 'host')
    .map((e) => (e.kind === 'hop' ? e.regs : []));
  return {
    text: rec!.toText({ world: r.world.config, profile, with: [], without: [] }),
    outs,
  };
}

describe('acrossProfiles', () => {
  it('boot on v9, 1.2, hardened: only the first FFA_VERSION differs, explained by smccc12-retval-all and zeroed-result', () => {
    const r = acrossProfiles(boot, [P('ffa-1.2-v9'), P('ffa-1.2'), P('ffa-1.2-hardened')]);
    expect(r.calls).toEqual({ 'ffa-1.2-v9': 12, 'ffa-1.2': 12, 'ffa-1.2-hardened': 12 });
    expect(r.differences.map((d) => d.call)).toEqual([1]);
    const d = r.differences[0]!;
    expect(d.views['ffa-1.2']!.call).toBe('FFA_VERSION requested=1.2');
    expect(d.explainedBy).toEqual({
      'ffa-1.2': ['smccc12-retval-all'],
      'ffa-1.2-hardened': ['zeroed-result'],
    });
    // v9 returns stale x1–x7 (SMCCC 1.1 result), 1.2 stale x1–x17, hardened zeros.
    expect(d.regs).toEqual(Array.from({ length: 17 }, (_, i) => `x${i + 1}`));
    expect(d.views['ffa-1.2-v9']!.regs[8]).toBe('0x0000000000000000');
    expect(d.views['ffa-1.2']!.regs[8]).not.toBe('0x0000000000000000');
    expect(r.groups.map((g) => g.change)).toEqual(['smccc12-retval-all', 'zeroed-result']);
    const text = acrossToText(r);
    expect(text).toMatch(/■ smccc12-retval-all: /);
    expect(text).toMatch(/ffa-1\.2 +FFA_VERSION → 1\.2 {2}◀ this change/);
  });

  it('profiles that behave alike on the flow: no difference', () => {
    const r = acrossProfiles(boot, [P('ffa-1.2'), P('ffa-1.2', { without: ['offset-overflow-check'] })]);
    expect(r.differences).toEqual([]);
    expect(acrossToText(r)).toMatch(/answer every host call alike/);
  });

  it('a flow that adapts (6.6 cannot negotiate 1.2): page states and calls differ, each difference has an explanation or candidates', () => {
    const r = acrossProfiles(boot, [P('linux-6.6'), P('linux-6.11')]);
    expect(r.calls['linux-6.6']).toBe(9);
    expect(r.calls['linux-6.11']).toBe(12);
    expect(r.differences.some((d) => d.pages)).toBe(true);
    for (const d of r.differences) {
      const e = d.explainedBy['linux-6.11'];
      expect(e).toBeDefined();
      if (e!.length === 0) expect(d.candidates['linux-6.11']!.length).toBeGreaterThan(0);
    }
    // The first FFA_VERSION needs two changes at once: EL2 answers it (version-trap) with 1.1 (hyp-ffa-v1-1).
    expect(r.differences[0]!.explainedBy['linux-6.11']).toEqual(['version-trap+hyp-ffa-v1-1']);
    expect(r.differences.find((d) => d.call === 4)!.explainedBy['linux-6.11']).toEqual(['part-info-copy']);
  });
});

describe('ReplayRecorder', () => {
  it.each(['boot', 'share-lend-reclaim', 'fragmented-share'])(
    '%s recorded as a replay file replays to the same host-visible registers',
    (name) => {
      const { text, outs } = record(name);
      const parsed = parseReplay(text, name);
      expect(parsed.ok).toBe(true);
      if (!parsed.ok) return;
      const w = createWorld({ profile: P(parsed.value.profile!), trace: false, config: parsed.value.world! });
      const replayed = parsed.value.actions
        .map((a) => runAction(w, a))
        .filter((x) => 'regs' in x)
        .map((x) => x.regs);
      expect(replayed).toEqual(outs);
      expect(replayScenario(text, name).ok).toBe(true);
    },
  );
});

describe('CLI: --profile all and a,b,c', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ffasim-across-'));

  it('run boot --format replay, then replay it across three profiles: the differences, exit 0', () => {
    const rec = ffasim(['run', 'boot', '--format', 'replay']);
    expect(rec.code).toBe(0);
    const file = join(dir, 'boot.replay.jsonl');
    writeFileSync(file, rec.out);
    const r = ffasim(['replay', file, '--profile', 'ffa-1.2-v9,ffa-1.2,ffa-1.2-hardened']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/1 call\(s\) differ/);
    expect(r.out).toMatch(/■ smccc12-retval-all/);
    expect(r.out).toMatch(/■ zeroed-result/);
    const j = ffasim(['replay', file, '--profile', 'ffa-1.2-v9,ffa-1.2,ffa-1.2-hardened', '--json']);
    expect(JSON.parse(j.out).differences[0].explainedBy['ffa-1.2']).toEqual(['smccc12-retval-all']);
  });

  it('run --profile all: every shipped profile compared, exit 0 although they differ', () => {
    const r = ffasim(['run', 'boot', '--profile', 'all', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.profiles).toHaveLength(PROFILES.length);
    expect(j.differences.length).toBeGreaterThan(3);
  });

  it.each([
    [['run', 'boot', '--profile', 'ffa-1.2,'], /empty profile name/],
    [['run', 'boot', '--profile', 'ffa-1.2,ffa-1.2'], /named twice/],
    [['run', 'boot', '--profile', 'ffa-1.2,nope'], /unknown profile 'nope'/],
    [['run', 'boot', '--json'], /--json goes with --profile all/],
    [['run', 'boot', 'h1', '--format', 'replay'], /one scenario at a time/],
  ])('%j is a usage error', (args, msg) => {
    const r = ffasim(args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(msg);
  });
});
