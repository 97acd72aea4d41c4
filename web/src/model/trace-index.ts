/**
 * The view's index of an `ffasim-trace/1` file (docs/trace-format.md): the raw bytes, kept as they are, plus typed
 * per-event columns (kind, host call, hop lanes, names, flags) and a few small lists (calls, page changes,
 * decisions of the proxy and, with `actor` spmc / spmd, of the secure world: one kind, one flag, one rule list).
 * A line is parsed in full again only when it is selected (`eventAt`). Built incrementally so a Worker can stream
 * a file and post a first snapshot before the end. Never throws on bad input: a line that is not an
 * event is recorded in `errors` with its line number and skipped. DOM-free, so Node tests use it too.
 */
import { ffaErrorName } from '../../../src/ffa/errors.ts';

export const KIND_NAMES = [
  'hop',
  'decision',
  'buffer',
  'pages',
  'check',
  'warn',
  'leak',
  'oob',
  'note',
  'step',
] as const;
export type KindName = (typeof KIND_NAMES)[number];
const KIND_CODE = new Map<string, number>(KIND_NAMES.map((k, i) => [k, i]));
export const K_HOP = 0;

/** Per-event flag bits (`flags` column). */
export const F = {
  /** A hop carrying FFA_ERROR. */
  ERROR: 1,
  /** A decision that rejected the call (the proxy's, or the SPMC's / SPMD's). */
  REJECT: 2,
  /** A page-state change. */
  PAGES: 4,
  /** A failing invariant check (I1…I7). */
  INV: 8,
  /** A failing scenario expectation. */
  EXPECT: 16,
  /** WARN_ON, register leak or out-of-bounds access at EL2. */
  HAZARD: 32,
  /** A decision (proxy, SPMC or SPMD). */
  DECISION: 64,
  /** Bytes of a buffer. */
  BUFFER: 128,
} as const;

/** One host call (0 is world set-up): its events and a one-line summary. */
export interface CallInfo {
  call: number;
  first: number;
  last: number;
  /** Name of the host's call (`FFA_MEM_SHARE`), or `setup`. */
  name: string;
  /** What the host got back (`SUCCESS`, `ERROR DENIED`, `0x00010002`…), or '' when the trace ends first. */
  status: string;
  hops: number;
  /** OR of the flags of its events. */
  flags: number;
  /** Rules of its decisions, proxy and secure world, in order of first appearance. */
  rules: string[];
  /** Ids of its failing checks. */
  fails: string[];
}

/** One page-state change. */
export interface PageChange {
  event: number;
  seq: number;
  table: 'host' | 'hyp';
  addr: number;
  size: number;
  from: string;
  to: string;
}

export interface IndexError {
  line: number;
  message: string;
}

export interface TraceIndex {
  header: Record<string, unknown> | undefined;
  /** Lanes in exception-level order. */
  components: string[];
  raw: Uint8Array;
  /** Event count. */
  n: number;
  lineStart: Uint32Array;
  lineEnd: Uint32Array;
  /** 1-based line in the file. */
  lineNo: Uint32Array;
  seq: Float64Array;
  call: Int32Array;
  kind: Uint8Array;
  flags: Uint8Array;
  /** Hop columns (0 for other kinds): lane index of from / to, 1 for a return, name id. */
  from: Uint8Array;
  to: Uint8Array;
  dir: Uint8Array;
  nameId: Uint16Array;
  names: string[];
  /** Indices of hop events, in order. */
  hops: Int32Array;
  calls: CallInfo[];
  pages: PageChange[];
  errors: IndexError[];
  /** True when the whole input has been read. */
  complete: boolean;
  /** Bytes read so far. */
  bytes: number;
}

const LANE_ORDER = (c: string): number =>
  c === 'host' ? 0 : c === 'hyp' ? 1 : c === 'spmd' ? 2 : c === 'spmc' ? 3 : 4;

/** Longest line read as an event (a hop is ~500 bytes; a buffer event holds a descriptor as hex). */
const MAX_LINE = 16 << 20;
/** Largest host call number the Int32 column holds. */
const MAX_CALL = 0x7fff_fffe;

/** Most errors kept (a binary file fed by mistake would otherwise fill memory with messages). */
const MAX_ERRORS = 200;

