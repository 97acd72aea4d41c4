/**
 * Memory transaction descriptors v1.0 / v1.1 / v1.2 (abi.md §9.2–§9.5): parse untrusted bytes into a
 * {@link MemTransaction} or a located error, and build bytes from a value. Every offset, count and length is
 * checked by {@link Cursor.region} before anything is read; sizes are computed only after each factor has been
 * bounded (u32 × 32 stays below 2^53).
 */
import { fail, type Location, ok, type Result } from '../result.ts';
import { strictRule } from '../strict.ts';
import {
  COMPOSITE,
  CONSTITUENT,
  EMAD_V1_0,
  EMAD_V1_2,
  type FieldValue,
  fieldsOf,
  isZeroValue,
  type Layout,
  MEM_HEADER_V1_0,
  MEM_HEADER_V1_1,
  readField,
  writeField,
} from './layout.ts';
import type { Constituent, DescVersion, EMAD, MemTransaction } from './types.ts';

/** An annotated field, recorded while parsing (for the dump and the web view's byte pane). */
export interface Annotation {
  offset: number;
  size: number;
  path: string;
  value: string;
  note?: string;
  group: 'header' | 'emad' | 'composite' | 'constituent' | 'other';
  mbzViolation?: boolean;
}

/** 2^52 and 2^64, hoisted: a bigint literal expression is re-evaluated on every use. */
const TWO_52 = 1n << 52n;
const TWO_64 = 1n << 64n;

/** The fields the parser and builder read and write, looked up once. */
const HDR_FIELDS = ['sender', 'attributes', 'flags', 'handle', 'tag', 'ep_count'] as const;
const HDR_V1_0 = fieldsOf(MEM_HEADER_V1_0, HDR_FIELDS);
const HDR_V1_1 = fieldsOf(MEM_HEADER_V1_1, [...HDR_FIELDS, 'ep_mem_size', 'ep_mem_offset']);
const EMAD_FIELDS = ['endpoint', 'permissions', 'access_flags', 'composite_off'] as const;
const EMAD_16 = fieldsOf(EMAD_V1_0, EMAD_FIELDS);
const EMAD_32 = fieldsOf(EMAD_V1_2, [...EMAD_FIELDS, 'impdef']);
const COMP = fieldsOf(COMPOSITE, ['total_pg_cnt', 'addr_range_cnt']);
const CONST = fieldsOf(CONSTITUENT, ['address', 'pg_cnt']);

/** Most constituents the parser walks (a 1 MiB descriptor holds 65 536); bounds every loop. */
export const MAX_CONSTITUENTS = 65536;

export type MemKind = 'send' | 'retrieve-req' | 'retrieve-resp' | 'hyp-retrieve-req';

export interface ParseMemOptions {
  /** Report MBZ/reserved violations as errors. */
  strict?: boolean;
  /** Which use of the descriptor: send (default) checks the composite fully. */
  kind?: MemKind;
  /** send: the constituents must end exactly at the end of the buffer (default true; abi.md §9.5 #9). */
  exactLength?: boolean;
}

function hexv(x: FieldValue): string {
  if (x instanceof Uint8Array) {
    let s = '';
    for (const b of x) s += b.toString(16).padStart(2, '0');
    return s;
  }
  return `0x${x.toString(16)}`;
}

/** A bounded reader over one buffer that records what it reads. */
export class Cursor {
  readonly u8: Uint8Array;
  readonly view: DataView;
  readonly rec: Annotation[] | undefined;
  readonly strict: boolean;

  /**
   * `o.view`: a DataView the caller keeps over the same bytes (same buffer and first byte, possibly longer), used
   * instead of a new one per parse; any other view is ignored. Every read is bounded by `u8`'s length either way.
   */
  constructor(u8: Uint8Array, o: { strict?: boolean; record?: boolean; view?: DataView } = {}) {
    this.u8 = u8;
    const v = o.view;
    this.view =
      v !== undefined && v.buffer === u8.buffer && v.byteOffset === u8.byteOffset && v.byteLength >= u8.length
        ? v
        : new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
    this.strict = o.strict === true;
    this.rec = o.record ? [] : undefined;
  }

