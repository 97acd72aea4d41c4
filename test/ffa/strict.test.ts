/**
 * Every strict rule (src/ffa/strict.ts STRICT_RULES) has a vector here: a valid input that strict decoding
 * accepts and its neighbour with one rule broken, which must fail with exactly that rule id and the code the
 * catalogue gives it. The table is keyed by rule id and compared with the catalogue, so a new rule without a
 * vector (or a vector for a rule that is gone) fails this file; docs/decode.md must list every id too.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeCall, decodeResult } from '../../src/ffa/calls.ts';
import {
  buildEndpointRxTx,
  buildPartitionInfo,
  buildRelinquish,
  hypRetrieveRequest,
  parseEndpointRxTx,
  parseMemTransaction,
  parsePartitionInfo,
  parseRelinquish,
} from '../../src/ffa/desc/index.ts';
import type { MemKind } from '../../src/ffa/desc/mem.ts';
import type { PartitionInfo } from '../../src/ffa/desc/types.ts';
import type { Result } from '../../src/ffa/result.ts';
import { STRICT_RULES, strictRule } from '../../src/ffa/strict.ts';
import { RegisterFile } from '../../src/smccc/regs.ts';

type Regs = readonly (number | bigint)[];
type Check = () => Result<unknown>;
interface Vector {
  valid: Check;
  broken: Check;
}

const call = (valid: Regs, broken: Regs): Vector => ({
  valid: () => decodeCall(RegisterFile.of(valid), { strict: true }),
  broken: () => decodeCall(RegisterFile.of(broken), { strict: true }),
});

const ret = (forCall: Regs, valid: Regs, broken: Regs): Vector => {
  const callRegs = RegisterFile.of(forCall);
  const decode = (r: Regs) => decodeResult(RegisterFile.of(r), callRegs.w(0), { strict: true, callRegs });
  return { valid: () => decode(valid), broken: () => decode(broken) };
};

const hex = (s: string): Uint8Array =>
  Uint8Array.from(
    s
      .replace(/\s/g, '')
      .match(/../g)!
      .map((b) => Number.parseInt(b, 16)),
  );

/** abi.md §9.2 worked vector with a zero handle (a first send): 0x8005 shares one page with 0x8003, RW. */
const SHARE = (): Uint8Array =>
  hex(
    '0580 2f00 00000000 0000000000000000 efbe0000adde0000 20000000 01000000 30000000 000000000000000000000000' +
      '03800200 50000000 00000000000000000000000000000000 0000000000000000' +
      '01000000 01000000 0000000000000000' +
      '00f0104000000000 01000000 00000000',
  );

/** The retrieve request for it: same header and EMAD, no composite (the region is named by the handle). */
const RETRIEVE_REQ = (): Uint8Array => {
  const b = SHARE().slice(0, 80);
  new DataView(b.buffer).setUint32(52, 0, true);
  new DataView(b.buffer).setBigUint64(8, 0x1234n, true);
  return b;
};

const mem = (make: () => Uint8Array, kind: MemKind, edit: (v: DataView) => void): Vector => ({
  valid: () => parseMemTransaction(make(), '1.2', { strict: true, kind }),
  broken: () => {
    const b = make();
    edit(new DataView(b.buffer));
    return parseMemTransaction(b, '1.2', { strict: true, kind, exactLength: false });
  },
});

const parsePartitionInfoStrict = (b: Uint8Array) =>
  parsePartitionInfo(b, '1.2', 1, undefined, { strict: true });

const partitions = (valid: PartitionInfo, broken: PartitionInfo): Vector => ({
  valid: () => parsePartitionInfoStrict(buildPartitionInfo([valid], '1.2')),
  broken: () => {
    const b = buildPartitionInfo([broken], '1.2');
    const c = new DataView(b.buffer);
    // buildPartitionInfo masks nothing for 1.2; write the broken fields as given.
    c.setUint16(2, broken.execContexts, true);
    c.setUint32(4, broken.properties, true);
    return parsePartitionInfoStrict(b);
  },
});

const SP = { id: 0x8001, execContexts: 1, uuid: new Uint8Array(16) };