function growU32(a: Uint32Array, need: number): Uint32Array {
  if (need <= a.length) return a;
  const b = new Uint32Array(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}

/** The id of `s` in a string table (added on first sight); `max` once the column type is full. */
function intern(ids: Map<string, number>, list: string[], s: string, max: number): number {
  let i = ids.get(s);
  if (i === undefined) {
    i = list.length;
    if (i >= max) return max;
    ids.set(s, i);
    list.push(s);
  }
  return i;
}

/** Columns that grow as lines arrive. */
class Columns {
  cap = 1024;
  lineStart = new Uint32Array(this.cap);
  lineEnd = new Uint32Array(this.cap);
  lineNo = new Uint32Array(this.cap);
  seq = new Float64Array(this.cap);
  call = new Int32Array(this.cap);
  kind = new Uint8Array(this.cap);
  flags = new Uint8Array(this.cap);
  from = new Uint8Array(this.cap);
  to = new Uint8Array(this.cap);
  dir = new Uint8Array(this.cap);
  nameId = new Uint16Array(this.cap);

  ensure(n: number): void {
    if (n <= this.cap) return;
    const cap = Math.max(n, this.cap * 2);
    const grow = <T extends Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(cap);
      b.set(a);
      return b;
    };
    this.lineStart = grow(this.lineStart);
    this.lineEnd = grow(this.lineEnd);
    this.lineNo = grow(this.lineNo);
    this.seq = grow(this.seq);
    this.call = grow(this.call);
    this.kind = grow(this.kind);
    this.flags = grow(this.flags);
    this.from = grow(this.from);
    this.to = grow(this.to);
    this.dir = grow(this.dir);
    this.nameId = grow(this.nameId);
    this.cap = cap;
  }
}

const enc = (t: string): Uint8Array => new TextEncoder().encode(t);
const K_SEQ = enc('{"seq":');
const K_CALL = enc(',"call":');
const K_CPU = enc(',"cpu":');
const K_KIND_HOP = enc(',"kind":"hop"');
const HOP_KEYS = [',"from":"', ',"to":"', ',"dir":"', ',"conv":"', ',"fid":"', ',"name":"'].map(enc);
const K_REGS = enc(',"regs":["');

function at(b: Uint8Array, p: number, k: Uint8Array): boolean {
  if (p + k.length > b.length) return false;
  for (let i = 0; i < k.length; i++) if (b[p + i] !== k[i]) return false;
  return true;
}

/**
 * The fast path for the line ffasim writes most: a hop with its keys in the documented order
 * (docs/trace-format.md), read straight from the bytes (seq, call, cpu, lanes, direction, name, and x2 for
 * FFA_ERROR's code) without decoding or JSON.parse. Anything unexpected returns undefined and the line takes the
 * general path.
 */
