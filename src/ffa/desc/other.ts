/**
 * Partition information, relinquish, FFA_MSG_SEND2 header and endpoint RX/TX descriptors (abi.md §5.2, §6.1,
 * §8.1, §9.2), plus fragmentation of memory transaction descriptors on constituent boundaries (abi.md §9.1).
 */
import { fail, ok, type Result } from '../result.ts';
import {
  ENDPOINT_RXTX,
  fieldOf,
  PARTITION_INFO_V1_0,
  PARTITION_INFO_V1_1,
  RELINQUISH,
  SEND2_V1_1,
  SEND2_V1_2,
  writeField,
} from './layout.ts';
import { Cursor, ruleFail } from './mem.ts';
import type { DescVersion, EndpointRxTx, PartitionInfo, Relinquish, Send2Header } from './types.ts';

const num = (x: unknown): number => (typeof x === 'number' ? x : 0);

/** Parses `count` partition information descriptors, stepping by `size` (≥ the version's descriptor size). */
export function parsePartitionInfo(
  buf: Uint8Array,
  version: DescVersion,
  count: number,
  size?: number,
  opts: { strict?: boolean } = {},
): Result<PartitionInfo[]> {
  return parsePartitionInfoWith(new Cursor(buf, { strict: opts.strict === true }), version, count, size);
}

export function parsePartitionInfoWith(
  c: Cursor,
  version: DescVersion,
  count: number,
  size?: number,
): Result<PartitionInfo[]> {
  const l = version === '1.0' ? PARTITION_INFO_V1_0 : PARTITION_INFO_V1_1;
  const step = size ?? l.size;
  if (!Number.isSafeInteger(step) || step < l.size) {
    return fail(
      'DESC_SIZE',
      'Descriptor.Size',
      { kind: 'bytes', offset: 0, field: 'partition_info.size' },
      'descriptor size smaller than the layout',
      `≥ ${l.size}`,
      String(step),
    );
  }
  if (!Number.isSafeInteger(count) || count < 0 || count > Math.floor(c.u8.length / l.size)) {
    return fail(
      'DESC_OFFSET_OUT_OF_BOUNDS',
      'Descriptor.OffsetOutOfBounds',
      { kind: 'bytes', offset: 0, field: 'partition_info[]' },
      'descriptors do not fit the buffer',
      `≤ ${Math.floor(c.u8.length / step)}`,
      String(count),
    );
  }
  const e = c.region<PartitionInfo[]>(0, count === 0 ? 0 : (count - 1) * step + l.size, 'partition_info[]');
  if (e) return e;
  const out: PartitionInfo[] = [];
  for (let i = 0; i < count; i++) {
    const r = c.struct(l, i * step, `partition[${i}]`, 'other');
    if (!r.ok) return r;
    if (c.strict) {
      const e = partitionStrict<PartitionInfo[]>(
        version,
        i,
        i * step,
        num(r.value.id),
        num(r.value.exec_ctx),
        num(r.value.properties),
      );
      if (e) return e;
    }
    out.push({
      id: num(r.value.id),
      execContexts: num(r.value.exec_ctx),
      properties: num(r.value.properties),
      ...(version === '1.0' ? {} : { uuid: r.value.uuid as Uint8Array }),
    });
  }
  return ok(out);
}

/** The strict rules of one partition information descriptor (abi.md §5.2, partition properties table). */
function partitionStrict<T>(
  version: DescVersion,
  i: number,
  base: number,
  id: number,
  execCtx: number,
  props: number,
): Result<T> | undefined {
  const at = (off: number, field: string, size: number) => ({
    kind: 'bytes' as const,
    offset: base + off,
    field: `partition[${i}].${field}`,
    size,
  });
  const hx = (v: number): string => `0x${(v >>> 0).toString(16)}`;
  const idType = version === '1.0' ? 0 : (props >> 4) & 3;
  // v1.0 defines bits [2:0]; v1.1+ [10:0], of which [3:0] and [10:6] only for a PE endpoint (ID type 0b00).
  const defined = version === '1.0' ? 0x7 : idType === 0 ? 0x7ff : 0x30;
  const bad = (props & ~defined) >>> 0;
  if (bad !== 0)
    return ruleFail(
      'desc/partition-properties',
      at(4, 'properties', 4),
      idType === 0
        ? `partition properties 0x${bad.toString(16)} are reserved`
        : `with ID type 0b${idType.toString(2).padStart(2, '0')} only bits [5:4] are defined`,
      '0',
      hx(props),
    );
  if (idType === 0 && (props & 0xc0) !== 0 && ((id & 0x8000) === 0 || (props & 1) === 0))
    return ruleFail(
      'desc/partition-vm-messages',
      at(4, 'properties', 4),
      'VM created/destroyed messages (bits 6, 7) are only for an SP (ID bit 15) that receives direct requests (bit 0)',
      '0',
      hx(props),
    );
  if ((idType === 1 || idType === 3) && execCtx !== 0)
    return ruleFail(
      'desc/partition-exec-ctx',
      at(2, 'exec_ctx', 2),
      `bytes 2–3 are reserved for ID type 0b${idType.toString(2).padStart(2, '0')}`,
      '0',
      hx(execCtx),
    );
  return undefined;
}

