/**
 * Every FF-A function ID's disposition per profile (proxy-behaviour.md §2 table and the profile matrix):
 * F = forwarded unmodified to EL3, H = handled at EL2, NS = FFA_ERROR NOT_SUPPORTED from the hyp.
 */
import { describe, expect, it } from 'vitest';
import { specDisposition } from '../../src/check/conformance.ts';
import { FFA_FUNCTIONS } from '../../src/ffa/ids.ts';
import { PROFILES } from '../../src/hyp/profiles.ts';
import { makeHarness } from './harness.ts';

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

/**
 * Expected values come from the spec tables in src/check/conformance.ts (`specDisposition`: deny lists and
 * handled IDs per published profile), observed ones from the proxy through a scripted EL3.
 */
describe.each(PROFILES.map((p) => p.name))('function-ID disposition on %s', (profile) => {
  it.each(ALL_IDS.map((id) => [`0x${id.toString(16)}`, id] as const))('%s', (_, fid) => {
    expect(classify(profile, fid)).toBe(specDisposition(profile, fid));
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