  /**
   * `[off, off+size)` must lie inside the buffer (no overflow: both are bounded before they are added). `index`
   * names an array element (`emad[3]`): the name is built only for the error.
   */
  region<T>(off: number, size: number, field: string, index?: number): Result<T> | undefined {
    if (
      !Number.isSafeInteger(off) ||
      !Number.isSafeInteger(size) ||
      off < 0 ||
      size < 0 ||
      off > this.u8.length ||
      size > this.u8.length - off
    ) {
      if (index !== undefined) field = `${field}[${index}]`;
      return fail(
        off >= this.u8.length ? 'DESC_OFFSET_OUT_OF_BOUNDS' : 'DESC_TOO_SHORT',
        off >= this.u8.length ? 'Descriptor.OffsetOutOfBounds' : 'Descriptor.TooShort',
        { kind: 'bytes', offset: off, size, field },
        `${field} does not fit the ${this.u8.length}-byte buffer`,
        `≤ ${this.u8.length}`,
        `${off}+${size}`,
      );
    }
    return undefined;
  }

  /**
   * Checks a layout at `at` without building a record of it: its bounds, and, when strict or recording, every
   * field (MBZ violations, annotations) through {@link struct}. The caller then reads the fields it needs through
   * their specs. `index` names an array element (`emad[3]`); the path string is built only when it is used.
   */
  check<T>(
    l: Layout,
    at: number,
    path: string,
    group: Annotation['group'],
    index?: number,
  ): Result<T> | undefined {
    if (!this.strict && this.rec === undefined) return this.region<T>(at, l.size, path, index);
    const r = this.struct(l, at, index === undefined ? path : `${path}[${index}]`, group);
    return r.ok ? undefined : (r as Result<never>);
  }

  /** Reads a layout at `at` (bounds-checked), recording each field; MBZ violations fail in strict mode. */
  struct(
    l: Layout,
    at: number,
    path: string,
    group: Annotation['group'],
  ): Result<Record<string, FieldValue>> {
    const e = this.region<Record<string, FieldValue>>(at, l.size, path);
    if (e) return e;
    const out: Record<string, FieldValue> = {};
    // Reserved fields matter only to strict parsing and to the annotated dump: otherwise they are not read
    // (no copy of a reserved byte array per descriptor on the proxy's hot path).
    const skipMbz = !this.strict && this.rec === undefined;
    for (const f of l.fields) {
      if (skipMbz && f.mbz === true) continue;
      const v = readField(this.view, at, f);
      out[f.name] = v;
      const bad = f.mbz === true && !isZeroValue(v);
      this.rec?.push({
        offset: at + f.off,
        size: f.size,
        path: `${path}.${f.name}`,
        value: hexv(v),
        note: f.note,
        group,
        ...(bad ? { mbzViolation: true } : {}),
      });
      if (bad && this.strict) {
        return fail(
          'DESC_MBZ_NONZERO',
          'Descriptor.MbzNonZero',
          { kind: 'bytes', offset: at + f.off, size: f.size, field: `${path}.${f.name}` },
          'reserved field must be zero',
          '0',
          hexv(v),
          'desc/reserved-fields',
        );
      }
    }
    return ok(out);
  }
}

const num = (x: FieldValue | undefined): number => (typeof x === 'number' ? x : 0);
const big = (x: FieldValue | undefined): bigint => (typeof x === 'bigint' ? x : 0n);

/** Header size of a layout version. */
export function headerSize(v: DescVersion): number {
  return v === '1.0' ? 32 : 48;
}

/** EMAD size a version writes. */
export function emadSizeOf(v: DescVersion): number {
  return v === '1.2' ? 32 : 16;
}

/**
 * Parses a memory transaction descriptor (send, retrieve request/response). Never throws, never reads out of
 * bounds, never trusts a count or offset. The EMAD array is found through `ep_mem_offset` (v1.1+).
 */
export function parseMemTransaction(
  buf: Uint8Array,
  version: DescVersion,
  opts: ParseMemOptions = {},
): Result<MemTransaction> {
  return parseMemWith(new Cursor(buf, { strict: opts.strict === true }), version, opts);
}

/** A parsed transaction's header fields around `emads` (module level: no closure per parse). */
function headerOf(
  v: DataView,
  version: DescVersion,
  emadSize: number,
  emadOffset: number,
  emads: EMAD[],
): MemTransaction {
  const hf = version === '1.0' ? HDR_V1_0 : HDR_V1_1;
  return {
    version,
    sender: num(readField(v, 0, hf.sender)),
    attributes: num(readField(v, 0, hf.attributes)),
    flags: num(readField(v, 0, hf.flags)),
    handle: big(readField(v, 0, hf.handle)),
    tag: big(readField(v, 0, hf.tag)),
    emadSize,
    emadOffset,
    emads,
  };
}

