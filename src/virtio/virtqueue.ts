/**
 * Split virtqueues (virtio 1.2 §2.7): the descriptor table, the available ring (driver area) and the used ring
 * (device area), little-endian, over a memory accessor. The device side walks chains and publishes used
 * entries; the driver side adds buffers and collects used ones. Both treat the other side's indices as
 * untrusted: every index, length and chain is bounds-checked and a violation is a located error, never an
 * exception or an out-of-range access.
 */
import { fail, ok, type Result } from '../ffa/result.ts';

/** Descriptor flags (virtio 1.2 §2.7.5). */
export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;

/** Byte sizes of the three parts for a queue of `size` entries (virtio 1.2 §2.7, without event-idx padding). */
export function descTableBytes(size: number): number {
  return 16 * size;
}
export function availRingBytes(size: number): number {
  return 6 + 2 * size;
}
export function usedRingBytes(size: number): number {
  return 6 + 8 * size;
}

/** Byte access to memory by (bus) address; `undefined` / `false` when the address is not accessible. */
export interface QueueMemory {
  read(addr: bigint, len: number): Uint8Array | undefined;
  write(addr: bigint, bytes: Uint8Array): boolean;
}

/** Where a queue's parts live (bus addresses). */
export interface QueueLayout {
  size: number;
  desc: bigint;
  driver: bigint;
  device: bigint;
}

/** One buffer of a descriptor chain. */
export interface ChainBuffer {
  addr: bigint;
  len: number;
  write: boolean;
}

const NAME = 'Virtqueue';
const where = (field: string, offset = 0, size?: number) => ({
  kind: 'bytes' as const,
  offset,
  ...(size === undefined ? {} : { size }),
  field,
});

/** The queue size rule: a power of two in 1..32768 (virtio 1.2 §2.7). */
export function validQueueSize(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 32768 && (n & (n - 1)) === 0;
}

function u16(b: Uint8Array, at: number): number {
  return (b[at] ?? 0) | ((b[at + 1] ?? 0) << 8);
}

function readU16(mem: QueueMemory, addr: bigint, field: string): Result<number> {
  const b = mem.read(addr, 2);
  if (b === undefined || b.length < 2)
    return fail('VQ_ACCESS', `${NAME}.Access`, where(field), `cannot read 0x${addr.toString(16)}`);
  return ok(u16(b, 0));
}

function le16(x: number): Uint8Array {
  return Uint8Array.of(x & 0xff, (x >>> 8) & 0xff);
}

/** The device's view of one queue: pops available chains, pushes used entries. */
export class DeviceQueue {
  /** Next available-ring position the device will consume (free-running u16). */
  lastAvail = 0;
  /** Next used-ring position the device will fill (free-running u16). */
  usedIdx = 0;

  readonly layout: QueueLayout;
  private readonly mem: QueueMemory;

  constructor(layout: QueueLayout, mem: QueueMemory) {
    this.layout = layout;
    this.mem = mem;
  }

  /** Chains the driver made available and the device has not consumed; a located error when idx is bogus. */
  pending(): Result<number> {
    const idx = readU16(this.mem, this.layout.driver + 2n, 'avail.idx');
    if (!idx.ok) return idx;
    const n = (idx.value - this.lastAvail) & 0xffff;
    if (n > this.layout.size)
      return fail(
        'VQ_AVAIL_IDX_RANGE',
        `${NAME}.AvailIdxRange`,
        where('avail.idx', 2, 2),
        'more chains available than the queue holds',
        `≤ ${this.layout.size} past ${this.lastAvail}`,
        `${idx.value}`,
      );
    return ok(n);
  }

