/**
 * The virtio-msg codec: the common 8-byte header, the transport messages and the FF-A bus messages, parsed with
 * located errors (never throws on input) and built from typed values (throws on invalid values: a programming
 * error). Every body layout is one `const` table below, read by the decoder, the encoder and the describer alike
 * (../shared/STYLE.md habit 5), so the trace text cannot drift from the code.
 *
 * Pinned revisions (docs/virtio-msg.md):
 * - Common header and transport IDs: `transport-msg.tex`, "Common Message Format", wmamills/virtio-msg-spec at
 *   commit 009bce08 (peers-and-tests.md §5). `msg_size` counts the header. `token` belongs to the bus.
 * - FF-A bus IDs, the 104-byte maximum and the UUIDs: the 2026 FF-A binding PoC
 *   (`drivers/virtio/virtio_msg_bus_ffa_protocol.h`, bertrand-marquis/virtio-msg-spec `linux-poc/`, patch 07/12).
 * - Field layouts of the bodies follow the field lists of those sources; the notes do not give byte offsets for
 *   every body, so where a list had to be laid out (order, padding) it is the model's layout, marked
 *   **(model layout)** on the table. A reserved field is MBZ and rejected when it is not zero.
 */
import { type DecodeError, fail, ok, type Result } from '../ffa/result.ts';

/** The header size and the FF-A binding's maximum message size (`FFA_BUS_MAX_MSG_SIZE`). */
export const VIRTIO_MSG_HEADER_SIZE = 8;
export const VIRTIO_MSG_FFA_MAX_SIZE = 104;
/** Revision 1 of the transport lets a bus advertise 52..65 535 bytes (009bce08). */
export const VIRTIO_MSG_MIN_MAX_SIZE = 52;

/** `type` bits (common header). */
export const VMSG_TYPE_RESPONSE = 0x01;
export const VMSG_TYPE_BUS = 0x02;
/** `msg_id` bit 6: an event (0x40–0x7F, and 0xC0–0xFF among the bus-specific IDs). */
export const VMSG_ID_EVENT = 0x40;

type FieldType = 'u8' | 'u16' | 'u32' | 'u64';
/** Bytes of each field type. */
export const VMSG_FIELD_SIZE: Record<FieldType, number> = { u8: 1, u16: 2, u32: 4, u64: 8 };
const SIZE = VMSG_FIELD_SIZE;

/** A little-endian field of `type` at `off` (u64 as bigint). */
export function readVmsgField(v: DataView, off: number, type: FieldType): number | bigint {
  return type === 'u8'
    ? v.getUint8(off)
    : type === 'u16'
      ? v.getUint16(off, true)
      : type === 'u32'
        ? v.getUint32(off, true)
        : v.getBigUint64(off, true);
}

/** One fixed field of a body; `reserved` fields are MBZ. */
interface FieldSpec {
  readonly name: string;
  readonly type: FieldType;
  readonly reserved?: boolean;
}

/**
 * A variable tail after the fixed fields: `u32s` (a count of 32-bit words named by `count`), `bytes` (a count of
 * bytes named by `count`, or `rest` = to the end of the message), or a nested `msg` (EVENT_POLL's first event).
 */
type TailSpec =
  | { readonly kind: 'u32s'; readonly name: string; readonly count: string }
  | { readonly kind: 'bytes'; readonly name: string; readonly count: string | 'rest' }
  | { readonly kind: 'msg'; readonly name: string };

interface BodySpec {
  readonly fields: readonly FieldSpec[];
  readonly tail?: TailSpec;
}

/** A message of the table: its ID, bus or transport, and the request/response (or event) bodies. */
export interface MsgSpec {
  readonly id: number;
  readonly bus: boolean;
  readonly name: VirtioMsgName;
  readonly request: BodySpec;
  /** Absent for events (they have no response). */
  readonly response?: BodySpec;
}

const f = (name: string, type: FieldType): FieldSpec => ({ name, type });
const rsv = (name: string, type: FieldType): FieldSpec => ({ name, type, reserved: true });
const EMPTY: BodySpec = { fields: [] };