/** Parse with a caller-supplied cursor (the annotated dump records through it). */
export function parseMemWith(
  c: Cursor,
  version: DescVersion,
  opts: ParseMemOptions = {},
): Result<MemTransaction> {
  const kind = opts.kind ?? 'send';
  const len = c.u8.length;
  const H = headerSize(version);
  const he = c.check<MemTransaction>(
    version === '1.0' ? MEM_HEADER_V1_0 : MEM_HEADER_V1_1,
    0,
    'header',
    'header',
  );
  if (he) return he;
  const v = c.view;
  const hf = version === '1.0' ? HDR_V1_0 : HDR_V1_1;
  const count = num(readField(v, 0, hf.ep_count));
  let emadSize: number;
  let emadOffset: number;
  if (version === '1.0') {
    emadSize = 16;
    emadOffset = 32;
  } else {
    emadSize = num(readField(v, 0, HDR_V1_1.ep_mem_size));
    emadOffset = num(readField(v, 0, HDR_V1_1.ep_mem_offset));
  }
  if (count === 0) {
    if (kind !== 'hyp-retrieve-req') {
      return fail(
        'DESC_COUNT_ZERO',
        'Descriptor.CountZero',
        bytesAt(28, 'header.ep_count', 4),
        'EMAD count must be at least 1 (0 only in a hypervisor retrieve request)',
        '≥ 1',
        '0',
      );
    }
    const tx = headerOf(v, version, emadSize, emadOffset, []);
    const se = c.strict ? memStrict<MemTransaction>(tx, kind, 0) : undefined;
    return se ?? ok(tx);
  }
  if (version !== '1.0') {
    // HF accepts 16-byte EMADs from a 1.2 layout; a 32-byte EMAD in a 1.1 layout is rejected (abi.md §9.2).
    const okSize = version === '1.1' ? emadSize === 16 : emadSize === 16 || emadSize === 32;
    if (!okSize) {
      return fail(
        'DESC_EMAD_SIZE',
        'Descriptor.EmadSize',
        bytesAt(24, 'header.ep_mem_size', 4),
        `EMAD size not valid for a v${version} layout`,
        version === '1.1' ? '16' : '16 or 32',
        String(emadSize),
      );
    }
    if (emadOffset < H) {
      return fail(
        'DESC_EMAD_OFFSET',
        'Descriptor.EmadOffset',
        bytesAt(32, 'header.ep_mem_offset', 4),
        'EMAD array overlaps the header',
        `≥ ${H}`,
        String(emadOffset),
      );
    }
    if (c.strict && emadOffset % 16 !== 0) {
      return ruleFail(
        'desc/emad-offset-align',
        bytesAt(32, 'header.ep_mem_offset', 4),
        'EMAD offset must be 16-byte aligned',
        'multiple of 16',
        String(emadOffset),
      );
    }
  }
  if (count > Math.floor(len / 16)) {
    return fail(
      'DESC_OFFSET_OUT_OF_BOUNDS',
      'Descriptor.OffsetOutOfBounds',
      bytesAt(28, 'header.ep_count', 4),
      'EMAD array does not fit the buffer',
      `≤ ${Math.floor(len / emadSize)}`,
      String(count),
    );
  }
  const re = c.region<MemTransaction>(emadOffset, count * emadSize, 'emad[]');
  if (re) return re;
  const el = emadSize === 32 ? EMAD_V1_2 : EMAD_V1_0;
  const ef = emadSize === 32 ? EMAD_32 : EMAD_16;
  const emads: EMAD[] = [];
  for (let i = 0; i < count; i++) {
    const ea = emadOffset + i * emadSize;
    const ee = c.check<MemTransaction>(el, ea, 'emad', 'emad', i);
    if (ee) return ee;
    const e: EMAD = {
      access: {
        endpointId: num(readField(v, ea, ef.endpoint)),
        permissions: num(readField(v, ea, ef.permissions)),
        flags: num(readField(v, ea, ef.access_flags)),
      },
      compositeOffset: num(readField(v, ea, ef.composite_off)),
    };
    if (emadSize === 32) e.impdef = readField(v, ea, EMAD_32.impdef) as Uint8Array;
    emads.push(e);
  }
  const tx = headerOf(v, version, emadSize, emadOffset, emads);
  if (c.strict) {
    const se = memStrict<MemTransaction>(tx, kind, emadOffset);
    if (se) return se;
  }
  const off = emads[0]!.compositeOffset;
  for (let i = 1; i < emads.length; i++) {
    if (emads[i]!.compositeOffset !== off) {
      return fail(
        'DESC_COMPOSITE_MISMATCH',
        'Descriptor.CompositeMismatch',
        bytesAt(emadOffset + i * emadSize + 4, `emad[${i}].composite_off`, 4),
        'every EMAD must carry the same composite offset',
        String(off),
        String(emads[i]!.compositeOffset),
      );
    }
  }
  if (off === 0) {
    if (kind === 'send')
      return fail(
        'DESC_COMPOSITE_ZERO',
        'Descriptor.CompositeZero',
        bytesAt(emadOffset + 4, 'emad[0].composite_off', 4),
        'a send needs a composite descriptor',
        '≠ 0',
        '0',
      );
    return ok(tx);
  }
  if (kind === 'retrieve-req') {
    return fail(
      'DESC_COMPOSITE_IN_RETRIEVE',
      'Descriptor.CompositeInRetrieve',
      bytesAt(emadOffset + 4, 'emad[0].composite_off', 4),
      'a retrieve request names the region by handle',
      '0',
      String(off),
    );
  }
  const endEmads = emadOffset + count * emadSize;
  if (off < endEmads) {
    return fail(
      'DESC_COMPOSITE_OVERLAP',
      'Descriptor.CompositeOverlap',
      bytesAt(emadOffset + 4, 'emad[0].composite_off', 4),
      'composite overlaps the EMAD array',
      `≥ ${endEmads}`,
      String(off),
    );
  }
  if (kind === 'send' && off % 16 !== 0) {
    return fail(
      'DESC_MISALIGNED',
      'Descriptor.Misaligned',
      bytesAt(emadOffset + 4, 'emad[0].composite_off', 4),
      'composite offset must be 16-byte aligned (HF)',
      'multiple of 16',
      String(off),
    );
  }
  const ce = c.check<MemTransaction>(COMPOSITE, off, 'composite', 'composite');
  if (ce) return ce;
  const total = num(readField(v, off, COMP.total_pg_cnt));
  const n = num(readField(v, off, COMP.addr_range_cnt));
  const room = Math.floor((len - off - 16) / 16);
  if (kind === 'send' && opts.exactLength !== false && ((len - off - 16) % 16 !== 0 || room !== n)) {
    return fail(
      'DESC_COUNT_MISMATCH',
      'Descriptor.CountMismatch',
      bytesAt(off + 4, 'composite.addr_range_cnt', 4),
      '(length − composite offset − 16) / 16 must equal the address range count',
      String(room),
      String(n),
    );
  }
  if (n > room || n > MAX_CONSTITUENTS) {
    return fail(
      'DESC_OFFSET_OUT_OF_BOUNDS',
      'Descriptor.OffsetOutOfBounds',
      bytesAt(off + 4, 'composite.addr_range_cnt', 4),
      'constituents do not fit the buffer',
      `≤ ${Math.min(room, MAX_CONSTITUENTS)}`,
      String(n),
    );
  }
  const constituents: Constituent[] = [];
  let sum = 0;
  // Overlap: ascending input below 2^52 (what drivers send) is decided in this loop, each start against the
  // previous end, as numbers from the view; anything else goes through firstOverlap's sort (the same answer).
  let ascending = true;
  let prevStart = -1;
  let prevEnd = 0;
  let overlap: [number, number] | undefined;
  for (let i = 0; i < n; i++) {
    const base = off + 16 + 16 * i;
    let address: bigint;
    let pageCount: number;
    // Unrecorded and in bounds with a clean reserved word: the two fields straight from the view (no field
    // record, no path string). Anything else takes the recording reader, which names the failure.
    if (
      c.rec === undefined &&
      base + 16 <= c.u8.length &&
      (!c.strict || v.getUint32(base + 12, true) === 0)
    ) {
      address = v.getBigUint64(base, true);
      pageCount = v.getUint32(base + 8, true);
    } else {
      const ke = c.check<MemTransaction>(CONSTITUENT, base, 'constituent', 'constituent', i);
      if (ke) return ke;
      address = big(readField(v, base, CONST.address));
      pageCount = num(readField(v, base, CONST.pg_cnt));
    }
    // The low word holds the alignment and the high word decides whether the end can pass 2^64 (pages × 4 KiB
    // < 2^44): both tested as numbers, the bigint arithmetic only for an address in the top 2^44 bytes.
    if ((v.getUint32(base, true) & 0xfff) !== 0) {
      return fail(
        'DESC_MISALIGNED',
        'Descriptor.Misaligned',
        bytesAt(base, `constituent[${i}].address`, 8),
        'constituent address must be 4 KiB aligned',
        'multiple of 0x1000',
        `0x${address.toString(16)}`,
      );
    }
    if (pageCount === 0) {
      return fail(
        'DESC_ZERO_PAGES',
        'Descriptor.ZeroPages',
        bytesAt(base + 8, `constituent[${i}].pg_cnt`, 4),
        'a constituent must have at least one page',
        '≥ 1',
        '0',
      );
    }
    if (v.getUint32(base + 4, true) >= 0xfffff000 && address + BigInt(pageCount) * 4096n > TWO_64) {
      return fail(
        'DESC_OVERFLOW',
        'Descriptor.Overflow',
        bytesAt(base, `constituent[${i}]`, 16),
        'address + pages × 4 KiB overflows 64 bits',
        '< 2^64',
        `0x${address.toString(16)} + ${pageCount} pages`,
      );
    }
    sum += pageCount;
    constituents.push({ address, pageCount });
    if (ascending) {
      const hiWord = v.getUint32(base + 4, true);
      const start = hiWord * 0x1_0000_0000 + v.getUint32(base, true);
      if (hiWord >= 0x10_0000 || start < prevStart) ascending = false;
      else {
        if (overlap === undefined && prevEnd > start) overlap = [i - 1, i];
        prevStart = start;
        prevEnd = start + pageCount * 4096;
      }
    }
  }
  if (sum !== total) {
    return fail(
      'DESC_PAGE_SUM',
      'Descriptor.PageSum',
      bytesAt(off, 'composite.total_pg_cnt', 4),
      'total page count must equal the sum of the constituents',
      String(sum),
      String(total),
    );
  }
  if (kind === 'send' && constituents.length > 1) {
    const found = ascending ? overlap : firstOverlap(constituents);
    if (found !== undefined) {
      const [pi, qi] = found;
      return fail(
        'DESC_OVERLAP',
        'Descriptor.Overlap',
        bytesAt(off + 16 + 16 * qi, `constituent[${qi}]`, 16),
        'constituents overlap',
        'disjoint ranges',
        `overlaps constituent[${pi}]`,
      );
    }
  }
  tx.composite = { totalPageCount: total, constituents };
  return ok(tx);
}

