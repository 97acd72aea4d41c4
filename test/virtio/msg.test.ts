/**
 * virtio-msg codec vectors: each invalid vector sits next to the valid encoding it was derived from (the
 * comment names the byte changed) and asserts the error `code` and where. Every valid vector runs through
 * decode, build → decode and decode at a nonzero subarray offset; a property test checks that decoding random
 * and mutated bytes never throws.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BUS_MESSAGES,
  buildVirtioMsg,
  bytesToPayload,
  decodeVirtioMsg,
  describeVirtioMsg,
  TRANSPORT_MESSAGES,
  VIRTIO_MSG_FFA_MAX_SIZE,
  type VirtioMsgInput,
} from '../../src/virtio/index.ts';

const hex = (s: string): Uint8Array =>
  Uint8Array.from(s.replace(/\s+/g, '').match(/../g) ?? [], (b) => Number.parseInt(b, 16));

interface Valid {
  id: string;
  hex: string;
  name: string;
  fields: Record<string, number | bigint>;
  input: VirtioMsgInput;
}

const VALID: Valid[] = [
  {
    id: 'GET_DEVICE_INFO request, dev 1, token 4',
    //      type id dev_num token msg_size
    hex: '00 02 0100 0400 0800',
    name: 'GET_DEVICE_INFO',
    fields: {},
    input: { name: 'GET_DEVICE_INFO', devNum: 1, token: 4 },
  },
  {
    id: 'bus VERSION request',
    hex: '02 80 0000 0100 1c00  0100 0100 02000100 00000000 02000000 0000 0000',
    name: 'VERSION',
    fields: {
      bus_version: 1,
      transport_revision: 1,
      ffa_version: 0x10002,
      features: 0,
      bus_features: 2,
      max_areas: 0,
    },
    input: {
      name: 'VERSION',
      token: 1,
      fields: { bus_version: 1, transport_revision: 1, ffa_version: 0x10002, bus_features: 2 },
    },
  },
  {
    id: 'AREA_SHARE request (u64 handle)',
    hex: '02 81 0000 0300 2800  0100 0000 04000000 efcdab8967452301 0000000000000000 00000000 00000000',
    name: 'AREA_SHARE',
    fields: { area_id: 1, page_count: 4, mem_handle: 0x0123456789abcdefn, mem_tag: 0n, sharing_attrs: 0 },
    input: {
      name: 'AREA_SHARE',
      token: 3,
      fields: { area_id: 1, page_count: 4, mem_handle: 0x0123456789abcdefn },
    },
  },
  {
    id: 'GET_DEVICE_FEATURES response with two blocks',
    hex: '01 03 0100 0600 1800  00000000 02000000 01000000 01000000',
    name: 'GET_DEVICE_FEATURES',
    fields: { index: 0, num: 2 },
    input: {
      name: 'GET_DEVICE_FEATURES',
      response: true,
      devNum: 1,
      token: 6,
      fields: { index: 0 },
      tail: [1, 1],
    },
  },
  {
    id: 'GET_CONFIG response with 4 bytes',
    hex: '01 05 0100 0800 1800  00000000 00000000 04000000 50001900',
    name: 'GET_CONFIG',
    fields: { generation: 0, offset: 0, length: 4 },
    input: {
      name: 'GET_CONFIG',
      response: true,
      devNum: 1,
      token: 8,
      fields: { generation: 0, offset: 0 },
      tail: Uint8Array.of(0x50, 0, 0x19, 0),
    },
  },
  {
    id: 'EVENT_POLL response carrying EVENT_USED',
    hex: '03 84 0000 0900 1800  0100 0000  00 42 0100 0000 0c00 01000000',
    name: 'EVENT_POLL',
    fields: { pending: 1 },
    input: {
      name: 'EVENT_POLL',
      response: true,
      token: 9,
      fields: { pending: 1 },
      tail: { name: 'EVENT_USED', devNum: 1, fields: { index: 1 } },
    },
  },
  {
    id: 'AREA_RELEASE event',
    hex: '02 c0 0000 0000 0c00  0200 0000',
    name: 'AREA_RELEASE',
    fields: { area_id: 2 },
    input: { name: 'AREA_RELEASE', fields: { area_id: 2 } },
  },
];

interface Invalid {
  id: string;
  hex: string;
  code: string;
  offset: number;
}

const INVALID: Invalid[] = [
  // valid: 00 02 0100 0400 0800 (GET_DEVICE_INFO)
  { id: 'short header', hex: '00 02 0100 0400 08', code: 'VMSG_SHORT_HEADER', offset: 0 },
  { id: 'reserved type bit 2', hex: '04 02 0100 0400 0800', code: 'VMSG_TYPE_RESERVED', offset: 0 },
  { id: 'msg_size 7 (< header)', hex: '00 02 0100 0400 0700', code: 'VMSG_SIZE_RANGE', offset: 6 },
  { id: 'msg_size 105 (> FF-A max 104)', hex: '00 02 0100 0400 6900', code: 'VMSG_SIZE_RANGE', offset: 6 },
  { id: 'msg_size past the buffer', hex: '00 02 0100 0400 0c00', code: 'VMSG_SIZE_PAST_END', offset: 6 },
  { id: 'unknown transport id 0x3f', hex: '00 3f 0100 0400 0800', code: 'VMSG_UNKNOWN_ID', offset: 1 },
  { id: 'trailing bytes', hex: '00 02 0100 0400 0a00 0000', code: 'VMSG_TRAILING', offset: 8 },
  // valid: 02 c0 0000 0000 0c00 0200 0000 (AREA_RELEASE)
  {
    id: 'bus message with dev_num 1',
    hex: '02 c0 0100 0000 0c00 0200 0000',
    code: 'VMSG_BUS_DEV_NUM',
    offset: 2,
  },
  {
    id: 'event with the response bit',
    hex: '03 c0 0000 0000 0c00 0200 0000',
    code: 'VMSG_EVENT_RESPONSE',
    offset: 0,
  },
  { id: 'reserved field non-zero', hex: '02 c0 0000 0000 0c00 0200 0100', code: 'VMSG_RESERVED', offset: 10 },
  {
    id: 'body shorter than its fields',
    hex: '02 c0 0000 0000 0a00 0200',
    code: 'VMSG_BODY_SHORT',
    offset: 10,
  },
  // valid: 01 03 0100 0600 1800 00000000 02000000 01000000 01000000 (features, num 2)
  {
    id: 'features num 3 but 2 words',
    hex: '01 03 0100 0600 1800 00000000 03000000 01000000 01000000',
    code: 'VMSG_TAIL_LENGTH',
    offset: 16,
  },
  // valid: EVENT_POLL response with EVENT_USED
  {
    id: 'EVENT_POLL embedding a request',
    hex: '03 84 0000 0900 1400 0100 0000 00 07 0100 0000 0800',
    code: 'VMSG_NOT_EVENT',
    offset: 12,
  },
  {
    id: 'EVENT_POLL embedding a malformed event (reserved type bit)',
    hex: '03 84 0000 0900 1800 0100 0000 80 42 0100 0000 0c00 01000000',
    code: 'VMSG_TYPE_RESERVED',
    offset: 12,
  },
];

describe('virtio-msg codec: valid vectors', () => {
  it.each(VALID.map((v) => [v.id, v] as const))('%s', (_, v) => {
    const bytes = hex(v.hex);
    const d = decodeVirtioMsg(bytes);
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(d.value.name).toBe(v.name);
    expect(d.value.size).toBe(bytes.length);
    expect(d.value.fields).toEqual(v.fields);
    // build → bytes identical
    expect([...buildVirtioMsg(v.input)]).toEqual([...bytes]);
    // at a nonzero offset inside a larger buffer (the 112-byte REQ2 payload, say)
    const big = new Uint8Array(120);
    big.set(bytes, 5);
    const d2 = decodeVirtioMsg(big.subarray(5));
    expect(d2.ok && d2.value.fields).toEqual(v.fields);
    expect(describeVirtioMsg(d.value)).toContain(v.name);
  });
});

describe('virtio-msg codec: invalid neighbours', () => {
  it.each(INVALID.map((v) => [v.id, v] as const))('%s', (_, v) => {
    const d = decodeVirtioMsg(hex(v.hex));
    expect(d.ok).toBe(false);
    if (d.ok) return;
    expect(d.error.code).toBe(v.code);
    expect(d.error.at.kind === 'bytes' && d.error.at.offset).toBe(v.offset);
  });

  it('a 104-byte message is the largest the FF-A binding takes', () => {
    const data = new Uint8Array(VIRTIO_MSG_FFA_MAX_SIZE - 20);
    const m = buildVirtioMsg({ name: 'SET_CONFIG', devNum: 1, token: 1, tail: data });
    expect(m.length).toBe(104);
    expect(decodeVirtioMsg(m).ok).toBe(true);
    expect(() => buildVirtioMsg({ name: 'SET_CONFIG', devNum: 1, tail: new Uint8Array(85) })).toThrow(
      TypeError,
    );
    // The same 105-byte message is fine for a bus that advertises more.
    const big = buildVirtioMsg({ name: 'SET_CONFIG', devNum: 1, tail: new Uint8Array(85) }, 264);
    expect(decodeVirtioMsg(big).ok).toBe(false);
    expect(decodeVirtioMsg(big, { maxSize: 264 }).ok).toBe(true);
  });

  it('builders throw on values that do not fit', () => {
    expect(() => buildVirtioMsg({ name: 'AREA_SHARE', fields: { area_id: 0x10000 } })).toThrow(TypeError);
    expect(() => buildVirtioMsg({ name: 'EVENT_USED', response: true })).toThrow(TypeError);
    expect(() => buildVirtioMsg({ name: 'PING', tail: Uint8Array.of(1) })).toThrow(TypeError);
  });

  it('the message fits the 14 REQ2 payload registers, byte 0 in the low bits of x4', () => {
    const p = bytesToPayload(hex('00 02 0100 0400 0800'));
    expect(p.length).toBe(14);
    expect(p[0]).toBe(0x0008_0004_0001_0200n);
    expect(p.slice(1).every((x) => x === 0n)).toBe(true);
  });
});

describe('virtio-msg codec: properties', () => {
  const names = [...TRANSPORT_MESSAGES, ...BUS_MESSAGES];
  it('decoding arbitrary bytes never throws and errors are located', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (b) => {
        const d = decodeVirtioMsg(b);
        if (!d.ok) expect(d.error.code).toMatch(/^VMSG_/);
      }),
      { numRuns: 2000, seed: 15 },
    );
  });

  it('mutating one byte of a valid message gives a message or a located error, never a throw', () => {
    fc.assert(
      fc.property(fc.constantFrom(...VALID), fc.nat(), fc.integer({ min: 0, max: 255 }), (v, at, val) => {
        const b = hex(v.hex);
        b[at % b.length] = val;
        const d = decodeVirtioMsg(b);
        expect(typeof d.ok).toBe('boolean');
      }),
      { numRuns: 2000, seed: 15 },
    );
  });

  it('every request without a tail builds and decodes to itself', () => {
    for (const s of names) {
      const m = buildVirtioMsg({ name: s.name, devNum: s.bus ? 0 : 2, token: 7 });
      const d = decodeVirtioMsg(m);
      expect(d.ok && d.value.name).toBe(s.name);
    }
  });
});
