/**
 * The device side of virtio-msg over FF-A, inside a secure partition: a bus server that answers DIRECT_REQ2
 * messages (VERSION, GET_DEVICES, AREA_SHARE/UNSHARE, RESET, EVENT_POLL and the transport messages) for the
 * devices it hosts, and a virtio-console device whose split virtqueues live in memory the host shared with
 * FFA_MEM_SHARE and announced with AREA_SHARE. Every ring and buffer access goes through the partition's
 * retrieved memory (`PartitionContext.read/write`), so a device that touches a page it was not given fails the
 * access and the SPMC's I1 check sees every mapping.
 *
 * Malformed requests never throw: the device answers ERROR with a code, and logs the located decode error.
 * Direct transfer is driver-initiated only (2026 binding), so device events (EVENT_USED) wait in a queue and
 * reach the driver in EVENT_POLL answers; the answer to a driver event is that same EVENT_POLL answer
 * **(model choice: the binding's answer to an event over direct transfer is unconfirmed)**.
 */
import { FFA } from '../ffa/ids.ts';
import type { DecodeError, Result } from '../ffa/result.ts';
import { fail, ok } from '../ffa/result.ts';
import { RegisterFile } from '../smccc/regs.ts';
import {
  BUS_FEATURES,
  buildVirtioMsg,
  type ChainBuffer,
  DeviceQueue,
  decodeVirtioMsg,
  payloadBytes,
  type QueueMemory,
  setPayload,
  splitBusAddress,
  VIRTIO_MSG_FFA_BUS_VERSION,
  VIRTIO_MSG_TRANSPORT_REVISION,
  type VirtioMsg,
  type VirtioMsgInput,
  type VirtioMsgName,
  VMSG_ERRORS,
  validQueueSize,
} from '../virtio/index.ts';
import type { DirectHandler, PartitionContext } from './types.ts';

/** Device status bits (virtio 1.2 §2.1). */
export const VIRTIO_STATUS = {
  ACKNOWLEDGE: 1,
  DRIVER: 2,
  DRIVER_OK: 4,
  FEATURES_OK: 8,
  NEEDS_RESET: 64,
  FAILED: 128,
} as const;

/** VIRTIO_F_VERSION_1 (feature bit 32). */
export const VIRTIO_F_VERSION_1 = 1n << 32n;

/** What a device may do while it handles a notification: its queues and the shared memory behind them. */
export interface DeviceIO {
  /** Pops the next available chain of queue `q` (undefined when none). */
  pop(q: number): Result<{ head: number; buffers: ChainBuffer[] } | undefined>;
  /** Reads a device-readable buffer. */
  read(b: ChainBuffer): Result<Uint8Array>;
  /** Writes into a device-writable buffer (at most its length). */
  write(b: ChainBuffer, bytes: Uint8Array): Result<void>;
  /** Publishes a used entry on queue `q` and queues EVENT_USED for the driver. */
  push(q: number, head: number, len: number): Result<void>;
  log(text: string): void;
}

/**
 * A virtio device hosted by the bus (the TS API for writing one's own; docs/virtio-msg.md): identity, features,
 * config space, and what to do when the driver makes buffers available on a queue.
 */
export interface VirtioDevice {
  readonly deviceId: number;
  readonly vendorId: number;
  /** Offered features (bit 32 = VIRTIO_F_VERSION_1). */
  readonly features: bigint;
  readonly numQueues: number;
  readonly queueMaxSize: number;
  /** The config space as it reads now. */
  config(): Uint8Array;
  /** A driver write to config space; false rejects it. */
  writeConfig?(offset: number, data: Uint8Array): boolean;
  /** EVENT_AVAIL on queue `q`. Return an error to report it (the device then sets NEEDS_RESET). */
  notify(q: number, io: DeviceIO): Result<void>;
  /** Device reset (status 0). */
  reset?(): void;
}

export interface VirtioBusOptions {
  devices: readonly VirtioDevice[];
  /** Areas the bus accepts (VERSION max_areas; default 4). */
  maxAreas?: number;
  /** Answer busy (an all-zero RESP2) to the first `times` requests of message `name`. */
  busy?: { name: VirtioMsgName; times: number }[];
}

interface Area {
  handle: bigint;
  pages: number;
  /** Constituents in PA order of the bus offsets. */
  segments: { address: bigint; bytes: bigint }[];
}

