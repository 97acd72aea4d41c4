/**
 * virtio-msg payloads inside DIRECT_REQ2/RESP2 hops, decoded for every trace format (text, Mermaid, Perfetto
 * and the report go through `describeCall`/`describeResult` in ./text.ts; JSONL adds a `virtio` field). A REQ2
 * carries virtio-msg when its UUID is the binding's device role (or the RFC-era UUID); its RESP2 is decoded
 * because it answers that call. Never throws: a malformed message shows its located error.
 */

import type { Annotation } from '../ffa/desc/mem.ts';
import { FFA } from '../ffa/ids.ts';
import type { DecodeError } from '../ffa/result.ts';
import { uuidFormat, uuidFromX2 } from '../ffa/uuid.ts';
import { RegisterFile } from '../smccc/regs.ts';
import {
  decodeVirtioMsg,
  describeVirtioMsg,
  isBusyPayload,
  msgSpec,
  payloadBytes,
  readVmsgField,
  splitBusAddress,
  VIRTIO_MSG_FFA_DEVICE_UUID,
  VIRTIO_MSG_FFA_MAX_SIZE,
  VIRTIO_MSG_FFA_RFC_UUID,
  VIRTIO_MSG_HEADER_SIZE,
  type VirtioMsg,
  VMSG_FIELD_SIZE,
  VMSG_ID_EVENT,
  VMSG_TYPE_BUS,
  VMSG_TYPE_RESPONSE,
  vmsgErrorName,
} from '../virtio/index.ts';

/** True when `call` is a DIRECT_REQ2 to a virtio-msg UUID. */
export function isVirtioCall(call: RegisterFile): boolean {
  if (call.w(0) !== FFA.MSG_SEND_DIRECT_REQ2) return false;
  const u = uuidFormat(uuidFromX2(call.x(2), call.x(3)));
  return u === VIRTIO_MSG_FFA_DEVICE_UUID || u === VIRTIO_MSG_FFA_RFC_UUID;
}

/** The decoded message of a virtio-msg REQ2/RESP2 payload: the message, busy, or a located error. */
export type VirtioPayload =
  | { kind: 'msg'; msg: VirtioMsg }
  | { kind: 'busy' }
  | { kind: 'error'; code: string; message: string };

function decodePayload(regs: RegisterFile): VirtioPayload {
  if (isBusyPayload(regs)) return { kind: 'busy' };
  const d = decodeVirtioMsg(payloadBytes(regs));
  return d.ok
    ? { kind: 'msg', msg: d.value }
    : { kind: 'error', code: d.error.code, message: d.error.message };
}

/** The virtio-msg carried by a hop: `regs` is the call or, with `call`, the result answering it. */
export function virtioPayload(regs: RegisterFile, call?: RegisterFile): VirtioPayload | undefined {
  if (call === undefined) return isVirtioCall(regs) ? decodePayload(regs) : undefined;
  if (!isVirtioCall(call) || regs.w(0) !== FFA.MSG_SEND_DIRECT_RESP2) return undefined;
  return decodePayload(regs);
}

/** One-line text of a decoded payload. */
export function describeVirtioPayload(p: VirtioPayload): string {
  return p.kind === 'msg'
    ? describeVirtioMsg(p.msg)
    : p.kind === 'busy'
      ? 'virtio-msg busy (all-zero payload)'
      : `virtio-msg malformed: ${p.code} ${p.message}`;
}

/** ` ⇒ virtio-msg …` for a hop that carries one, else ''. */
export function virtioSuffix(regs: RegisterFile, call?: RegisterFile): string {
  const p = virtioPayload(regs, call);
  return p === undefined ? '' : ` ⇒ ${describeVirtioPayload(p)}`;
}

/** The JSONL `virtio` field of a hop (docs/trace-format.md). */
export interface VirtioJSON {
  text: string;
  name?: string;
  response?: boolean;
  devNum?: number;
  token?: number;
  busy?: true;
  error?: string;
}

/**
 * A pairing of hops over one trace in order: returns the `virtio` field of each hop that carries virtio-msg
 * (a RESP2 is paired with the REQ2 it answers on the same link).
 */