export type VirtioMsgName =
  | 'GET_DEVICE_INFO'
  | 'GET_DEVICE_FEATURES'
  | 'SET_DRIVER_FEATURES'
  | 'GET_CONFIG'
  | 'SET_CONFIG'
  | 'GET_DEVICE_STATUS'
  | 'SET_DEVICE_STATUS'
  | 'GET_VQUEUE'
  | 'SET_VQUEUE'
  | 'RESET_VQUEUE'
  | 'GET_SHM'
  | 'EVENT_CONFIG'
  | 'EVENT_AVAIL'
  | 'EVENT_USED'
  | 'GET_DEVICES'
  | 'PING'
  | 'EVENT_DEVICE'
  | 'VERSION'
  | 'AREA_SHARE'
  | 'AREA_UNSHARE'
  | 'RESET'
  | 'EVENT_POLL'
  | 'EVENT_CONFIGURE'
  | 'FIFO_CONFIGURE'
  | 'ERROR'
  | 'AREA_RELEASE';

/**
 * Transport messages (`transport-msg.tex` 009bce08, the draft's ID table). Bodies **(model layout)** from the
 * draft's field lists: GET_DEVICE_INFO (device/vendor ID, UUID, feature-block count, config size, max
 * virtqueues, admin VQs); features in 32-bit blocks; GET/SET_CONFIG with generation, offset, length (the 12 bytes
 * the draft's 244-byte computation subtracts); GET_SHM base and length (length 0 = no such region).
 */
export const TRANSPORT_MESSAGES: readonly MsgSpec[] = [
  {
    id: 0x02,
    bus: false,
    name: 'GET_DEVICE_INFO',
    request: EMPTY,
    response: {
      fields: [
        f('device_id', 'u32'),
        f('vendor_id', 'u32'),
        f('uuid_lo', 'u64'),
        f('uuid_hi', 'u64'),
        f('num_feature_blocks', 'u32'),
        f('config_size', 'u32'),
        f('max_virtqueues', 'u32'),
        f('admin_vq_start', 'u16'),
        f('admin_vq_count', 'u16'),
      ],
    },
  },
  {
    id: 0x03,
    bus: false,
    name: 'GET_DEVICE_FEATURES',
    request: { fields: [f('index', 'u32'), f('num', 'u32')] },
    response: {
      fields: [f('index', 'u32'), f('num', 'u32')],
      tail: { kind: 'u32s', name: 'features', count: 'num' },
    },
  },
  {
    id: 0x04,
    bus: false,
    name: 'SET_DRIVER_FEATURES',
    request: {
      fields: [f('index', 'u32'), f('num', 'u32')],
      tail: { kind: 'u32s', name: 'features', count: 'num' },
    },
    response: EMPTY,
  },
  {
    id: 0x05,
    bus: false,
    name: 'GET_CONFIG',
    request: { fields: [f('offset', 'u32'), f('length', 'u32')] },
    response: {
      fields: [f('generation', 'u32'), f('offset', 'u32'), f('length', 'u32')],
      tail: { kind: 'bytes', name: 'data', count: 'length' },
    },
  },
  {
    id: 0x06,
    bus: false,
    name: 'SET_CONFIG',
    request: {
      fields: [f('generation', 'u32'), f('offset', 'u32'), f('length', 'u32')],
      tail: { kind: 'bytes', name: 'data', count: 'length' },
    },
    response: { fields: [f('generation', 'u32'), f('offset', 'u32'), f('length', 'u32')] },
  },
  {
    id: 0x07,
    bus: false,
    name: 'GET_DEVICE_STATUS',
    request: EMPTY,
    response: { fields: [f('status', 'u32')] },
  },
  {
    id: 0x08,
    bus: false,
    name: 'SET_DEVICE_STATUS',
    request: { fields: [f('status', 'u32')] },
    response: { fields: [f('status', 'u32')] },
  },
  {
    id: 0x09,
    bus: false,
    name: 'GET_VQUEUE',
    request: { fields: [f('index', 'u32')] },
    response: {
      fields: [
        f('index', 'u32'),
        f('max_size', 'u32'),
        f('size', 'u32'),
        rsv('reserved', 'u32'),
        f('desc_addr', 'u64'),
        f('driver_addr', 'u64'),
        f('device_addr', 'u64'),
      ],
    },
  },
  {
    id: 0x0a,
    bus: false,
    name: 'SET_VQUEUE',
    request: {
      fields: [
        f('index', 'u32'),
        f('size', 'u32'),
        f('desc_addr', 'u64'),
        f('driver_addr', 'u64'),
        f('device_addr', 'u64'),
      ],
    },
    response: EMPTY,
  },
  { id: 0x0b, bus: false, name: 'RESET_VQUEUE', request: { fields: [f('index', 'u32')] }, response: EMPTY },
  {
    id: 0x0c,
    bus: false,
    name: 'GET_SHM',
    request: { fields: [f('index', 'u32')] },
    response: {
      fields: [f('index', 'u32'), rsv('reserved', 'u32'), f('length', 'u64'), f('address', 'u64')],
    },
  },
  {
    id: 0x40,
    bus: false,
    name: 'EVENT_CONFIG',
    request: { fields: [f('status', 'u32'), f('generation', 'u32')] },
  },
  { id: 0x41, bus: false, name: 'EVENT_AVAIL', request: { fields: [f('index', 'u32'), f('next', 'u32')] } },
  { id: 0x42, bus: false, name: 'EVENT_USED', request: { fields: [f('index', 'u32')] } },
];

