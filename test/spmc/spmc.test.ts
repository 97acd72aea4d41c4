import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildMemTransaction, memTransaction, parsePartitionInfo } from '../../src/ffa/desc/index.ts';
import { FFA } from '../../src/ffa/ids.ts';
import { PhysMem } from '../../src/mem/phys.ts';
import { RegisterFile } from '../../src/smccc/regs.ts';
import { SPMC } from '../../src/spmc/index.ts';
import type { PartitionContext } from '../../src/spmc/types.ts';

const U1 = '40ee25f0-a2bc-304c-8c4c-a173c57d8af1';
const U2 = '9dc4a1e2-8a6b-4e0f-b2c1-5d3e6f7a8b9c';
const TX = 0x8000_0000;
const RX = 0x8000_1000;

function spmc(o: Partial<ConstructorParameters<typeof SPMC>[0]> = {}) {
  const mem = new PhysMem();
  const s = new SPMC({
    mem,
    partitions: [{ id: 0x8001, uuids: [U1, U2], properties: 0x70f, execContexts: 8 }],
    ...o,
  });
  const call = (v: (number | bigint)[]) => s.smc(RegisterFile.of(v));
  return { s, mem, call };
}

const err = (r: RegisterFile): number | undefined => (r.w(0) === FFA.ERROR ? r.w(2) | 0 : undefined);

describe('SPMC: version negotiation (abi.md §3.3)', () => {
  it('answers its own version, refuses bit 31, locks after the first other call (hafnium policy)', () => {
    const { call } = spmc();
    expect(call([FFA.VERSION, 0x10001]).w(0)).toBe(0x10002);
    expect(call([FFA.VERSION, 0x80010001]).x(0)).toBe(0xffff_ffff_ffff_ffffn);
    call([FFA.ID_GET]);
    expect(call([FFA.VERSION, 0x10001]).w(0)).toBe(0x10002); // same as negotiated
    expect(call([FFA.VERSION, 0x10000]).x(0)).toBe(0xffff_ffff_ffff_ffffn); // different after the lock
  });
  it('tfa policy answers the negotiated version after the lock; the 32-bit quirk zero-extends', () => {
    const t = spmc({ versionLock: 'tfa' });
    t.call([FFA.VERSION, 0x10000]);
    t.call([FFA.ID_GET]);
    expect(t.call([FFA.VERSION, 0x10001]).w(0)).toBe(0x10000);
    const q = spmc({ quirks: { versionNotSupported32: true } });
    expect(q.call([FFA.VERSION, 0x80000000]).x(0)).toBe(0xffff_ffffn);
  });
});

describe('SPMC: discovery and RX ownership', () => {
  it('1.2 caller: one descriptor per (partition, UUID); 1.1 caller: first UUID only; count-only leaves RX alone', () => {
    for (const [v, count] of [
      [0x10002, 2],
      [0x10001, 1],
    ] as const) {
      const { call, mem } = spmc();
      call([FFA.VERSION, v]);
      expect(call([FFA.RXTX_MAP64, TX, RX, 1]).w(0)).toBe(FFA.SUCCESS);
      expect(call([FFA.PARTITION_INFO_GET, 0, 0, 0, 0, 1]).w(2)).toBe(count);
      const r = call([FFA.PARTITION_INFO_GET]);
      expect([r.w(2), r.w(3)]).toEqual([count, 24]);
      const p = parsePartitionInfo(mem.read(RX, 24 * count), '1.1', count);
      expect(p.ok && p.value.map((x) => x.id)).toEqual(new Array(count).fill(0x8001));
      expect(err(call([FFA.PARTITION_INFO_GET]))).toBe(-4); // RX still owned by the caller: BUSY
      expect(call([FFA.RX_RELEASE]).w(0)).toBe(FFA.SUCCESS);
      expect(err(call([FFA.RX_RELEASE]))).toBe(-6); // not owned: DENIED
    }
  });
  it('RXTX_MAP checks: page count MBZ bits, overlap, already mapped', () => {
    const { call } = spmc();
    expect(err(call([FFA.RXTX_MAP64, TX, RX, 0x41]))).toBe(-2);
    expect(err(call([FFA.RXTX_MAP64, TX, TX, 1]))).toBe(-2);
    expect(call([FFA.RXTX_MAP64, TX, RX, 1]).w(0)).toBe(FFA.SUCCESS);
    expect(err(call([FFA.RXTX_MAP64, TX, RX, 1]))).toBe(-6);
  });
});