function fastHop(b: Uint8Array, s: number, e: number): Record<string, unknown> | undefined {
  if (!at(b, s, K_SEQ) || b[e - 1] !== 125 /* } */) return undefined;
  // A trailing object (`"virtio":{…}}`, the last key of a hop that carries virtio-msg): take the JSON path.
  if (b[e - 2] === 125) return undefined;
  let p = s + K_SEQ.length;
  const int = (): number => {
    const st = p;
    let v = 0;
    while (p < e && b[p]! >= 48 && b[p]! <= 57 && p - st < 15) v = v * 10 + (b[p++]! - 48);
    return p === st ? -1 : v;
  };
  const seq = int();
  if (seq < 0 || !at(b, p, K_CALL)) return undefined;
  p += K_CALL.length;
  const call = int();
  if (call < 0 || !at(b, p, K_CPU)) return undefined;
  p += K_CPU.length;
  const cpu = int();
  if (cpu < 0 || !at(b, p, K_KIND_HOP)) return undefined;
  p += K_KIND_HOP.length;
  const vals: string[] = [];
  for (const k of HOP_KEYS) {
    if (!at(b, p, k)) return undefined;
    let q = p + k.length;
    let v = '';
    // Identifiers and hex only: plain ASCII without escapes.
    while (q < e && b[q] !== 34) {
      const c = b[q]!;
      if (c === 92 || c > 126 || c < 32) return undefined;
      v += String.fromCharCode(c);
      q++;
    }
    if (q >= e) return undefined;
    vals.push(v);
    p = q + 1;
  }
  if (!at(b, p, K_REGS)) return undefined;
  // x2 is the third string of the array: "0x…","0x…","0x…"
  let q = p + K_REGS.length;
  for (let k = 0; k < 2; k++) {
    while (q < e && b[q] !== 34) q++;
    q += 3; // closing quote, comma, opening quote
  }
  let x2 = '';
  while (q < e && b[q] !== 34 && x2.length < 20) x2 += String.fromCharCode(b[q++]!);
  return {
    seq,
    call,
    cpu,
    kind: 'hop',
    from: vals[0],
    to: vals[1],
    dir: vals[2],
    name: vals[5],
    regs: ['', '', x2],
  };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * Streams a trace into an index. `push` takes chunks of bytes as they arrive (any split), `snapshot` returns an
 * index of what is complete so far, `finish` the final one.
 */
export class IndexBuilder {
  private chunks: Uint8Array[] = [];
  private total = 0;
  /** The unfinished last line, as the chunks it spans (never re-scanned, never re-copied). */
  private pending: Uint8Array[] = [];
  private pendingLen = 0;
  private pendingStart = 0;
  private line = 0;
  private readonly dec = new TextDecoder('utf-8', { fatal: false });
  private readonly c = new Columns();
  private n = 0;
  private header: Record<string, unknown> | undefined;
  private readonly comps = new Map<string, number>();
  private readonly compList: string[] = [];
  private readonly nameMap = new Map<string, number>();
  private readonly names: string[] = [];
  private hops: Uint32Array = new Uint32Array(1024);
  private nHops = 0;
  private readonly calls: CallInfo[] = [];
  private readonly callByNo = new Map<number, CallInfo>();
  private readonly pages: PageChange[] = [];
  private readonly errors: IndexError[] = [];
  private lastSeq = -Infinity;
  /** Set by finish(): no more input. */
  private done = false;

  constructor() {
    for (const c of ['host', 'hyp', 'spmd', 'spmc']) this.lane(c);
  }

  private lane(c: string): number {
    return intern(this.comps, this.compList, c, 255);
  }

  private nameOf(s: string): number {
    return intern(this.nameMap, this.names, s, 65535);
  }

  private error(line: number, message: string): void {
    if (this.errors.length < MAX_ERRORS) this.errors.push({ line, message });
    else if (this.errors.length === MAX_ERRORS)
      this.errors.push({ line, message: 'more errors follow; only the first 200 are listed' });
  }

  /** Feeds a chunk of bytes. */
  push(chunk: Uint8Array): void {
    if (this.done) throw new Error('IndexBuilder: push after finish');
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    const base = this.total;
    this.total += chunk.length;
    let nl = chunk.indexOf(10);
    if (nl < 0) {
      this.hold(chunk);
      return;
    }
    // The line the previous chunks left open ends here.
    this.hold(chunk.subarray(0, nl + 1));
    this.flushPending();
    let start = nl + 1;
    for (nl = chunk.indexOf(10, start); nl >= 0; nl = chunk.indexOf(10, start)) {
      this.lineAt(chunk, start, nl, base);
      start = nl + 1;
    }
    this.pendingStart = base + start;
    if (start < chunk.length) this.hold(chunk.subarray(start));
  }

  /** Keeps bytes of an unfinished line; beyond MAX_LINE only their count. */
  private hold(part: Uint8Array): void {
    if (this.pendingLen <= MAX_LINE) this.pending.push(part);
    this.pendingLen += part.length;
  }

  /** Indexes the held line (it ends with its newline, or the file ends). */
  private flushPending(): void {
    const len = this.pendingLen;
    const parts = this.pending;
    this.pending = [];
    this.pendingLen = 0;
    if (len === 0) return;
    if (len > MAX_LINE) {
      this.line++;
      this.error(this.line, `line of ${len} bytes is longer than ${MAX_LINE} (not an event); skipped`);
      return;
    }
    let buf: Uint8Array;
    if (parts.length === 1) buf = parts[0]!;
    else {
      buf = new Uint8Array(len);
      let o = 0;
      for (const p of parts) {
        buf.set(p, o);
        o += p.length;
      }
    }
    const end = buf[buf.length - 1] === 10 ? buf.length - 1 : buf.length;
    this.lineAt(buf, 0, end, this.pendingStart);
  }

  /** One line: bytes [s, e) of `buf`, which starts at file offset `base`. */
  private lineAt(buf: Uint8Array, s: number, e: number, base: number): void {
    this.line++;
    let end = e;
    if (end > s && buf[end - 1] === 13) end--;
    if (end === s) return;
    const bs = base + s;
    const bend = base + end;
    let r = fastHop(buf, s, end);
    if (r === undefined) {
      let o: unknown;
      try {
        o = JSON.parse(this.dec.decode(buf.subarray(s, end)));
      } catch (err) {
        this.error(this.line, `not JSON (${(err as Error).message})`);
        return;
      }
      if (o === null || typeof o !== 'object' || Array.isArray(o)) {
        this.error(this.line, 'not a JSON object');
        return;
      }
      r = o as Record<string, unknown>;
    }
    if (this.header === undefined && this.n === 0 && 'schema' in r) {
      const schema = str(r.schema);
      if (schema === undefined || !schema.startsWith('ffasim-trace/'))
        this.error(this.line, `unknown schema '${String(r.schema)}' (expected ffasim-trace/1)`);
      else if (schema !== 'ffasim-trace/1')
        this.error(
          this.line,
          `schema ${schema} is newer than this viewer (ffasim-trace/1); showing what it can`,
        );
      this.header = r;
      if (Array.isArray(r.components)) for (const c of r.components) if (typeof c === 'string') this.lane(c);
      return;
    }
    const kindName = str(r.kind);
    const kind = kindName === undefined ? undefined : KIND_CODE.get(kindName);
    const seq = num(r.seq);
    const call = num(r.call);
    if (kind === undefined) {
      this.error(this.line, `unknown event kind '${String(r.kind)}'`);
      return;
    }
    if (seq === undefined || call === undefined || !Number.isInteger(call) || call < 0 || call > MAX_CALL) {
      this.error(this.line, "event without a numeric 'seq' and a 'call' from 0 to 2147483646");
      return;
    }
    if (seq <= this.lastSeq) {
      // Searches by seq assume order (two traces concatenated, say): skip rather than mislead.
      this.error(this.line, `seq ${seq} does not increase (previous ${this.lastSeq}); event skipped`);
      return;
    }
    this.lastSeq = seq;
    const i = this.n++;
    const c = this.c;
    c.ensure(this.n);
    c.lineStart[i] = bs;
    c.lineEnd[i] = bend;
    c.lineNo[i] = this.line;
    c.seq[i] = seq;
    c.call[i] = call;
    c.kind[i] = kind;
    let flags = 0;
    let info = this.callByNo.get(call);
    if (info === undefined) {
      info = {
        call,
        first: i,
        last: i,
        name: call === 0 ? 'setup' : '',
        status: '',
        hops: 0,
        flags: 0,
        rules: [],
        fails: [],
      };
      this.callByNo.set(call, info);
      this.calls.push(info);
    }
    info.last = i;
    switch (kindName) {
      case 'hop': {
        const from = this.lane(str(r.from) ?? '?');
        const to = this.lane(str(r.to) ?? '?');
        const ret = r.dir === 'ret';
        // A hop carrying virtio-msg is named after both: `FFA_MSG_SEND_DIRECT_REQ2 · virtio-msg VERSION`.
        const vm = r.virtio as { name?: unknown; busy?: unknown; error?: unknown } | undefined;
        const vname =
          vm === undefined || typeof vm !== 'object' || vm === null
            ? ''
            : typeof vm.name === 'string'
              ? ` · virtio-msg ${vm.name}`
              : vm.busy === true
                ? ' · virtio-msg busy'
                : typeof vm.error === 'string'
                  ? ` · virtio-msg ${vm.error}`
                  : '';
        const name = (str(r.name) ?? '?') + vname;
        c.from[i] = from;
        c.to[i] = to;
        c.dir[i] = ret ? 1 : 0;
        c.nameId[i] = this.nameOf(name);
        let status = name.replace(/^FFA_/, '');
        if (name === 'FFA_ERROR' && Array.isArray(r.regs) && typeof r.regs[2] === 'string') {
          flags |= F.ERROR;
          const w2 = Number.parseInt(r.regs[2].slice(-8), 16);
          status = `ERROR ${ffaErrorName(w2) ?? `0x${(w2 >>> 0).toString(16)}`}`;
        }
        if (this.nHops === this.hops.length) this.hops = growU32(this.hops, this.nHops + 1);
        this.hops[this.nHops++] = i;
        info.hops++;
        if (!ret && str(r.from) === 'host' && info.name === '') info.name = name;
        if (ret && str(r.to) === 'host') info.status = status;
        break;
      }
      case 'decision': {
        flags |= F.DECISION;
        if (r.action === 'reject') flags |= F.REJECT;
        const rule = str(r.rule);
        if (rule !== undefined && !info.rules.includes(rule)) info.rules.push(rule);
        break;
      }
      case 'pages': {
        flags |= F.PAGES;
        const addr = num(r.addr);
        const pages = num(r.pages);
        const ps = num(r.pageSize) ?? 4096;
        const table = r.table === 'hyp' ? 'hyp' : 'host';
        if (addr === undefined || pages === undefined)
          this.error(this.line, 'pages event without addr/pages');
        else
          this.pages.push({
            event: i,
            seq,
            table,
            addr,
            size: pages * ps,
            from: str(r.from) ?? '?',
            to: str(r.to) ?? '?',
          });
        break;
      }
      case 'check':
        if (r.verdict === 'fail') {
          const id = str(r.id) ?? '?';
          flags |= /^I\d+$/.test(id) ? F.INV : F.EXPECT;
          if (!info.fails.includes(id)) info.fails.push(id);
        }
        break;
      case 'warn':
      case 'leak':
      case 'oob':
        flags |= F.HAZARD;
        break;
      case 'buffer':
        flags |= F.BUFFER;
        break;
    }
    c.flags[i] = flags;
    info.flags |= flags;
  }

  /** Events read so far. */
  get events(): number {
    return this.n;
  }

  /** Index of what has been read so far (copies the columns). */
  snapshot(): TraceIndex {
    return this.build(true);
  }

  /** Reads the last line (a file need not end in a newline) and returns the final index. */
  finish(): TraceIndex {
    if (!this.done) {
      this.flushPending();
      this.done = true;
      if (this.header === undefined && this.n > 0)
        this.error(1, 'no ffasim-trace header line; lanes and profile are guessed');
      if (this.n === 0 && this.errors.length === 0) this.error(1, 'the trace holds no events');
    }
    return this.build(false);
  }

  private build(copy: boolean): TraceIndex {
    const n = this.n;
    const c = this.c;
    const cut = <T extends Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array>(a: T): T =>
      (copy ? a.slice(0, n) : a.subarray(0, n)) as T;
    let raw: Uint8Array;
    if (this.chunks.length === 1) raw = this.chunks[0]!;
    else {
      raw = new Uint8Array(this.total);
      let o = 0;
      for (const ch of this.chunks) {
        raw.set(ch, o);
        o += ch.length;
      }
      if (!copy) this.chunks = [raw];
    }
    const order = [...this.compList.keys()].sort(
      (a, b) =>
        LANE_ORDER(this.compList[a]!) - LANE_ORDER(this.compList[b]!) ||
        this.compList[a]!.localeCompare(this.compList[b]!),
    );
    // Lanes are stored by first appearance; present them in exception-level order through a remap.
    const remap = new Uint8Array(256);
    order.forEach((old, neu) => {
      remap[old] = neu;
    });
    const from = cut(c.from);
    const to = cut(c.to);
    const needRemap = order.some((old, neu) => old !== neu);
    const fromOut = needRemap ? from.map((v) => remap[v]!) : from;
    const toOut = needRemap ? to.map((v) => remap[v]!) : to;
    return {
      header: this.header,
      components: order.map((i) => this.compList[i]!),
      raw,
      n,
      lineStart: cut(c.lineStart),
      lineEnd: cut(c.lineEnd),
      lineNo: cut(c.lineNo),
      seq: cut(c.seq),
      call: cut(c.call),
      kind: cut(c.kind),
      flags: cut(c.flags),
      from: fromOut,
      to: toOut,
      dir: cut(c.dir),
      nameId: cut(c.nameId),
      names: [...this.names],
      hops: Int32Array.from(this.hops.subarray(0, this.nHops)),
      calls: copy ? this.calls.map((x) => ({ ...x, rules: [...x.rules], fails: [...x.fails] })) : this.calls,
      pages: copy ? [...this.pages] : this.pages,
      errors: [...this.errors],
      complete: !copy,
      bytes: this.total,
    };
  }
}

/** Indexes a whole trace held in memory. */
export function indexTrace(bytes: Uint8Array | string): TraceIndex {
  const b = new IndexBuilder();
  b.push(typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes);
  return b.finish();
}

const lineDecoder = new TextDecoder();

/** The full event `i` (parsed from the raw line on demand). */
export function eventAt(ix: TraceIndex, i: number): Record<string, unknown> {
  if (i < 0 || i >= ix.n) return {};
  try {
    return JSON.parse(lineDecoder.decode(ix.raw.subarray(ix.lineStart[i], ix.lineEnd[i]))) as Record<
      string,
      unknown
    >;
  } catch {
    return {};
  }
}

/** Host call info by call number (binary search; calls are in order of first appearance). */
export function callInfo(ix: TraceIndex, call: number): CallInfo | undefined {
  let lo = 0;
  let hi = ix.calls.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const c = ix.calls[mid]!;
    if (c.call === call) return c;
    if (c.call < call) lo = mid + 1;
    else hi = mid - 1;
  }
  return ix.calls.find((c) => c.call === call);
}

