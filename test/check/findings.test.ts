/**
 * Why this test? Every shrunk fuzzer finding committed under findings/ stays a deterministic regression test: the
 * replay file must still reproduce its invariant break (docs: findings/README.md).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { watchInvariants } from '../../src/check/invariants.ts';
import { FFA } from '../../src/ffa/ids.ts';
import { createProfile } from '../../src/hyp/profiles.ts';
import { parseReplay, runAction } from '../../src/scenario/replay.ts';
import { createWorld } from '../../src/world/world.ts';

const dir = new URL('../../findings/', import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith('.jsonl'));

describe.each(files)('findings/%s', (file) => {
  it('reproduces its invariant', () => {
    const text = readFileSync(new URL(file, dir), 'utf8');
    const inv = /^# ffasim fuzz finding: (I\d)/.exec(text)?.[1];
    expect(inv).toBeDefined();
    const r = parseReplay(text, file);
    if (!r.ok) throw new Error(r.error);
    const f = r.value;
    const w = createWorld({
      config: f.world!,
      profile: createProfile(f.profile!, { with: f.with, without: f.without }),
      trace: true,
    });
    const seen = watchInvariants(w);
    let last: Record<string, unknown> | undefined;
    for (const a of f.actions) last = runAction(w, a);
    if (inv === 'I7') {
      // The finding's last action is the host's reclaim of a share the secure world does not hold: it fails.
      const regs = last?.regs as string[];
      expect(Number.parseInt(regs[0]!.slice(-8), 16)).toBe(FFA.ERROR);
    } else {
      expect(seen.map((v) => v.invariant)).toContain(inv);
    }
  });
});