describe('SPMC: direct messages', () => {
  it('REQ/REQ2 routing: echo, unknown receiver, unknown UUID, w2 MBZ', () => {
    const { call } = spmc();
    const r = call([FFA.MSG_SEND_DIRECT_REQ64, 0x8001, 0, 5, 6]);
    expect(r.w(0)).toBe(FFA.MSG_SEND_DIRECT_RESP64);
    expect(r.w(1)).toBe(0x80010000);
    expect(r.x(3)).toBe(5n);
    expect(err(call([FFA.MSG_SEND_DIRECT_REQ64, 0x8009]))).toBe(-2);
    expect(err(call([FFA.MSG_SEND_DIRECT_REQ64, 0x8001, 1]))).toBe(-2);
    expect(call([FFA.MSG_SEND_DIRECT_REQ2, 0x8001, 0, 0, 9]).w(0)).toBe(FFA.MSG_SEND_DIRECT_RESP2); // Nil UUID
    expect(err(call([FFA.MSG_SEND_DIRECT_REQ2, 0x8001, 1, 2]))).toBe(-2);
  });
  it('a partition that yields is resumed with FFA_RUN', () => {
    let calls = 0;
    const handler = (req: RegisterFile, ctx: PartitionContext) => {
      calls++;
      if (ctx.resumed === 0) return new RegisterFile().setW(0, FFA.YIELD);
      return req.clone().setW(0, FFA.MSG_SEND_DIRECT_RESP64).setW(1, 0x80010000);
    };
    const { call } = spmc({
      partitions: [{ id: 0x8001, uuids: [U1], properties: 0x70f, execContexts: 1, handler }],
    });
    const y = call([FFA.MSG_SEND_DIRECT_REQ64, 0x8001, 0, 1]);
    expect(y.w(0)).toBe(FFA.YIELD);
    expect(err(call([FFA.MSG_SEND_DIRECT_REQ64, 0x8001]))).toBe(-4); // busy with the pending request
    expect(call([FFA.RUN, y.w(1)]).w(0)).toBe(FFA.MSG_SEND_DIRECT_RESP64);
    expect(calls).toBe(2);
  });
});