/**
 * Bus messages: the generic ones (GET_DEVICES 0x02 bitmap windows, PING 0x03, EVENT_DEVICE 0x40) and the FF-A
 * bus's private IDs from 0x80 (2026 binding, patch 07/12). VERSION carries bus version, transport revision,
 * FF-A version, feature bits, bus features and `max_areas`; AREA_SHARE {area_id, mem_handle, mem_tag,
 * page_count, sharing_attrs}. Offsets and padding are **(model layout)**.
 */
export const BUS_MESSAGES: readonly MsgSpec[] = [
  {
    id: 0x02,
    bus: true,
    name: 'GET_DEVICES',
    request: { fields: [f('offset', 'u16'), f('num', 'u16')] },
    response: {
      fields: [f('offset', 'u16'), f('num', 'u16'), f('next_offset', 'u16'), rsv('reserved', 'u16')],
      tail: { kind: 'bytes', name: 'bitmap', count: 'rest' },
    },
  },
  {
    id: 0x03,
    bus: true,
    name: 'PING',
    request: { fields: [f('data', 'u32')] },
    response: { fields: [f('data', 'u32')] },
  },
  {
    id: 0x40,
    bus: true,
    name: 'EVENT_DEVICE',
    request: { fields: [f('dev_num', 'u16'), f('state', 'u16')] },
  },
  {
    id: 0x80,
    bus: true,
    name: 'VERSION',
    request: {
      fields: [
        f('bus_version', 'u16'),
        f('transport_revision', 'u16'),
        f('ffa_version', 'u32'),
        f('features', 'u32'),
        f('bus_features', 'u32'),
        f('max_areas', 'u16'),
        rsv('reserved', 'u16'),
      ],
    },
    response: {
      fields: [
        f('bus_version', 'u16'),
        f('transport_revision', 'u16'),
        f('ffa_version', 'u32'),
        f('features', 'u32'),
        f('bus_features', 'u32'),
        f('max_areas', 'u16'),
        rsv('reserved', 'u16'),
      ],
    },
  },
  {
    id: 0x81,
    bus: true,
    name: 'AREA_SHARE',
    request: {
      fields: [
        f('area_id', 'u16'),
        rsv('reserved', 'u16'),
        f('page_count', 'u32'),
        f('mem_handle', 'u64'),
        f('mem_tag', 'u64'),
        f('sharing_attrs', 'u32'),
        rsv('reserved2', 'u32'),
      ],
    },
    response: { fields: [f('area_id', 'u16'), rsv('reserved', 'u16')] },
  },
  {
    id: 0x82,
    bus: true,
    name: 'AREA_UNSHARE',
    request: { fields: [f('area_id', 'u16'), rsv('reserved', 'u16')] },
    response: { fields: [f('area_id', 'u16'), rsv('reserved', 'u16')] },
  },
  { id: 0x83, bus: true, name: 'RESET', request: EMPTY, response: EMPTY },
  {
    id: 0x84,
    bus: true,
    name: 'EVENT_POLL',
    request: EMPTY,
    response: { fields: [f('pending', 'u16'), rsv('reserved', 'u16')], tail: { kind: 'msg', name: 'event' } },
  },
  {
    id: 0x85,
    bus: true,
    name: 'EVENT_CONFIGURE',
    request: { fields: [f('method', 'u32')] },
    response: { fields: [f('method', 'u32')] },
  },
  {
    id: 0x86,
    bus: true,
    name: 'FIFO_CONFIGURE',
    request: { fields: [f('area_id', 'u16'), rsv('reserved', 'u16'), f('offset', 'u32'), f('size', 'u32')] },
    response: EMPTY,
  },
  {
    // ERROR answers any request the other side cannot serve: the failing request's ID and an error code.
    id: 0x87,
    bus: true,
    name: 'ERROR',
    request: { fields: [f('error', 'u32'), f('msg_type', 'u8'), f('msg_id', 'u8'), rsv('reserved', 'u16')] },
  },
  {
    id: 0xc0,
    bus: true,
    name: 'AREA_RELEASE',
    request: { fields: [f('area_id', 'u16'), rsv('reserved', 'u16')] },
  },
];

