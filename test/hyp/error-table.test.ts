/**
 * Every row of the proxy's error table (proxy-behaviour.md §11, merged state = profile `ffa-1.2`, hardened rows
 * on `ffa-1.2-hardened`), with exact registers: hyp-made errors are x0 = FFA_ERROR, x2 = code sign-extended,
 * everything else 0; every rejected call leaves page states unchanged (I2).
 */
import { describe, expect, it } from 'vitest';
import { FFA } from '../../src/ffa/ids.ts';
import { RegisterFile } from '../../src/smccc/regs.ts';
import { errRegs, type Harness, makeHarness, ok, RAM } from './harness.ts';

const E = { NS: -1, INVAL: -2, NOMEM: -3, BUSY: -4, DENIED: -6, ABORTED: -8 } as const;

function expectHypError(out: RegisterFile, code: number): void {
  const want = new RegisterFile().setW(0, FFA.ERROR).setSigned32(2, code);
  expect(out.toHex()).toEqual(want.toHex());
}

/** Writes a v1.2 share descriptor (48-byte header, 32-byte EMAD, composite at 80) into the host TX. */
function writeShare(
  h: Harness,
  o: {
    constituents: [number | bigint, number][];
    sender?: number;
    epCount?: number;
    compositeOff?: number;
    emadOff?: number;
  },
): number {
  const n = o.constituents.length;
  const len = 96 + 16 * n;
  const b = new Uint8Array(len);
  const v = new DataView(b.buffer);
  v.setUint16(0, o.sender ?? 0, true);
  v.setUint16(2, 0x2f, true);
  v.setUint32(24, 32, true);
  v.setUint32(28, o.epCount ?? 1, true);
  v.setUint32(32, o.emadOff ?? 48, true);
  v.setUint16(48, 0x8001, true);
  v.setUint8(50, 2);
  v.setUint32(52, o.compositeOff ?? 80, true);
  v.setUint32(
    80,
    o.constituents.reduce((a, c) => a + c[1], 0),
    true,
  );
  v.setUint32(84, n, true);
  o.constituents.forEach(([addr, pages], i) => {
    v.setBigUint64(96 + 16 * i, BigInt(addr), true);
    v.setUint32(96 + 16 * i + 8, pages, true);
  });
  h.mem.write(h.TX, b);
  return len;
}

function ready(profile = 'ffa-1.2', o: Parameters<typeof makeHarness>[1] = {}): Harness {
  const h = makeHarness(profile, o);
  h.setup();
  h.sent.length = 0;
  return h;
}

const P = RAM + 0x200_0000; // a host-owned page

