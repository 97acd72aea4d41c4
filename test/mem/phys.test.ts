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

describe('stridedWords and frame-to-frame copy', () => {
  it('stridedWords reads what words reads record by record, across frame edges and unwritten frames', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3 * 4096 }),
        fc.integer({ min: 0, max: 300 }),
        fc.constantFrom(12, 16, 20),
        fc.integer({ min: 1, max: 3 }),
        fc.uint8Array({ minLength: 1, maxLength: 6000 }),
        (start, count, stride, group, bytes) => {
          const m = new PhysMem();
          m.write(0x10_0000 + 4096, bytes); // frame 0 of the window stays unwritten
          const addr = 0x10_0000 + start;
          const got = new Uint32Array(count * group + 2);
          const want = new Uint32Array(count * group + 2);
          m.stridedWords(addr, count, stride, group, got, 1);
          for (let k = 0; k < count; k++) m.words(addr + k * stride, group, want, 1 + k * group);
          expect([...got]).toEqual([...want]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('copy gives the bytes a read-then-write gives, whatever frames exist at either end', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 8192 }),
        fc.integer({ min: 0, max: 8192 }),
        fc.integer({ min: 0, max: 5000 }),
        fc.boolean(),
        (src, dst, len, destExists) => {
          const a = new PhysMem();
          const b = new PhysMem();
          const pattern = Uint8Array.from({ length: 8192 }, (_, i) => (i * 7 + 3) & 0xff);
          for (const m of [a, b]) {
            m.write(0x20_0000, pattern);
            if (destExists) m.write(0x40_0000, pattern.subarray(0, 4096));
          }
          a.copy(0x40_0000 + dst, 0x20_0000 + src, len);
          b.write(0x40_0000 + dst, b.read(0x20_0000 + src, len));
          expect([...a.read(0x40_0000, 3 * 8192)]).toEqual([...b.read(0x40_0000, 3 * 8192)]);
        },
      ),
      { numRuns: 200 },
    );
  });
});
