/**
 * Regression scenarios H1–H20 (bug-history.md part C) through the whole world: host driver or raw SMCs → proxy
 * → SPMD → SPMC. Each case names its bug; each shows the old behaviour on its era's profile and the fix on the
 * next (or, where no fix exists, on every profile).
 */
import { describe, expect, it } from 'vitest';
import { FFA } from '../../src/ffa/ids.ts';
import { createProfile } from '../../src/hyp/profiles.ts';
import { RegisterFile } from '../../src/smccc/regs.ts';
import type { SPMCQuirks } from '../../src/spmc/types.ts';
import { defaultWorldConfig, type WorldConfig } from '../../src/world/config.ts';
import { createWorld, type World, type WorldOptions } from '../../src/world/world.ts';

function mk(
  profile: string,
  o: {
    cfg?: (c: WorldConfig) => void;
    opts?: Omit<WorldOptions, 'config' | 'profile'>;
    with?: string[];
    without?: string[];
  } = {},
): World {
  const config = defaultWorldConfig();
  o.cfg?.(config);
  return createWorld({
    ...(o.opts ?? {}),
    config,
    profile: createProfile(profile, { with: o.with ?? [], without: o.without ?? [] }),
  });
}

function ready(w: World): void {
  expect(w.host.negotiate().ok).toBe(true);
  expect(w.host.rxtxMap().ok).toBe(true);
}

const err = (r: RegisterFile): number | undefined => (r.w(0) === FFA.ERROR ? r.w(2) | 0 : undefined);

/** Did the hyp forward this exact host register file to EL3 during the last call? */
function forwardedAsIs(w: World, regs: RegisterFile): boolean {
  const hex = regs.toHex().join();
  return (w.trace?.events ?? []).some(
    (e) =>
      e.kind === 'hop' &&
      e.from === 'hyp' &&
      e.to === 'spmd' &&
      e.dir === 'call' &&
      e.call === w.calls &&
      e.regs.join() === hex,
  );
}

describe('H1: 32-bit DIRECT_REQ', () => {
  it('NOT_SUPPORTED on linux-6.6, forwarded from linux-6.10', () => {
    for (const [p, fwd] of [
      ['linux-6.6', false],
      ['linux-6.10', true],
      ['ffa-1.2', true],
    ] as const) {
      const w = mk(p, {
        cfg: (c: WorldConfig) => {
          c.spmc.versionLock = 'tfa';
        },
      });
      w.host.negotiate();
      const r = w.host.directReq(0x8001, [1n, 2n], { smc64: false });
      expect(r.ok).toBe(fwd);
      if (!fwd) expect(err(r.regs)).toBe(-1);
      // 32-bit DIRECT_RESP stays denied everywhere.
      expect(err(w.smc([FFA.MSG_SEND_DIRECT_RESP, 0x80010000]))).toBe(-1);
    }
  });
});

describe('H2/H3: calls above 0x7F and the version gate', () => {
  it('0x84000080 before VERSION: forwarded on 6.6/6.10; INVALID_PARAMETERS from 6.11; after negotiation forwarded (6.11) or NOT_SUPPORTED (ffa-1.2)', () => {
    for (const [p, before, after] of [
      ['linux-6.6', 'F', 'F'],
      ['linux-6.10', 'F', 'F'],
      ['linux-6.11', -2, 'F'],
      ['ffa-1.2', -2, -1],
    ] as const) {
      const w = mk(p);
      const regs = RegisterFile.of([0x84000080, 0x80010000, 0, 1]);
      const r1 = w.smc(regs);
      if (before === 'F') expect(forwardedAsIs(w, regs)).toBe(true);
      else expect(err(r1)).toBe(before);
      w.smc([FFA.VERSION, 0x10002]);
      const r2 = w.smc(regs);
      if (after === 'F') expect(forwardedAsIs(w, regs)).toBe(true);
      else expect(err(r2)).toBe(after);
    }
  });
});

