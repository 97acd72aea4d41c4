import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CALL_SPECS,
  decodeCall,
  decodeResult,
  encodeCall,
  encodeResult,
  makeCall,
} from '../../src/ffa/calls.ts';
import { FFA, FFA_FUNCTIONS } from '../../src/ffa/ids.ts';
import { uuidFormat, uuidFromW4, uuidFromX2, uuidParse, uuidToW4, uuidToX2 } from '../../src/ffa/uuid.ts';
import { RegisterFile } from '../../src/smccc/regs.ts';

const U = '12345678-abcd-ef12-3456-7890abcdef00';

describe('UUIDs in registers (abi.md §11)', () => {
  it('known vector: w1–w4 and x2/x3', () => {
    const b = uuidParse(U)!;
    expect(uuidToW4(b)).toEqual([0x78563412, 0x12efcdab, 0x90785634, 0x00efcdab]);
    expect(uuidToX2(b)).toEqual([0x12efcdab78563412n, 0x00efcdab90785634n]);
    expect(uuidFormat(uuidFromW4(0x78563412, 0x12efcdab, 0x90785634, 0x00efcdab))).toBe(U);
    expect(uuidFormat(uuidFromX2(0x12efcdab78563412n, 0x00efcdab90785634n))).toBe(U);
    expect(uuidParse('not-a-uuid')).toBeUndefined();
  });
  it('round trips (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
        expect(uuidFormat(uuidParse(uuidFormat(b))!)).toBe(uuidFormat(b));
        const [w1, w2, w3, w4] = uuidToW4(b);
        expect(uuidFromW4(w1, w2, w3, w4)).toEqual(b);
        const [lo, hi] = uuidToX2(b);
        expect(uuidFromX2(lo, hi)).toEqual(b);
      }),
      { numRuns: 200, seed: 3 },
    );
  });
});

