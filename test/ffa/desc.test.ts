import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  annotate,
  buildMemTransaction,
  buildPartitionInfo,
  buildRelinquish,
  buildSend2Header,
  Cursor,
  DescBuffer,
  fragmentDescriptor,
  hypRetrieveRequest,
  memTransaction,
  parseMemTransaction,
  parseMemWith,
  parsePartitionInfo,
  parseRelinquish,
  parseSend2Header,
  reassemble,
  writeMemTransaction,
} from '../../src/ffa/desc/index.ts';
import type { DescVersion } from '../../src/ffa/desc/types.ts';
import { uuidParse } from '../../src/ffa/uuid.ts';

const hex = (s: string): Uint8Array =>
  Uint8Array.from(
    s
      .replace(/\s/g, '')
      .match(/../g)!
      .map((b) => Number.parseInt(b, 16)),
  );
const toHex = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');

/** abi.md §9.2 worked vector: a v1.2 share, sender 0x8005 → 0x8003 RW, one page at 0x4010F000 (112 bytes). */
const V12 = hex(
  '0580 2f00 00000000 efcdab9078563412 efbe0000adde0000 20000000 01000000 30000000 000000000000000000000000' +
    '03800200 50000000 00000000000000000000000000000000 0000000000000000' +
    '01000000 01000000 0000000000000000' +
    '00f0104000000000 01000000 00000000',
);

describe('memory transaction descriptor: known vectors', () => {
  it('parses the abi.md §9.2 v1.2 vector field by field', () => {
    expect(V12.length).toBe(112);
    const r = parseMemTransaction(V12, '1.2', { strict: true });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const t = r.value;
    expect(t).toMatchObject({
      sender: 0x8005,
      attributes: 0x2f,
      flags: 0,
      handle: 0x1234567890abcdefn,
      tag: 0x0000dead0000beefn,
      emadSize: 32,
      emadOffset: 48,
    });
    expect(t.emads).toHaveLength(1);
    expect(t.emads[0]!.access).toEqual({ endpointId: 0x8003, permissions: 2, flags: 0 });
    expect(t.emads[0]!.compositeOffset).toBe(80);
    expect(t.composite).toEqual({
      totalPageCount: 1,
      constituents: [{ address: 0x4010f000n, pageCount: 1 }],
    });
  });

  it('builds the same 112 bytes from the value (and the standard packing)', () => {
    const r = parseMemTransaction(V12, '1.2');
    if (!r.ok) throw new Error(r.error.message);
    expect(toHex(buildMemTransaction(r.value))).toBe(toHex(V12));
    const std = memTransaction({
      version: '1.2',
      sender: 0x8005,
      attributes: 0x2f,
      handle: 0x1234567890abcdefn,
      tag: 0x0000dead0000beefn,
      receivers: [{ endpointId: 0x8003, permissions: 2 }],
      constituents: [{ address: 0x4010f000n, pageCount: 1 }],
    });
    expect(toHex(buildMemTransaction(std))).toBe(toHex(V12));
  });

  it('standard packing: composite at 80 (1.2), 64 (1.1), 48 (1.0)', () => {
    for (const [v, off, len] of [
      ['1.2', 80, 112],
      ['1.1', 64, 96],
      ['1.0', 48, 80],
    ] as const) {
      const t = memTransaction({
        version: v,
        sender: 0,
        attributes: 0x2f,
        receivers: [{ endpointId: 0x8001, permissions: 2 }],
        constituents: [{ address: 0x1000n, pageCount: 1 }],
      });
      expect(t.emads[0]!.compositeOffset).toBe(off);
      const b = buildMemTransaction(t);
      expect(b.length).toBe(len);
      const back = parseMemTransaction(b, v, { strict: true });
      expect(back.ok && back.value.composite?.constituents[0]?.address).toBe(0x1000n);
    }
  });

  it('honours ep_mem_offset (a gap after the header is legal from v1.1; H14)', () => {
    const t = memTransaction({
      version: '1.1',
      sender: 0,
      attributes: 0x2f,
      emadOffset: 64,
      receivers: [{ endpointId: 0x8001, permissions: 2 }],
      constituents: [{ address: 0x2000n, pageCount: 2 }],
    });
    const r = parseMemTransaction(buildMemTransaction(t), '1.1');
    expect(r.ok && r.value.emadOffset).toBe(64);
    expect(r.ok && r.value.composite?.totalPageCount).toBe(2);
  });

  it('the hypervisor retrieve request: header only, count 0', () => {
    const b = hypRetrieveRequest(0x42n, '1.2');
    expect(b.length).toBe(48);
    const r = parseMemTransaction(b, '1.2', { kind: 'hyp-retrieve-req' });
    expect(r.ok && r.value.handle).toBe(0x42n);
    expect(parseMemTransaction(b, '1.2').ok).toBe(false);
  });
});

