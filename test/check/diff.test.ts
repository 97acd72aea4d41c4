/** `ffasim profiles --diff`: exactly the documented differences, each named by its change. */
import { describe, expect, it } from 'vitest';
import { diffProfiles } from '../../src/check/diff.ts';
import { createProfile } from '../../src/hyp/profiles.ts';

describe('profile diffs', () => {
  it('ffa-1.2-v9 → ffa-1.2: x8–x17 for SMC32 callers, FFA_EL3_INTR_HANDLE, the 80-byte minimum fragment — nothing else', () => {
    const rows = diffProfiles(createProfile('ffa-1.2-v9'), createProfile('ffa-1.2'));
    const changes = new Set(rows.flatMap((r) => r.changes));
    expect([...changes].sort()).toEqual([
      'deny-el3-intr-handle',
      'emad-impdef-size',
      'smccc12-retval-all',
      'smccc12-retval-smc64',
    ]);
    expect(rows.map((r) => r.probe).sort()).toEqual([
      'fid/FFA_EL3_INTR_HANDLE',
      'mem-xfer/min-fraglen',
      'retval/smc32-handled',
      'version/reply-registers',
    ]);
    expect(rows.every((r) => r.changes.length > 0)).toBe(true);
  });

  it('linux-6.11 → ffa-1.2: the six seed patches and the changes released between them, each named', () => {
    const rows = diffProfiles(createProfile('linux-6.11'), createProfile('ffa-1.2'));
    const changes = new Set(rows.flatMap((r) => r.changes));
    for (const c of [
      'version-downgrade-reject', // 1/6
      'smccc12-retval-all', // 2/6
      'deny-notifications', // 3/6
      'deny-ffa12-optional', // 4/6
      'features-rxtx-mask', // 5/6
      'hyp-ffa-v1-2', // 6/6
      'mem-len-check',
      'emad-impdef-size',
    ]) {
      expect(changes.has(c)).toBe(true);
    }
    expect(rows.every((r) => r.changes.length > 0)).toBe(true);
  });

  it('a profile does not differ from itself', () => {
    expect(diffProfiles(createProfile('ffa-1.2'), createProfile('ffa-1.2'))).toEqual([]);
  });
});
