/**
 * Why this test? A world file must never fall back to a default for a typo (docs/world.md): each rejected key or
 * value is checked here beside the valid one it resembles, with the path the error names.
 */
import { describe, expect, it } from 'vitest';
import { parseWorldConfig } from '../../src/world/config.ts';

const errors = (w: unknown): string[] => {
  const r = parseWorldConfig(w);
  return r.ok ? [] : r.errors.map((e) => `${e.path}: ${e.message}`);
};

describe('parseWorldConfig', () => {
  it('ranges: base, size and a string name; other keys and a non-string name are errors', () => {
    expect(errors({ ram: [{ base: '0x80000000', size: '0x80000000', name: 'm' }] })).toEqual([]);
    expect(errors({ ram: [{ base: '0x80000000', size: '0x80000000', nmae: 'm' }] })).toEqual([
      'world.ram[0].nmae: unknown key (known: base, size, name)',
    ]);
    expect(errors({ mmio: [{ base: '0x9000000', size: '0x10000', name: 5 }] })).toEqual([
      'world.mmio[0].name: must be a string',
    ]);
  });

  it('ranges must lie inside the IPA space', () => {
    expect(errors({ ipaBits: 32, guest: [] })).toEqual([]);
    expect(errors({ ipaBits: 32, ram: [{ base: '0x80000000', size: '0x100000000' }], guest: [] })).toEqual([
      "world.ram[0]: range ends above the host's 32-bit IPA space (ipaBits)",
    ]);
  });

  it('partitions: a string name; quirks: retrievePatch keys, fragRxOffsetSkew below 2^32', () => {
    const p = { id: '0x8001', uuids: ['40ee25f0-a2bc-304c-8c4c-a173c57d8af1'] };
    expect(errors({ spmc: { partitions: [{ ...p, name: 'tee' }] } })).toEqual([]);
    expect(errors({ spmc: { partitions: [{ ...p, name: 7 }] } })).toEqual([
      'world.spmc.partitions[0].name: must be a string',
    ]);
    expect(errors({ spmc: { quirks: { retrievePatch: { offset: 1, value: 2, length: 3 } } } })).toEqual([]);
    expect(errors({ spmc: { quirks: { retrievePatch: { offset: 1, value: 2, lenght: 3 } } } })).toEqual([
      'world.spmc.quirks.retrievePatch.lenght: unknown key (known: offset, value, length)',
    ]);
    expect(errors({ spmc: { quirks: { fragRxOffsetSkew: -4096 } } })).toEqual([]);
    expect(errors({ spmc: { quirks: { fragRxOffsetSkew: 2 ** 40 } } })).toEqual([
      'world.spmc.quirks.fragRxOffsetSkew: must be an integer in −(2^32−1)..2^32−1',
    ]);
  });
});