/** Error codes carried by ERROR **(model values)**. */
export const VMSG_ERRORS = {
  UNSUPPORTED: 1,
  INVALID: 2,
  NO_DEVICE: 3,
  NO_MEMORY: 4,
  BUSY: 5,
} as const;
export type VirtioMsgErrorName = keyof typeof VMSG_ERRORS;

/** Name of an ERROR code (undefined when unknown). */
export function vmsgErrorName(code: number): VirtioMsgErrorName | undefined {
  for (const [k, v] of Object.entries(VMSG_ERRORS)) if (v === code) return k as VirtioMsgErrorName;
  return undefined;
}

/** The spec entry of (bus, id), or undefined. */
export function msgSpec(bus: boolean, id: number): MsgSpec | undefined {
  return (bus ? BUS_MESSAGES : TRANSPORT_MESSAGES).find((m) => m.id === id);
}

function specByName(name: VirtioMsgName): MsgSpec {
  const s = BUS_MESSAGES.find((m) => m.name === name) ?? TRANSPORT_MESSAGES.find((m) => m.name === name);
  if (s === undefined) throw new TypeError(`unknown virtio-msg name ${name}`);
  return s;
}

/** The variable tail of a decoded message. */
export type VirtioMsgTail =
  | { kind: 'u32s'; name: string; values: number[] }
  | { kind: 'bytes'; name: string; bytes: Uint8Array }
  | { kind: 'msg'; name: string; msg: VirtioMsg | undefined };

/** A decoded (or to-be-built) message. Field values are numbers, u64 fields bigints. */
export interface VirtioMsg {
  name: VirtioMsgName;
  bus: boolean;
  response: boolean;
  /** `msg_id` as on the wire. */
  id: number;
  devNum: number;
  token: number;
  /** `msg_size`: header plus body. */
  size: number;
  fields: Record<string, number | bigint>;
  tail?: VirtioMsgTail;
}

/** Values for {@link buildVirtioMsg}: omitted fields are 0. */
export interface VirtioMsgInput {
  name: VirtioMsgName;
  response?: boolean;
  devNum?: number;
  token?: number;
  fields?: Record<string, number | bigint>;
  /** Tail: words for `u32s`, bytes for `bytes`, a message for `msg` (or undefined for none). */
  tail?: readonly number[] | Uint8Array | VirtioMsgInput;
}

export interface DecodeOptions {
  /** Largest message accepted (default the FF-A binding's 104). */
  maxSize?: number;
  /** Nesting depth left for EVENT_POLL's embedded event (default 1). */
  depth?: number;
}

const NAME = 'VirtioMsg';
const at = (offset: number, size: number, field: string) => ({ kind: 'bytes' as const, offset, size, field });

/**
 * Decodes one message from the start of `buf` (e.g. the 112-byte DIRECT_REQ2 payload): header, then the body
 * the table gives for (bus, id, response), exactly `msg_size` bytes. Never throws.
 */