const RULE_ERRORS = {
  DESC_MBZ_NONZERO: 'Descriptor.MbzNonZero',
  DESC_MISALIGNED: 'Descriptor.Misaligned',
  DESC_RESERVED_VALUE: 'Descriptor.ReservedValue',
} as const;

/** A strict descriptor rule's failure, with the code STRICT_RULES (../strict.ts) gives the rule. */
export function ruleFail<T>(
  rule: string,
  at: Location,
  why: string,
  expected: string,
  got: string,
): Result<T> {
  const code = strictRule(rule).code as keyof typeof RULE_ERRORS;
  return fail(code, RULE_ERRORS[code], at, why, expected, got, rule);
}

const bytesAt = (offset: number, field: string, size: number): Location => ({
  kind: 'bytes',
  offset,
  field,
  size,
});
const hx = (v: number): string => `0x${v.toString(16)}`;

/** The lowest set bit's range of a non-zero mask, as `[hi:lo]` over the set bits. */
function bitsOf(bad: number): string {
  const hi = 31 - Math.clz32(bad);
  const lo = 31 - Math.clz32(bad & -bad);
  return hi === lo ? `bit ${hi}` : `bits [${hi}:${lo}]`;
}

/**
 * The strict rules of a parsed memory transaction descriptor (abi.md §9.1–§9.4): attributes, flags per use,
 * EMAD permissions and access flags, the all-zero hypervisor retrieve request. Values are already bounds-checked.
 */