describe('H4: PARTITION_INFO_GET results reach the host RX', () => {
  it('linux-6.10: host RX stays empty; linux-6.11: descriptors copied', () => {
    for (const [p, copied] of [
      ['linux-6.10', false],
      ['linux-6.11', true],
    ] as const) {
      const w = mk(p, {
        cfg: (c: WorldConfig) => {
          c.spmc.versionLock = 'tfa';
        },
      });
      ready(w);
      const r = w.smc([FFA.PARTITION_INFO_GET, 0, 0, 0, 0, 0]);
      expect(r.w(0)).toBe(FFA.SUCCESS);
      const first = w.mem.read(w.host.rx, 2);
      expect(first[0] === 0x01 && first[1] === 0x80).toBe(copied);
    }
  });
});

describe('H5/H3: the descriptor layout follows hyp_ffa_version', () => {
  it('linux-6.10 parses v1.0 layouts: a host that negotiated 1.1 directly with the SPMC is misparsed', () => {
    const w = mk('linux-6.10', {
      cfg: (c: WorldConfig) => {
        c.spmc.versionLock = 'none';
        c.host.driverVersion = '1.1';
      },
    });
    ready(w);
    expect(w.host.version).toBe(0x10001);
    const p = w.allocHostPages(1);
    const s = w.host.memShare({
      receivers: [{ id: 0x8001, perm: 'RW' }],
      constituents: [{ address: p, pageCount: 1 }],
    });
    expect(s.ok).toBe(false); // the hyp reads the EMAD at 32 (inside the v1.1 header) and rejects or misreads
    const w11 = mk('linux-6.11', {
      cfg: (c: WorldConfig) => {
        c.host.driverVersion = '1.1';
      },
    });
    ready(w11);
    const p2 = w11.allocHostPages(1);
    expect(
      w11.host.memShare({
        receivers: [{ id: 0x8001, perm: 'RW' }],
        constituents: [{ address: p2, pageCount: 1 }],
      }).ok,
    ).toBe(true);
  });
});

describe('H6: a share that reclaim can never buffer', () => {
  const constituents = (w: World) => {
    const base = w.allocHostPages(2 * 2304);
    return Array.from({ length: 2304 }, (_, i) => ({ address: base + 2 * 4096 * i, pageCount: 1 }));
  };
  it('linux-6.11: share completes (fragmented), reclaim → NO_MEMORY, pages stuck SHARED_OWNED', () => {
    const w = mk('linux-6.11');
    ready(w);
    const cs = constituents(w);
    const s = w.host.memShare({ receivers: [{ id: 0x8001, perm: 'RW' }], constituents: cs });
    expect(s.ok).toBe(true);
    if (!s.ok) return;
    expect(s.value.fragments).toBeGreaterThan(1);
    const r = w.host.memReclaim(s.value.handle);
    expect(r.ok || r.error).toBe('NO_MEMORY');
    expect(w.stage2.hostState(cs[0]!.address)).toBe('SHARED_OWNED');
    expect(w.spmc.transactions()).toHaveLength(1);
  });
  it('ffa-1.2-v9 and later: the first MEM_SHARE → NO_MEMORY, nothing shared', () => {
    const w = mk('ffa-1.2-v9');
    ready(w);
    const cs = constituents(w);
    const s = w.host.memShare({ receivers: [{ id: 0x8001, perm: 'RW' }], constituents: cs });
    expect(s.ok || s.error).toBe('NO_MEMORY');
    expect(w.stage2.hostState(cs[0]!.address)).toBe('OWNED');
  });
});

describe('H8: version downgrade after negotiation', () => {
  it('VERSION(1.2) → 1.2, then VERSION(1.1) → −1 (ffa-1.2) or 1.2 (linux-6.11); VERSION(1.3) → 1.2', () => {
    for (const [p, down] of [
      ['linux-6.11', 0x10001n],
      ['ffa-1.2', 0xffff_ffff_ffff_ffffn],
    ] as const) {
      const w = mk(p);
      expect(w.smc([FFA.VERSION, 0x10002]).w(0)).toBe(p === 'linux-6.11' ? 0x10001 : 0x10002);
      expect(w.smc([FFA.VERSION, 0x10001]).x(0)).toBe(down);
      expect(w.smc([FFA.VERSION, 0x10003]).w(0)).toBe(p === 'linux-6.11' ? 0x10001 : 0x10002);
    }
  });
});

