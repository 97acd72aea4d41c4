/**
 * Why this test? The six patches of "KVM: arm64: Support FF-A 1.2" (seed-cover-letter.txt) each change one
 * observable behaviour. Every case below must hold on `ffa-1.2` and must NOT hold with its change removed —
 * so each patch has a test that fails on the profile before it and passes after.
 */
import { describe, expect, it } from 'vitest';
import { FFA } from '../../src/ffa/ids.ts';
import { RegisterFile } from '../../src/smccc/regs.ts';
import { type Harness, makeHarness } from './harness.ts';

const PATCHES: { patch: string; change: string; holds: (h: () => Harness) => boolean }[] = [
  {
    patch: '1/6 Correct return value on host version downgrade attempt',
    change: 'version-downgrade-reject',
    holds: (mk) => {
      const h = mk();
      h.call([FFA.VERSION, 0x10002]);
      return h.call([FFA.VERSION, 0x10001]).x(0) === 0xffff_ffff_ffff_ffffn;
    },
  },
  {
    patch: '2/6 Use SMCCC 1.2 for FF-A initialization and in host handler',
    change: 'smccc12-retval-all',
    holds: (mk) => {
      // An SMC32 handled call (RXTX_UNMAP with bad w1) with x4–x17 preset: x0–x17 are all written back.
      const h = mk();
      h.setup();
      const regs = [
        FFA.RXTX_UNMAP,
        1,
        0,
        0,
        0xaa,
        0xaa,
        0xaa,
        0xaa,
        0xbb,
        0xbb,
        0xbb,
        0xbb,
        0xbb,
        0xbb,
        0xbb,
        0xbb,
        0xbb,
        0xbb,
      ];
      const out = h.call(regs);
      return out.isZero(4) && out.isZero(8) && out.isZero(17);
    },
  },
  {
    patch: '3/6 Mark FFA_NOTIFICATION_* calls as unsupported',
    change: 'deny-notifications',
    holds: (mk) => {
      const h = mk();
      h.setup();
      const out = h.call([FFA.NOTIFICATION_BIND, 0x80010000, 0, 1, 0]);
      const feat = h.call([FFA.FEATURES, FFA.NOTIFICATION_SET]);
      return (
        out.w(0) === FFA.ERROR && (out.w(2) | 0) === -1 && (feat.w(2) | 0) === -1 && feat.w(0) === FFA.ERROR
      );
    },
  },
  {
    patch: '4/6 Mark optional FF-A 1.2 interfaces as unsupported',
    change: 'deny-ffa12-optional',
    holds: (mk) => {
      const h = mk();
      h.setup();
      h.sent.length = 0;
      const out = h.call([FFA.MSG_SEND_DIRECT_REQ2, 0x8001, 0, 0, 7]);
      return out.w(0) === FFA.ERROR && (out.w(2) | 0) === -1 && h.sent.length === 0;
    },
  },
  {
    patch: '5/6 Mask response to FFA_FEATURE call',
    change: 'features-rxtx-mask',
    holds: (mk) => {
      const h = mk();
      // A 1.2 SPMC reporting a maximum RXTX size in w2[31:16] (bug H9).
      h.respond.push((r) =>
        r.w(0) === FFA.FEATURES && r.w(1) === FFA.RXTX_MAP64
          ? new RegisterFile().setW(0, FFA.SUCCESS).setW(2, 0x0001_0000)
          : undefined,
      );
      return h.call([FFA.VERSION, 0x10002]).w(0) === 0x10002;
    },
  },
  {
    patch: '6/6 Bump the supported version of FF-A to 1.2',
    change: 'hyp-ffa-v1-2',
    holds: (mk) => {
      const h = mk();
      return h.sent[0]!.w(1) === 0x10002 && h.call([FFA.VERSION, 0x10002]).w(0) === 0x10002;
    },
  },
];

describe.each(PATCHES)('seed patch $patch ($change)', ({ change, holds }) => {
  it('holds on ffa-1.2', () => {
    expect(holds(() => makeHarness('ffa-1.2'))).toBe(true);
  });
  it(`does not hold on ffa-1.2 without ${change}`, () => {
    expect(holds(() => makeHarness('ffa-1.2', { without: [change] }))).toBe(false);
  });
});

describe('series state: v9 vs merged v11', () => {
  it('v9 copies x8–x17 only for SMC64 callers; v11 always', () => {
    for (const [profile, want] of [
      ['ffa-1.2-v9', 0xbbn],
      ['ffa-1.2', 0n],
    ] as const) {
      const h = makeHarness(profile);
      h.setup();
      const out = h.call([FFA.RXTX_UNMAP, 1, 0, 0, 0, 0, 0, 0, 0xbb]);
      expect(out.x(8)).toBe(want);
      expect(out.isZero(4)).toBe(true); // x0–x7 are written on both
    }
  });

  it('pre-series writes only x0–x3 (H11)', () => {
    const h = makeHarness('linux-6.11');
    h.setup();
    const out = h.call([FFA.RXTX_UNMAP, 1, 0, 0, 0xaa, 0, 0, 0, 0xbb]);
    expect(out.x(4)).toBe(0xaan);
    expect(out.x(8)).toBe(0xbbn);
  });

  it('FFA_EL3_INTR_HANDLE: NOT_SUPPORTED on v9, forwarded on v11', () => {
    const v9 = makeHarness('ffa-1.2-v9');
    v9.setup();
    expect(v9.call([FFA.EL3_INTR_HANDLE]).w(0)).toBe(FFA.ERROR);
    const v11 = makeHarness('ffa-1.2');
    v11.setup();
    v11.sent.length = 0;
    v11.call([FFA.EL3_INTR_HANDLE]);
    expect(v11.sent.map((r) => r.w(0))).toEqual([FFA.EL3_INTR_HANDLE]);
  });
});