describe('SPMC: memory management', () => {
  function share(s: ReturnType<typeof spmc>, pages = 1) {
    s.call([FFA.VERSION, 0x10002]);
    s.call([FFA.RXTX_MAP64, TX, RX, 1]);
    const b = buildMemTransaction(
      memTransaction({
        version: '1.2',
        sender: 0,
        attributes: 0x2f,
        receivers: [{ endpointId: 0x8001, permissions: 2 }],
        constituents: [{ address: 0x9000_0000n, pageCount: pages }],
      }),
    );
    s.mem.write(TX, b);
    return s.call([FFA.MEM_SHARE64, b.length, b.length]);
  }
  it('share → partition retrieve → reclaim DENIED → relinquish → reclaim', () => {
    let ctxRef: PartitionContext | undefined;
    const s = spmc({
      partitions: [
        {
          id: 0x8001,
          uuids: [U1],
          properties: 0x70f,
          execContexts: 1,
          handler: (req, ctx) => {
            ctxRef = ctx;
            return req.clone().setW(0, FFA.MSG_SEND_DIRECT_RESP64).setW(1, 0x80010000);
          },
        },
      ],
    });
    const r = share(s);
    expect(r.w(0)).toBe(FFA.SUCCESS);
    const h = BigInt(r.w(2));
    s.call([FFA.MSG_SEND_DIRECT_REQ64, 0x8001]);
    expect(ctxRef!.retrieve(h).ok).toBe(true);
    expect(ctxRef!.write(0x9000_0000, new Uint8Array([1, 2, 3]))).toBe(true);
    expect(ctxRef!.read(0x9000_1000, 4)).toBeUndefined(); // outside the retrieved range
    expect(err(s.call([FFA.MEM_RECLAIM, Number(h), 0, 0]))).toBe(-6);
    expect(ctxRef!.relinquish(h).ok).toBe(true);
    expect(s.call([FFA.MEM_RECLAIM, Number(h), 0, 0]).w(0)).toBe(FFA.SUCCESS);
    expect(err(s.call([FFA.MEM_RECLAIM, Number(h), 0, 0]))).toBe(-2);
  });
  it('sharing a region another live transaction holds → DENIED; the SUCCESS64 quirk', () => {
    const s = spmc();
    expect(share(s).w(0)).toBe(FFA.SUCCESS);
    const b = buildMemTransaction(
      memTransaction({
        version: '1.2',
        sender: 0,
        attributes: 0x2f,
        receivers: [{ endpointId: 0x8001, permissions: 2 }],
        constituents: [{ address: 0x9000_0000n, pageCount: 1 }],
      }),
    );
    s.mem.write(TX, b);
    expect(err(s.call([FFA.MEM_SHARE64, b.length, b.length]))).toBe(-6);
    expect(share(spmc({ quirks: { shareSuccess64: true } })).w(0)).toBe(FFA.SUCCESS64);
  });
  it('hypervisor retrieve request: RETRIEVE_RESP in RX with the transaction; multi-fragment via FRAG_RX', () => {
    const s = spmc();
    s.call([FFA.VERSION, 0x10002]);
    s.call([FFA.RXTX_MAP64, TX, RX, 1]);
    const constituents = Array.from({ length: 300 }, (_, i) => ({
      address: BigInt(0x9000_0000 + i * 0x2000),
      pageCount: 1,
    }));
    const full = buildMemTransaction(
      memTransaction({
        version: '1.2',
        sender: 0,
        attributes: 0x2f,
        receivers: [{ endpointId: 0x8001, permissions: 2 }],
        constituents,
      }),
    );
    s.mem.write(TX, full.subarray(0, 4096));
    const first = s.call([FFA.MEM_SHARE64, full.length, 4096]);
    expect(first.w(0)).toBe(FFA.MEM_FRAG_RX);
    s.mem.write(TX, full.subarray(4096));
    const done = s.call([FFA.MEM_FRAG_TX, first.w(1), first.w(2), full.length - 4096]);
    expect(done.w(0)).toBe(FFA.SUCCESS);
    const req = new Uint8Array(48);
    new DataView(req.buffer).setUint32(8, done.w(2), true);
    s.mem.write(TX, req);
    const resp = s.call([FFA.MEM_RETRIEVE_REQ64, 48, 48]);
    expect(resp.w(0)).toBe(FFA.MEM_RETRIEVE_RESP);
    expect(resp.w(1)).toBe(full.length);
    expect(resp.w(2)).toBe(4096);
    expect(err(s.call([FFA.MEM_FRAG_RX, done.w(2), 0, 4096]))).toBe(-4); // RX not released yet
    s.call([FFA.RX_RELEASE]);
    const f2 = s.call([FFA.MEM_FRAG_RX, done.w(2), 0, 4096]);
    expect(f2.w(0)).toBe(FFA.MEM_FRAG_TX);
    expect(f2.w(3)).toBe(full.length - 4096);
  });
});

describe('SPMC: never throws', () => {
  it('random register files and random TX contents', () => {
    fc.assert(
      fc.property(
        fc.array(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), { minLength: 18, maxLength: 18 }),
        fc.nat(0xaf),
        fc.uint8Array({ maxLength: 256 }),
        (vals, num, tx) => {
          const s = spmc();
          s.mem.write(TX, tx);
          s.call([FFA.RXTX_MAP64, TX, RX, 1]);
          const fid = (Number(vals[0]! & 1n) === 1 ? 0xc4000000 : 0x84000000) + 0x60 + (num % 0x50);
          const r = s.s.smc(RegisterFile.of([fid, ...vals.slice(1)]));
          expect(r).toBeInstanceOf(RegisterFile);
        },
      ),
      { numRuns: 3000, seed: 5 },
    );
  });
});
