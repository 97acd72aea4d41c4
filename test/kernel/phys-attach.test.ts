/** PhysMem.attach/detach: frames backed by outside bytes (kernel mode's coherent hyp memory). */
import { describe, expect, it } from 'vitest';
import { PhysMem } from '../../src/mem/phys.ts';

describe('PhysMem.attach', () => {
  it('makes reads and writes of the range reads and writes of the attached bytes, both ways', () => {
    const m = new PhysMem();
    m.write(0x2000, Uint8Array.of(1, 2, 3));
    const ext = new Uint8Array(0x3000).fill(0xaa);
    m.attach(0x1000, ext);
    // What the frames held is now in the bytes; a never-written frame reads as zero.
    expect([...ext.subarray(0x1000, 0x1003)]).toEqual([1, 2, 3]);
    expect(ext[0]).toBe(0);
    // Writes through PhysMem land in the bytes, across frame boundaries.
    m.write(0x1ffe, Uint8Array.of(9, 8, 7, 6));
    expect([...ext.subarray(0xffe, 0x1002)]).toEqual([9, 8, 7, 6]);
    // Writes to the bytes (the C side) are what PhysMem reads.
    ext[0x2abc] = 0x5c;
    expect(m.uint(0x3abc, 1)).toBe(0x5c);
    m.copy(0x9000, 0x1ffe, 4);
    expect([...m.read(0x9000, 4)]).toEqual([9, 8, 7, 6]);
    m.fill(0x3000, 16, 0);
    expect(ext.subarray(0x2000, 0x2010).every((b) => b === 0)).toBe(true);
  });

  it('detach keeps the contents and stops sharing them', () => {
    const m = new PhysMem();
    const ext = new Uint8Array(0x1000);
    m.attach(0x4000, ext);
    m.write(0x4010, Uint8Array.of(0x42));
    m.detach(0x4000, 0x1000);
    expect(m.uint(0x4010, 1)).toBe(0x42);
    ext[0x10] = 0;
    m.write(0x4011, Uint8Array.of(0x43));
    expect(m.uint(0x4010, 1)).toBe(0x42);
    expect(ext[0x11]).toBe(0);
  });

  it('refuses ranges that are not whole 4 KiB frames', () => {
    const m = new PhysMem();
    expect(() => m.attach(0x1001, new Uint8Array(0x1000))).toThrow(RangeError);
    expect(() => m.attach(0x1000, new Uint8Array(0x800))).toThrow(RangeError);
    expect(() => m.detach(0x1000, 0x10)).toThrow(RangeError);
  });
});
