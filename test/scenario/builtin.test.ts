/**
 * Every built-in scenario passes on its own profile; every bug scenario also passes on the first shipped
 * profile after its era that carries the fix — where its expectations flip from "shows the bug" to "fixed".
 */
import { describe, expect, it } from 'vitest';
import { createProfile, PROFILES } from '../../src/hyp/profiles.ts';
import { BUILTIN_SCENARIOS } from '../../src/scenario/builtin/index.ts';
import { runScenario } from '../../src/scenario/scenario.ts';
import { toText } from '../../src/trace/text.ts';

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

describe('reclaim-unknown: the SPMC says why', () => {
  it('its trace names the SPMC rules, each with a reason and a source, under --explain', () => {
    const r = runScenario(BUILTIN_SCENARIOS.find((s) => s.name === 'reclaim-unknown')!, {});
    expect(r.failures).toEqual([]);
    const text = toText(r.world.trace!.events, { explain: true });
    expect(text).toMatch(
      /▸ reject spmc\/retrieve\/unknown-handle handle 0xdeadbeef .* → INVALID_PARAMETERS \[base\] FF-A v1\.0 §5\.12\.1–§5\.12\.2 .*; Hafnium .*; abi\.md §9\.5 #17/,
    );
    expect(text).toMatch(/▸ reject spmc\/reclaim\/retrieved .* → DENIED \[base\] FF-A v1\.0 §11\.7/);
  });
});
