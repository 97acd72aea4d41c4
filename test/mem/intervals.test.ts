import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IntervalMap } from '../../src/mem/intervals.ts';

describe('IntervalMap', () => {
  it('sets, reads back and merges equal neighbours', () => {
    const m = new IntervalMap(0);
    m.set(10, 20, 1);
    m.set(20, 30, 1);
    expect(m.get(9)).toBe(0);
    expect(m.get(10)).toBe(1);
    expect(m.get(29)).toBe(1);
    expect(m.get(30)).toBe(0);
    expect(m.runCount).toBe(3); // [0,10) 0, [10,30) 1, [30,∞) 0
    m.set(10, 30, 0);
    expect(m.runCount).toBe(1);
  });

  it('every() and forEach() clip to the range', () => {
    const m = new IntervalMap(0);
    m.set(5, 8, 2);
    expect(m.every(5, 8, (v) => v === 2)).toBe(true);
    expect(m.every(4, 8, (v) => v === 2)).toBe(false);
    expect(m.every(7, 7, () => false)).toBe(true);
    const seen: [number, number, number][] = [];
    m.forEach(6, 12, (s, e, v) => seen.push([s, e, v]));
    expect(seen).toEqual([
      [6, 8, 2],
      [8, 12, 0],
    ]);
  });

  it('agrees with a per-key array model under random updates (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(60), fc.nat(20), fc.nat(3), fc.boolean()), { maxLength: 40 }),
        (ops) => {
          const m = new IntervalMap(0);
          const ref = new Array<number>(100).fill(0);
          for (const [a, n, v, upd] of ops) {
            if (upd) {
              m.update(a, a + n, (x) => (x + v) % 4);
              for (let k = a; k < a + n; k++) ref[k] = (ref[k]! + v) % 4;
            } else {
              m.set(a, a + n, v);
              for (let k = a; k < a + n; k++) ref[k] = v;
            }
          }
          for (let k = 0; k < 100; k++) expect(m.get(k)).toBe(ref[k]);
          // Runs are maximal: no two neighbours share a value.
          const runs = m.runs();
          for (let i = 1; i < runs.length; i++) expect(runs[i]![2]).not.toBe(runs[i - 1]![2]);
        },
      ),
      { numRuns: 2000, seed: 42 },
    );
  });
});