const VECTORS: Readonly<Record<string, Vector>> = {
  'call/x0-upper': call([0x8400_0063, 0x1_0002], [0x1_8400_0063n, 0x1_0002]),
  'call/fid-reserved': call([0x8400_0063, 0x1_0002], [0x8402_0063, 0x1_0002]),
  'call/undefined-bits': call([0x8400_0063, 0x1_0002], [0x8400_0063, 0x8001_0002]),
  'call/smc32-upper': call([0x8400_0063, 0x1_0002], [0x8400_0063, 0x1_0001_0002n]),
  'call/features-feature-id': call([0x8400_0064, 0x1], [0x8400_0064, 0x101]),
  'call/partition-info-flags': call([0x8400_0068, 0, 0, 0, 0, 1], [0x8400_0068, 0, 0, 0, 0, 2]),
  'call/partition-info-regs-tag': call([0xc400_008b, 0, 0, 0], [0xc400_008b, 0, 0, 0x1_0000]),
  'call/rxtx-map-align': call([0xc400_0066, 0x1000, 0x2000, 1], [0xc400_0066, 0x1010, 0x2000, 1]),
  'call/direct-flags': call([0x8400_006f, 0x0001_8001, 0], [0x8400_006f, 0x0001_8001, 1]),
  'call/msg-wait-flags': call([0x8400_006b, 0, 1], [0x8400_006b, 0, 2]),
  'call/msg-send2-flags': call([0x8400_0086, 0x0001_0000, 2], [0x8400_0086, 0x0001_0000, 1]),
  'call/notification-bind-flags': call(
    [0x8400_007f, 0x8001_0001, 1, 1, 0],
    [0x8400_007f, 0x8001_0001, 2, 1, 0],
  ),
  'call/notification-set-flags': call(
    [0x8400_0081, 0x0001_8001, 0, 1, 0],
    [0x8400_0081, 0x0001_8001, 4, 1, 0],
  ),
  'call/notification-get-flags': call([0x8400_0082, 1, 0xf], [0x8400_0082, 1, 0x10]),
  'call/mem-send-length': call([0xc400_0073, 0x70, 0x70, 0, 0], [0xc400_0073, 0x71, 0x71, 0, 0]),
  'call/frag-tx-length': call([0x8400_007b, 1, 0, 0x10, 0], [0x8400_007b, 1, 0, 0, 0]),
  'call/reclaim-flags': call([0x8400_0077, 1, 0, 1], [0x8400_0077, 1, 0, 4]),
  'call/mem-perm-get-align': call([0xc400_0088, 0x1000], [0xc400_0088, 0x1008]),
  'call/mem-perm-set-perms': call([0xc400_0089, 0x1000, 1, 5], [0xc400_0089, 0x1000, 1, 8]),
  'ret/version': ret([0x8400_0063, 0x1_0002], [0x1_0002], [0x1_0002, 1]),
  'ret/error': ret([0x8400_0065], [0x8400_0060, 0, 0xffff_fffe], [0x8400_0060, 0, 0xffff_fffe, 0, 1]),
  'ret/success-unused': ret([0x8400_0065], [0x8400_0061, 0, 0], [0x8400_0061, 0, 1]),
  'ret/features': ret([0x8400_0064, 0x8400_0066], [0x8400_0061, 0, 1], [0x8400_0061, 0, 4]),
  'ret/mem-perm-get': ret([0xc400_0088, 0x1000], [0x8400_0061, 0, 5], [0x8400_0061, 0, 9]),
  'ret/mem-perm-get-encoding': ret([0xc400_0088, 0x1000], [0x8400_0061, 0, 5], [0x8400_0061, 0, 6]),
  'ret/direct-resp-flags': ret(
    [0x8400_006f, 0x0001_8001, 0],
    [0x8400_0070, 0x8001_0001, 0],
    [0x8400_0070, 0x8001_0001, 1],
  ),
  'ret/direct-resp2-mbz': ret(
    [0xc400_008d, 0x0001_8001],
    [0xc400_008e, 0x8001_0001, 0, 0, 5],
    [0xc400_008e, 0x8001_0001, 1],
  ),
  'ret/frag': ret([0x8400_007b, 1, 0, 0x10, 0], [0x8400_007a, 1, 0, 0x10, 0], [0x8400_007a, 1, 0, 0x10, 1]),
  'ret/retrieve-resp': ret(
    [0xc400_0074, 0x50, 0x50],
    [0x8400_0075, 0x70, 0x70],
    [0x8400_0075, 0x70, 0x70, 1],
  ),
  'desc/reserved-fields': mem(SHARE, 'send', (v) => v.setUint8(36, 1)),
  'desc/emad-offset-align': mem(SHARE, 'send', (v) => v.setUint32(32, 56, true)),
  'desc/attributes-reserved': mem(SHARE, 'send', (v) => v.setUint16(2, 0x82f, true)),
  'desc/attributes-ns': mem(SHARE, 'send', (v) => v.setUint16(2, 0x6f, true)),
  'desc/attributes-encoding': mem(SHARE, 'send', (v) => v.setUint16(2, 0x23, true)),
  'desc/flags': mem(SHARE, 'send', (v) => v.setUint32(4, 4, true)),
  'desc/flags-alignment-hint': mem(RETRIEVE_REQ, 'retrieve-req', (v) => v.setUint32(4, 0x20, true)),
  'desc/permissions-reserved': mem(SHARE, 'send', (v) => v.setUint8(50, 0x12)),
  'desc/permissions-encoding': mem(SHARE, 'send', (v) => v.setUint8(50, 0x03)),
  'desc/access-flags': mem(SHARE, 'send', (v) => v.setUint8(51, 1)),
  'desc/hyp-retrieve-zero': mem(
    () => hypRetrieveRequest(0x1234n, '1.2'),
    'hyp-retrieve-req',
    (v) => v.setUint16(0, 0x8005, true),
  ),
  'desc/relinquish-flags': {
    valid: () =>
      parseRelinquish(buildRelinquish({ handle: 1n, flags: 1, endpoints: [0x8003] }), { strict: true }),
    broken: () =>
      parseRelinquish(buildRelinquish({ handle: 1n, flags: 4, endpoints: [0x8003] }), { strict: true }),
  },
  'desc/partition-properties': partitions({ ...SP, properties: 0x7cf }, { ...SP, properties: 0x8cf }),
  'desc/partition-vm-messages': partitions(
    { ...SP, properties: 0xc1 },
    { ...SP, id: 0x0001, properties: 0xc1 },
  ),
  'desc/partition-exec-ctx': partitions(
    { ...SP, execContexts: 0, properties: 0x10 },
    { ...SP, properties: 0x10 },
  ),
  'desc/rxtx-composite-align': {
    valid: () =>
      parseEndpointRxTx(buildEndpointRxTx({ endpointId: 1, rxCompositeOffset: 16, txCompositeOffset: 40 }), {
        strict: true,
      }),
    broken: () =>
      parseEndpointRxTx(buildEndpointRxTx({ endpointId: 1, rxCompositeOffset: 16, txCompositeOffset: 44 }), {
        strict: true,
      }),
  },
};

