/** The hostile SPMC (issue 14): lies from a seeded plan or an exact list, recorded, reproducible. */
import { describe, expect, it } from 'vitest';
import { FFA } from '../../src/ffa/ids.ts';
import { RegisterFile } from '../../src/smccc/regs.ts';
import { type HostileLie, seededPrng } from '../../src/spmc/hostile.ts';
import { defaultWorldConfig, parseWorldConfig } from '../../src/world/config.ts';
import { createWorld } from '../../src/world/world.ts';

function liar(o: HostileLie[] | undefined, seed?: number, rate?: number) {
  const w = createWorld({ trace: false });
  return w.hostileSpmc({
    ...(o === undefined ? {} : { lies: o }),
    ...(seed === undefined ? {} : { seed }),
    ...(rate === undefined ? {} : { rate }),
  });
}

const fragRx = RegisterFile.of([FFA.MEM_FRAG_RX, 1, 0, 4096]);
const fragTx = (): RegisterFile => RegisterFile.of([FFA.MEM_FRAG_TX, 1, 0, 800]);

describe('hostile SPMC', () => {
  it('tells an exact lie on the n-th answer to a function, and only there', () => {
    const h = liar([{ call: FFA.MEM_FRAG_RX, nth: 2, target: 'w3', value: 0 }]);
    expect(h.answer(fragRx, fragTx()).w(3)).toBe(800);
    expect(h.answer(RegisterFile.of([FFA.RX_RELEASE]), fragTx()).w(3)).toBe(800); // another function
    expect(h.answer(fragRx, fragTx()).w(3)).toBe(0);
    expect(h.answer(fragRx, fragTx()).w(3)).toBe(800);
    expect(h.applied).toEqual([{ call: FFA.MEM_FRAG_RX, nth: 2, target: 'w3', value: 0 }]);
  });

  it('draws a plan from its seed alone: same seed, same lies; rate 0 never lies, rate 1 always does', () => {
    const run = (seed: number, rate: number) => {
      const h = liar(undefined, seed, rate);
      for (let i = 0; i < 200; i++) h.answer(fragRx, fragTx());
      return h.applied;
    };
    expect(run(7, 0.25)).toEqual(run(7, 0.25));
    expect(run(7, 0.25)).not.toEqual(run(8, 0.25));
    expect(run(7, 0)).toEqual([]);
    expect(run(7, 1).length).toBeGreaterThanOrEqual(200);
    // Biased to boundaries: 0 and 2^32 − 1 come up.
    const values = new Set(run(3, 1).map((l) => l.value));
    expect(values.has(0) && values.has(0xffff_ffff)).toBe(true);
    const a = seededPrng(5);
    const b = seededPrng(5);
    expect([a.next(), a.next()]).toEqual([b.next(), b.next()]);
    expect(a.fork(1).next()).not.toBe(a.fork(2).next());
  });

  it('a world file can name it; bad settings are located errors', () => {
    const c = defaultWorldConfig() as unknown as Record<string, Record<string, unknown>>;
    c.spmc!.hostile = { lies: [{ call: '0x8400007a', nth: 1, target: 'w3', value: 0 }] };
    const ok = parseWorldConfig(c);
    expect(ok.ok && ok.value.spmc.hostile?.lies?.[0]?.call).toBe(FFA.MEM_FRAG_RX);
    c.spmc!.hostile = { lies: [{ call: 1, nth: 0, target: 'w18', value: 0, at: 2 }], rate: 3, x: 1 };
    const bad = parseWorldConfig(c);
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    const paths = bad.errors.map((e) => e.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'world.spmc.hostile.x',
        'world.spmc.hostile.rate',
        'world.spmc.hostile.lies[0].nth',
        'world.spmc.hostile.lies[0].target',
        'world.spmc.hostile.lies[0].at',
      ]),
    );
  });
});