describe('H9: FEATURES(RXTX_MAP) w2 = 0x00010000', () => {
  it('pKVM init fails (6.6/6.10), every VERSION NOT_SUPPORTED (6.11), negotiation succeeds (v9 and later)', () => {
    const q = (c: WorldConfig) => {
      c.spmc.quirks.featuresRxtxExtraBits = 0x0001_0000;
    };
    expect(mk('linux-6.10', { cfg: q }).init.kind).toBe('failed');
    expect(mk('linux-6.11', { cfg: q }).smc([FFA.VERSION, 0x10001]).x(0)).toBe(0xffff_ffff_ffff_ffffn);
    expect(mk('ffa-1.2-v9', { cfg: q }).smc([FFA.VERSION, 0x10002]).w(0)).toBe(0x10002);
  });
});

describe('H10/H11/H16: registers of hyp-handled replies', () => {
  it('FFA_VERSION with x1–x17 preset: stale hyp stack (6.11 x1–x3, v9 x1–x7, 1.2 x1–x17) vs zero (hardened)', () => {
    const preset = [FFA.VERSION, 0x10002, ...new Array(16).fill(0xaa)];
    for (const [p, stale, caller] of [
      ['linux-6.11', [1, 3], [4, 17]],
      ['ffa-1.2-v9', [1, 7], [8, 17]],
      ['ffa-1.2', [1, 17], undefined],
      ['ffa-1.2-hardened', undefined, undefined],
    ] as const) {
      const w = mk(p);
      w.smc([FFA.VERSION, 0x10002]);
      const r = w.smc(preset);
      for (let i = 1; i < 18; i++) {
        const isStale = stale !== undefined && i >= stale[0] && i <= stale[1];
        const isCaller = caller !== undefined && i >= caller[0] && i <= caller[1];
        if (isCaller) expect(r.x(i)).toBe(0xaan);
        else if (isStale) expect(r.isZero(i) || r.x(i) === 0xaan).toBe(false);
        else expect(r.isZero(i)).toBe(true);
      }
      expect(w.hyp.counters.leaks.length > 0).toBe(stale !== undefined);
    }
  });
});

describe('H12: page ranges beyond the host IPA space', () => {
  it('DENIED with range-validation, and DENIED (not RAM) without it: no state change either way', () => {
    for (const p of ['linux-6.11', 'ffa-1.2']) {
      const w = mk(p);
      ready(w);
      const s = w.host.memShare({
        receivers: [{ id: 0x8001, perm: 'RW' }],
        constituents: [{ address: 2n ** 41n, pageCount: 1 }],
      });
      expect(s.ok || s.error).toBe('DENIED');
    }
  });
});

/** A quirky SPMC: rewrites the composite offset / range count of its retrieve response (H13). */
function retrieveQuirk(mut: (v: DataView, b: Uint8Array) => { len?: number }): SPMCQuirks {
  return {
    retrieveResponse: (desc) => {
      const b = desc.slice();
      const m = mut(new DataView(b.buffer), b);
      return m.len === undefined
        ? { bytes: b }
        : { bytes: b.subarray(0, m.len), totalLength: m.len, fragmentLength: m.len };
    },
  };
}

describe('H13: reclaim trusts the SPMC retrieve response', () => {
  it('composite_off = 90 in a 96-byte response: ffa-1.2 reads past len (recorded), hardened → ABORTED, no RECLAIM sent', () => {
    const q = retrieveQuirk((v) => {
      v.setUint32(52, 90, true);
      return { len: 96 };
    });
    for (const [p, aborted] of [
      ['ffa-1.2', false],
      ['ffa-1.2-hardened', true],
    ] as const) {
      const w = mk(p, { opts: { spmcQuirks: q } });
      ready(w);
      const page = w.allocHostPages(1);
      const s = w.host.memShare({
        receivers: [{ id: 0x8001, perm: 'RW' }],
        constituents: [{ address: page, pageCount: 1 }],
      });
      expect(s.ok).toBe(true);
      if (!s.ok) continue;
      const r = w.host.memReclaim(s.value.handle);
      if (aborted) {
        expect(r.ok || r.error).toBe('ABORTED');
        expect(w.spmc.transactions()).toHaveLength(1); // RECLAIM not sent: the handle stays live
        expect(w.stage2.hostState(page)).toBe('SHARED_OWNED');
        expect(w.hyp.counters.oob).toHaveLength(0);
      } else {
        expect(w.hyp.counters.oob.length).toBeGreaterThan(0); // reads beyond the 96-byte response
        expect(w.spmc.transactions()).toHaveLength(0); // RECLAIM was sent
      }
    }
  });
});