/** Invalid vectors, each a one-field mutation of V12 (the valid neighbour), with the error code and offset. */
const INVALID: { id: string; patch: (v: DataView) => void; len?: number; code: string; offset?: number }[] = [
  { id: 'truncated header', patch: () => {}, len: 40, code: 'DESC_TOO_SHORT' },
  { id: 'EMAD count 0', patch: (v) => v.setUint32(28, 0, true), code: 'DESC_COUNT_ZERO', offset: 28 },
  { id: 'EMAD size 24', patch: (v) => v.setUint32(24, 24, true), code: 'DESC_EMAD_SIZE', offset: 24 },
  {
    id: 'EMAD offset inside the header',
    patch: (v) => v.setUint32(32, 40, true),
    code: 'DESC_EMAD_OFFSET',
    offset: 32,
  },
  {
    id: 'EMAD offset past the end',
    patch: (v) => v.setUint32(32, 0xfffffff0, true),
    code: 'DESC_OFFSET_OUT_OF_BOUNDS',
  },
  {
    id: 'EMAD count huge',
    patch: (v) => v.setUint32(28, 0xffffffff, true),
    code: 'DESC_OFFSET_OUT_OF_BOUNDS',
    offset: 28,
  },
  {
    id: 'composite offset 0 on send',
    patch: (v) => v.setUint32(52, 0, true),
    code: 'DESC_COMPOSITE_ZERO',
    offset: 52,
  },
  {
    id: 'composite overlaps EMADs',
    patch: (v) => v.setUint32(52, 64, true),
    code: 'DESC_COMPOSITE_OVERLAP',
    offset: 52,
  },
  {
    id: 'composite misaligned',
    patch: (v) => v.setUint32(52, 88, true),
    code: 'DESC_MISALIGNED',
    offset: 52,
  },
  {
    id: 'composite past the end',
    patch: (v) => v.setUint32(52, 0xfffffff0, true),
    code: 'DESC_OFFSET_OUT_OF_BOUNDS',
  },
  {
    id: 'range count too large',
    patch: (v) => v.setUint32(84, 2, true),
    code: 'DESC_COUNT_MISMATCH',
    offset: 84,
  },
  { id: 'page sum mismatch', patch: (v) => v.setUint32(80, 2, true), code: 'DESC_PAGE_SUM', offset: 80 },
  {
    id: 'unaligned constituent',
    patch: (v) => v.setUint32(96, 0x4010f800, true),
    code: 'DESC_MISALIGNED',
    offset: 96,
  },
  {
    id: 'zero-page constituent',
    patch: (v) => v.setUint32(104, 0, true),
    code: 'DESC_ZERO_PAGES',
    offset: 104,
  },
  {
    id: 'overflowing constituent',
    patch: (v) => {
      v.setBigUint64(96, 0xffff_ffff_ffff_f000n, true);
      v.setUint32(104, 2, true);
    },
    code: 'DESC_OVERFLOW',
    offset: 96,
  },
];