interface DeviceState {
  dev: VirtioDevice;
  status: number;
  driverFeatures: bigint;
  queues: (DeviceQueue | undefined)[];
  /** Queue layouts as SET_VQUEUE gave them (read back by GET_VQUEUE). */
  setup: ({ size: number; desc: bigint; driver: bigint; device: bigint } | undefined)[];
  generation: number;
}

/** The bus server: `handler` goes into the partition; `areas` and `events` are there for tests and traces. */
export class VirtioMsgBus {
  readonly areas = new Map<number, Area>();
  /** Device events waiting for EVENT_POLL. */
  readonly events: VirtioMsgInput[] = [];
  /** Located errors the bus rejected requests for (newest last; tests read them). */
  readonly rejected: DecodeError[] = [];
  private readonly devs: DeviceState[];
  private readonly maxAreas: number;
  private readonly busy: Map<VirtioMsgName, number>;
  private ctx: PartitionContext | undefined;

  constructor(o: VirtioBusOptions) {
    this.devs = o.devices.map((dev) => fresh(dev));
    this.maxAreas = o.maxAreas ?? 4;
    this.busy = new Map((o.busy ?? []).map((b) => [b.name, b.times]));
  }

  /** The DIRECT_REQ2 handler for the partition. */
  readonly handler: DirectHandler = (req, ctx) => {
    const out = new RegisterFile().setW(0, FFA.MSG_SEND_DIRECT_RESP2);
    const w1 = req.w(1);
    out.setW(1, (((w1 & 0xffff) << 16) | (w1 >>> 16)) >>> 0);
    if (req.w(0) !== FFA.MSG_SEND_DIRECT_REQ2) {
      // The bus speaks REQ2 only; a DIRECT_REQ gets an FF-A error.
      return new RegisterFile().setW(0, FFA.ERROR).setW(2, -1 >>> 0);
    }
    this.ctx = ctx;
    try {
      const answer = this.serve(payloadBytes(req));
      return answer === undefined ? out : setPayload(out, answer);
    } finally {
      this.ctx = undefined;
    }
  };

  private log(text: string): void {
    this.ctx?.log(`virtio-msg: ${text}`);
  }

  /** One message in, the answer's bytes out (undefined = busy). */
  private serve(bytes: Uint8Array): Uint8Array | undefined {
    const d = decodeVirtioMsg(bytes);
    if (!d.ok) {
      this.rejected.push(d.error);
      this.log(`rejected: ${d.error.code} ${d.error.message}`);
      // Answer with the request's own token and ID when the header is readable.
      return buildVirtioMsg({
        name: 'ERROR',
        token: bytes.length >= 6 ? (bytes[4] ?? 0) | ((bytes[5] ?? 0) << 8) : 0,
        fields: { error: VMSG_ERRORS.INVALID, msg_type: bytes[0] ?? 0, msg_id: bytes[1] ?? 0 },
      });
    }
    const m = d.value;
    const left = this.busy.get(m.name) ?? 0;
    if (left > 0) {
      this.busy.set(m.name, left - 1);
      this.log(`busy: ${m.name}`);
      return undefined;
    }
    if (m.response) return this.error(m, 'INVALID');
    const r = m.bus ? this.bus(m) : this.transport(m);
    return buildVirtioMsg(r);
  }

  private error(m: VirtioMsg, code: keyof typeof VMSG_ERRORS): Uint8Array {
    return buildVirtioMsg(this.errorMsg(m, code));
  }

  private errorMsg(m: VirtioMsg, code: keyof typeof VMSG_ERRORS): VirtioMsgInput {
    this.log(`${m.name} → ERROR ${code}`);
    return {
      name: 'ERROR',
      token: m.token,
      fields: { error: VMSG_ERRORS[code], msg_type: (m.bus ? 2 : 0) | (m.response ? 1 : 0), msg_id: m.id },
    };
  }

  private reply(m: VirtioMsg, fields: Record<string, number | bigint> = {}, tail?: VirtioMsgInput['tail']) {
    return {
      name: m.name,
      response: true,
      devNum: m.devNum,
      token: m.token,
      fields,
      ...(tail === undefined ? {} : { tail }),
    } satisfies VirtioMsgInput;
  }

  private pollAnswer(m: VirtioMsg): VirtioMsgInput {
    const first = this.events.shift();
    return {
      name: 'EVENT_POLL',
      response: true,
      token: m.token,
      fields: { pending: this.events.length + (first === undefined ? 0 : 1) },
      ...(first === undefined ? {} : { tail: first }),
    };
  }

