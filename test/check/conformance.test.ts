/** `ffasim check` passes on every shipped profile and names the rule when a seed patch's change is removed. */
import { describe, expect, it } from 'vitest';
import { allRules, runCheck } from '../../src/check/conformance.ts';
import { createProfile, PROFILES } from '../../src/hyp/profiles.ts';

describe('conformance suite', () => {
  it('has rules for every function ID, the ACS subset, the error table and H1–H20', () => {
    const ids = allRules().map((r) => r.id);
    expect(ids.filter((i) => i.startsWith('fid/')).length).toBeGreaterThan(60);
    expect(ids.filter((i) => i.startsWith('acs/')).length).toBeGreaterThanOrEqual(12);
    expect(ids.filter((i) => i.startsWith('err/')).length).toBeGreaterThanOrEqual(12);
    expect(ids.filter((i) => i.startsWith('bug/'))).toHaveLength(20);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it.each(PROFILES.map((p) => p.name))('every rule passes on %s', (name) => {
    const r = runCheck(createProfile(name));
    expect(
      r.filter((x) => !x.pass).map((x) => `${x.id}: expected ${x.expected}, observed ${x.observed}`),
    ).toEqual([]);
    expect(r.length).toBeGreaterThan(80);
  });

  it.each([
    ['version-downgrade-reject', ['acs/ffa_version_negotiation', 'bug/h8']],
    ['smccc12-retval-all', ['bug/h11', 'err/deny']],
    ['deny-notifications', ['bug/h10', 'fid/FFA_NOTIFICATION_BIND']],
    ['deny-ffa12-optional', ['acs/ffa_direct_message2', 'fid/FFA_MSG_SEND_DIRECT_REQ2']],
    ['features-rxtx-mask', ['bug/h9']],
    ['hyp-ffa-v1-2', ['version/negotiated']],
  ])('ffa-1.2 --without %s fails, naming the rules', (change, rules) => {
    const failed = runCheck(createProfile('ffa-1.2', { without: [change] }))
      .filter((x) => !x.pass)
      .map((x) => x.id);
    for (const r of rules) expect(failed).toContain(r);
  });
});