function memStrict<T>(tx: MemTransaction, kind: MemKind, emadOffset: number): Result<T> | undefined {
  const v10 = tx.version === '1.0';
  const attrSize = v10 ? 1 : 2;
  if (kind === 'hyp-retrieve-req') {
    // abi.md §9.1: every field but the handle is 0, including EMAD size and offset (HF's validate).
    const fields: [string, number, number, number | bigint][] = [
      ['header.sender', 0, 2, tx.sender],
      ['header.attributes', 2, attrSize, tx.attributes],
      ['header.flags', 4, 4, tx.flags],
      ['header.tag', 16, 8, tx.tag],
      ...(v10
        ? []
        : ([
            ['header.ep_mem_size', 24, 4, tx.emadSize],
            ['header.ep_mem_offset', 32, 4, tx.emadOffset],
          ] as [string, number, number, number][])),
      ['header.ep_count', 28, 4, tx.emads.length],
    ];
    for (const [field, off, size, value] of fields)
      if (value !== 0 && value !== 0n)
        return ruleFail(
          'desc/hyp-retrieve-zero',
          bytesAt(off, field, size),
          'a hypervisor retrieve request names only the handle',
          '0',
          `0x${value.toString(16)}`,
        );
    return undefined;
  }
  const a = tx.attributes;
  const reserved = v10 ? a & 0xc0 : a & 0xff80;
  if (reserved !== 0)
    return ruleFail(
      'desc/attributes-reserved',
      bytesAt(2, 'header.attributes', attrSize),
      `attributes ${bitsOf(reserved)} are reserved`,
      '0',
      hx(a),
    );
  if (!v10 && (a & 0x40) !== 0 && (kind === 'send' || kind === 'retrieve-req'))
    return ruleFail(
      'desc/attributes-ns',
      bytesAt(2, 'header.attributes', attrSize),
      `the NS bit (6) is set only by the relayer in a retrieve response, not in a ${kind === 'send' ? 'send' : 'retrieve request'}`,
      '0',
      hx(a),
    );
  const type = (a >> 4) & 3;
  const share = a & 3;
  const cache = (a >> 2) & 3;
  const badEncoding =
    type === 3
      ? 'memory type 0b11 is reserved'
      : type === 2 && share === 1
        ? 'normal memory shareability 0b01 is reserved'
        : type === 2 && (cache === 0 || cache === 2)
          ? `normal memory cacheability 0b${cache.toString(2).padStart(2, '0')} is reserved`
          : undefined;
  if (badEncoding !== undefined)
    return ruleFail(
      'desc/attributes-encoding',
      bytesAt(2, 'header.attributes', attrSize),
      badEncoding,
      'a defined encoding',
      hx(a),
    );
  const flagMask =
    kind === 'send' ? ~0x3 : kind === 'retrieve-req' ? (tx.version === '1.2' ? ~0x7ff : ~0x3ff) : ~0x1f;
  const badFlags = (tx.flags & flagMask) >>> 0;
  if (badFlags !== 0)
    return ruleFail(
      'desc/flags',
      bytesAt(4, 'header.flags', 4),
      `${kind === 'send' ? 'send' : kind === 'retrieve-req' ? 'retrieve request' : 'retrieve response'} flags ${bitsOf(badFlags)} are reserved`,
      '0',
      hx(tx.flags >>> 0),
    );
  if (kind === 'retrieve-req' && (tx.flags & 0x200) === 0 && (tx.flags & 0x1e0) !== 0)
    return ruleFail(
      'desc/flags-alignment-hint',
      bytesAt(4, 'header.flags', 4),
      'the alignment hint flags[8:5] must be zero while hint-valid flags[9] is 0',
      '0',
      hx(tx.flags >>> 0),
    );
  for (let i = 0; i < tx.emads.length; i++) {
    const e = tx.emads[i]!.access;
    const base = emadOffset + i * tx.emadSize;
    const p = e.permissions;
    if ((p & 0xf0) !== 0)
      return ruleFail(
        'desc/permissions-reserved',
        bytesAt(base + 2, `emad[${i}].permissions`, 1),
        `permissions ${bitsOf(p & 0xf0)} are reserved`,
        '0',
        hx(p),
      );
    if ((p & 3) === 3 || ((p >> 2) & 3) === 3)
      return ruleFail(
        'desc/permissions-encoding',
        bytesAt(base + 2, `emad[${i}].permissions`, 1),
        `${(p & 3) === 3 ? 'data' : 'instruction'} access 0b11 is reserved`,
        'a defined encoding',
        hx(p),
      );
    const badAccess = kind === 'send' ? e.flags : e.flags & 0xfe;
    if (badAccess !== 0)
      return ruleFail(
        'desc/access-flags',
        bytesAt(base + 3, `emad[${i}].access_flags`, 1),
        kind === 'send'
          ? 'the EMAD flags byte is zero in a send'
          : `EMAD flags ${bitsOf(badAccess)} are reserved`,
        '0',
        hx(e.flags),
      );
  }
  return undefined;
}