  private bus(m: VirtioMsg): VirtioMsgInput {
    const ctx = this.ctx!;
    switch (m.name) {
      case 'VERSION':
        return this.reply(m, {
          bus_version: Math.min(Number(m.fields.bus_version), VIRTIO_MSG_FFA_BUS_VERSION),
          transport_revision: VIRTIO_MSG_TRANSPORT_REVISION,
          ffa_version: 0x10002,
          features: 0,
          bus_features: BUS_FEATURES.DIRECT_RX,
          max_areas: this.maxAreas,
        });
      case 'GET_DEVICES': {
        const offset = Number(m.fields.offset);
        const num = Number(m.fields.num);
        if (offset % 8 !== 0 || num % 8 !== 0 || num > 64) return this.errorMsg(m, 'INVALID');
        const bitmap = new Uint8Array(num / 8);
        for (let i = 0; i < num; i++) {
          const dev = offset + i;
          // Device numbers start at 1 (0 names the bus).
          if (dev >= 1 && dev <= this.devs.length) bitmap[i >> 3]! |= 1 << (i & 7);
        }
        const next = offset + num > this.devs.length ? 0 : offset + num;
        return this.reply(m, { offset, num, next_offset: next }, bitmap);
      }
      case 'PING':
        return this.reply(m, { data: m.fields.data ?? 0 });
      case 'AREA_SHARE': {
        const id = Number(m.fields.area_id);
        const handle = m.fields.mem_handle as bigint;
        if (this.areas.has(id)) return this.errorMsg(m, 'INVALID');
        if (this.areas.size >= this.maxAreas) return this.errorMsg(m, 'NO_MEMORY');
        const r = ctx.retrieve(handle);
        if (!r.ok) {
          this.log(`AREA_SHARE ${id}: retrieve of 0x${handle.toString(16)} failed: ${r.error}`);
          return this.errorMsg(m, 'INVALID');
        }
        let pages = 0;
        for (const c of r.constituents) pages += c.pageCount;
        if (pages !== Number(m.fields.page_count)) {
          ctx.relinquish(handle);
          this.log(`AREA_SHARE ${id}: page_count ${m.fields.page_count} ≠ ${pages} retrieved`);
          return this.errorMsg(m, 'INVALID');
        }
        this.areas.set(id, {
          handle,
          pages,
          segments: r.constituents.map((c) => ({ address: c.address, bytes: BigInt(c.pageCount) * 4096n })),
        });
        return this.reply(m, { area_id: id });
      }
      case 'AREA_UNSHARE': {
        const id = Number(m.fields.area_id);
        const a = this.areas.get(id);
        if (a === undefined) return this.errorMsg(m, 'INVALID');
        // Queues living in the area stop working: drop them (the driver resets its queues first).
        for (const s of this.devs)
          s.queues.forEach((q, i) => {
            if (q !== undefined && splitBusAddress(q.layout.desc).areaId === id) s.queues[i] = undefined;
          });
        this.areas.delete(id);
        const rel = ctx.relinquish(a.handle);
        if (!rel.ok) this.log(`AREA_UNSHARE ${id}: relinquish failed: ${rel.error}`);
        return this.reply(m, { area_id: id });
      }
      case 'RESET':
        for (const s of this.devs) resetDevice(s);
        this.events.length = 0;
        return this.reply(m);
      case 'EVENT_POLL':
        return this.pollAnswer(m);
      case 'EVENT_CONFIGURE':
        // Only polling (method 0) over direct messages.
        return Number(m.fields.method) === 0 ? this.reply(m, { method: 0 }) : this.errorMsg(m, 'UNSUPPORTED');
      default:
        return this.errorMsg(m, 'UNSUPPORTED');
    }
  }

