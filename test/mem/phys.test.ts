import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_PA, PhysMem } from '../../src/mem/phys.ts';

describe('PhysMem in-place reads', () => {
  it('uint and u64 equal a little-endian decode of read(), across frame edges and unwritten memory', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.integer({ min: 0, max: 3 * 4096 }), fc.uint8Array({ minLength: 1, maxLength: 16 })),
          {
            maxLength: 8,
          },
        ),
        fc.integer({ min: 0, max: 3 * 4096 + 8 }),
        (writes, at) => {
          const m = new PhysMem();
          for (const [a, b] of writes) m.write(0x8000_0000 + a, b);
          const base = 0x8000_0000 + at;
          const bytes = m.read(base, 8);
          const dv = new DataView(bytes.buffer);
          expect(m.uint(base, 1)).toBe(dv.getUint8(0));
          expect(m.uint(base, 2)).toBe(dv.getUint16(0, true));
          expect(m.uint(base, 4)).toBe(dv.getUint32(0, true));
          expect(m.u64(base)).toBe(dv.getBigUint64(0, true));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('reads past the PA space throw RangeError, like read()', () => {
    const m = new PhysMem();
    expect(() => m.uint(MAX_PA - 2, 4)).toThrow(RangeError);
    expect(() => m.u64(MAX_PA - 4)).toThrow(RangeError);
    expect(() => m.read(MAX_PA - 4, 8)).toThrow(RangeError);
  });
});
