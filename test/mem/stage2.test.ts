import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EINVAL, EPERM, Stage2 } from '../../src/mem/stage2.ts';
import { TraceBus } from '../../src/trace/events.ts';

const RAM = 0x8000_0000;
function make(pageSize = 4096) {
  return new Stage2({
    pageSize,
    regions: [
      { base: RAM, size: 0x100_0000, kind: 'ram' },
      { base: RAM + 0x100_0000, size: 0x10_0000, kind: 'nomap' },
      { base: RAM + 0x110_0000, size: 0x100_0000, kind: 'ram' },
    ],
    ipaBits: 40,
  });
}

describe('Stage2 FF-A transitions (mem_protect.c)', () => {
  it('share_ffa moves OWNED → SHARED_OWNED and unshare back', () => {
    const s = make();
    const pfn = s.pfn(RAM + 0x2000);
    expect(s.hostShareFFA(pfn, 3, { rangeValidation: true })).toBe(0);
    expect(s.hostState(RAM + 0x2000)).toBe('SHARED_OWNED');
    expect(s.hostState(RAM + 0x4000)).toBe('SHARED_OWNED');
    expect(s.hostState(RAM + 0x5000)).toBe('OWNED');
    expect(s.hostShareFFA(pfn + 1, 1, { rangeValidation: true })).toBe(EPERM); // already shared
    expect(s.hostUnshareFFA(pfn, 3, { rangeValidation: true })).toBe(0);
    expect(s.hostState(RAM + 0x2000)).toBe('OWNED');
  });

  it('is all-or-nothing: a failing page changes no state', () => {
    const s = make();
    s.assign(RAM + 0x3000, 1, 'guest');
    const before = s.fingerprint();
    expect(s.hostShareFFA(s.pfn(RAM + 0x1000), 4, { rangeValidation: true })).toBe(EPERM);
    expect(s.fingerprint()).toBe(before);
  });

  it('check_range_allowed_memory: one region, RAM, not NOMAP', () => {
    const s = make();
    // Crossing from RAM into the NOMAP region → −EINVAL.
    expect(s.hostShareFFA(s.pfn(RAM + 0xff_f000), 2, { rangeValidation: true })).toBe(EINVAL);
    // Inside NOMAP → −EPERM.
    expect(s.hostShareFFA(s.pfn(RAM + 0x100_0000), 1, { rangeValidation: true })).toBe(EPERM);
    // MMIO (a gap) → −EPERM.
    expect(s.hostShareFFA(s.pfn(0x0900_0000), 1, { rangeValidation: true })).toBe(EPERM);
    // 0 pages in the middle of RAM passes with no state change; at a region base it fails (§7.1 analysis).
    expect(s.hostShareFFA(s.pfn(RAM + 0x5000), 0, { rangeValidation: true })).toBe(0);
    expect(s.hostShareFFA(s.pfn(RAM), 0, { rangeValidation: true })).toBe(EINVAL);
  });

  it('pfn_range_is_valid rejects ranges beyond the IPA space only with range-validation', () => {
    const s = make();
    const limitPfn = 2 ** (40 - 12);
    expect(s.pfnRangeIsValid(limitPfn - 1, 1)).toBe(true);
    expect(s.pfnRangeIsValid(limitPfn - 1, 2)).toBe(false);
    expect(s.hostShareFFA(limitPfn, 1, { rangeValidation: true })).toBe(EINVAL);
    expect(s.hostShareFFA(limitPfn, 1, { rangeValidation: false })).toBe(EPERM); // not RAM
  });

  it('share_hyp / pin / unshare_hyp follow the 6.16 rules', () => {
    const s = make();
    const p = s.pfn(RAM + 0x8000);
    expect(s.hostShareHyp(p)).toBe(0);
    expect(s.hypState(RAM + 0x8000)).toBe('SHARED_BORROWED');
    expect(s.hostShareHyp(p)).toBe(EPERM);
    expect(s.hypPin(p)).toBe(0);
    expect(s.hostUnshareHyp(p)).toBe(-16); // pinned → −EBUSY
    s.hypUnpin(p);
    expect(s.hostUnshareHyp(p)).toBe(0);
    expect(s.hostState(RAM + 0x8000)).toBe('OWNED');
    expect(s.hypState(RAM + 0x8000)).toBe('NOPAGE');
  });

  it('1 GiB as one range costs one run change, and emits one page event per table change', () => {
    const bus = new TraceBus();
    const s = new Stage2({
      pageSize: 4096,
      regions: [{ base: 0x4000_0000, size: 0x8000_0000, kind: 'ram' }],
      trace: bus,
    });
    expect(s.hostShareFFA(s.pfn(0x4000_0000), 0x4_0000, { rangeValidation: true })).toBe(0);
    const pages = bus.events.filter((e) => e.kind === 'pages');
    expect(pages).toHaveLength(1);
    expect(pages[0]).toMatchObject({
      table: 'host',
      addr: 0x4000_0000,
      pages: 0x4_0000,
      from: 'OWNED',
      to: 'SHARED_OWNED',
    });
    expect(s.query(0x4000_0000, 0x4_0001)).toHaveLength(2);
  });

  it('16 KiB pages: states are per kernel page', () => {
    const s = make(16384);
    expect(s.hostShareFFA(s.pfn(RAM + 0x4000), 1, { rangeValidation: true })).toBe(0);
    expect(s.hostState(RAM + 0x7000)).toBe('SHARED_OWNED');
    expect(s.hostState(RAM + 0x8000)).toBe('OWNED');
  });

  it('sameAsMark (an undo log of what each change overwrote) = fingerprint equality (property)', () => {
    const base = make().pfn(RAM);
    const op = fc.oneof(
      fc.tuple(fc.constant('share' as const), fc.nat(63), fc.integer({ min: 1, max: 9 })),
      fc.tuple(fc.constant('unshare' as const), fc.nat(63), fc.integer({ min: 1, max: 9 })),
      fc.tuple(fc.constant('guest' as const), fc.nat(63), fc.integer({ min: 1, max: 4 })),
      fc.tuple(fc.constant('hyp' as const), fc.nat(63), fc.constant(1)),
      fc.tuple(fc.constant('unhyp' as const), fc.nat(63), fc.constant(1)),
      fc.tuple(fc.constant('pin' as const), fc.nat(63), fc.constant(1)),
      fc.tuple(fc.constant('unpin' as const), fc.nat(63), fc.constant(1)),
      fc.tuple(fc.constant('restore' as const), fc.nat(7), fc.constant(0)),
      fc.tuple(fc.constant('mark' as const), fc.constant(0), fc.constant(0)),
    );
    let differed = 0;
    let checks = 0;
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const s = make();
        const saved = [s.snapshot()];
        let m = s.mark();
        let fp = s.fingerprint();
        for (const [what, i, n] of ops) {
          const pfn = base + i;
          if (what === 'share') s.hostShareFFA(pfn, n, { rangeValidation: true });
          else if (what === 'unshare') s.hostUnshareFFA(pfn, n, { rangeValidation: true });
          else if (what === 'guest') s.hostDonateGuest(pfn, n);
          else if (what === 'hyp') s.hostShareHyp(pfn);
          else if (what === 'unhyp') s.hostUnshareHyp(pfn);
          else if (what === 'pin') s.hypPin(pfn);
          else if (what === 'unpin') s.hypUnpin(pfn);
          else if (what === 'restore') s.restore(saved[i % saved.length]!);
          else {
            m = s.mark();
            fp = s.fingerprint();
            saved.push(s.snapshot());
          }
          const same = s.fingerprint() === fp;
          expect(s.sameAsMark(m)).toBe(same);
          checks++;
          if (!same) differed++;
        }
      }),
      { numRuns: 400, seed: 5 },
    );
    expect(differed).toBeGreaterThan(100);
    expect(checks - differed).toBeGreaterThan(100);
  });

  it('a mark with more changes than its undo log holds rebuilds the marked state once, and still answers', () => {
    const s = make();
    const p = s.pfn(RAM);
    for (let k = 0; k < 4000; k += 2) s.hostShareFFA(p + k, 1, { rangeValidation: true }); // ~4 000 runs
    const fragmented = s.snapshot();
    const flat = make().snapshot();
    const m = s.mark();
    const fp = s.fingerprint();
    expect(s.hostShareFFA(p + 5000, 3, { rangeValidation: true })).toBe(0); // logged first: one run
    for (let k = 0; k < 3; k++) {
      s.restore(flat); // each logs every run the map had: past the log's limit by the third
      s.restore(fragmented);
    }
    expect(s.fingerprint()).toBe(fp);
    expect(s.sameAsMark(m)).toBe(true);
    s.hostShareFFA(p + 5000, 3, { rangeValidation: true });
    expect(s.sameAsMark(m)).toBe(false);
    s.hostUnshareFFA(p + 5000, 3, { rangeValidation: true });
    expect(s.sameAsMark(m)).toBe(true);
    s.hostUnshareFFA(p, 1, { rangeValidation: true });
    expect(s.sameAsMark(m)).toBe(false);
  });
});
