import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HypBuffer, type OobAccess } from '../../src/hyp/bufview.ts';
import { PhysMem } from '../../src/mem/phys.ts';

describe('HypBuffer.constituentsWords', () => {
  it('reads and records out-of-bounds accesses exactly as constituentWords one by one', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4200 }),
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 0, max: 4096 }),
        fc.uint8Array({ minLength: 1, maxLength: 8192 }),
        (off, n, valid, bytes) => {
          const mem = new PhysMem();
          mem.write(0x8000_0000, bytes);
          const run = (batched: boolean) => {
            const oob: OobAccess[] = [];
            const b = new HypBuffer({
              name: 'hyp-rx',
              base: 0x8000_0000,
              cap: 4096,
              mem,
              onOob: (a) => oob.push(a),
            });
            b.valid = valid;
            const out = new Uint32Array(3 * n);
            if (batched) b.constituentsWords(off, n, out, 0);
            else for (let i = 0; i < n; i++) b.constituentWords(off + 16 * i, out, 3 * i);
            return { words: [...out], oob };
          };
          expect(run(true)).toEqual(run(false));
        },
      ),
      { numRuns: 300 },
    );
  });
});
