/** The host driver's registers and descriptors, against a scripted responder (not the SPMC). */
import { describe, expect, it } from 'vitest';
import { parseMemTransaction } from '../../src/ffa/desc/index.ts';
import { FFA } from '../../src/ffa/ids.ts';
import { HostDriver, type HostQuirks } from '../../src/host/index.ts';
import { PhysMem } from '../../src/mem/phys.ts';
import { RegisterFile } from '../../src/smccc/regs.ts';

function driver(
  o: {
    pageSize?: 4096 | 16384 | 65536;
    version?: number;
    quirks?: HostQuirks;
    answer?: (r: RegisterFile, sent: RegisterFile[]) => RegisterFile | undefined;
  } = {},
) {
  const mem = new PhysMem();
  const sent: RegisterFile[] = [];
  let next = 0x8800_0000;
  const ps = o.pageSize ?? 4096;
  const d = new HostDriver({
    mem,
    pageSize: ps,
    allocPages: (n) => {
      const a = next;
      next += n * ps;
      return a;
    },
    ...(o.quirks ? { quirks: o.quirks } : {}),
    smc: (r) => {
      sent.push(r.clone());
      const a = o.answer?.(r, sent);
      if (a) return a;
      if (r.w(0) === FFA.VERSION) return new RegisterFile().setW(0, o.version ?? 0x10002);
      if (r.w(0) === FFA.MEM_SHARE64 || r.w(0) === FFA.MEM_LEND64) {
        return r.w(1) === r.w(2)
          ? new RegisterFile().setW(0, FFA.SUCCESS).setW(2, 7)
          : new RegisterFile().setW(0, FFA.MEM_FRAG_RX).setW(1, 7).setW(3, r.w(2));
      }
      if (r.w(0) === FFA.MEM_FRAG_TX) {
        const total = sent.find((x) => x.w(0) === FFA.MEM_SHARE64)!.w(1);
        const so = sent
          .filter((x) => x.w(0) === FFA.MEM_SHARE64 || x.w(0) === FFA.MEM_FRAG_TX)
          .reduce((a, x) => a + (x.w(0) === FFA.MEM_SHARE64 ? x.w(2) : x.w(3)), 0);
        return so >= total
          ? new RegisterFile().setW(0, FFA.SUCCESS).setW(2, 7)
          : new RegisterFile().setW(0, FFA.MEM_FRAG_RX).setW(1, 7).setW(3, so);
      }
      return new RegisterFile().setW(0, FFA.SUCCESS);
    },
  });
  return { d, mem, sent };
}