  private transport(m: VirtioMsg): VirtioMsgInput {
    const s = this.devs[m.devNum - 1];
    if (s === undefined) return this.errorMsg(m, 'NO_DEVICE');
    const dev = s.dev;
    switch (m.name) {
      case 'GET_DEVICE_INFO':
        return this.reply(m, {
          device_id: dev.deviceId,
          vendor_id: dev.vendorId,
          num_feature_blocks: 2,
          config_size: dev.config().length,
          max_virtqueues: dev.numQueues,
        });
      case 'GET_DEVICE_FEATURES': {
        const index = Number(m.fields.index);
        const num = Number(m.fields.num);
        if (num > 8) return this.errorMsg(m, 'INVALID');
        const words: number[] = [];
        for (let i = 0; i < num; i++)
          words.push(Number((dev.features >> BigInt(32 * (index + i))) & 0xffff_ffffn));
        return this.reply(m, { index, num }, words);
      }
      case 'SET_DRIVER_FEATURES': {
        if (s.status & VIRTIO_STATUS.FEATURES_OK) return this.errorMsg(m, 'INVALID');
        const t = m.tail;
        const words = t?.kind === 'u32s' ? t.values : [];
        let f = s.driverFeatures;
        words.forEach((w, i) => {
          const sh = BigInt(32 * (Number(m.fields.index) + i));
          f = (f & ~(0xffff_ffffn << sh)) | (BigInt(w) << sh);
        });
        s.driverFeatures = f;
        return this.reply(m);
      }
      case 'GET_CONFIG': {
        const off = Number(m.fields.offset);
        const len = Number(m.fields.length);
        const cfg = dev.config();
        if (off + len > cfg.length || len > 84) return this.errorMsg(m, 'INVALID');
        return this.reply(
          m,
          { generation: s.generation, offset: off, length: len },
          cfg.slice(off, off + len),
        );
      }
      case 'SET_CONFIG': {
        const off = Number(m.fields.offset);
        const data = m.tail?.kind === 'bytes' ? m.tail.bytes : new Uint8Array(0);
        if (Number(m.fields.generation) !== s.generation || dev.writeConfig?.(off, data) !== true)
          return this.errorMsg(m, 'INVALID');
        s.generation++;
        return this.reply(m, { generation: s.generation, offset: off, length: data.length });
      }
      case 'GET_DEVICE_STATUS':
        return this.reply(m, { status: s.status });
      case 'SET_DEVICE_STATUS': {
        const v = Number(m.fields.status);
        if (v === 0) resetDevice(s);
        else {
          let next = v;
          // FEATURES_OK only for a subset of what the device offers that includes VERSION_1 (virtio 1.2 §3.1.1).
          if (
            (v & VIRTIO_STATUS.FEATURES_OK) !== 0 &&
            ((s.driverFeatures & ~dev.features) !== 0n || (s.driverFeatures & VIRTIO_F_VERSION_1) === 0n)
          )
            next &= ~VIRTIO_STATUS.FEATURES_OK;
          s.status = next;
        }
        return this.reply(m, { status: s.status });
      }
      case 'GET_VQUEUE': {
        const i = Number(m.fields.index);
        if (i >= dev.numQueues) return this.errorMsg(m, 'INVALID');
        const q = s.setup[i];
        return this.reply(m, {
          index: i,
          max_size: dev.queueMaxSize,
          size: q?.size ?? 0,
          desc_addr: q?.desc ?? 0n,
          driver_addr: q?.driver ?? 0n,
          device_addr: q?.device ?? 0n,
        });
      }
      case 'SET_VQUEUE': {
        const i = Number(m.fields.index);
        const size = Number(m.fields.size);
        if (i >= dev.numQueues || !validQueueSize(size) || size > dev.queueMaxSize)
          return this.errorMsg(m, 'INVALID');
        if ((s.status & VIRTIO_STATUS.FEATURES_OK) === 0) return this.errorMsg(m, 'INVALID');
        const layout = {
          size,
          desc: m.fields.desc_addr as bigint,
          driver: m.fields.driver_addr as bigint,
          device: m.fields.device_addr as bigint,
        };
        // The three parts must lie in areas the driver shared.
        for (const [a, n] of [
          [layout.desc, 16 * size],
          [layout.driver, 6 + 2 * size],
          [layout.device, 6 + 8 * size],
        ] as const)
          if (this.resolve(a, n) === undefined) return this.errorMsg(m, 'INVALID');
        s.setup[i] = layout;
        s.queues[i] = new DeviceQueue(layout, this.memory());
        return this.reply(m);
      }
      case 'RESET_VQUEUE': {
        const i = Number(m.fields.index);
        if (i >= dev.numQueues) return this.errorMsg(m, 'INVALID');
        s.queues[i] = undefined;
        s.setup[i] = undefined;
        return this.reply(m);
      }
      case 'GET_SHM':
        // No shared-memory regions: length 0.
        return this.reply(m, { index: Number(m.fields.index), length: 0n, address: 0n });
      case 'EVENT_AVAIL': {
        const q = Number(m.fields.index);
        if ((s.status & VIRTIO_STATUS.DRIVER_OK) === 0 || s.queues[q] === undefined)
          return this.errorMsg(m, 'INVALID');
        const r = dev.notify(q, this.io(s, m.devNum));
        if (!r.ok) {
          this.rejected.push(r.error);
          this.log(`queue ${q}: ${r.error.code} ${r.error.message}; NEEDS_RESET`);
          s.status |= VIRTIO_STATUS.NEEDS_RESET;
          this.events.push({
            name: 'EVENT_CONFIG',
            devNum: m.devNum,
            fields: { status: s.status, generation: s.generation },
          });
        }
        return this.pollAnswer(m);
      }
      default:
        return this.errorMsg(m, 'UNSUPPORTED');
    }
  }