export function decodeVirtioMsg(buf: Uint8Array, o: DecodeOptions = {}): Result<VirtioMsg> {
  const max = o.maxSize ?? VIRTIO_MSG_FFA_MAX_SIZE;
  if (buf.length < VIRTIO_MSG_HEADER_SIZE)
    return fail(
      'VMSG_SHORT_HEADER',
      `${NAME}.ShortHeader`,
      at(0, buf.length, 'header'),
      'shorter than the 8-byte header',
      '≥ 8 bytes',
      `${buf.length}`,
    );
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const type = v.getUint8(0);
  const id = v.getUint8(1);
  const devNum = v.getUint16(2, true);
  const token = v.getUint16(4, true);
  const size = v.getUint16(6, true);
  if ((type & 0xfc) !== 0)
    return fail(
      'VMSG_TYPE_RESERVED',
      `${NAME}.TypeReserved`,
      at(0, 1, 'type'),
      'reserved type bits 2–7 set',
      '0',
      `0x${(type & 0xfc).toString(16)}`,
    );
  if (size < VIRTIO_MSG_HEADER_SIZE || size > max)
    return fail(
      'VMSG_SIZE_RANGE',
      `${NAME}.SizeRange`,
      at(6, 2, 'msg_size'),
      'message size out of range',
      `8..${max}`,
      `${size}`,
    );
  if (size > buf.length)
    return fail(
      'VMSG_SIZE_PAST_END',
      `${NAME}.SizePastEnd`,
      at(6, 2, 'msg_size'),
      'message runs past the buffer',
      `≤ ${buf.length}`,
      `${size}`,
    );
  const bus = (type & VMSG_TYPE_BUS) !== 0;
  const response = (type & VMSG_TYPE_RESPONSE) !== 0;
  const spec = msgSpec(bus, id);
  if (spec === undefined)
    return fail(
      'VMSG_UNKNOWN_ID',
      `${NAME}.UnknownId`,
      at(1, 1, 'msg_id'),
      `unknown ${bus ? 'bus' : 'transport'} message`,
      undefined,
      `0x${id.toString(16)}`,
    );
  if (bus && devNum !== 0)
    return fail(
      'VMSG_BUS_DEV_NUM',
      `${NAME}.BusDevNum`,
      at(2, 2, 'dev_num'),
      'bus messages carry dev_num 0',
      '0',
      `${devNum}`,
    );
  const body = response ? spec.response : spec.request;
  if (body === undefined)
    return fail(
      'VMSG_EVENT_RESPONSE',
      `${NAME}.EventResponse`,
      at(0, 1, 'type'),
      `${spec.name} is an event and has no response`,
      'response bit 0',
      '1',
    );
  const fields: Record<string, number | bigint> = {};
  let off = VIRTIO_MSG_HEADER_SIZE;
  for (const fs of body.fields) {
    const n = SIZE[fs.type];
    if (off + n > size)
      return fail(
        'VMSG_BODY_SHORT',
        `${NAME}.BodyShort`,
        at(off, n, `${spec.name}.${fs.name}`),
        'field past msg_size',
        `msg_size ≥ ${off + n}`,
        `${size}`,
      );
    const val = readVmsgField(v, off, fs.type);
    if (fs.reserved === true && val !== 0 && val !== 0n)
      return fail(
        'VMSG_RESERVED',
        `${NAME}.Reserved`,
        at(off, n, `${spec.name}.${fs.name}`),
        'reserved field must be zero',
        '0',
        `0x${val.toString(16)}`,
      );
    if (fs.reserved !== true) fields[fs.name] = val;
    off += n;
  }
  const msg: VirtioMsg = { name: spec.name, bus, response, id, devNum, token, size, fields };
  const t = body.tail;
  if (t !== undefined) {
    const left = size - off;
    if (t.kind === 'u32s' || (t.kind === 'bytes' && t.count !== 'rest')) {
      const count = Number(fields[t.count] ?? 0);
      const unit = t.kind === 'u32s' ? 4 : 1;
      if (count * unit !== left)
        return fail(
          'VMSG_TAIL_LENGTH',
          `${NAME}.TailLength`,
          at(off, left, `${spec.name}.${t.name}`),
          `${t.count} does not match the bytes after the fixed fields`,
          `${t.count} × ${unit} = ${left}`,
          `${count} × ${unit}`,
        );
      if (t.kind === 'u32s') {
        const values: number[] = [];
        for (let i = 0; i < count; i++) values.push(v.getUint32(off + 4 * i, true));
        msg.tail = { kind: 'u32s', name: t.name, values };
      } else msg.tail = { kind: 'bytes', name: t.name, bytes: buf.slice(off, off + count) };
    } else if (t.kind === 'bytes') {
      msg.tail = { kind: 'bytes', name: t.name, bytes: buf.slice(off, size) };
    } else {
      // EVENT_POLL: at most one embedded event, which must be exactly the rest and must be an event.
      if (left === 0) msg.tail = { kind: 'msg', name: t.name, msg: undefined };
      else {
        const depth = o.depth ?? 1;
        if (depth <= 0)
          return fail(
            'VMSG_NESTING',
            `${NAME}.Nesting`,
            at(off, left, `${spec.name}.${t.name}`),
            'embedded message nested too deep',
          );
        const inner = decodeVirtioMsg(buf.subarray(off, size), { maxSize: left, depth: depth - 1 });
        if (!inner.ok) return relocate(inner.error, off, `${spec.name}.${t.name}`);
        if (inner.value.size !== left)
          return fail(
            'VMSG_TRAILING',
            `${NAME}.Trailing`,
            at(off + inner.value.size, left - inner.value.size, `${spec.name}.${t.name}`),
            'bytes after the embedded event',
            `${inner.value.size}`,
            `${left}`,
          );
        if (inner.value.response || (inner.value.id & VMSG_ID_EVENT) === 0)
          return fail(
            'VMSG_NOT_EVENT',
            `${NAME}.NotEvent`,
            at(off, 2, `${spec.name}.${t.name}`),
            'EVENT_POLL carries events only',
            'an event',
            inner.value.name,
          );
        msg.tail = { kind: 'msg', name: t.name, msg: inner.value };
      }
    }
  } else if (off !== size) {
    return fail(
      'VMSG_TRAILING',
      `${NAME}.Trailing`,
      at(off, size - off, spec.name),
      'bytes after the last field',
      `msg_size ${off}`,
      `${size}`,
    );
  }
  return ok(msg);
}