/**
 * The first overlapping pair in address order, as [earlier, later] constituent indices: sort by start (stable)
 * and compare neighbours. Ascending input — what drivers send — is checked in place, with the same answer the
 * stable sort gives; below 2^52 every start and end is exact as a Number, so no bigint arithmetic.
 */
function firstOverlap(cs: readonly Constituent[]): [number, number] | undefined {
  const n = cs.length;
  let small = true;
  for (let k = 0; k < n && small; k++) small = cs[k]!.address < TWO_52;
  if (small) {
    const start = new Float64Array(n);
    let ascending = true;
    for (let k = 0; k < n; k++) {
      start[k] = Number(cs[k]!.address);
      if (k > 0 && start[k]! < start[k - 1]!) ascending = false;
    }
    let order: number[] | undefined;
    if (!ascending) {
      order = Array.from({ length: n }, (_, i) => i);
      order.sort((a, b) => start[a]! - start[b]! || a - b);
    }
    for (let k = 1; k < n; k++) {
      const p = order === undefined ? k - 1 : order[k - 1]!;
      const q = order === undefined ? k : order[k]!;
      if (start[p]! + cs[p]!.pageCount * 4096 > start[q]!) return [p, q];
    }
    return undefined;
  }
  const idx = Array.from({ length: n }, (_, i) => i);
  idx.sort((a, b) => {
    const x = cs[a]!.address;
    const y = cs[b]!.address;
    return x < y ? -1 : x > y ? 1 : a - b;
  });
  for (let k = 1; k < n; k++) {
    const p = idx[k - 1]!;
    const q = idx[k]!;
    if (cs[p]!.address + BigInt(cs[p]!.pageCount) * 4096n > cs[q]!.address) return [p, q];
  }
  return undefined;
}