export function virtioPairing(): (e: {
  from: string;
  to: string;
  dir: 'call' | 'ret';
  regs: readonly string[];
}) => VirtioJSON | undefined {
  const open = new Map<string, RegisterFile[]>();
  return (e) => {
    const regs = RegisterFile.of(e.regs.map((h) => BigInt(h)));
    let p: VirtioPayload | undefined;
    if (e.dir === 'call') {
      const key = `${e.from}>${e.to}`;
      const st = open.get(key) ?? [];
      st.push(regs);
      open.set(key, st);
      p = virtioPayload(regs);
    } else {
      const call = open.get(`${e.to}>${e.from}`)?.pop();
      p = call === undefined ? undefined : virtioPayload(regs, call);
    }
    if (p === undefined) return undefined;
    const text = describeVirtioPayload(p);
    if (p.kind === 'busy') return { text, busy: true };
    if (p.kind === 'error') return { text, error: p.code };
    return { text, name: p.msg.name, response: p.msg.response, devNum: p.msg.devNum, token: p.msg.token };
  };
}

/** virtio device status bits (virtio 1.2 §2.1), for the notes of `status` fields. */
const STATUS_BITS: readonly [number, string][] = [
  [1, 'ACKNOWLEDGE'],
  [2, 'DRIVER'],
  [4, 'DRIVER_OK'],
  [8, 'FEATURES_OK'],
  [64, 'NEEDS_RESET'],
  [128, 'FAILED'],
];

/** Fields shown in hex (the rest in decimal). */
const HEX_FIELDS = new Set([
  'features',
  'bus_features',
  'status',
  'msg_id',
  'mem_handle',
  'mem_tag',
  'address',
]);

/**
 * One annotated field of a virtio-msg payload: a descriptor annotation (`path` like `SET_VQUEUE.desc_addr`;
 * group `header` for the common header, `emad` for the fixed body fields, `constituent` for the tail).
 */
export type VirtioFieldAnnotation = Annotation;

/** A virtio-msg payload (REQ2/RESP2 x4–x17) with every field located. */
export interface VirtioAnnotated {
  /** The decoded message, busy, or the located decode error (from {@link decodeVirtioMsg}). */
  payload: VirtioPayload;
  /** `msg_size` as far as it lies in the buffer (0 for busy or a short buffer). */
  size: number;
  fields: VirtioFieldAnnotation[];
  /** The decode error, with the byte range it names. */
  error?: DecodeError;
}