/** An error of an embedded message, moved to its place in the outer one. */
function relocate(e: DecodeError, by: number, field: string): Result<VirtioMsg> {
  const a = e.at.kind === 'bytes' ? e.at : { kind: 'bytes' as const, offset: 0, field: '' };
  return fail(
    e.code,
    e.name,
    {
      kind: 'bytes',
      offset: a.offset + by,
      ...(a.size === undefined ? {} : { size: a.size }),
      field: `${field}.${a.field}`,
    },
    e.message.replace(/^[^:]*: /, '').split(';')[0] ?? e.message,
    e.expected,
    e.got,
  );
}

/**
 * Builds a message. Omitted fields are 0.
 * @throws TypeError for an unknown name, a field value that does not fit, a tail the body does not have, or a
 *   message larger than `maxSize` (default 104) — all programming errors.
 */
export function buildVirtioMsg(m: VirtioMsgInput, maxSize = VIRTIO_MSG_FFA_MAX_SIZE): Uint8Array {
  const spec = specByName(m.name);
  const response = m.response === true;
  const body = response ? spec.response : spec.request;
  if (body === undefined) throw new TypeError(`${m.name} is an event and has no response`);
  const given = { ...(m.fields ?? {}) };
  const t = body.tail;
  let tailBytes: Uint8Array = new Uint8Array(0);
  if (t !== undefined && m.tail !== undefined) {
    if (t.kind === 'u32s') {
      if (!Array.isArray(m.tail)) throw new TypeError(`${m.name}.${t.name} takes 32-bit words`);
      const words = m.tail as readonly number[];
      tailBytes = new Uint8Array(4 * words.length);
      const tv = new DataView(tailBytes.buffer);
      words.forEach((w, i) => {
        tv.setUint32(4 * i, w >>> 0, true);
      });
      given[t.count] ??= words.length;
    } else if (t.kind === 'bytes') {
      if (!(m.tail instanceof Uint8Array)) throw new TypeError(`${m.name}.${t.name} takes bytes`);
      tailBytes = m.tail;
      if (t.count !== 'rest') given[t.count] ??= m.tail.length;
    } else {
      if (m.tail instanceof Uint8Array || Array.isArray(m.tail))
        throw new TypeError(`${m.name}.${t.name} takes a message`);
      tailBytes = buildVirtioMsg(m.tail as VirtioMsgInput, maxSize);
    }
  } else if (m.tail !== undefined) throw new TypeError(`${m.name} has no tail`);
  let fixed = 0;
  for (const fs of body.fields) fixed += SIZE[fs.type];
  const size = VIRTIO_MSG_HEADER_SIZE + fixed + tailBytes.length;
  if (size > maxSize) throw new TypeError(`${m.name}: ${size} bytes exceed the ${maxSize}-byte maximum`);
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  v.setUint8(0, (spec.bus ? VMSG_TYPE_BUS : 0) | (response ? VMSG_TYPE_RESPONSE : 0));
  v.setUint8(1, spec.id);
  v.setUint16(2, spec.bus ? 0 : (m.devNum ?? 0), true);
  v.setUint16(4, m.token ?? 0, true);
  v.setUint16(6, size, true);
  let off = VIRTIO_MSG_HEADER_SIZE;
  for (const fs of body.fields) {
    const val = fs.reserved === true ? 0 : (given[fs.name] ?? 0);
    const n = SIZE[fs.type];
    if (fs.type === 'u64') {
      const b = BigInt(val);
      if (b < 0n || b > 0xffff_ffff_ffff_ffffn) throw new TypeError(`${m.name}.${fs.name} does not fit u64`);
      v.setBigUint64(off, b, true);
    } else {
      const x = Number(val);
      if (!Number.isInteger(x) || x < 0 || x >= 2 ** (8 * n))
        throw new TypeError(`${m.name}.${fs.name} = ${x} does not fit ${fs.type}`);
      if (fs.type === 'u8') v.setUint8(off, x);
      else if (fs.type === 'u16') v.setUint16(off, x, true);
      else v.setUint32(off, x, true);
    }
    off += n;
  }
  out.set(tailBytes, off);
  return out;
}

