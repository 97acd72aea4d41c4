/**
 * Every built-in scenario passes on its own profile; every bug scenario also passes on the first shipped
 * profile after its era that carries the fix — where its expectations flip from "shows the bug" to "fixed".
 */
import { describe, expect, it } from 'vitest';
import { createProfile, PROFILES } from '../../src/hyp/profiles.ts';
import { BUILTIN_SCENARIOS } from '../../src/scenario/builtin/index.ts';
import { runScenario } from '../../src/scenario/scenario.ts';

const order = PROFILES.map((p) => p.name);

function fixedProfile(era: string, fix: string): string | undefined {
  return order.slice(order.indexOf(era) + 1).find((n) => createProfile(n).has(fix));
}

describe.each(BUILTIN_SCENARIOS.map((s) => [s.name, s] as const))('scenario %s', (_, s) => {
  const era = s.profile ?? 'ffa-1.2';
  it(`passes on ${era}`, () => {
    const r = runScenario(s, { profile: createProfile(era), trace: false });
    expect(r.failures).toEqual([]);
    expect(r.expectations.length).toBeGreaterThan(0);
  });
  if (s.fixedBy !== undefined) {
    const next = fixedProfile(era, s.fixedBy);
    it(`shows the fix on ${next ?? `${era} +${s.fixedBy}`}`, () => {
      const profile = next === undefined ? createProfile(era, { with: [s.fixedBy!] }) : createProfile(next);
      const r = runScenario(s, { profile, trace: false });
      expect(r.failures).toEqual([]);
    });
  }
});