describe('H14: the hyp reads the EMAD at 48 while the SPMC honours ep_mem_offset', () => {
  it('decoy EMAD: ffa-1.2 shares Y while the SPMC shares guest page X; hardened → DENIED, nothing forwarded', () => {
    for (const [p, isolated] of [
      ['ffa-1.2', false],
      ['ffa-1.2-hardened', true],
    ] as const) {
      const w = mk(p, {
        cfg: (c: WorldConfig) => {
          c.host.driverVersion = '1.1';
          c.spmc.exactLength = false;
        },
      });
      ready(w);
      const X = 0xf000_0000; // guest-owned
      const Y = w.allocHostPages(1);
      const b = new Uint8Array(144);
      const v = new DataView(b.buffer);
      v.setUint16(2, 0x2f, true);
      v.setUint32(24, 16, true);
      v.setUint32(28, 1, true);
      v.setUint32(32, 64, true); // ep_mem_offset
      v.setUint16(48, 0x8001, true); // decoy EMAD → composite A at 112
      v.setUint8(50, 2);
      v.setUint32(52, 112, true);
      v.setUint16(64, 0x8001, true); // real EMAD → composite B at 80
      v.setUint8(66, 2);
      v.setUint32(68, 80, true);
      v.setUint32(80, 1, true);
      v.setUint32(84, 1, true);
      v.setBigUint64(96, BigInt(X), true);
      v.setUint32(104, 1, true);
      v.setUint32(112, 1, true);
      v.setUint32(116, 1, true);
      v.setBigUint64(128, BigInt(Y), true);
      v.setUint32(136, 1, true);
      w.mem.write(w.host.tx, b);
      const r = w.smc([FFA.MEM_SHARE64, 144, 144]);
      if (isolated) {
        expect(err(r)).toBe(-6);
        expect(w.spmc.transactions()).toHaveLength(0);
      } else {
        expect(w.stage2.hostState(Y)).toBe('SHARED_OWNED');
        const held = w.spmc.transactions().flatMap((t) => t.constituents.map((c) => Number(c.address)));
        expect(held).toContain(X);
        expect(w.stage2.hostState(X)).toBe('NOPAGE:guest');
      }
    }
  });
});

describe('H15: unaligned constituent on 16 KiB pages', () => {
  it('ffa-1.2: page P shared while the tail page stays OWNED; hardened: DENIED', () => {
    for (const [p, denied] of [
      ['ffa-1.2', false],
      ['ffa-1.2-hardened', true],
    ] as const) {
      const w = mk(p, {
        cfg: (c: WorldConfig) => {
          c.pageSize = 16384;
        },
      });
      ready(w);
      const P = w.allocHostPages(2);
      const s = w.host.memShare({
        receivers: [{ id: 0x8001, perm: 'RW' }],
        constituents: [{ address: P + 0x1000, pageCount: 4 }],
      });
      if (denied) {
        expect(s.ok || s.error).toBe('DENIED');
        expect(w.stage2.hostState(P)).toBe('OWNED');
      } else {
        expect(s.ok).toBe(true);
        expect(w.stage2.hostState(P)).toBe('SHARED_OWNED');
        expect(w.stage2.hostState(P + 0x4000)).toBe('OWNED'); // the SPMC holds P+0x1000..P+0x4FFF
      }
    }
  });
});

describe('H17: a zero-extended NOT_SUPPORTED from FFA_VERSION', () => {
  it('6.18 compares 64-bit and takes the refusal of a bit-31 downgrade as acceptance; version-ns-s32 does not', () => {
    const q = (c: WorldConfig) => {
      c.spmc.quirks.versionNotSupported32 = true;
    };
    // w1 = 0x80010001: major 1 (bits [30:16]), minor 1 < 2 → a downgrade the hyp forwards with bit 31 set; the
    // SPMC refuses (bit 31 MBZ) with the 32-bit NOT_SUPPORTED.
    const w = mk('ffa-1.2', { cfg: q });
    const r = w.smc([FFA.VERSION, 0x80010001]);
    expect(r.w(0)).toBe(0x80010001);
    expect(w.hyp.negotiated).toBe(true);
    expect(w.hyp.hypVersion).toBe(0x80010001);
    const fixed = mk('ffa-1.2', { cfg: q, with: ['version-ns-s32'] });
    const f = fixed.smc([FFA.VERSION, 0x80010001]);
    expect(f.x(0)).toBe(0xffff_ffffn);
    expect(fixed.hyp.negotiated).toBe(false);
  });
});

