/**
 * The fuzzer: a bounded smoke campaign per shipped profile (known bugs' invariants ignored where the profile has
 * them), and each known bug that breaks an invariant rediscovered from a fixed seed — the deterministic version
 * of "time to find" (wall times are in the issue notes and `npm run bench`).
 */
import { describe, expect, it } from 'vitest';
import { findingToReplay, fuzz } from '../../src/check/fuzz.ts';
import { createProfile } from '../../src/hyp/profiles.ts';
import { parseReplay, runAction } from '../../src/scenario/replay.ts';
import { defaultWorldConfig, type WorldConfig } from '../../src/world/config.ts';
import { createWorld } from '../../src/world/world.ts';

const KNOWN: Record<string, string[]> = {
  'linux-6.6': ['I7'], // H19: a multi-fragment reclaim meets a still-owned hyp RX
  'linux-6.10': ['I7'], // H6
  'linux-6.11': ['I3', 'I7'], // H16 (x1–x3), H6
  'ffa-1.2-v9': ['I3'], // H16
  'ffa-1.2': ['I3'], // H16
  'ffa-1.2-hardened': [],
  'ffa-1.2-direct-msg': [],
};

describe('fuzz smoke campaign (bounded)', () => {
  it.each(Object.entries(KNOWN))('%s: no violation beyond the known bugs', (profile, ignore) => {
    const r = fuzz({ profile: createProfile(profile), seed: 42, runs: 120, ignore });
    expect(r.finding?.violation).toBeUndefined();
    expect(r.smcs).toBeGreaterThan(500);
  });
});

const BUGS: {
  bug: string;
  profile: string;
  cfg?: (c: WorldConfig) => void;
  ignore?: string[];
  invariant: string;
  runs: number;
}[] = [
  { bug: 'H6', profile: 'linux-6.11', ignore: ['I3'], invariant: 'I7', runs: 400 },
  {
    bug: 'H13',
    profile: 'ffa-1.2',
    cfg: (c) => {
      c.spmc.quirks.retrievePatch = { offset: 52, value: 90, length: 96 };
    },
    ignore: ['I3'],
    invariant: 'I6',
    runs: 200,
  },
  {
    bug: 'H14',
    profile: 'ffa-1.2',
    cfg: (c) => {
      c.host.driverVersion = '1.1';
      c.spmc.exactLength = false;
    },
    ignore: ['I3'],
    invariant: 'I4',
    runs: 400,
  },
  {
    bug: 'H15',
    profile: 'ffa-1.2',
    cfg: (c) => {
      c.pageSize = 16384;
    },
    ignore: ['I3'],
    invariant: 'I1',
    runs: 400,
  },
  { bug: 'H16', profile: 'ffa-1.2', invariant: 'I3', runs: 10 },
  {
    bug: 'H20',
    profile: 'ffa-1.2-hardened',
    cfg: (c) => {
      c.spmc.quirks.shareSuccess64 = true;
    },
    invariant: 'I1',
    runs: 200,
  },
];

describe('the fuzzer rediscovers the known bugs from a fixed seed', () => {
  it.each(BUGS)(
    '$bug on $profile → $invariant, shrunk, with a replay that reproduces it',
    ({ profile, cfg, ignore, invariant, runs }) => {
      const config = defaultWorldConfig();
      cfg?.(config);
      const p = createProfile(profile);
      const r = fuzz({ profile: p, config, seed: 1, runs, ...(ignore ? { ignore } : {}) });
      expect(r.finding?.violation.invariant).toBe(invariant);
      expect(r.finding!.actions.length).toBeLessThanOrEqual(2);
      // The replay file parses and replays without error.
      const text = findingToReplay(r, p, config);
      const parsed = parseReplay(text, 'finding.jsonl');
      expect(parsed.ok).toBe(true);
      if (!parsed.ok) return;
      const w = createWorld({
        config: parsed.value.world!,
        profile: createProfile(parsed.value.profile!, {
          with: parsed.value.with,
          without: parsed.value.without,
        }),
        trace: false,
      });
      for (const a of parsed.value.actions) expect('error' in runAction(w, a)).toBe(false);
    },
  );

  it('H20 stays an I1 finding on the hardened profile (no fix exists); H13 gone there (only I7: the share stays live)', () => {
    const q = defaultWorldConfig();
    q.spmc.quirks.retrievePatch = { offset: 52, value: 90, length: 96 };
    const r = fuzz({ profile: createProfile('ffa-1.2-hardened'), config: q, seed: 1, runs: 200 });
    expect(r.finding?.violation.invariant).toBe('I7');
    expect(r.finding?.violation.detail).toMatch(/w2=-8/); // ABORTED: the fix refuses to trust the response
  });
});