/** Event index of the first event with seq ≥ `seq` (n when none). */
export function eventAtSeq(ix: TraceIndex, seq: number): number {
  let lo = 0;
  let hi = ix.n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ix.seq[mid]! < seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The hop event that answers call hop `i` (the next return from its target to its source at the same depth). */
export function matchingHop(ix: TraceIndex, i: number): number | undefined {
  if (ix.kind[i] !== K_HOP) return undefined;
  const call = ix.call[i]!;
  const a = ix.from[i]!;
  const b = ix.to[i]!;
  const ret = ix.dir[i] === 1;
  let depth = 0;
  if (!ret) {
    for (let j = i + 1; j < ix.n && ix.call[j] === call; j++) {
      if (ix.kind[j] !== K_HOP) continue;
      if (ix.dir[j] === 0 && ix.from[j] === a && ix.to[j] === b) depth++;
      else if (ix.dir[j] === 1 && ix.from[j] === b && ix.to[j] === a) {
        if (depth === 0) return j;
        depth--;
      }
    }
  } else {
    for (let j = i - 1; j >= 0 && ix.call[j] === call; j--) {
      if (ix.kind[j] !== K_HOP) continue;
      if (ix.dir[j] === 1 && ix.from[j] === a && ix.to[j] === b) depth++;
      else if (ix.dir[j] === 0 && ix.from[j] === b && ix.to[j] === a) {
        if (depth === 0) return j;
        depth--;
      }
    }
  }
  return undefined;
}

/**
 * The first (or, with `last`, the last) hop of host call `call` from lane `from` to lane `to` in direction `dir`
 * (0 call, 1 return).
 */
export function findHop(
  ix: TraceIndex,
  call: number,
  from: string,
  to: string,
  dir: 0 | 1,
  last = false,
): number | undefined {
  const info = callInfo(ix, call);
  if (info === undefined) return undefined;
  const f = ix.components.indexOf(from);
  const t = ix.components.indexOf(to);
  let found: number | undefined;
  for (let i = info.first; i <= info.last; i++) {
    if (ix.kind[i] === K_HOP && ix.from[i] === f && ix.to[i] === t && ix.dir[i] === dir) {
      found = i;
      if (!last) break;
    }
  }
  return found;
}

/** The host → hyp hop of host call `call`. */
export function hostCallHop(ix: TraceIndex, call: number): number | undefined {
  return findHop(ix, call, 'host', 'hyp', 0);
}