describe('H18: a failing FRAG_TX leaves earlier pages stuck', () => {
  it('first fragment shared, FRAG_TX over a guest page → DENIED, hyp reclaims at the SPMC, A stays SHARED_OWNED', () => {
    const w = mk('ffa-1.2');
    ready(w);
    const A = w.allocHostPages(1);
    const b = new Uint8Array(96 + 16);
    const v = new DataView(b.buffer);
    v.setUint16(2, 0x2f, true);
    v.setUint32(24, 32, true);
    v.setUint32(28, 1, true);
    v.setUint32(32, 48, true);
    v.setUint16(48, 0x8001, true);
    v.setUint8(50, 2);
    v.setUint32(52, 80, true);
    v.setUint32(80, 2, true);
    v.setUint32(84, 2, true);
    v.setBigUint64(96, BigInt(A), true);
    v.setUint32(104, 1, true);
    w.mem.write(w.host.tx, b);
    const first = w.smc([FFA.MEM_SHARE64, 128, 112]);
    expect(first.w(0)).toBe(FFA.MEM_FRAG_RX);
    const frag = new Uint8Array(16);
    new DataView(frag.buffer).setBigUint64(0, 0xf000_0000n, true);
    new DataView(frag.buffer).setUint32(8, 1, true);
    w.mem.write(w.host.tx, frag);
    expect(err(w.smc([FFA.MEM_FRAG_TX, first.w(1), first.w(2), 16]))).toBe(-6);
    expect(w.stage2.hostState(A)).toBe('SHARED_OWNED');
    // A Hafnium-like SPMC refuses to reclaim a partly sent handle: the hyp's WARN fires (bug-history.md H18).
    expect(w.hyp.counters.warns.length).toBe(1);
  });
});

describe('H19: reclaim releases the hyp RX', () => {
  it('linux-6.6: the second reclaim is answered BUSY; linux-6.10: both succeed', () => {
    for (const [p, second] of [
      ['linux-6.6', 'BUSY'],
      ['linux-6.10', 'ok'],
    ] as const) {
      const w = mk(p, {
        cfg: (c: WorldConfig) => {
          c.spmc.versionLock = 'tfa';
          c.host.driverVersion = '1.0';
        },
      });
      ready(w);
      const page = w.allocHostPages(1);
      const res: string[] = [];
      for (let i = 0; i < 2; i++) {
        const s = w.host.memShare({
          receivers: [{ id: 0x8001, perm: 'RW' }],
          constituents: [{ address: page + i * 4096, pageCount: 1 }],
        });
        expect(s.ok).toBe(true);
        if (!s.ok) continue;
        const r = w.host.memReclaim(s.value.handle);
        res.push(r.ok ? 'ok' : r.error);
      }
      expect(res).toEqual(['ok', second]);
    }
  });
});

describe('H20: an SPMC that answers a completed share with FFA_SUCCESS64', () => {
  it('every profile: the page ends OWNED while the SPMC holds the share; the host driver sees UNEXPECTED', () => {
    for (const p of ['linux-6.11', 'ffa-1.2', 'ffa-1.2-hardened']) {
      const w = mk(p, {
        cfg: (c: WorldConfig) => {
          c.spmc.quirks.shareSuccess64 = true;
        },
      });
      ready(w);
      const page = w.allocHostPages(1);
      const s = w.host.memShare({
        receivers: [{ id: 0x8001, perm: 'RW' }],
        constituents: [{ address: page, pageCount: 1 }],
      });
      expect(s.ok || s.error).toBe('UNEXPECTED');
      expect(s.regs.w(0)).toBe(FFA.SUCCESS64);
      expect(w.stage2.hostState(page)).toBe('OWNED');
      expect(w.spmc.transactions().flatMap((t) => t.constituents.map((c) => Number(c.address)))).toContain(
        page,
      );
    }
  });
});