/** Known register vectors (re-derived from abi.md §12 "Reusable vectors" and the per-call tables). */
const VECTORS: { id: string; regs: (number | bigint)[]; name: string; args: Record<string, unknown> }[] = [
  {
    id: 'ERROR',
    regs: [0x84000060, 0x1234abcd, 0xfffffff8, 0xdeadbeef],
    name: 'FFA_ERROR',
    args: { targetInfo: 0x1234abcd, code: 0xfffffff8, errorArgument: 0xdeadbeef },
  },
  { id: 'VERSION 1.2', regs: [0x84000063, 0x10002], name: 'FFA_VERSION', args: { requested: 0x10002 } },
  {
    id: 'RXTX_MAP_64',
    regs: [0xc4000066, 0x1_2345_6000n, 0x8_0000_1000n, 1],
    name: 'FFA_RXTX_MAP',
    args: { tx: 0x1_2345_6000n, rx: 0x8_0000_1000n, pageCount: 1 },
  },
  { id: 'RXTX_UNMAP', regs: [0x84000067, 0x12340000], name: 'FFA_RXTX_UNMAP', args: { endpointId: 0x1234 } },
  {
    id: 'MSG_SEND2',
    regs: [0x84000086, 0xfeed0000, 0b10],
    name: 'FFA_MSG_SEND2',
    args: { senderVmId: 0xfeed, flags: 2 },
  },
  {
    id: 'NOTIFICATION_SET',
    regs: [0x84000081, 0xaaaabbbb, 0x00070003, 0x11, 0x22],
    name: 'FFA_NOTIFICATION_SET',
    args: { sender: 0xaaaa, receiver: 0xbbbb, flags: 0x70003, bitmapLo: 0x11, bitmapHi: 0x22 },
  },
  {
    id: 'NOTIFICATION_GET',
    regs: [0x84000082, 0x000d1234, 0b0110],
    name: 'FFA_NOTIFICATION_GET',
    args: { vcpu: 0xd, receiver: 0x1234, flags: 6 },
  },
  {
    id: 'MEM_RECLAIM',
    regs: [0x84000077, 0xffff1234, 0x1234, 0b11],
    name: 'FFA_MEM_RECLAIM',
    args: { handle: 0x0000_1234_ffff_1234n, flags: 3 },
  },
  {
    id: 'MEM_PERM_SET_64',
    regs: [0xc4000089, 0x7000_0000_0000n, 0x1000, 0b111],
    name: 'FFA_MEM_PERM_SET',
    args: { baseVa: 0x7000_0000_0000n, pageCount: 0x1000, permissions: 7 },
  },
  {
    id: 'MEM_SHARE_64',
    regs: [0xc4000073, 112, 112, 0, 0],
    name: 'FFA_MEM_SHARE',
    args: { totalLength: 112, fragmentLength: 112, address: 0n, pageCount: 0 },
  },
  {
    id: 'PARTITION_INFO_GET',
    regs: [0x84000068, 0x78563412, 0x12efcdab, 0x90785634, 0x00efcdab, 1],
    name: 'FFA_PARTITION_INFO_GET',
    args: { uuid: U, flags: 1 },
  },
  {
    id: 'GET_REGS',
    regs: [0xc400008b, 0x12efcdab78563412n, 0x00efcdab90785634n, 0xbeeffeed],
    name: 'FFA_PARTITION_INFO_GET_REGS',
    args: { uuid: U, startIndex: 0xfeed, tag: 0xbeef },
  },
  {
    id: 'DIRECT_REQ2',
    regs: [0xc400008d, 0x00008001, 0x12efcdab78563412n, 0x00efcdab90785634n, 7, 8],
    name: 'FFA_MSG_SEND_DIRECT_REQ2',
    args: { sender: 0, receiver: 0x8001, uuid: U },
  },
  {
    id: 'DIRECT_REQ framework (PSCI)',
    regs: [0x8400006f, 0x80008001, 0x80000000, 0x84000001, 1, 2, 3],
    name: 'FFA_MSG_SEND_DIRECT_REQ',
    args: { sender: 0x8000, receiver: 0x8001, flags: 0x80000000 },
  },
  {
    id: 'FRAG_TX',
    regs: [0x8400007b, 1, 0, 4096, 0x80000000],
    name: 'FFA_MEM_FRAG_TX',
    args: { handle: 1n, length: 4096, senderId: 0x8000 },
  },
  {
    id: 'SUCCESS_32',
    regs: [0x84000061, 0, 5, 6],
    name: 'FFA_SUCCESS',
    args: { targetInfo: 0, payload: [5n, 6n, 0n, 0n, 0n, 0n] },
  },
  {
    id: 'INTERRUPT',
    regs: [0x84000062, 0x80010002, 27],
    name: 'FFA_INTERRUPT',
    args: { targetInfo: 0x80010002, interruptId: 27 },
  },
  {
    id: 'FEATURES(RXTX_MAP_64)',
    regs: [0x84000064, 0xc4000066],
    name: 'FFA_FEATURES',
    args: { id: 0xc4000066, inputProperties: 0 },
  },
  { id: 'RX_RELEASE', regs: [0x84000065, 5], name: 'FFA_RX_RELEASE', args: { vmId: 5 } },
  { id: 'ID_GET', regs: [0x84000069], name: 'FFA_ID_GET', args: {} },
  { id: 'MSG_POLL', regs: [0x8400006a], name: 'FFA_MSG_POLL', args: {} },
  { id: 'MSG_WAIT', regs: [0x8400006b, 0, 1], name: 'FFA_MSG_WAIT', args: { flags: 1 } },
  { id: 'YIELD', regs: [0x8400006c, 0, 100, 1], name: 'FFA_YIELD', args: { timeoutLo: 100, timeoutHi: 1 } },
  { id: 'RUN', regs: [0x8400006d, 0x80010003], name: 'FFA_RUN', args: { targetInfo: 0x80010003 } },
  {
    id: 'MSG_SEND',
    regs: [0x8400006e, 0x80010002, 0, 64, 0],
    name: 'FFA_MSG_SEND',
    args: { senderReceiver: 0x80010002, length: 64 },
  },
  {
    id: 'DIRECT_RESP_64',
    regs: [0xc4000070, 0x80010000, 0, 9],
    name: 'FFA_MSG_SEND_DIRECT_RESP',
    args: { sender: 0x8001, receiver: 0 },
  },
  {
    id: 'MEM_DONATE',
    regs: [0x84000071, 80, 80],
    name: 'FFA_MEM_DONATE',
    args: { totalLength: 80, fragmentLength: 80 },
  },
  { id: 'MEM_LEND', regs: [0x84000072, 96, 96], name: 'FFA_MEM_LEND', args: { totalLength: 96 } },
  {
    id: 'MEM_RETRIEVE_REQ_64',
    regs: [0xc4000074, 48, 48],
    name: 'FFA_MEM_RETRIEVE_REQ',
    args: { totalLength: 48 },
  },
  {
    id: 'MEM_RETRIEVE_RESP',
    regs: [0x84000075, 112, 112],
    name: 'FFA_MEM_RETRIEVE_RESP',
    args: { totalLength: 112, fragmentLength: 112 },
  },
  { id: 'MEM_RELINQUISH', regs: [0x84000076], name: 'FFA_MEM_RELINQUISH', args: {} },
  {
    id: 'MEM_OP_PAUSE',
    regs: [0x84000078, 1, 2],
    name: 'FFA_MEM_OP_PAUSE',
    args: { handle: 0x2_0000_0001n },
  },
  {
    id: 'MEM_OP_RESUME',
    regs: [0x84000079, 1, 2],
    name: 'FFA_MEM_OP_RESUME',
    args: { handle: 0x2_0000_0001n },
  },
  {
    id: 'MEM_FRAG_RX',
    regs: [0x8400007a, 1, 0, 4096],
    name: 'FFA_MEM_FRAG_RX',
    args: { handle: 1n, offset: 4096, senderId: 0 },
  },
  { id: 'NORMAL_WORLD_RESUME', regs: [0x8400007c], name: 'FFA_NORMAL_WORLD_RESUME', args: {} },
  {
    id: 'NOTIFICATION_BITMAP_CREATE',
    regs: [0x8400007d, 3, 8],
    name: 'FFA_NOTIFICATION_BITMAP_CREATE',
    args: { vmId: 3, vcpuCount: 8 },
  },
  {
    id: 'NOTIFICATION_BITMAP_DESTROY',
    regs: [0x8400007e, 3],
    name: 'FFA_NOTIFICATION_BITMAP_DESTROY',
    args: { vmId: 3 },
  },
  {
    id: 'NOTIFICATION_BIND',
    regs: [0x8400007f, 0x80010000, 1, 0xff, 0],
    name: 'FFA_NOTIFICATION_BIND',
    args: { sender: 0x8001, receiver: 0, flags: 1, bitmapLo: 0xff },
  },
  {
    id: 'NOTIFICATION_UNBIND',
    regs: [0x84000080, 0x80010000, 0, 0xff, 1],
    name: 'FFA_NOTIFICATION_UNBIND',
    args: { bitmapLo: 0xff, bitmapHi: 1 },
  },
  { id: 'NOTIFICATION_INFO_GET_64', regs: [0xc4000083], name: 'FFA_NOTIFICATION_INFO_GET', args: {} },
  { id: 'RX_ACQUIRE', regs: [0x84000084, 7], name: 'FFA_RX_ACQUIRE', args: { vmId: 7 } },
  { id: 'SPM_ID_GET', regs: [0x84000085], name: 'FFA_SPM_ID_GET', args: {} },
  {
    id: 'SECONDARY_EP_REGISTER_64',
    regs: [0xc4000087, 0x4000_0000_1000n],
    name: 'FFA_SECONDARY_EP_REGISTER',
    args: { entryPoint: 0x4000_0000_1000n },
  },
  { id: 'MEM_PERM_GET', regs: [0x84000088, 0x1000], name: 'FFA_MEM_PERM_GET', args: { baseVa: 0x1000n } },
  {
    id: 'CONSOLE_LOG_32',
    regs: [0x8400008a, 2, 0x6968],
    name: 'FFA_CONSOLE_LOG',
    args: { count: 2, payload: [0x6968n, 0n, 0n, 0n, 0n, 0n] },
  },
  { id: 'EL3_INTR_HANDLE', regs: [0x8400008c], name: 'FFA_EL3_INTR_HANDLE', args: {} },
  {
    id: 'DIRECT_RESP2',
    regs: [0xc400008e, 0x80010000, 0, 0, 5],
    name: 'FFA_MSG_SEND_DIRECT_RESP2',
    args: { sender: 0x8001, receiver: 0 },
  },
];