describe('error table (§11), profile ffa-1.2', () => {
  it('VERSION: major ≠ 1 → x0 = NOT_SUPPORTED (all ones), no SMC', () => {
    const h = makeHarness();
    h.sent.length = 0;
    expect(h.call([FFA.VERSION, 0x20000]).x(0)).toBe(0xffff_ffff_ffff_ffffn);
    expect(h.sent).toHaveLength(0);
  });

  it('VERSION: downgrade refused by the SPMC → the SPMC registers as they are', () => {
    const h = makeHarness();
    const refusal = new RegisterFile().setX(0, -1n).setW(1, 0x77);
    h.respond.push((r) => (r.w(0) === FFA.VERSION && r.w(1) === 0x10001 ? refusal.clone() : undefined));
    expect(h.call([FFA.VERSION, 0x10001]).toHex()).toEqual(refusal.toHex());
    expect(h.proxy.negotiated).toBe(false);
  });

  it('VERSION: post-init failure → NOT_SUPPORTED and negotiation stays open', () => {
    const h = makeHarness();
    h.respond.push((r) => (r.w(0) === FFA.ID_GET ? ok(5) : undefined));
    expect(h.call([FFA.VERSION, 0x10002]).x(0)).toBe(0xffff_ffff_ffff_ffffn);
    expect(h.proxy.negotiated).toBe(false);
    h.respond.length = 0;
    expect(h.call([FFA.VERSION, 0x10002]).w(0)).toBe(0x10002);
  });

  it('FEATURES: denied ID → NOT_SUPPORTED; MEM_SHARE/LEND → SUCCESS w2 = 0 from the hyp', () => {
    const h = ready();
    expectHypError(h.call([FFA.FEATURES, FFA.MEM_DONATE]), E.NS);
    const s = h.call([FFA.FEATURES, FFA.MEM_LEND64, 0xffff]);
    expect(s.toHex()).toEqual(new RegisterFile().setW(0, FFA.SUCCESS).toHex());
    expect(h.sent).toHaveLength(0);
  });

  describe('RXTX_MAP', () => {
    const fresh = () => {
      const h = makeHarness();
      h.call([FFA.VERSION, 0x10002]);
      h.sent.length = 0;
      return h;
    };
    it('page count ≠ PAGE_SIZE/4K → INVALID_PARAMETERS', () => {
      const h = fresh();
      expectHypError(h.call([FFA.RXTX_MAP64, h.TX, h.RX, 2]), E.INVAL);
      expect(h.sent).toHaveLength(0);
    });
    it('unaligned TX → INVALID_PARAMETERS', () => {
      const h = fresh();
      expectHypError(h.call([FFA.RXTX_MAP64, h.TX + 0x800, h.RX, 1]), E.INVAL);
    });
    it('already mapped → DENIED', () => {
      const h = ready();
      expectHypError(h.call([FFA.RXTX_MAP64, h.TX + 0x1000, h.RX + 0x1000, 1]), E.DENIED);
    });
    it("SPMC refuses the hyp's buffers → its w2 as the error, nothing shared", () => {
      const h = fresh();
      h.respond.push((r) => (r.w(0) === FFA.RXTX_MAP64 ? errRegs(-4 >>> 0) : undefined));
      const before = h.s2.fingerprint();
      expectHypError(h.call([FFA.RXTX_MAP64, h.TX, h.RX, 1]), E.BUSY);
      expect(h.s2.fingerprint()).toBe(before);
    });
    it('TX is guest-owned, or TX == RX → INVALID_PARAMETERS with rollback ending in RXTX_UNMAP', () => {
      for (const [tx, rx] of [
        [RAM + 0x6000_0000, RAM + 0x110_0000],
        [RAM + 0x100_0000, RAM + 0x100_0000],
      ]) {
        const h = fresh();
        const before = h.s2.fingerprint();
        expectHypError(h.call([FFA.RXTX_MAP64, tx!, rx!, 1]), E.INVAL);
        expect(h.s2.fingerprint()).toBe(before);
        expect(h.sent.at(-1)!.w(0)).toBe(FFA.RXTX_UNMAP);
      }
    });
  });

  it('RXTX_UNMAP: w1 ≠ 0, or not mapped → INVALID_PARAMETERS', () => {
    const h = ready();
    expectHypError(h.call([FFA.RXTX_UNMAP, 0x10000]), E.INVAL);
    expect(h.call([FFA.RXTX_UNMAP, 0]).w(0)).toBe(FFA.SUCCESS);
    expectHypError(h.call([FFA.RXTX_UNMAP, 0]), E.INVAL);
    expect(h.s2.hostState(h.TX)).toBe('OWNED');
  });

  describe('MEM_SHARE/LEND', () => {
    it('x3 ≠ 0, w4 ≠ 0, fraglen > len, fraglen > mailbox → INVALID_PARAMETERS', () => {
      const h = ready();
      const len = writeShare(h, { constituents: [[P, 1]] });
      for (const regs of [
        [FFA.MEM_SHARE64, len, len, 1, 0],
        [FFA.MEM_SHARE64, len, len, 0, 1],
        [FFA.MEM_SHARE64, len, len + 16],
        [FFA.MEM_SHARE64, 8192, 4112],
      ]) {
        expectHypError(h.call(regs), E.INVAL);
      }
      expect(h.sent).toHaveLength(0);
    });
    it('fraglen < 80 (6.18: header + 32-byte EMAD for every version) → INVALID_PARAMETERS', () => {
      const h = ready();
      expectHypError(h.call([FFA.MEM_SHARE, 79, 79]), E.INVAL);
    });
    it('host TX not mapped → INVALID_PARAMETERS', () => {
      const h = makeHarness();
      h.call([FFA.VERSION, 0x10002]);
      expectHypError(h.call([FFA.MEM_SHARE, 112, 112]), E.INVAL);
    });
    it('len > ffa_desc_buf (36 864) → NO_MEMORY before anything is copied', () => {
      const h = ready();
      writeShare(h, { constituents: [[P, 1]] });
      expectHypError(h.call([FFA.MEM_SHARE, 36880, 112]), E.NOMEM);
      expect(h.s2.hostState(P)).toBe('OWNED');
    });
    it('composite_off = 0, ep_count ≠ 1, sender ≠ 0 → INVALID_PARAMETERS', () => {
      for (const bad of [{ compositeOff: 0 }, { epCount: 2 }, { sender: 0x8001 }]) {
        const h = ready();
        const len = writeShare(h, { constituents: [[P, 1]], ...bad });
        expectHypError(h.call([FFA.MEM_SHARE, len, len]), E.INVAL);
      }
    });
    it('composite header beyond fraglen, or composite_off + 16 ≥ 2^32 (H7) → INVALID_PARAMETERS', () => {
      for (const off of [104, 0xfffffff0, 0xfffffff8, 0xffffffff]) {
        for (const profile of ['linux-6.11', 'ffa-1.2']) {
          const h = ready(profile);
          const len = writeShare(h, { constituents: [[P, 1]], compositeOff: off });
          expectHypError(h.call([FFA.MEM_SHARE, len, len]), E.INVAL);
          expect(h.sent).toHaveLength(0);
        }
      }
    });
    it('constituent bytes not a multiple of 16 → INVALID_PARAMETERS', () => {
      const h = ready();
      writeShare(h, { constituents: [[P, 1]] });
      expectHypError(h.call([FFA.MEM_SHARE, 120, 120]), E.INVAL);
    });
    it('guest-owned, out-of-IPA or unaligned size constituent → DENIED, earlier ones rolled back', () => {
      for (const bad of [RAM + 0x6000_0000, 2 ** 41] as const) {
        const h = ready();
        const len = writeShare(h, {
          constituents: [
            [P, 2],
            [bad, 1],
          ],
        });
        const before = h.s2.fingerprint();
        expectHypError(h.call([FFA.MEM_SHARE, len, len]), E.DENIED);
        expect(h.s2.fingerprint()).toBe(before);
      }
    });
    it('SPMC error, or a fragmented share answered with the wrong FRAG_RX offset → the SPMC registers; ranges unshared', () => {
      const h = ready();
      const len = writeShare(h, { constituents: [[P, 1]] });
      h.respond.push((r) => (r.w(0) === FFA.MEM_SHARE64 ? errRegs(-6 >>> 0) : undefined));
      const out = h.call([FFA.MEM_SHARE, len, len]);
      expect(out.toHex()).toEqual(errRegs(-6 >>> 0).toHex());
      expect(h.s2.hostState(P)).toBe('OWNED');
      h.respond.length = 0;
      h.respond.push((r) =>
        r.w(0) === FFA.MEM_SHARE64 ? new RegisterFile().setW(0, FFA.MEM_FRAG_RX).setW(3, 16) : undefined,
      );
      const len2 = writeShare(h, {
        constituents: [
          [P, 1],
          [P + 0x1000, 1],
        ],
      });
      h.call([FFA.MEM_SHARE, len2 + 16, len2]);
      expect(h.s2.hostState(P)).toBe('OWNED');
    });
  });

  describe('FRAG_TX', () => {
    it('fraglen > mailbox or not a multiple of 16 → INVALID_PARAMETERS', () => {
      const h = ready();
      expectHypError(h.call([FFA.MEM_FRAG_TX, 1, 0, 24]), E.INVAL);
      expectHypError(h.call([FFA.MEM_FRAG_TX, 1, 0, 8192]), E.INVAL);
    });
    it('a failing constituent → the hyp reclaims the handle and answers DENIED; earlier pages stay shared (H18)', () => {
      const h = ready();
      const len = writeShare(h, { constituents: [[P, 1]] });
      const first = h.call([FFA.MEM_SHARE, len + 16, len]);
      expect(first.w(0)).toBe(FFA.MEM_FRAG_RX);
      const frag = new Uint8Array(16);
      new DataView(frag.buffer).setBigUint64(0, BigInt(RAM + 0x6000_0000), true);
      new DataView(frag.buffer).setUint32(8, 1, true);
      h.mem.write(h.TX, frag);
      expectHypError(h.call([FFA.MEM_FRAG_TX, 0x1234, 0, 16]), E.DENIED);
      expect(h.sent.at(-1)!.w(0)).toBe(FFA.MEM_RECLAIM);
      expect(h.s2.hostState(P)).toBe('SHARED_OWNED');
    });
  });

  it('PARTITION_INFO_GET: host RX not mapped → BUSY; count × size > mailbox → ABORTED', () => {
    const h = makeHarness();
    h.call([FFA.VERSION, 0x10002]);
    expectHypError(h.call([FFA.PARTITION_INFO_GET]), E.BUSY);
    h.setup();
    h.respond.push((r) => (r.w(0) === FFA.PARTITION_INFO_GET ? ok(200, 24) : undefined));
    expectHypError(h.call([FFA.PARTITION_INFO_GET]), E.ABORTED);
  });

  it('deny list → NOT_SUPPORTED with every other register 0', () => {
    const h = ready();
    const regs = new Array(18).fill(0x77);
    regs[0] = FFA.MEM_DONATE;
    expectHypError(h.call(regs), E.NS);
  });
});
