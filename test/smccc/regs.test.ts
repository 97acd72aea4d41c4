import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RegisterFile, u64Of } from '../../src/smccc/regs.ts';

describe('u64Of: a u64 from two u32 halves', () => {
  const u32 = fc.oneof(
    fc.integer({ min: 0, max: 0xffff_ffff }),
    fc.constantFrom(0, 1, 0x1f_ffff, 0x20_0000, 0x20_0001, 0xffff_fffe, 0xffff_ffff),
  );

  it('equals hi << 32 | lo on both sides of the 53-bit fast path, and RegisterFile.x agrees', () => {
    fc.assert(
      fc.property(u32, u32, (lo, hi) => {
        const want = (BigInt(hi) << 32n) | BigInt(lo);
        expect(u64Of(lo, hi)).toBe(want);
        expect(new RegisterFile().setPair(5, lo, hi).x(5)).toBe(want);
      }),
      { numRuns: 2000 },
    );
  });
});