  /** The PA ranges behind `len` bytes at bus address `addr`, or undefined when any byte is outside an area. */
  private resolve(addr: bigint, len: number): { pa: bigint; len: number }[] | undefined {
    const { areaId, offset } = splitBusAddress(addr);
    const a = this.areas.get(areaId);
    if (a === undefined || len < 0) return undefined;
    const out: { pa: bigint; len: number }[] = [];
    let off = offset;
    let left = BigInt(len);
    let base = 0n;
    for (const seg of a.segments) {
      if (left === 0n) break;
      if (off < base + seg.bytes) {
        const inSeg = off - base;
        const n = left < seg.bytes - inSeg ? left : seg.bytes - inSeg;
        out.push({ pa: seg.address + inSeg, len: Number(n) });
        off += n;
        left -= n;
      }
      base += seg.bytes;
    }
    return left === 0n ? out : undefined;
  }

  /** Bus-address memory through the partition's retrieved pages. */
  private memory(): QueueMemory {
    return {
      read: (addr, len) => {
        const ctx = this.ctx;
        const parts = this.resolve(addr, len);
        if (ctx === undefined || parts === undefined) return undefined;
        const out = new Uint8Array(len);
        let at = 0;
        for (const p of parts) {
          if (p.pa > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
          const b = ctx.read(Number(p.pa), p.len);
          if (b === undefined) return undefined;
          out.set(b, at);
          at += p.len;
        }
        return out;
      },
      write: (addr, bytes) => {
        const ctx = this.ctx;
        const parts = this.resolve(addr, bytes.length);
        if (ctx === undefined || parts === undefined) return false;
        let at = 0;
        for (const p of parts) {
          if (p.pa > BigInt(Number.MAX_SAFE_INTEGER)) return false;
          if (!ctx.write(Number(p.pa), bytes.subarray(at, at + p.len))) return false;
          at += p.len;
        }
        return true;
      },
    };
  }

  private io(s: DeviceState, devNum: number): DeviceIO {
    const mem = this.memory();
    const where = (b: ChainBuffer) => ({
      kind: 'bytes' as const,
      offset: 0,
      field: `buffer@0x${b.addr.toString(16)}`,
    });
    return {
      pop: (q) => {
        const dq = s.queues[q];
        return dq === undefined ? notSet(q) : dq.pop();
      },
      read: (b) => {
        if (b.write)
          return fail('VQ_BUFFER_DIR', 'Virtqueue.BufferDir', where(b), 'reading a device-writable buffer');
        const bytes = mem.read(b.addr, b.len);
        return bytes === undefined
          ? fail('VQ_BUFFER_ACCESS', 'Virtqueue.BufferAccess', where(b), 'buffer outside the shared areas')
          : ok(bytes);
      },
      write: (b, bytes) => {
        if (!b.write)
          return fail('VQ_BUFFER_DIR', 'Virtqueue.BufferDir', where(b), 'writing a device-readable buffer');
        if (bytes.length > b.len)
          return fail(
            'VQ_BUFFER_LEN',
            'Virtqueue.BufferLen',
            where(b),
            'data longer than the buffer',
            `≤ ${b.len}`,
            `${bytes.length}`,
          );
        return mem.write(b.addr, bytes)
          ? ok(undefined)
          : fail('VQ_BUFFER_ACCESS', 'Virtqueue.BufferAccess', where(b), 'buffer outside the shared areas');
      },
      push: (q, head, len) => {
        const dq = s.queues[q];
        if (dq === undefined) return notSet(q);
        const r = dq.push(head, len);
        if (r.ok) this.events.push({ name: 'EVENT_USED', devNum, fields: { index: q } });
        return r;
      },
      log: (text) => this.log(text),
    };
  }
}

/** A device's access to a virtqueue the driver has not set up. */
function notSet<T>(q: number): Result<T> {
  return fail(
    'VQ_NOT_SET',
    'Virtqueue.NotSet',
    { kind: 'bytes', offset: 0, field: `queue ${q}` },
    'queue not set up',
  );
}

function fresh(dev: VirtioDevice): DeviceState {
  return {
    dev,
    status: 0,
    driverFeatures: 0n,
    queues: new Array(dev.numQueues).fill(undefined),
    setup: new Array(dev.numQueues).fill(undefined),
    generation: 0,
  };
}

function resetDevice(s: DeviceState): void {
  s.status = 0;
  s.driverFeatures = 0n;
  s.queues.fill(undefined);
  s.setup.fill(undefined);
  s.dev.reset?.();
}

/** Creates a bus server with its devices. */
export function createVirtioMsgBus(o: VirtioBusOptions): VirtioMsgBus {
  return new VirtioMsgBus(o);
}

/** virtio-console (virtio 1.2 §5.3): device ID 3, receiveq 0, transmitq 1; VIRTIO_CONSOLE_F_SIZE (bit 0). */
export const VIRTIO_ID_CONSOLE = 3;
export const VIRTIO_CONSOLE_F_SIZE = 1n;

export interface ConsoleOptions {
  cols?: number;
  rows?: number;
  /** Echo what the driver transmits back on the receive queue (default true). */
  echo?: boolean;
  queueMaxSize?: number;
}

/**
 * A virtio-console that echoes: bytes the driver puts on transmitq are logged and written into the next
 * receiveq buffer (waiting until the driver posts one). `output` collects everything transmitted.
 */
export class VirtioConsole implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_CONSOLE;
  readonly vendorId = 0x554d4551; // "QEMU", as the QEMU virtio devices report
  readonly features = VIRTIO_F_VERSION_1 | VIRTIO_CONSOLE_F_SIZE;
  readonly numQueues = 2;
  readonly queueMaxSize: number;
  readonly output: string[] = [];
  private readonly pending: Uint8Array[] = [];
  private readonly cols: number;
  private readonly rows: number;
  private readonly echo: boolean;

