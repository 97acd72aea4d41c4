/** The README's library example, against the package entry point. */
import { describe, expect, it } from 'vitest';
import { createWorld, FFA, RegisterFile, toJSONL } from '../src/index.ts';

describe('library entry point', () => {
  it('runs the README example', () => {
    const w = createWorld();
    expect(w.host.negotiate().ok).toBe(true);
    expect(w.host.rxtxMap().ok).toBe(true);
    const page = w.allocHostPages(1);
    const s = w.host.memShare({
      receivers: [{ id: 0x8001, perm: 'RW' }],
      constituents: [{ address: page, pageCount: 1 }],
    });
    expect(s.ok).toBe(true);
    expect(w.state(page, 1)[0]!.host).toBe('SHARED_OWNED');
    const v = w.smc([FFA.VERSION, 0x10002]);
    expect(v).toBeInstanceOf(RegisterFile);
    expect(v.w(0)).toBe(0x10002);
    const jsonl = toJSONL(
      {
        schema: 'ffasim-trace/1',
        tool: 'ffasim',
        profile: w.profile.name,
        changes: w.profile.changes,
        seed: 1,
        world: {},
        components: [],
      },
      w.trace?.events ?? [],
    );
    expect(jsonl.split('\n').length).toBeGreaterThan(10);
  });
});