describe('host driver', () => {
  it('adopts the older version (Linux ffa_compatible_version_find)', () => {
    expect(
      driver({ version: 0x10001 }).d.negotiate().ok && driver({ version: 0x10001 }).d.negotiate(),
    ).toMatchObject({ value: { version: 0x10001 } });
    const n = driver({ version: 0x10003 }).d.negotiate();
    expect(n.ok && n.value.version).toBe(0x10002);
    const ns = driver({
      answer: (r) => (r.w(0) === FFA.VERSION ? new RegisterFile().setW(0, 0xffffffff) : undefined),
    }).d.negotiate();
    expect(ns.ok || ns.error).toBe('NOT_SUPPORTED'); // (s32) compare: a zero-extended -1 counts (D7 fix)
  });

  it('RXTX_MAP sends PAGE_SIZE/4K pages (D13 fix) on 4K/16K/64K kernels', () => {
    for (const ps of [4096, 16384, 65536] as const) {
      const { d, sent } = driver({ pageSize: ps });
      d.negotiate();
      expect(d.rxtxMap().ok).toBe(true);
      const m = sent.find((r) => r.w(0) === FFA.RXTX_MAP64)!;
      expect(m.w(3)).toBe(ps / 4096);
      expect(m.x(1) % BigInt(ps)).toBe(0n);
    }
  });

  it('SHARE carries attributes 0x2F, LEND none (D3 fix); 32-byte EMADs at 1.2, 16 at 1.1 (D11); ep_mem_offset 48', () => {
    for (const [v, layout, size] of [
      [0x10002, '1.2', 32],
      [0x10001, '1.1', 16],
    ] as const) {
      const { d, mem } = driver({ version: v });
      d.negotiate();
      d.rxtxMap();
      for (const kind of ['share', 'lend'] as const) {
        const r =
          kind === 'share'
            ? d.memShare({
                receivers: [{ id: 0x8001, perm: 'RW' }],
                constituents: [{ address: 0x9000_0000, pageCount: 1 }],
              })
            : d.memLend({
                receivers: [{ id: 0x8001, perm: 'RO' }],
                constituents: [{ address: 0x9000_0000, pageCount: 1 }],
              });
        expect(r.ok).toBe(true);
        const t = parseMemTransaction(mem.read(d.tx, 64 + size + 32), layout, { exactLength: false });
        expect(t.ok).toBe(true);
        if (!t.ok) continue;
        expect(t.value.attributes).toBe(kind === 'share' ? 0x2f : 0);
        expect(t.value.emadSize).toBe(size);
        expect(t.value.emadOffset).toBe(48);
        expect(t.value.handle).toBe(0n);
        expect(t.value.emads[0]!.access.permissions).toBe(kind === 'share' ? 2 : 1);
      }
    }
  });

  it('fragments a descriptor larger than the TX buffer on constituent boundaries', () => {
    const { d, sent } = driver();
    d.negotiate();
    d.rxtxMap();
    const constituents = Array.from({ length: 600 }, (_, i) => ({
      address: 0x9000_0000 + i * 0x2000,
      pageCount: 1,
    }));
    const r = d.memShare({ receivers: [{ id: 0x8001, perm: 'RW' }], constituents });
    expect(r.ok && r.value.fragments).toBe(3);
    const first = sent.find((x) => x.w(0) === FFA.MEM_SHARE64)!;
    expect(first.w(1)).toBe(96 + 600 * 16);
    expect(first.w(2)).toBe(96 + 250 * 16);
    const frags = sent.filter((x) => x.w(0) === FFA.MEM_FRAG_TX).map((x) => x.w(3));
    expect(frags).toEqual([4096, 600 * 16 - 250 * 16 - 4096]);
  });

  it('an FFA_SUCCESS64 answer is not success (ffa_mem_first_frag; bug H20)', () => {
    const { d } = driver({
      answer: (r) =>
        r.w(0) === FFA.MEM_SHARE64 ? new RegisterFile().setW(0, FFA.SUCCESS64).setW(2, 1) : undefined,
    });
    d.negotiate();
    d.rxtxMap();
    const r = d.memShare({
      receivers: [{ id: 0x8001, perm: 'RW' }],
      constituents: [{ address: 0x9000_0000, pageCount: 1 }],
    });
    expect(r.ok || r.error).toBe('UNEXPECTED');
  });

  it('partition discovery: count-only, full query, RX_RELEASE (no release after count-only — D10 fix)', () => {
    const { d, sent } = driver({
      answer: (r) =>
        r.w(0) === FFA.PARTITION_INFO_GET
          ? new RegisterFile().setW(0, FFA.SUCCESS).setW(2, 1).setW(3, 24)
          : undefined,
    });
    d.negotiate();
    d.rxtxMap();
    d.partitionInfo();
    expect(sent.slice(-3).map((r) => [r.w(0), r.w(5)])).toEqual([
      [FFA.PARTITION_INFO_GET, 1],
      [FFA.PARTITION_INFO_GET, 0],
      [FFA.RX_RELEASE, 0],
    ]);
    const q = driver({
      quirks: { releaseAfterCountOnly: true },
      answer: (r) =>
        r.w(0) === FFA.PARTITION_INFO_GET
          ? new RegisterFile().setW(0, FFA.SUCCESS).setW(2, 1).setW(3, 24)
          : undefined,
    });
    q.d.negotiate();
    q.d.rxtxMap();
    q.d.partitionInfo();
    expect(q.sent.filter((r) => r.w(0) === FFA.RX_RELEASE)).toHaveLength(2);
  });

  it('YIELD → FFA_RUN until DIRECT_RESP', () => {
    let n = 0;
    const { d, sent } = driver({
      answer: (r) => {
        if (r.w(0) === FFA.MSG_SEND_DIRECT_REQ64 || r.w(0) === FFA.RUN) {
          return n++ < 2
            ? new RegisterFile().setW(0, FFA.YIELD).setW(1, 0x80010000)
            : new RegisterFile().setW(0, FFA.MSG_SEND_DIRECT_RESP64).setX(3, 42n);
        }
        return undefined;
      },
    });
    const r = d.directReq(0x8001, [1n]);
    expect(r.ok && r.value.payload[0]).toBe(42n);
    expect(d.lastResumes).toBe(2);
    expect(sent.filter((x) => x.w(0) === FFA.RUN).every((x) => x.w(1) === 0x80010000)).toBe(true);
  });
});