/** Builds partition information descriptors; a v1.0 caller gets properties masked to bits [2:0]. */
export function buildPartitionInfo(list: readonly PartitionInfo[], version: DescVersion): Uint8Array {
  const l = version === '1.0' ? PARTITION_INFO_V1_0 : PARTITION_INFO_V1_1;
  const out = new Uint8Array(list.length * l.size);
  const v = new DataView(out.buffer);
  list.forEach((p, i) => {
    const at = i * l.size;
    writeField(v, at, fieldOf(l, 'id'), p.id);
    writeField(v, at, fieldOf(l, 'exec_ctx'), p.execContexts);
    writeField(v, at, fieldOf(l, 'properties'), version === '1.0' ? p.properties & 0x7 : p.properties >>> 0);
    if (version !== '1.0' && p.uuid !== undefined) writeField(v, at, fieldOf(l, 'uuid'), p.uuid);
  });
  return out;
}

/** Parses a relinquish descriptor (endpoint count > 0, IDs inside the buffer). */
export function parseRelinquish(buf: Uint8Array, opts: { strict?: boolean } = {}): Result<Relinquish> {
  return parseRelinquishWith(new Cursor(buf, { strict: opts.strict === true }));
}

export function parseRelinquishWith(c: Cursor): Result<Relinquish> {
  const r = c.struct(RELINQUISH, 0, 'relinquish', 'header');
  if (!r.ok) return r;
  const n = num(r.value.ep_count);
  if (n === 0) {
    return fail(
      'DESC_COUNT_ZERO',
      'Descriptor.CountZero',
      { kind: 'bytes', offset: 12, size: 4, field: 'relinquish.ep_count' },
      'endpoint count must be > 0',
      '≥ 1',
      '0',
    );
  }
  if (n > Math.floor((c.u8.length - 16) / 2)) {
    return fail(
      'DESC_OFFSET_OUT_OF_BOUNDS',
      'Descriptor.OffsetOutOfBounds',
      { kind: 'bytes', offset: 12, size: 4, field: 'relinquish.ep_count' },
      'endpoint IDs do not fit the buffer',
      `≤ ${Math.floor((c.u8.length - 16) / 2)}`,
      String(n),
    );
  }
  const endpoints: number[] = [];
  for (let i = 0; i < n; i++) {
    const id = c.view.getUint16(16 + 2 * i, true);
    c.rec?.push({
      offset: 16 + 2 * i,
      size: 2,
      path: `relinquish.endpoint[${i}]`,
      value: `0x${id.toString(16)}`,
      group: 'other',
    });
    endpoints.push(id);
  }
  const flags = num(r.value.flags);
  if (c.strict && (flags & ~0x3) !== 0)
    return ruleFail(
      'desc/relinquish-flags',
      { kind: 'bytes', offset: 8, size: 4, field: 'relinquish.flags' },
      'relinquish flags [31:2] are reserved',
      '0',
      `0x${(flags >>> 0).toString(16)}`,
    );
  return ok({ handle: r.value.handle as bigint, flags, endpoints });
}

export function buildRelinquish(r: Relinquish): Uint8Array {
  if (r.endpoints.length === 0) throw new RangeError('a relinquish descriptor names at least one endpoint');
  const out = new Uint8Array(16 + 2 * r.endpoints.length);
  const v = new DataView(out.buffer);
  writeField(v, 0, fieldOf(RELINQUISH, 'handle'), r.handle);
  writeField(v, 0, fieldOf(RELINQUISH, 'flags'), r.flags);
  writeField(v, 0, fieldOf(RELINQUISH, 'ep_count'), r.endpoints.length);
  r.endpoints.forEach((id, i) => {
    v.setUint16(16 + 2 * i, id, true);
  });
  return out;
}

/** Parses a partition message header (20 bytes in 1.1, 40 in 1.2). */
export function parseSend2Header(buf: Uint8Array, version: '1.1' | '1.2'): Result<Send2Header> {
  return parseSend2With(new Cursor(buf), version);
}