  /** Pops the next available chain: its head and buffers (reads then writes, as the spec requires). */
  pop(): Result<{ head: number; buffers: ChainBuffer[] } | undefined> {
    const p = this.pending();
    if (!p.ok) return p;
    if (p.value === 0) return ok(undefined);
    const size = this.layout.size;
    const slot = this.lastAvail % size;
    const head = readU16(this.mem, this.layout.driver + 4n + BigInt(2 * slot), `avail.ring[${slot}]`);
    if (!head.ok) return head;
    const buffers: ChainBuffer[] = [];
    let i = head.value;
    let seenWrite = false;
    // A chain has at most `size` descriptors; more means a loop (virtio 1.2 §2.7.5.1).
    for (let n = 0; ; n++) {
      if (i >= size)
        return fail(
          'VQ_DESC_INDEX',
          `${NAME}.DescIndex`,
          where(n === 0 ? `avail.ring[${slot}]` : 'desc.next'),
          'descriptor index outside the table',
          `< ${size}`,
          `${i}`,
        );
      if (n >= size)
        return fail(
          'VQ_CHAIN_LOOP',
          `${NAME}.ChainLoop`,
          where('desc.next'),
          'descriptor chain longer than the queue',
        );
      const d = this.mem.read(this.layout.desc + BigInt(16 * i), 16);
      if (d === undefined || d.length < 16)
        return fail(
          'VQ_ACCESS',
          `${NAME}.Access`,
          where(`desc[${i}]`, 16 * i, 16),
          'cannot read the descriptor',
        );
      const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
      const addr = dv.getBigUint64(0, true);
      const len = dv.getUint32(8, true);
      const flags = dv.getUint16(12, true);
      const next = dv.getUint16(14, true);
      if ((flags & VIRTQ_DESC_F_INDIRECT) !== 0)
        return fail(
          'VQ_INDIRECT',
          `${NAME}.Indirect`,
          where(`desc[${i}].flags`, 16 * i + 12, 2),
          'indirect descriptors were not negotiated',
        );
      const write = (flags & VIRTQ_DESC_F_WRITE) !== 0;
      if (!write && seenWrite)
        return fail(
          'VQ_READ_AFTER_WRITE',
          `${NAME}.ReadAfterWrite`,
          where(`desc[${i}].flags`, 16 * i + 12, 2),
          'device-readable buffer after a device-writable one',
        );
      seenWrite ||= write;
      buffers.push({ addr, len, write });
      if ((flags & VIRTQ_DESC_F_NEXT) === 0) break;
      i = next;
    }
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    return ok({ head: head.value, buffers });
  }

  /** Publishes a used entry {id, len} and bumps used.idx. */
  push(head: number, len: number): Result<void> {
    const slot = this.usedIdx % this.layout.size;
    const e = new Uint8Array(8);
    const ev = new DataView(e.buffer);
    ev.setUint32(0, head, true);
    ev.setUint32(4, len, true);
    if (!this.mem.write(this.layout.device + 4n + BigInt(8 * slot), e))
      return fail('VQ_ACCESS', `${NAME}.Access`, where(`used.ring[${slot}]`), 'cannot write the used ring');
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    if (!this.mem.write(this.layout.device + 2n, le16(this.usedIdx)))
      return fail('VQ_ACCESS', `${NAME}.Access`, where('used.idx', 2, 2), 'cannot write used.idx');
    return ok(undefined);
  }
}

/** The driver's view of one queue: a free list, add buffers, collect used entries. */
export class DriverQueue {
  private readonly free: number[] = [];
  /**
   * Head → buffers and descriptor IDs of in-flight chains. The IDs are kept here, not re-read from the table:
   * the table is shared memory the device could have rewritten.
   */
  private readonly inflight = new Map<number, { buffers: ChainBuffer[]; ids: number[] }>();
  private availIdx = 0;
  private lastUsed = 0;
  /** Heads collected in the current {@link collect} (a head used twice in one batch is an error). */
  private readonly seen = new Set<number>();

  readonly layout: QueueLayout;
  private readonly mem: QueueMemory;

  constructor(layout: QueueLayout, mem: QueueMemory) {
    this.layout = layout;
    this.mem = mem;
    for (let i = layout.size - 1; i >= 0; i--) this.free.push(i);
  }

  /** Zeroes the three parts (the driver owns the memory). False if it cannot write them. */
  init(): boolean {
    const s = this.layout.size;
    return (
      this.mem.write(this.layout.desc, new Uint8Array(descTableBytes(s))) &&
      this.mem.write(this.layout.driver, new Uint8Array(availRingBytes(s))) &&
      this.mem.write(this.layout.device, new Uint8Array(usedRingBytes(s)))
    );
  }

  /** Chains in flight. */
  get outstanding(): number {
    return this.inflight.size;
  }