describe('typed calls: known vectors', () => {
  it.each(VECTORS)('$id', ({ regs, name, args }) => {
    const r = RegisterFile.of(regs);
    const d = decodeCall(r);
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(d.value.name).toBe(name);
    expect(d.value.args).toMatchObject(args);
    expect(encodeCall(d.value).toHex()).toEqual(r.toHex());
  });

  it('non-FF-A and unknown IDs are located errors, never throws', () => {
    const a = decodeCall(RegisterFile.of([0x84000000]));
    expect(!a.ok && a.error.code).toBe('CALL_NOT_FFA');
    const b = decodeCall(RegisterFile.of([0x84000091]));
    expect(!b.ok && b.error.code).toBe('CALL_UNKNOWN_ID');
  });

  it('strict mode: MBZ violations name the register and bits (invalid next to valid)', () => {
    // valid: [0x84000066-family] RXTX_MAP_64 w3 = 1
    expect(decodeCall(RegisterFile.of([0xc4000066, 0x1000, 0x2000, 1]), { strict: true }).ok).toBe(true);
    const cases: [(number | bigint)[], number][] = [
      [[0xc4000066, 0x1000, 0x2000, 0x41], 3], // w3[31:6]
      [[0x84000067, 0x12340001], 1], // RXTX_UNMAP w1[15:0]
      [[0x84000063, 0x80010002], 1], // VERSION bit 31
      [[0x84000069, 0, 0, 0, 0, 0, 0, 0, 1], 8], // x8 on a call that uses ≤ x7
      [[0x84000064, 0x1_0000_0000n + 0xc4000066n], 1], // upper half of an SMC32 argument
    ];
    for (const [regs, reg] of cases) {
      const d = decodeCall(RegisterFile.of(regs), { strict: true });
      expect(!d.ok && d.error.code).toBe('CALL_MBZ_NONZERO');
      expect(!d.ok && d.error.at.kind === 'register' && d.error.at.reg).toBe(reg);
      expect(decodeCall(RegisterFile.of(regs)).ok).toBe(true); // lenient mode ignores them
    }
  });

  it('every interface round-trips encode → decode → encode (property)', () => {
    const ids = FFA_FUNCTIONS.flatMap((f) => [f.id32, f.id64]).filter((x): x is number => x !== undefined);
    fc.assert(
      fc.property(
        fc.constantFrom(...ids),
        fc.array(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), { minLength: 17, maxLength: 17 }),
        (fid, vals) => {
          const r = RegisterFile.of([fid, ...vals]);
          const d = decodeCall(r);
          if (!d.ok) return;
          const again = decodeCall(encodeCall(d.value));
          expect(again.ok).toBe(true);
          if (again.ok) expect(again.value).toEqual(d.value);
        },
      ),
      { numRuns: 2000, seed: 11 },
    );
    expect(Object.keys(CALL_SPECS).length).toBeGreaterThanOrEqual(47);
  });

  it('every interface up to 1.2 has a known vector above', () => {
    const covered = new Set(VECTORS.map((v) => v.name));
    const missing = FFA_FUNCTIONS.filter((f) => f.since !== '1.3' && !covered.has(f.name)).map((f) => f.name);
    expect(missing).toEqual([]);
  });

  it('the union narrows on name to typed arguments (checked by tsc)', () => {
    const d = decodeCall(RegisterFile.of([0xc4000073, 112, 96, 0, 0]));
    if (!d.ok || d.value.name !== 'FFA_MEM_SHARE') throw new Error('expected FFA_MEM_SHARE');
    const total: number = d.value.args.totalLength;
    const address: bigint = d.value.args.address;
    // @ts-expect-error totalLength is a number, not a string
    const wrong: string = d.value.args.totalLength;
    expect([total, address, typeof wrong]).toEqual([112, 0n, 'number']);
    const r2 = decodeCall(RegisterFile.of([0xc400008d, 0x8001, 1, 2]));
    if (r2.ok && r2.value.name === 'FFA_MSG_SEND_DIRECT_REQ2') {
      const uuid: string = r2.value.args.uuid;
      const payload: bigint[] = r2.value.args.payload;
      expect(typeof uuid).toBe('string');
      expect(payload).toHaveLength(14);
    }
  });

  it('makeCall fills defaults', () => {
    const c = makeCall('FFA_MEM_RECLAIM', { handle: 5n });
    expect(encodeCall(c).toHex().slice(0, 4)).toEqual([
      '0x0000000084000077',
      '0x0000000000000005',
      '0x0000000000000000',
      '0x0000000000000000',
    ]);
  });
});