export function parseSend2With(c: Cursor, version: '1.1' | '1.2'): Result<Send2Header> {
  const r = c.struct(version === '1.1' ? SEND2_V1_1 : SEND2_V1_2, 0, 'msg', 'header');
  if (!r.ok) return r;
  const h: Send2Header = {
    version,
    flags: num(r.value.flags),
    payloadOffset: num(r.value.offset),
    receiver: num(r.value.receiver),
    sender: num(r.value.sender),
    payloadSize: num(r.value.size),
    ...(version === '1.2' ? { uuid: r.value.uuid as Uint8Array } : {}),
  };
  const hs = version === '1.1' ? 20 : 40;
  if (h.payloadOffset < 20) {
    return fail(
      'DESC_PAYLOAD_OFFSET',
      'Descriptor.PayloadOffset',
      { kind: 'bytes', offset: 8, size: 4, field: 'msg.offset' },
      'payload overlaps the header',
      `≥ ${Math.min(hs, 20)}`,
      String(h.payloadOffset),
    );
  }
  const e = c.region<Send2Header>(h.payloadOffset, h.payloadSize, 'msg.payload');
  if (e) return e;
  return ok(h);
}

export function buildSend2Header(h: Send2Header): Uint8Array {
  const l = h.version === '1.1' ? SEND2_V1_1 : SEND2_V1_2;
  const out = new Uint8Array(l.size);
  const v = new DataView(out.buffer);
  writeField(v, 0, fieldOf(l, 'flags'), h.flags);
  writeField(v, 0, fieldOf(l, 'offset'), h.payloadOffset);
  writeField(v, 0, fieldOf(l, 'receiver'), h.receiver);
  writeField(v, 0, fieldOf(l, 'sender'), h.sender);
  writeField(v, 0, fieldOf(l, 'size'), h.payloadSize);
  if (h.version === '1.2' && h.uuid !== undefined) writeField(v, 0, fieldOf(l, 'uuid'), h.uuid);
  return out;
}

export function parseEndpointRxTx(buf: Uint8Array, opts: { strict?: boolean } = {}): Result<EndpointRxTx> {
  return parseEndpointRxTxWith(new Cursor(buf, { strict: opts.strict === true }));
}

export function parseEndpointRxTxWith(c: Cursor): Result<EndpointRxTx> {
  const r = c.struct(ENDPOINT_RXTX, 0, 'rxtx', 'header');
  if (!r.ok) return r;
  if (c.strict)
    for (const [field, off] of [
      ['rx_composite_off', 4],
      ['tx_composite_off', 8],
    ] as const) {
      const v = num(r.value[field]);
      if (v % 8 !== 0)
        return ruleFail(
          'desc/rxtx-composite-align',
          { kind: 'bytes', offset: off, size: 4, field: `rxtx.${field}` },
          `${field === 'rx_composite_off' ? 'RX' : 'TX'} composite offset must be a multiple of 8`,
          'multiple of 8',
          String(v),
        );
    }
  return ok({
    endpointId: num(r.value.endpoint),
    rxCompositeOffset: num(r.value.rx_composite_off),
    txCompositeOffset: num(r.value.tx_composite_off),
  });
}

export function buildEndpointRxTx(d: EndpointRxTx): Uint8Array {
  const out = new Uint8Array(16);
  const v = new DataView(out.buffer);
  writeField(v, 0, fieldOf(ENDPOINT_RXTX, 'endpoint'), d.endpointId);
  writeField(v, 0, fieldOf(ENDPOINT_RXTX, 'rx_composite_off'), d.rxCompositeOffset);
  writeField(v, 0, fieldOf(ENDPOINT_RXTX, 'tx_composite_off'), d.txCompositeOffset);
  return out;
}

/**
 * Splits a descriptor into fragments of at most `maxFragLen` bytes on 16-byte constituent boundaries: the first
 * fragment holds everything before `constituentsStart` plus as many whole constituents as fit.
 * @throws RangeError when the part before the constituents alone does not fit.
 */
export function fragmentDescriptor(
  bytes: Uint8Array,
  maxFragLen: number,
  constituentsStart: number,
): Uint8Array[] {
  if (bytes.length <= maxFragLen) return [bytes];
  const per = Math.floor(maxFragLen / 16) * 16;
  if (constituentsStart + 16 > maxFragLen || per === 0)
    throw new RangeError(
      `the descriptor head (${constituentsStart} bytes) does not fit a ${maxFragLen}-byte fragment`,
    );
  const first = constituentsStart + Math.floor((maxFragLen - constituentsStart) / 16) * 16;
  const out: Uint8Array[] = [bytes.subarray(0, first)];
  for (let at = first; at < bytes.length; at += per)
    out.push(bytes.subarray(at, Math.min(bytes.length, at + per)));
  return out;
}

/** Concatenates fragments. */
export function reassemble(frags: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const f of frags) n += f.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const f of frags) {
    out.set(f, at);
    at += f.length;
  }
  return out;
}