  /**
   * Adds a chain (device-readable buffers first) and publishes it in the avail ring. Returns its head, or a
   * located error when the queue is full or the memory cannot be written.
   */
  add(buffers: readonly ChainBuffer[]): Result<number> {
    if (buffers.length === 0 || buffers.length > this.free.length)
      return fail(
        'VQ_FULL',
        `${NAME}.Full`,
        where('desc'),
        'not enough free descriptors',
        `${buffers.length}`,
        `${this.free.length}`,
      );
    const ids: number[] = [];
    for (let k = 0; k < buffers.length; k++) ids.push(this.free.pop()!);
    for (let k = 0; k < buffers.length; k++) {
      const b = buffers[k]!;
      const d = new Uint8Array(16);
      const dv = new DataView(d.buffer);
      dv.setBigUint64(0, b.addr, true);
      dv.setUint32(8, b.len, true);
      const last = k === buffers.length - 1;
      dv.setUint16(12, (last ? 0 : VIRTQ_DESC_F_NEXT) | (b.write ? VIRTQ_DESC_F_WRITE : 0), true);
      dv.setUint16(14, last ? 0 : ids[k + 1]!, true);
      if (!this.mem.write(this.layout.desc + BigInt(16 * ids[k]!), d))
        return fail('VQ_ACCESS', `${NAME}.Access`, where(`desc[${ids[k]}]`), 'cannot write the descriptor');
    }
    const head = ids[0]!;
    const slot = this.availIdx % this.layout.size;
    if (!this.mem.write(this.layout.driver + 4n + BigInt(2 * slot), le16(head)))
      return fail('VQ_ACCESS', `${NAME}.Access`, where(`avail.ring[${slot}]`), 'cannot write the avail ring');
    this.availIdx = (this.availIdx + 1) & 0xffff;
    if (!this.mem.write(this.layout.driver + 2n, le16(this.availIdx)))
      return fail('VQ_ACCESS', `${NAME}.Access`, where('avail.idx'), 'cannot write avail.idx');
    this.inflight.set(head, { buffers: [...buffers], ids });
    return ok(head);
  }

  /** The avail index the driver last published (EVENT_AVAIL's `next`). */
  get nextAvail(): number {
    return this.availIdx;
  }

  /**
   * Collects used entries the device published. The device is untrusted: a used.idx that runs ahead of what is
   * in flight, an id that is not an in-flight head, or a length beyond the chain's writable bytes is a located
   * error, and nothing is freed for that entry.
   */
  collect(): Result<{ head: number; len: number; buffers: ChainBuffer[] }[]> {
    const idx = readU16(this.mem, this.layout.device + 2n, 'used.idx');
    if (!idx.ok) return idx;
    const n = (idx.value - this.lastUsed) & 0xffff;
    if (n > this.inflight.size)
      return fail(
        'VQ_USED_IDX_RANGE',
        `${NAME}.UsedIdxRange`,
        where('used.idx', 2, 2),
        'device reports more used entries than are in flight',
        `≤ ${this.lastUsed + this.inflight.size}`,
        `${idx.value}`,
      );
    const out: { head: number; len: number; buffers: ChainBuffer[] }[] = [];
    this.seen.clear();
    for (let k = 0; k < n; k++) {
      const slot = (this.lastUsed + k) % this.layout.size;
      const e = this.mem.read(this.layout.device + 4n + BigInt(8 * slot), 8);
      if (e === undefined || e.length < 8)
        return fail('VQ_ACCESS', `${NAME}.Access`, where(`used.ring[${slot}]`), 'cannot read the used ring');
      const ev = new DataView(e.buffer, e.byteOffset, e.byteLength);
      const head = ev.getUint32(0, true);
      const len = ev.getUint32(4, true);
      const chain = this.inflight.get(head);
      if (chain === undefined || this.seen.has(head))
        return fail(
          'VQ_USED_ID',
          `${NAME}.UsedId`,
          where(`used.ring[${slot}].id`, 4 + 8 * slot, 4),
          'used id is not an in-flight chain head',
          undefined,
          `${head}`,
        );
      let writable = 0;
      for (const b of chain.buffers) if (b.write) writable += b.len;
      if (len > writable)
        return fail(
          'VQ_USED_LEN',
          `${NAME}.UsedLen`,
          where(`used.ring[${slot}].len`, 8 + 8 * slot, 4),
          'used length exceeds the chain’s device-writable bytes',
          `≤ ${writable}`,
          `${len}`,
        );
      this.seen.add(head);
      out.push({ head, len, buffers: chain.buffers });
    }
    // Commit only when every entry checked out: a bad entry leaves the queue as it was (check-then-commit).
    for (const u of out) {
      const chain = this.inflight.get(u.head)!;
      this.inflight.delete(u.head);
      for (const id of chain.ids) this.free.push(id);
    }
    this.seen.clear();
    this.lastUsed = (this.lastUsed + out.length) & 0xffff;
    return ok(out);
  }
}