describe('typed results', () => {
  it('decodes per call: handle, count/size, version, error, FRAG_RX, RESP2', () => {
    const share = decodeResult(RegisterFile.of([FFA.SUCCESS, 0, 0x2, 0x1]), FFA.MEM_SHARE64);
    expect(share.ok && share.value.kind === 'SUCCESS' && share.value.payload).toEqual({
      handle: 0x1_0000_0002n,
    });
    const pi = decodeResult(RegisterFile.of([FFA.SUCCESS, 0, 2, 24]), FFA.PARTITION_INFO_GET);
    expect(pi.ok && pi.value.kind === 'SUCCESS' && pi.value.payload).toEqual({ count: 2, size: 24 });
    const v = decodeResult(RegisterFile.of([0x10002]), FFA.VERSION);
    expect(v.ok && v.value).toEqual({ kind: 'VERSION', version: 0x10002, notSupported: false });
    const e = decodeResult(RegisterFile.of([FFA.ERROR, 0, 0xffff_ffff_ffff_fffan]));
    expect(e.ok && e.value.kind === 'ERROR' && e.value.error).toBe('DENIED');
    const e32 = decodeResult(RegisterFile.of([FFA.ERROR, 0, 0xfffffffa]));
    expect(e32.ok && e32.value.kind === 'ERROR' && e32.value.code).toBe(-6);
    const fr = decodeResult(RegisterFile.of([FFA.MEM_FRAG_RX, 7, 0, 4096]));
    expect(fr.ok && fr.value).toEqual({ kind: 'MEM_FRAG_RX', handle: 7n, offset: 4096, senderId: 0 });
    const regs = decodeResult(
      RegisterFile.of([FFA.SUCCESS64, 0, 0x0018_2222_0002_0004n]),
      FFA.PARTITION_INFO_GET_REGS,
    );
    expect(regs.ok && regs.value.kind === 'SUCCESS' && regs.value.payload).toEqual({
      lastIndex: 4,
      currentIndex: 2,
      tag: 0x2222,
      descriptorSize: 24,
    });
  });

  it('encode → decode round trip for every result kind', () => {
    const samples = [
      RegisterFile.of([FFA.SUCCESS, 0, 5, 6]),
      RegisterFile.of([FFA.ERROR, 0, 0xfffffffe]),
      RegisterFile.of([FFA.MEM_FRAG_RX, 1, 2, 3, 0x80000000]),
      RegisterFile.of([FFA.MEM_FRAG_TX, 1, 2, 3]),
      RegisterFile.of([FFA.MEM_RETRIEVE_RESP, 112, 112]),
      RegisterFile.of([FFA.MSG_SEND_DIRECT_RESP64, 0x80010000, 0, 1, 2]),
      RegisterFile.of([FFA.MSG_SEND_DIRECT_RESP2, 0x80010000, 0, 0, 9]),
      RegisterFile.of([FFA.INTERRUPT, 0x80010000, 5]),
      RegisterFile.of([FFA.YIELD, 0x80010000]),
      RegisterFile.of([0xffff_ffff_ffff_ffffn]),
    ];
    for (const r of samples) {
      const d = decodeResult(r);
      expect(d.ok).toBe(true);
      if (d.ok) expect(encodeResult(d.value).toHex()).toEqual(r.toHex());
    }
  });
});