/** Total bytes the descriptor occupies (end of the last EMAD or of the composite, whichever is later). */
export function memTransactionSize(tx: MemTransaction): number {
  const endEmads = tx.emadOffset + tx.emads.length * tx.emadSize;
  if (tx.composite === undefined) return Math.max(headerSize(tx.version), endEmads);
  const off = tx.emads[0]?.compositeOffset ?? 0;
  return Math.max(endEmads, off + 16 + 16 * tx.composite.constituents.length);
}

/** Offset of the first constituent. */
export function constituentsOffset(tx: MemTransaction): number {
  return (tx.emads[0]?.compositeOffset ?? 0) + 16;
}

/**
 * Builds the bytes of a transaction at the offsets it names.
 * @throws RangeError for an invalid value (EMAD size not 16/32, composite overlapping the EMADs, …).
 */
export function buildMemTransaction(tx: MemTransaction): Uint8Array {
  return buildMemTransactionInto(tx, new Uint8Array(memTransactionSize(tx)));
}

/**
 * Builds into a caller-owned buffer (zeroed first) and returns the view of the descriptor's bytes. Hot paths use
 * {@link writeMemTransaction} with a reused {@link DescBuffer} instead: V8 gives every typed array over 64 bytes an
 * off-heap backing store, which costs microseconds per allocation (docs/register-file.md), and even a DataView
 * or a subarray over a reused buffer costs a few hundred nanoseconds per build.
 * @throws RangeError for an invalid value or a buffer smaller than the descriptor.
 */
export function buildMemTransactionInto(tx: MemTransaction, into: Uint8Array): Uint8Array {
  const size = checkedSize(tx);
  if (into.length < size)
    throw new RangeError(`buffer of ${into.length} bytes for a ${size}-byte descriptor`);
  writeMemTo(tx, into, new DataView(into.buffer, into.byteOffset, size), size);
  return into.subarray(0, size);
}

/** A reusable output buffer for descriptor builds: its bytes and one DataView over them, grown on demand. */
export class DescBuffer {
  u8: Uint8Array;
  view: DataView;

  constructor(size = 4096) {
    this.u8 = new Uint8Array(size);
    this.view = new DataView(this.u8.buffer);
  }

  /** At least `n` bytes (a regrown buffer does not keep the old contents). */
  reserve(n: number): void {
    if (this.u8.length >= n) return;
    this.u8 = new Uint8Array(Math.max(n, 2 * this.u8.length));
    this.view = new DataView(this.u8.buffer);
  }
}

/**
 * Writes `tx` at the start of `into` (grown as needed, the descriptor's bytes zeroed first) and returns the
 * descriptor's bytes: a view of `into`, valid until its next write.
 * @throws RangeError for an invalid value.
 */
export function writeMemTransaction(tx: MemTransaction, into: DescBuffer): Uint8Array {
  const size = checkedSize(tx);
  into.reserve(size);
  writeMemTo(tx, into.u8, into.view, size);
  return into.u8.subarray(0, size);
}

/** The size of `tx` once its shape is checked (EMAD size and placement, composite placement). */
function checkedSize(tx: MemTransaction): number {
  const H = headerSize(tx.version);
  if (tx.version === '1.0' && (tx.emadOffset !== 32 || tx.emadSize !== 16))
    throw new RangeError('v1.0 EMADs are 16 bytes at offset 32');
  if (tx.emadSize !== 16 && tx.emadSize !== 32) throw new RangeError(`EMAD size ${tx.emadSize}`);
  if (tx.emads.length > 0 && tx.emadOffset < H) throw new RangeError('EMAD array overlaps the header');
  if (
    tx.composite !== undefined &&
    (tx.emads[0]?.compositeOffset ?? 0) < tx.emadOffset + tx.emads.length * tx.emadSize
  )
    throw new RangeError('composite overlaps the EMAD array');
  return memTransactionSize(tx);
}

