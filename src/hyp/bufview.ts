/**
 * Reads of the hypervisor's own buffers (hyp TX/RX mailboxes, ffa_desc_buf) as EL2 code does them, with the
 * model's isolation check I6 built in: a read beyond the bytes the hyp is parsing (`valid`) or beyond the buffer
 * itself (`cap`) is performed (the real code would read whatever is there — stale bytes or other hyp memory)
 * but recorded as an `oob` trace event and counted, never silently clamped (issue 6 I6; bug-history.md H13/H14).
 */
import type { PhysMem } from '../mem/phys.ts';
import type { TraceSink } from '../trace/events.ts';

/** One out-of-bounds access, as counted by the proxy. */
export interface OobAccess {
  buffer: string;
  offset: number;
  size: number;
  limit: number;
  /** `fault`: kernel mode, an access the MMU refused (the real code's EL2 data abort; `buffer` says where). */
  kind: 'beyond-message' | 'beyond-buffer' | 'fault';
}

/** What an out-of-bounds access was, in words (invariant I6's detail, replay's report). */
export function describeOob(a: OobAccess): string {
  if (a.kind === 'fault') return `EL2 data abort: ${a.buffer}`;
  return `EL2 ${a.kind === 'beyond-buffer' ? 'access past the end of' : 'read past the message in'} ${a.buffer}: ${a.size} bytes at +${a.offset} (limit ${a.limit})`;
}

export class HypBuffer {
  readonly name: string;
  readonly base: number;
  readonly cap: number;
  /** Bytes of the message being parsed (≤ cap); reads at or past it are flagged. */
  valid: number;
  private readonly mem: PhysMem;
  private readonly sink: (a: OobAccess) => void;

  constructor(o: { name: string; base: number; cap: number; mem: PhysMem; onOob: (a: OobAccess) => void }) {
    this.name = o.name;
    this.base = o.base;
    this.cap = o.cap;
    this.valid = o.cap;
    this.mem = o.mem;
    this.sink = o.onOob;
  }

  private check(off: number, size: number): void {
    if (off + size > this.cap) {
      this.sink({ buffer: this.name, offset: off, size, limit: this.cap, kind: 'beyond-buffer' });
    } else if (off + size > this.valid) {
      this.sink({ buffer: this.name, offset: off, size, limit: this.valid, kind: 'beyond-message' });
    }
  }

  u16(off: number): number {
    this.check(off, 2);
    return this.mem.uint(this.base + off, 2);
  }

  u32(off: number): number {
    this.check(off, 4);
    return this.mem.uint(this.base + off, 4);
  }

  u64(off: number): bigint {
    this.check(off, 8);
    return this.mem.u64(this.base + off);
  }

  /**
   * A constituent at `off`: the u64 address as two u32 words (bits 31:0, 63:32), then the u32 page count into `out[at + 2]` — the
   * same two accesses (and out-of-bounds records, in the same order) as `u64(off)` then `u32(off + 8)`.
   */
  constituentWords(off: number, out: Uint32Array, at: number): void {
    this.check(off, 8);
    this.check(off + 8, 4);
    this.mem.words(this.base + off, 3, out, at);
  }

  /** How many `size`-byte records `stride` bytes apart from `off` lie wholly within the message and the buffer. */
  recordsInBounds(off: number, stride: number, size: number): number {
    const lim = Math.min(this.valid, this.cap);
    return off >= 0 && off + size <= lim ? Math.floor((lim - off - size) / stride) + 1 : 0;
  }

  /**
   * `n` constituents from `off` (16 bytes apart) as {@link constituentWords} reads them, three words each into
   * `out[at…]`: when every access is in bounds (none to record), in one pass over the frames; otherwise one by
   * one, so the out-of-bounds records come in the same order.
   */
  constituentsWords(off: number, n: number, out: Uint32Array, at: number): void {
    if (n <= 0) return;
    const end = off + 16 * (n - 1) + 12;
    if (off >= 0 && end <= this.valid && end <= this.cap) {
      this.mem.stridedWords(this.base + off, n, 16, 3, out, at);
      return;
    }
    for (let i = 0; i < n; i++) this.constituentWords(off + 16 * i, out, at + 3 * i);
  }

  /** Copies `len` bytes from physical `src` into this buffer at `off` (a memcpy at EL2). */
  copyIn(off: number, src: number, len: number): void {
    if (len <= 0) return;
    if (off + len > this.cap) {
      this.sink({ buffer: this.name, offset: off, size: len, limit: this.cap, kind: 'beyond-buffer' });
      // Recorded (I6); the model copies only what fits: a lying EL3's 4 GiB length must not become a 4 GiB copy.
      len = Math.max(0, Math.min(len, this.cap - off));
      if (len === 0) return;
    }
    this.mem.copy(this.base + off, src, len);
  }

  /** Writes bytes at `off` (within the buffer). */
  write(off: number, bytes: Uint8Array): void {
    this.mem.write(this.base + off, bytes);
  }
}

/** Trace helper: emits an `oob` event for an access. */
export function emitOob(trace: TraceSink | undefined, a: OobAccess): void {
  trace?.emit({
    kind: 'oob',
    buffer: a.buffer,
    offset: a.offset,
    size: a.size,
    limit: a.limit,
    text:
      a.kind === 'beyond-buffer'
        ? `EL2 access of ${a.size} bytes at ${a.buffer}+${a.offset} past its end (${a.limit} bytes)`
        : `EL2 read of ${a.size} bytes at ${a.buffer}+${a.offset} past the ${a.limit} bytes being parsed`,
  });
}
