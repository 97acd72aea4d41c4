/**
 * Every FF-A function ID's disposition per profile (proxy-behaviour.md §2 table and the profile matrix):
 * F = forwarded unmodified to EL3, H = handled at EL2, NS = FFA_ERROR NOT_SUPPORTED from the hyp.
 */
import { describe, expect, it } from 'vitest';
import { FFA_FUNCTIONS } from '../../src/ffa/ids.ts';
import { PROFILES } from '../../src/hyp/profiles.ts';
import { makeHarness } from './harness.ts';

const DENY_BASE = [
  0xc4000074, 0x84000075, 0x84000076, 0x84000078, 0x84000079, 0x8400007a, 0xc4000071, 0x8400006e, 0x8400006a,
  0x8400006b, 0x84000070, 0x84000066, 0x84000071, 0x84000074,
];
const NOTIF32 = [0x8400007d, 0x8400007e, 0x8400007f, 0x84000080, 0x84000081, 0x84000082, 0x84000083];
const OPT12 = [0xc400008d, 0xc400008e, 0x8400008a, 0xc400008b];
const HANDLED_ALWAYS = [
  0xc4000066, 0x84000067, 0x84000073, 0xc4000073, 0x84000072, 0xc4000072, 0x84000077, 0x8400007b,
];
const HANDLED_611 = [...HANDLED_ALWAYS, 0x84000063, 0x84000068];

/** Expected deny list, handled set and function-number range per profile. */
const EXPECT: Record<string, { deny: number[]; handled: number[]; max: number }> = {
  'linux-6.6': { deny: [...DENY_BASE, 0x8400006f], handled: HANDLED_ALWAYS, max: 0x7f },
  'linux-6.10': { deny: DENY_BASE, handled: HANDLED_ALWAYS, max: 0x7f },
  'linux-6.11': { deny: DENY_BASE, handled: HANDLED_611, max: 0xff },
  'ffa-1.2-v9': { deny: [...DENY_BASE, ...NOTIF32, ...OPT12, 0x8400008c], handled: HANDLED_611, max: 0xff },
  'ffa-1.2': { deny: [...DENY_BASE, ...NOTIF32, ...OPT12], handled: HANDLED_611, max: 0xff },
  'ffa-1.2-hardened': { deny: [...DENY_BASE, ...NOTIF32, ...OPT12], handled: HANDLED_611, max: 0xff },
  // REQ2 is forwarded by its own handler (hyp version 1.2), which passes the host's x0–x17: observably F.
  'ffa-1.2-direct-msg': {
    deny: [...DENY_BASE, ...NOTIF32, ...OPT12.filter((x) => x !== 0xc400008d)],
    handled: HANDLED_611,
    max: 0xff,
  },
};

const ALL_IDS: number[] = [];
for (const f of FFA_FUNCTIONS) {
  if (f.id32 !== undefined) ALL_IDS.push(f.id32);
  if (f.id64 !== undefined) ALL_IDS.push(f.id64);
}

function classify(profile: string, fid: number): 'F' | 'H' | 'NS' {
  const h = makeHarness(profile);
  h.setup();
  h.sent.length = 0;
  const MARK = 0x5a5a_0000 + (fid & 0xffff);
  const regs = [fid, 0, 0, 0, 0, 0, MARK, MARK, 0, 0, 0, 0, 0, 0, 0, 0, 0, MARK];
  const out = h.call(regs);
  const forwardedAsIs = h.sent.some((r) => r.w(0) === fid && r.w(6) === MARK && r.w(17) === MARK);
  if (forwardedAsIs) return 'F';
  if (h.sent.length === 0 && out.w(0) === 0x84000060 && (out.w(2) | 0) === -1) return 'NS';
  return 'H';
}

describe.each(PROFILES.map((p) => p.name))('function-ID disposition on %s', (profile) => {
  const exp = EXPECT[profile]!;
  it.each(ALL_IDS.map((id) => [`0x${id.toString(16)}`, id] as const))('%s', (_, fid) => {
    const num = fid & 0xffff;
    let want: 'F' | 'H' | 'NS';
    if (num > exp.max) want = 'F';
    else if (exp.handled.includes(fid)) want = 'H';
    else if (exp.deny.includes(fid)) want = 'NS';
    else want = 'F';
    expect(classify(profile, fid)).toBe(want);
  });
});

describe('version gate (version-trap, H3)', () => {
  it('rejects every FF-A call before negotiation with INVALID_PARAMETERS on 6.11+, not on 6.10', () => {
    for (const [profile, gated] of [
      ['linux-6.10', false],
      ['linux-6.11', true],
      ['ffa-1.2', true],
    ] as const) {
      const h = makeHarness(profile);
      h.sent.length = 0;
      const out = h.call([0x84000069]); // FFA_ID_GET
      if (gated) {
        expect(out.w(0)).toBe(0x84000060);
        expect(out.x(2)).toBe(0xffff_ffff_ffff_fffen); // −2 sign-extended
        expect(h.sent).toHaveLength(0);
      } else {
        expect(h.sent).toHaveLength(1);
      }
    }
  });

  it('non-FF-A SMCs are forwarded untouched, SVE hint and upper x0 included', () => {
    const h = makeHarness();
    const psci = [0x8400_0000, 1, 2, 3];
    h.call(psci);
    expect(h.sent.at(-1)!.toHex().slice(0, 4)).toEqual(
      psci.map((v) => `0x${v.toString(16).padStart(16, '0')}`),
    );
    // An FF-A ID with the SVE hint (bit 16) is classified as FF-A (hint stripped), so before negotiation it is gated.
    const gated = h.call([0x84010069]);
    expect(gated.w(0)).toBe(0x84000060);
  });
});