/** Writes a checked `tx` of `size` bytes into `u8` through `v` (a view from byte 0 of `u8`). */
function writeMemTo(tx: MemTransaction, u8: Uint8Array, v: DataView, size: number): void {
  u8.fill(0, 0, size);
  const hf = tx.version === '1.0' ? HDR_V1_0 : HDR_V1_1;
  writeField(v, 0, hf.sender, tx.sender);
  writeField(v, 0, hf.attributes, tx.attributes);
  writeField(v, 0, hf.flags, tx.flags);
  writeField(v, 0, hf.handle, tx.handle);
  writeField(v, 0, hf.tag, tx.tag);
  writeField(v, 0, hf.ep_count, tx.emads.length);
  if (tx.version !== '1.0') {
    writeField(v, 0, HDR_V1_1.ep_mem_size, tx.emadSize);
    writeField(v, 0, HDR_V1_1.ep_mem_offset, tx.emadOffset);
  }
  const ef = tx.emadSize === 32 ? EMAD_32 : EMAD_16;
  for (let i = 0; i < tx.emads.length; i++) {
    const e = tx.emads[i]!;
    const at = tx.emadOffset + i * tx.emadSize;
    writeField(v, at, ef.endpoint, e.access.endpointId);
    writeField(v, at, ef.permissions, e.access.permissions);
    writeField(v, at, ef.access_flags, e.access.flags);
    writeField(v, at, ef.composite_off, e.compositeOffset);
    if (tx.emadSize === 32 && e.impdef !== undefined) writeField(v, at, EMAD_32.impdef, e.impdef);
  }
  if (tx.composite !== undefined) {
    const off = tx.emads[0]?.compositeOffset ?? 0;
    const ks = tx.composite.constituents;
    writeField(v, off, COMP.total_pg_cnt, tx.composite.totalPageCount);
    writeField(v, off, COMP.addr_range_cnt, ks.length);
    for (let i = 0; i < ks.length; i++) {
      const k = ks[i]!;
      writeField(v, off + 16 + 16 * i, CONST.address, k.address);
      writeField(v, off + 16 + 16 * i, CONST.pg_cnt, k.pageCount);
    }
  }
}

/** Options of {@link memTransaction}. */
export interface MemTransactionInit {
  version: DescVersion;
  sender: number;
  attributes?: number;
  flags?: number;
  handle?: bigint;
  tag?: bigint;
  receivers: { endpointId: number; permissions: number; flags?: number; impdef?: Uint8Array }[];
  constituents?: Constituent[];
  /** Override the EMAD size (16 is allowed in a 1.2 layout). */
  emadSize?: number;
  /** Override the EMAD offset (v1.1+); the composite follows the EMADs. */
  emadOffset?: number;
}

/**
 * A transaction in the standard packing: EMADs right after the header, the composite right after the EMADs
 * (1.2 with one receiver → composite at 80, 1.1 → 64, 1.0 → 48), total pages = sum.
 */
export function memTransaction(o: MemTransactionInit): MemTransaction {
  const emadSize = o.emadSize ?? emadSizeOf(o.version);
  const emadOffset = o.version === '1.0' ? 32 : (o.emadOffset ?? 48);
  const composite = o.constituents === undefined ? undefined : emadOffset + o.receivers.length * emadSize;
  const tx: MemTransaction = {
    version: o.version,
    sender: o.sender,
    attributes: o.attributes ?? 0,
    flags: o.flags ?? 0,
    handle: o.handle ?? 0n,
    tag: o.tag ?? 0n,
    emadSize,
    emadOffset,
    emads: o.receivers.map((r) => {
      const e: EMAD = {
        access: { endpointId: r.endpointId, permissions: r.permissions, flags: r.flags ?? 0 },
        compositeOffset: composite ?? 0,
      };
      if (emadSize === 32) e.impdef = r.impdef ?? new Uint8Array(16); // assigned, not spread (hot path)
      return e;
    }),
  };
  if (o.constituents !== undefined) {
    tx.composite = {
      totalPageCount: o.constituents.reduce((a, c) => a + c.pageCount, 0),
      constituents: o.constituents,
    };
  }
  return tx;
}

/** The hypervisor retrieve request (abi.md §9.1): header only, EMAD count 0, every field but the handle 0. */
export function hypRetrieveRequest(handle: bigint, version: DescVersion): Uint8Array {
  const out = new Uint8Array(headerSize(version));
  new DataView(out.buffer).setBigUint64(8, BigInt.asUintN(64, handle), true);
  return out;
}
