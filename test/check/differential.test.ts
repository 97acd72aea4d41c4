import { describe, expect, it } from 'vitest';
import {
  compareTapes,
  type DiffSide,
  diffSubject,
  divergenceJSON,
  divergenceText,
  shrinkSteps,
  stepsOf,
} from '../../src/check/differential.ts';
import { FFA } from '../../src/ffa/ids.ts';
import { createProfile } from '../../src/hyp/profiles.ts';
import { builtinScenario } from '../../src/scenario/builtin/index.ts';
import { parseReplay } from '../../src/scenario/replay.ts';

const side = (name: string, o: { with?: string[]; without?: string[] } = {}): DiffSide => {
  const profile = createProfile(name, o);
  return { label: `model ${profile.name}`, profile };
};

describe('differential engine (two model worlds)', () => {
  it('finds no divergence between a profile and itself, on scenarios and fuzz', () => {
    const a = side('ffa-1.2');
    const b = side('ffa-1.2');
    const r = diffSubject({ kind: 'scenario', scenario: builtinScenario('boot')! }, a, b);
    expect(r.calls).toBeGreaterThan(5);
    expect(r.divergences).toEqual([]);
    const f = diffSubject({ kind: 'fuzz', seed: 3, runs: 30 }, a, b);
    expect(f.sequences).toBe(30);
    expect(f.divergences).toEqual([]);
  });

  it('shrinks a scenario divergence to the call that differs (H1: 32-bit DIRECT_REQ)', () => {
    const r = diffSubject(
      { kind: 'scenario', scenario: builtinScenario('h1')! },
      side('linux-6.6'),
      side('linux-6.10'),
    );
    expect(r.divergences).toHaveLength(1);
    const d = r.divergences[0]!;
    expect(d.divergence.fn).toBe('FFA_MSG_SEND_DIRECT_REQ');
    expect(d.divergence.aspect).toBe('el3-call');
    expect(d.shrunkCalls).toBeLessThanOrEqual(d.originalCalls);
    expect(d.shrunkCalls).toBe(d.divergence.call);
    const text = divergenceText(d, side('linux-6.6'), side('linux-6.10'));
    expect(text).toContain('model linux-6.6');
    expect(text).toContain('reject dispatch/deny-list');
    expect(JSON.stringify(divergenceJSON(d))).toContain('"aspect":"el3-call"');
  });

  it('a fuzz batch between different eras diverges, shrunk, and the same seed gives the same report', () => {
    const run = () =>
      diffSubject({ kind: 'fuzz', seed: 11, runs: 40 }, side('ffa-1.2'), side('ffa-1.2-hardened'));
    const r = run();
    expect(r.divergences.length).toBeGreaterThan(0);
    expect(r.divergences[0]!.replay.length).toBeGreaterThan(0);
    expect(JSON.stringify(run().divergences.map(divergenceJSON))).toBe(
      JSON.stringify(r.divergences.map(divergenceJSON)),
    );
  });

  it('uninitialised registers (H16) match only uninitialised ones', () => {
    const replay = parseReplay(
      '{"smc":["0x84000063","0x10001"]}\n{"smc":["0x84000067"]}\n{"smc":["0x84000063","0x10001"]}\n',
    );
    if (!replay.ok) throw new Error(replay.error);
    const actions = replay.value.actions;
    // Same profile: the stale result registers are uninitialised on both sides.
    expect(
      diffSubject({ kind: 'replay', name: 'v', actions }, side('linux-6.11'), side('linux-6.11')).divergences,
    ).toEqual([]);
    // zeroed-result on one side only: the VERSION answer is defined there, not on the other.
    const r = diffSubject(
      { kind: 'replay', name: 'v', actions },
      side('linux-6.11'),
      side('linux-6.11', { with: ['zeroed-result'] }),
    );
    expect(r.divergences).toHaveLength(1);
    expect(r.divergences[0]!.divergence.aspect).toBe('host-out');
    expect(r.divergences[0]!.divergence.fn).toBe('FFA_VERSION');
    expect(r.divergences[0]!.divergence.a!.undef).toEqual([1, 2, 3]);
  });

  it('shrinkSteps keeps memory as it was when it drops steps (writes move forward)', () => {
    const p = parseReplay(
      '{"write":{"addr":"0x1000","hex":"aa"}}\n{"smc":["0x84000063","0x10002"]}\n{"write":{"addr":"0x1001","hex":"bb"}}\n{"smc":["0x84000067"]}\n{"smc":["0x84000065"]}\n',
    );
    if (!p.ok) throw new Error(p.error);
    const steps = stepsOf(p.value.actions);
    expect(steps).toHaveLength(3);
    const small = shrinkSteps(steps, (s) => s.some((x) => Number(x.smc.regs[0]) === FFA.RX_RELEASE));
    expect(small).toHaveLength(1);
    const w = small[0]!.writes;
    expect(w).toHaveLength(1);
    expect([...(w[0]!.kind === 'write' ? w[0]!.bytes : [])]).toEqual([0xaa, 0xbb]);
  });

  it('compareTapes reports nothing for equal tapes', () => {
    expect(compareTapes([], [])).toBeUndefined();
  });
});
