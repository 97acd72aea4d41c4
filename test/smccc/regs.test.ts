import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hi32, lo32, RegisterFile, u64Of } from '../../src/smccc/regs.ts';

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

describe('lo32 / hi32: the halves of a bigint', () => {
  it('equal the masked bigint arithmetic for any value, negatives and values past 2^64 included', () => {
    const edge = fc.constantFrom(
      0n,
      1n,
      (1n << 32n) - 1n,
      1n << 32n,
      (1n << 53n) - 1n,
      1n << 53n,
      (1n << 64n) - 1n,
      -1n,
    );
    fc.assert(
      fc.property(
        fc.oneof(
          edge,
          fc.bigInt({ min: -(1n << 70n), max: 1n << 70n }),
          fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        ),
        (v) => {
          expect(lo32(v)).toBe(Number(BigInt.asUintN(32, v)));
          expect(hi32(v)).toBe(Number(BigInt.asUintN(32, v >> 32n)));
          expect(u64Of(lo32(v), hi32(v))).toBe(BigInt.asUintN(64, v));
          expect(new RegisterFile().setX(3, v).x(3)).toBe(BigInt.asUintN(64, v));
        },
      ),
      { numRuns: 3000 },
    );
  });
});