  constructor(o: ConsoleOptions = {}) {
    this.cols = o.cols ?? 80;
    this.rows = o.rows ?? 25;
    this.echo = o.echo !== false;
    this.queueMaxSize = o.queueMaxSize ?? 8;
  }

  /** struct virtio_console_config: cols u16, rows u16, max_nr_ports u32, emerg_wr u32. */
  config(): Uint8Array {
    const b = new Uint8Array(12);
    const v = new DataView(b.buffer);
    v.setUint16(0, this.cols, true);
    v.setUint16(2, this.rows, true);
    v.setUint32(4, 1, true);
    return b;
  }

  notify(q: number, io: DeviceIO): Result<void> {
    if (q === 1) {
      for (;;) {
        const c = io.pop(1);
        if (!c.ok) return c;
        if (c.value === undefined) break;
        let text = '';
        for (const b of c.value.buffers) {
          const r = io.read(b);
          if (!r.ok) return r;
          this.output.push(latin1(r.value));
          text += latin1(r.value);
          if (this.echo) this.pending.push(r.value);
        }
        io.log(`console: transmitted "${text}"`);
        const u = io.push(1, c.value.head, 0);
        if (!u.ok) return u;
      }
    }
    // Deliver pending echo bytes into receive buffers (q 0 notifications just make buffers available).
    while (this.pending.length > 0) {
      const c = io.pop(0);
      if (!c.ok) return c;
      if (c.value === undefined) break;
      const b = c.value.buffers[0];
      if (b === undefined)
        return fail(
          'VQ_EMPTY_CHAIN',
          'Virtqueue.EmptyChain',
          { kind: 'bytes', offset: 0, field: 'receiveq' },
          'empty chain',
        );
      const data = this.pending[0]!;
      const n = Math.min(data.length, b.len);
      const w = io.write(b, data.subarray(0, n));
      if (!w.ok) return w;
      if (n < data.length) this.pending[0] = data.subarray(n);
      else this.pending.shift();
      const u = io.push(0, c.value.head, n);
      if (!u.ok) return u;
    }
    return ok(undefined);
  }

  reset(): void {
    this.pending.length = 0;
  }
}

function latin1(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return s;
}