describe('memory transaction descriptor: invalid neighbours', () => {
  it.each(INVALID)('$id → $code', ({ patch, len, code, offset }) => {
    const b = V12.slice(0, len ?? V12.length);
    patch(new DataView(b.buffer));
    const r = parseMemTransaction(b, '1.2');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe(code);
    if (offset !== undefined && r.error.at.kind === 'bytes') expect(r.error.at.offset).toBe(offset);
  });

  it('strict mode reports reserved bytes; lenient mode accepts them', () => {
    const b = V12.slice();
    b[40] = 1; // header reserved
    expect(parseMemTransaction(b, '1.2').ok).toBe(true);
    const r = parseMemTransaction(b, '1.2', { strict: true });
    expect(!r.ok && r.error.code).toBe('DESC_MBZ_NONZERO');
    expect(!r.ok && r.error.at.kind === 'bytes' && r.error.at.offset).toBe(36);
  });

  it('overlapping constituents are rejected', () => {
    const t = memTransaction({
      version: '1.1',
      sender: 0,
      attributes: 0x2f,
      receivers: [{ endpointId: 0x8001, permissions: 2 }],
      constituents: [
        { address: 0x1000n, pageCount: 2 },
        { address: 0x2000n, pageCount: 1 },
      ],
    });
    const r = parseMemTransaction(buildMemTransaction(t), '1.1');
    expect(!r.ok && r.error.code).toBe('DESC_OVERLAP');
  });

  it('the overlap check names the same pair as a stable sort by address, in any order and at any size', () => {
    // Reference: the definition — sort (stably) by start, the first neighbours that overlap, [earlier, later].
    const reference = (cs: { address: bigint; pageCount: number }[]): string | undefined => {
      const sorted = cs
        .map((c, i) => ({ ...c, i }))
        .sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
      for (let k = 1; k < sorted.length; k++) {
        const p = sorted[k - 1]!;
        const q = sorted[k]!;
        if (p.address + BigInt(p.pageCount) * 4096n > q.address) return `${q.i}/${p.i}`;
      }
      return undefined;
    };
    const page = fc.bigInt({ min: 0n, max: 64n }).map((n) => n * 0x1000n);
    // Around 2^52, where addresses stop being exact as Numbers.
    const high = fc.integer({ min: -16, max: 16 }).map((k) => (1n << 52n) + BigInt(k) * 0x1000n);
    const cs = fc.array(
      fc.record({ address: fc.oneof(page, high), pageCount: fc.integer({ min: 1, max: 4 }) }),
      { minLength: 2, maxLength: 12 },
    );
    fc.assert(
      fc.property(cs, fc.boolean(), (list, ascending) => {
        const input = ascending
          ? [...list].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0))
          : list;
        const t = memTransaction({
          version: '1.2',
          sender: 0,
          attributes: 0x2f,
          receivers: [{ endpointId: 0x8001, permissions: 2 }],
          constituents: input,
        });
        const r = parseMemTransaction(buildMemTransaction(t), '1.2');
        const want = reference(input);
        if (want === undefined) expect(r.ok || r.error.code !== 'DESC_OVERLAP').toBe(true);
        else {
          expect(!r.ok && r.error.code).toBe('DESC_OVERLAP');
          if (!r.ok) {
            const [q, p] = want.split('/');
            expect(r.error.at.kind === 'bytes' && r.error.at.field).toBe(`constituent[${q}]`);
            expect(r.error.got).toBe(`overlaps constituent[${p}]`);
          }
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('every decoder works on a subarray at a nonzero offset', () => {
  it('memory, partition info, relinquish, send2', () => {
    const big = new Uint8Array(300).fill(0xee);
    big.set(V12, 37);
    const r = parseMemTransaction(big.subarray(37, 37 + 112), '1.2');
    expect(r.ok && r.value.sender).toBe(0x8005);
    const pi = buildPartitionInfo(
      [
        {
          id: 0x8001,
          execContexts: 8,
          properties: 0x70f,
          uuid: uuidParse('12345678-abcd-ef12-3456-7890abcdef00')!,
        },
      ],
      '1.1',
    );
    big.set(pi, 5);
    const p = parsePartitionInfo(big.subarray(5, 5 + 24), '1.1', 1);
    expect(p.ok && p.value[0]!.id).toBe(0x8001);
    const rel = buildRelinquish({ handle: 0x12345678n, flags: 3, endpoints: [0x13, 0x1234, 0xbeef] });
    big.set(rel, 101);
    const q = parseRelinquish(big.subarray(101, 101 + rel.length));
    expect(q.ok && q.value.endpoints).toEqual([0x13, 0x1234, 0xbeef]);
  });
});

describe('other descriptors', () => {
  it('relinquish vector (abi.md §12): 22 bytes', () => {
    const b = buildRelinquish({ handle: 0x12345678n, flags: 0b11, endpoints: [0x13, 0x1234, 0xbeef] });
    expect(toHex(b)).toBe('7856341200000000' + '03000000' + '03000000' + '1300' + '3412' + 'efbe');
    expect(parseRelinquish(b.subarray(0, 20)).ok).toBe(false);
  });

  it('partition info v1.0 masks properties to [2:0]; v1.1 carries the UUID', () => {
    const u = uuidParse('12345678-abcd-ef12-3456-7890abcdef00')!;
    const v10 = buildPartitionInfo([{ id: 0x8001, execContexts: 1, properties: 0x70f }], '1.0');
    expect(toHex(v10)).toBe('0180' + '0100' + '07000000');
    const v11 = buildPartitionInfo([{ id: 0x8001, execContexts: 1, properties: 0x70f, uuid: u }], '1.1');
    expect(v11.length).toBe(24);
    const r = parsePartitionInfo(v11, '1.1', 1);
    expect(r.ok && toHex(r.value[0]!.uuid!)).toBe(toHex(u));
    expect(parsePartitionInfo(v11, '1.1', 2).ok).toBe(false);
    expect(parsePartitionInfo(v11, '1.1', 1, 16).ok).toBe(false);
  });

  it('SEND2 headers: 20 bytes (1.1), 40 bytes (1.2)', () => {
    const h11 = buildSend2Header({
      version: '1.1',
      flags: 0,
      payloadOffset: 20,
      receiver: 0x8001,
      sender: 0,
      payloadSize: 4,
    });
    expect(h11.length).toBe(20);
    const buf = new Uint8Array(64);
    buf.set(h11);
    const r = parseSend2Header(buf, '1.1');
    expect(r.ok && r.value.receiver).toBe(0x8001);
    const h12 = buildSend2Header({
      version: '1.2',
      flags: 0,
      payloadOffset: 40,
      receiver: 0x8001,
      sender: 0,
      payloadSize: 100,
      uuid: new Uint8Array(16),
    });
    expect(h12.length).toBe(40);
    const b2 = new Uint8Array(64);
    b2.set(h12);
    const r2 = parseSend2Header(b2, '1.2');
    expect(!r2.ok && r2.error.code).toBe('DESC_TOO_SHORT'); // payload does not fit
  });
});

describe('fragmentation', () => {
  it('splits on 16-byte constituent boundaries and reassembles', () => {
    const constituents = Array.from({ length: 300 }, (_, i) => ({
      address: BigInt(0x8000_0000 + i * 0x2000),
      pageCount: 1,
    }));
    const t = memTransaction({
      version: '1.2',
      sender: 0,
      attributes: 0x2f,
      receivers: [{ endpointId: 0x8001, permissions: 2 }],
      constituents,
    });
    const b = buildMemTransaction(t);
    const frags = fragmentDescriptor(b, 4096, 96);
    expect(frags[0]!.length).toBe(96 + 250 * 16);
    for (const f of frags) expect(f.length).toBeLessThanOrEqual(4096);
    for (const f of frags.slice(1)) expect(f.length % 16).toBe(0);
    expect(toHex(reassemble(frags))).toBe(toHex(b));
    expect(() => fragmentDescriptor(b, 64, 96)).toThrow(RangeError);
  });
});

const arbVersion = fc.constantFrom<DescVersion>('1.0', '1.1', '1.2');

describe('round trip (property)', () => {
  it('build → parse → equal, every version', () => {
    fc.assert(
      fc.property(
        arbVersion,
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.tuple(fc.integer({ min: 1, max: 1 << 20 }), fc.integer({ min: 1, max: 64 })), {
          minLength: 1,
          maxLength: 20,
        }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        (v, nrecv, ranges, tag) => {
          let next = 0x8000_0000n;
          const constituents = ranges.map(([gap, pages]) => {
            const c = { address: next + BigInt(gap) * 4096n, pageCount: pages };
            next = c.address + BigInt(pages) * 4096n;
            return c;
          });
          const receivers = Array.from({ length: nrecv }, (_, i) => ({
            endpointId: 0x8001 + i,
            permissions: 2,
          }));
          const t = memTransaction({ version: v, sender: 0, attributes: 0x2f, tag, receivers, constituents });
          const r = parseMemTransaction(buildMemTransaction(t), v, { strict: true });
          expect(r.ok).toBe(true);
          if (r.ok) expect(r.value).toEqual(t);
        },
      ),
      { numRuns: 300, seed: 7 },
    );
  });
});

/**
 * Fuzzing in the suite (≥ 100 000 inputs in total): mutated valid encodings and random bytes. Every parser must
 * return a Result — never throw (a DataView over exactly the input makes any out-of-bounds read throw, so "no
 * throw" also means "no out-of-bounds read") — and an error code from the allow-list.
 */
const ALLOWED = new Set([
  'DESC_TOO_SHORT',
  'DESC_OFFSET_OUT_OF_BOUNDS',
  'DESC_COUNT_ZERO',
  'DESC_EMAD_SIZE',
  'DESC_EMAD_OFFSET',
  'DESC_MISALIGNED',
  'DESC_RESERVED_VALUE',
  'DESC_COMPOSITE_MISMATCH',
  'DESC_COMPOSITE_ZERO',
  'DESC_COMPOSITE_OVERLAP',
  'DESC_COMPOSITE_IN_RETRIEVE',
  'DESC_COUNT_MISMATCH',
  'DESC_ZERO_PAGES',
  'DESC_OVERFLOW',
  'DESC_PAGE_SUM',
  'DESC_OVERLAP',
  'DESC_MBZ_NONZERO',
  'DESC_SIZE',
  'DESC_PAYLOAD_OFFSET',
]);

/** Deterministic PRNG (mulberry32) so the fuzz corpus is the same on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function checkAll(b: Uint8Array, n: { count: number }): void {
  const results = [
    parseMemTransaction(b, '1.0'),
    parseMemTransaction(b, '1.1', { strict: true }),
    parseMemTransaction(b, '1.2', { kind: 'retrieve-resp' }),
    parseMemTransaction(b, '1.2', { kind: 'hyp-retrieve-req' }),
    parsePartitionInfo(b, '1.1', b.length % 7),
    parseRelinquish(b),
    parseSend2Header(b, '1.2'),
  ];
  n.count += results.length + 1;
  for (const r of results)
    if (!r.ok && !ALLOWED.has(r.error.code)) throw new Error(`unexpected code ${r.error.code}`);
  const a = annotate(b, 'mem', '1.2');
  if (a.error !== undefined && !ALLOWED.has(a.error.code)) throw new Error(`annotate: ${a.error.code}`);
}

describe('descriptor fuzzing (bounded, deterministic)', () => {
  it('≥ 100 000 mutated and random inputs: no throw, no out-of-bounds read, allow-listed codes', () => {
    const rand = rng(0xf0a);
    const n = { count: 0 };
    const specialU32 = [
      0, 1, 15, 16, 47, 48, 64, 79, 80, 96, 111, 112, 113, 0x7fff_ffff, 0xffff_fff0, 0xffff_ffff,
    ];
    const base = [
      V12,
      buildMemTransaction(
        memTransaction({
          version: '1.1',
          sender: 0,
          attributes: 0x2f,
          receivers: [
            { endpointId: 0x8001, permissions: 2 },
            { endpointId: 0x8002, permissions: 1 },
          ],
          constituents: [
            { address: 0x1000n, pageCount: 1 },
            { address: 0x3000n, pageCount: 2 },
          ],
        }),
      ),
    ];
    const fieldOffsets = [0, 2, 4, 24, 28, 32, 36, 48, 52, 64, 68, 80, 84, 88, 96, 104, 108];
    while (n.count < 100_000) {
      const src = base[Math.floor(rand() * base.length)]!;
      const mode = rand();
      let b: Uint8Array;
      if (mode < 0.6) {
        b = src.slice();
        const v = new DataView(b.buffer);
        const off = fieldOffsets[Math.floor(rand() * fieldOffsets.length)]!;
        if (off + 4 <= b.length)
          v.setUint32(
            off,
            rand() < 0.7 ? specialU32[Math.floor(rand() * specialU32.length)]! : Math.floor(rand() * 2 ** 32),
            true,
          );
      } else if (mode < 0.8) {
        b = src.slice(0, Math.floor(rand() * (src.length + 1)));
      } else {
        b = new Uint8Array(Math.floor(rand() * 160));
        for (let i = 0; i < b.length; i++) b[i] = Math.floor(rand() * 256);
      }
      checkAll(b, n);
    }
    expect(n.count).toBeGreaterThanOrEqual(100_000);
  });
});

describe('reused buffers: writeMemTransaction, Cursor views', () => {
  const tx = (n: number) =>
    memTransaction({
      version: '1.2',
      sender: 0,
      attributes: 0x2f,
      receivers: [{ endpointId: 0x8001, permissions: 2 }],
      constituents: Array.from({ length: n }, (_, i) => ({
        address: BigInt(0x1000 * (2 * i + 1)),
        pageCount: 1,
      })),
    });

  it('gives the bytes buildMemTransaction gives, growing the buffer and zeroing what a longer build left', () => {
    const buf = new DescBuffer(64);
    for (const n of [600, 1, 300, 2]) {
      const bytes = writeMemTransaction(tx(n), buf);
      expect(toHex(bytes)).toBe(toHex(buildMemTransaction(tx(n))));
      expect(bytes.buffer).toBe(buf.u8.buffer);
    }
    expect(buf.u8.length).toBeGreaterThanOrEqual(96 + 600 * 16);
  });

  it('a Cursor reads through a kept view of the same bytes, and ignores any other view', () => {
    const backing = new Uint8Array(8192);
    const bytes = buildMemTransaction(tx(3));
    backing.set(bytes);
    const sub = backing.subarray(0, bytes.length);
    const kept = new DataView(backing.buffer);
    expect(new Cursor(sub, { view: kept }).view).toBe(kept);
    const elsewhere = new DataView(new Uint8Array(8192).buffer);
    const offset = new DataView(backing.buffer, 16);
    for (const other of [elsewhere, offset]) expect(new Cursor(sub, { view: other }).view).not.toBe(other);
    const r = parseMemWith(new Cursor(sub, { view: kept }), '1.2');
    expect(r.ok && r.value.composite?.constituents.length).toBe(3);
    // Bounded by the bytes, not the longer view: one byte short is refused.
    const short = parseMemWith(new Cursor(backing.subarray(0, bytes.length - 1), { view: kept }), '1.2');
    expect(short.ok).toBe(false);
  });
});