describe('strict rules: one vector per rule in the catalogue', () => {
  it('the vectors cover exactly the rules STRICT_RULES lists', () => {
    expect(Object.keys(VECTORS).sort()).toEqual(STRICT_RULES.map((r) => r.id).sort());
  });

  it('rule ids are unique and every rule names its abi.md section, code and text', () => {
    expect(new Set(STRICT_RULES.map((r) => r.id)).size).toBe(STRICT_RULES.length);
    for (const r of STRICT_RULES) {
      expect(r.section).toMatch(/^§\d/);
      expect(r.code).toMatch(/^(CALL|RESULT|DESC)_[A-Z_]+$/);
      expect(r.text.length).toBeGreaterThan(10);
    }
    expect(() => strictRule('desc/nope')).toThrow(/not in STRICT_RULES/);
  });

  for (const r of STRICT_RULES) {
    it(`${r.id}: the valid input passes, its neighbour fails with ${r.code}`, () => {
      const v = VECTORS[r.id];
      expect(v, `no vector for ${r.id}`).toBeDefined();
      const good = v!.valid();
      expect(good.ok ? 'ok' : `${good.error.rule ?? '-'}: ${good.error.message}`).toBe('ok');
      const bad = v!.broken();
      expect(bad.ok).toBe(false);
      if (bad.ok) return;
      expect({ rule: bad.error.rule, code: bad.error.code }).toEqual({ rule: r.id, code: r.code });
    });
  }

  it('lenient decoding accepts every broken neighbour that only breaks a strict rule', () => {
    // The model proxy and SPMC parse leniently: a strict rule never changes what they accept.
    const lenientShare = SHARE();
    new DataView(lenientShare.buffer).setUint8(36, 1);
    expect(parseMemTransaction(lenientShare, '1.2').ok).toBe(true);
    expect(decodeCall(RegisterFile.of([0x8400_0063, 0x8001_0002])).ok).toBe(true);
  });

  it('docs/decode.md lists every rule id', () => {
    const doc = readFileSync(new URL('../../docs/decode.md', import.meta.url), 'utf8');
    const missing = STRICT_RULES.filter((r) => !doc.includes(`\`${r.id}\``)).map((r) => r.id);
    expect(missing).toEqual([]);
  });
});