function hexStr(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

/** Notes: bus addresses as area + offset, versions, status bits, error names, message names. */
function fieldNote(field: string, v: number | bigint, bus: boolean): string | undefined {
  if (field.endsWith('_addr') && typeof v === 'bigint') {
    const a = splitBusAddress(v);
    return `area ${a.areaId} + 0x${a.offset.toString(16)}`;
  }
  const n = Number(v);
  if (field === 'ffa_version') return `FF-A ${n >>> 16}.${n & 0xffff}`;
  if (field === 'status' && !bus) {
    const names = STATUS_BITS.filter(([b]) => (n & b) !== 0).map(([, s]) => s);
    return names.length === 0 ? 'reset' : names.join('|');
  }
  if (field === 'error') return vmsgErrorName(n);
  return undefined;
}

function fmt(field: string, v: number | bigint): string {
  return typeof v === 'bigint' || HEX_FIELDS.has(field) ? `0x${v.toString(16)}` : String(v);
}

/**
 * Every field of the virtio-msg at `base` in `buf` (whose message is at most `limit` bytes long): the common
 * header, the body fields of the table (../virtio/msg.ts) and the tail, as far as the message and the buffer
 * go. Reads the bytes as they are, so a malformed message still shows its fields up to where it breaks.
 */
function layoutFields(
  buf: Uint8Array,
  base: number,
  limit: number,
  prefix: string,
  depth: number,
  out: VirtioFieldAnnotation[],
): void {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const end = Math.min(buf.length, base + limit);
  if (end - base < VIRTIO_MSG_HEADER_SIZE) return;
  const type = v.getUint8(base);
  const id = v.getUint8(base + 1);
  const bus = (type & VMSG_TYPE_BUS) !== 0;
  const response = (type & VMSG_TYPE_RESPONSE) !== 0;
  const spec = msgSpec(bus, id);
  const size = v.getUint16(base + 6, true);
  const hg = depth === 0 ? 'header' : 'composite';
  // Events have no response; ERROR (0x87) has none either but is not an event.
  const role =
    spec !== undefined && spec.response === undefined
      ? (id & VMSG_ID_EVENT) !== 0
        ? 'event'
        : 'message'
      : response
        ? 'response'
        : 'request';
  const kind = `${bus ? 'bus' : 'transport'} ${role}`;
  out.push(
    {
      offset: base,
      size: 1,
      path: `${prefix}header.type`,
      value: `0x${type.toString(16)}`,
      note: kind,
      group: hg,
    },
    {
      offset: base + 1,
      size: 1,
      path: `${prefix}header.msg_id`,
      value: `0x${id.toString(16)}`,
      note: spec?.name ?? 'unknown',
      group: hg,
    },
    {
      offset: base + 2,
      size: 2,
      path: `${prefix}header.dev_num`,
      value: String(v.getUint16(base + 2, true)),
      group: hg,
    },
    {
      offset: base + 4,
      size: 2,
      path: `${prefix}header.token`,
      value: `0x${v.getUint16(base + 4, true).toString(16)}`,
      group: hg,
    },
    {
      offset: base + 6,
      size: 2,
      path: `${prefix}header.msg_size`,
      value: String(size),
      note: 'header + body',
      group: hg,
    },
  );
  const body = spec === undefined ? undefined : response ? spec.response : spec.request;
  if (spec === undefined || body === undefined) return;
  const stop = Math.min(end, base + Math.max(size, VIRTIO_MSG_HEADER_SIZE));
  let off = base + VIRTIO_MSG_HEADER_SIZE;
  const values: Record<string, number | bigint> = {};
  for (const fs of body.fields) {
    const n = VMSG_FIELD_SIZE[fs.type];
    if (off + n > stop) return;
    const val = readVmsgField(v, off, fs.type);
    values[fs.name] = val;
    const note =
      fs.reserved === true
        ? 'reserved, MBZ'
        : fs.name === 'msg_id' && spec.name === 'ERROR'
          ? msgSpec((Number(values.msg_type ?? 0) & VMSG_TYPE_BUS) !== 0, Number(val))?.name
          : fieldNote(fs.name, val, bus);
    out.push({
      offset: off,
      size: n,
      path: `${prefix}${spec.name}.${fs.name}`,
      value: fmt(fs.name, val),
      ...(note === undefined ? {} : { note }),
      group: 'emad',
      ...(fs.reserved === true && val !== 0 && val !== 0n ? { mbzViolation: true } : {}),
    });
    off += n;
  }
  const t = body.tail;
  if (t === undefined || off >= stop) return;
  const path = `${prefix}${spec.name}.${t.name}`;
  if (t.kind === 'u32s') {
    const count = Number(values[t.count] ?? 0);
    for (let i = 0; i < count && off + 4 <= stop; i++, off += 4) {
      const w = v.getUint32(off, true);
      out.push({
        offset: off,
        size: 4,
        path: `${path}[${i}]`,
        value: `0x${w.toString(16)}`,
        group: 'constituent',
      });
    }
  } else if (t.kind === 'bytes') {
    const len = t.count === 'rest' ? stop - off : Math.min(stop - off, Number(values[t.count] ?? 0));
    if (len <= 0) return;
    const bytes = buf.subarray(off, off + len);
    const text = [...bytes].every((x) => x >= 0x20 && x <= 0x7e)
      ? `"${String.fromCharCode(...bytes)}"`
      : undefined;
    out.push({
      offset: off,
      size: len,
      path,
      value: hexStr(bytes),
      ...(text === undefined ? {} : { note: text }),
      group: 'constituent',
    });
  } else if (depth < 1) layoutFields(buf, off, stop - off, `${path}.`, depth + 1, out);
}

/**
 * The fields of a REQ2/RESP2 virtio-msg payload (the 112 bytes of x4–x17, {@link payloadBytes}) for the web
 * view's bytes pane: header, body and tail fields with offsets, plus the decode result (a located error
 * outlines its bytes). A busy (all-zero) payload has no fields. Never throws.
 */
export function annotateVirtioPayload(bytes: Uint8Array): VirtioAnnotated {
  if (bytes.every((b) => b === 0)) return { payload: { kind: 'busy' }, size: 0, fields: [] };
  const d = decodeVirtioMsg(bytes);
  const fields: VirtioFieldAnnotation[] = [];
  layoutFields(bytes, 0, VIRTIO_MSG_FFA_MAX_SIZE, '', 0, fields);
  const size =
    bytes.length < VIRTIO_MSG_HEADER_SIZE ? 0 : Math.min(bytes.length, bytes[6]! | (bytes[7]! << 8));
  return d.ok
    ? { payload: { kind: 'msg', msg: d.value }, size, fields }
    : {
        payload: { kind: 'error', code: d.error.code, message: d.error.message },
        size,
        fields,
        error: d.error,
      };
}