/** Field names of a body, in wire order (the describer and the web view list them). */
export function bodyFields(spec: MsgSpec, response: boolean): readonly string[] {
  const b = response ? spec.response : spec.request;
  return (b?.fields ?? []).filter((x) => x.reserved !== true).map((x) => x.name);
}

/** One line for traces: `virtio-msg GET_CONFIG resp dev=1 token=0x3 generation=0 offset=0 length=4 data=50001900`. */
export function describeVirtioMsg(m: VirtioMsg): string {
  const parts = [`virtio-msg ${m.bus ? 'bus ' : ''}${m.name}${m.response ? ' resp' : ''}`];
  if (!m.bus) parts.push(`dev=${m.devNum}`);
  parts.push(`token=0x${m.token.toString(16)}`);
  for (const [k, val] of Object.entries(m.fields)) {
    if (k === 'mem_handle' || k.endsWith('_addr') || k === 'address' || typeof val === 'bigint')
      parts.push(`${k}=0x${val.toString(16)}`);
    else if (k === 'error') parts.push(`${k}=${vmsgErrorName(Number(val)) ?? val}`);
    else if (k === 'msg_id' || k === 'features' || k === 'bus_features' || k === 'status')
      parts.push(`${k}=0x${val.toString(16)}`);
    else parts.push(`${k}=${val}`);
  }
  const t = m.tail;
  if (t?.kind === 'u32s') parts.push(`${t.name}=[${t.values.map((x) => `0x${x.toString(16)}`).join(',')}]`);
  else if (t?.kind === 'bytes') parts.push(`${t.name}=${hex(t.bytes)}${printable(t.bytes)}`);
  else if (t?.kind === 'msg' && t.msg !== undefined) parts.push(`{${describeVirtioMsg(t.msg)}}`);
  return parts.join(' ');
}

function hex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s || '-';
}

/** ` "text"` when the bytes are printable ASCII (console data), else nothing. */
function printable(b: Uint8Array): string {
  if (b.length === 0) return '';
  let s = '';
  for (const x of b) {
    if (x < 0x20 || x > 0x7e) return '';
    s += String.fromCharCode(x);
  }
  return ` "${s}"`;
}
