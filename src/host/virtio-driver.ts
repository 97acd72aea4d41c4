/**
 * The driver side of virtio-msg over FF-A in the host kernel: the FF-A bus (VERSION, device discovery, areas),
 * the virtio-msg transport (device info, feature negotiation, config, status, queue setup) and the data path,
 * after the 2026 binding PoC (`virtio_msg_bus_ffa_xfer_direct.c`) with the RFC-era driver's fallback to
 * indirect messages (peers-and-tests.md §5).
 *
 * - A message goes out as FFA_MSG_SEND_DIRECT_REQ2 to the device-role UUID; an all-zero RESP2 is "busy" and is
 *   retried at most 3 times.
 * - The answer is untrusted: it must decode (located errors from the codec), be a response to the same message,
 *   device and token, or an ERROR for it. Anything else is rejected with a located error.
 * - Areas: FFA_MEM_SHARE (one borrower, RW) then AREA_SHARE with the handle; a failed AREA_SHARE is followed by
 *   MEM_RECLAIM. Teardown is AREA_UNSHARE then MEM_RECLAIM. Bus addresses are `area_id << 48 | offset`.
 * - When the first DIRECT_REQ2 fails, the driver switches for good to FFA_MSG_SEND2 (RFC-era behaviour); the
 *   reply would come through the RX-buffer-full notification, which the driver waits for with a timeout.
 */
import { buildSend2Header } from '../ffa/desc/index.ts';
import { ffaErrorName } from '../ffa/errors.ts';
import { FFA } from '../ffa/ids.ts';
import type { DecodeError } from '../ffa/result.ts';
import type { PhysMem } from '../mem/phys.ts';
import type { TraceSink } from '../trace/events.ts';
import {
  availRingBytes,
  BUS_FEATURES,
  buildVirtioMsg,
  busAddress,
  bytesToPayload,
  type ChainBuffer,
  DriverQueue,
  decodeVirtioMsg,
  descTableBytes,
  isBusyPayload,
  type QueueMemory,
  splitBusAddress,
  usedRingBytes,
  VIRTIO_MSG_FFA_BUS_VERSION,
  VIRTIO_MSG_FFA_BUSY_RETRIES,
  VIRTIO_MSG_FFA_DEVICE_UUID,
  VIRTIO_MSG_TRANSPORT_REVISION,
  type VirtioMsg,
  type VirtioMsgInput,
  vmsgErrorName,
} from '../virtio/index.ts';
import type { HostDriver } from './driver.ts';

/** A driver outcome: a value, or a code with what happened and (for malformed answers) where. */
export type VirtioResult<T> =
  | { ok: true; value: T }
  | { ok: false; error: string; detail: string; at?: DecodeError; ffa?: string };

export interface VirtioMsgDriverOptions {
  ffa: HostDriver;
  mem: PhysMem;
  /** Host-owned pages of `pageSize`; returns the PA. */
  allocPages: (count: number) => number;
  pageSize: number;
  /** The device partition's endpoint ID. */
  partition: number;
  uuid?: string;
  trace?: TraceSink;
}

interface HostArea {
  id: number;
  handle: bigint;
  base: number;
  bytes: number;
}

const VIRTIO_STATUS = { ACKNOWLEDGE: 1, DRIVER: 2, DRIVER_OK: 4, FEATURES_OK: 8 } as const;
const VIRTIO_F_VERSION_1 = 1n << 32n;

/** The bus and transport driver. */
export class VirtioMsgFfaDriver {
  private readonly o: VirtioMsgDriverOptions;
  /** `direct` until a DIRECT_REQ2 fails once, then `indirect` for good. */
  transfer: 'direct' | 'indirect' = 'direct';
  private nextToken = 1;
  private readonly areas = new Map<number, HostArea>();
  /** Busy answers seen so far. */
  busyRetries = 0;
  /** Device events (EVENT_USED…) collected from EVENT_POLL answers, oldest first. */
  readonly events: VirtioMsg[] = [];

  constructor(o: VirtioMsgDriverOptions) {
    this.o = o;
  }

  private note(text: string): void {
    this.o.trace?.emit({ kind: 'note', who: 'host', text: `virtio-msg: ${text}` });
  }

  /** Sends one request and returns the matching response (or the device's ERROR as a failure). */
  request(m: VirtioMsgInput, expect: VirtioMsgInput['name'] = m.name): VirtioResult<VirtioMsg> {
    const token = m.token ?? this.nextToken;
    if (m.token === undefined) this.nextToken = (this.nextToken % 0xffff) + 1;
    const bytes = buildVirtioMsg({ ...m, token });
    const ans = this.transferMsg(bytes);
    if (!ans.ok) return ans;
    const d = decodeVirtioMsg(ans.value);
    if (!d.ok)
      return {
        ok: false,
        error: d.error.code,
        detail: `answer to ${m.name}: ${d.error.message}`,
        at: d.error,
      };
    const r = d.value;
    if (r.name === 'ERROR') {
      const code = Number(r.fields.error);
      return {
        ok: false,
        error: `VMSG_ERROR_${vmsgErrorName(code) ?? code}`,
        detail: `device answered ${m.name} with ERROR ${vmsgErrorName(code) ?? code}`,
      };
    }
    const bad = (what: string, expected: string, got: string): VirtioResult<VirtioMsg> => ({
      ok: false,
      error: 'VMSG_MISMATCH',
      detail: `answer to ${m.name}: ${what}; expected ${expected}, got ${got}`,
      at: {
        code: 'VMSG_MISMATCH',
        name: 'VirtioMsg.Mismatch',
        at: { kind: 'bytes', offset: what === 'token' ? 4 : what === 'dev_num' ? 2 : 1, field: what },
        expected,
        got,
        message: `${what}: answer does not match the request; expected ${expected}, got ${got}`,
      },
    });
    if (!r.response || r.name !== expect) return bad('msg_id', `${expect} response`, r.name);
    if (r.token !== token) return bad('token', `0x${token.toString(16)}`, `0x${r.token.toString(16)}`);
    if (!r.bus && r.devNum !== (m.devNum ?? 0)) return bad('dev_num', `${m.devNum ?? 0}`, `${r.devNum}`);
    if (r.name === 'EVENT_POLL') {
      const t = this.takeEvents(r);
      if (!t.ok) return t;
    }
    return { ok: true, value: r };
  }

  /** One message over DIRECT_REQ2 (busy retries) or, after a failure, FFA_MSG_SEND2. */
  private transferMsg(bytes: Uint8Array): VirtioResult<Uint8Array> {
    if (this.transfer === 'indirect') return this.sendIndirect(bytes);
    const payload = bytesToPayload(bytes);
    for (let attempt = 0; ; attempt++) {
      const r = this.o.ffa.directReq2(this.o.partition, this.o.uuid ?? VIRTIO_MSG_FFA_DEVICE_UUID, payload);
      if (!r.ok) {
        // RFC-era driver: one failure switches to indirect messages for good.
        this.transfer = 'indirect';
        this.note(`DIRECT_REQ2 failed (${r.error}); switching to FFA_MSG_SEND2`);
        const ind = this.sendIndirect(bytes);
        return ind.ok
          ? ind
          : {
              ...ind,
              detail: `DIRECT_REQ2 → ${r.error}; fallback FFA_MSG_SEND2: ${ind.detail}`,
              ffa: r.error,
            };
      }
      if (!isBusyPayload(r.regs)) {
        const out = new Uint8Array(112);
        const v = new DataView(out.buffer);
        r.value.payload.forEach((x, i) => {
          v.setBigUint64(8 * i, x, true);
        });
        return { ok: true, value: out };
      }
      if (attempt >= VIRTIO_MSG_FFA_BUSY_RETRIES)
        return {
          ok: false,
          error: 'BUSY',
          detail: `device busy after ${VIRTIO_MSG_FFA_BUSY_RETRIES} retries`,
        };
      this.busyRetries++;
      this.note(`busy (all-zero DIRECT_RESP2): retry ${attempt + 1} of ${VIRTIO_MSG_FFA_BUSY_RETRIES}`);
    }
  }

  /** FFA_MSG_SEND2 with the message after a 1.2 partition-message header in the host TX buffer. */
  private sendIndirect(bytes: Uint8Array): VirtioResult<Uint8Array> {
    const ffa = this.o.ffa;
    if (ffa.tx === 0)
      return { ok: false, error: 'NO_TX', detail: 'FFA_MSG_SEND2 needs the RX/TX buffers mapped' };
    const hdr = buildSend2Header({
      version: '1.2',
      flags: 0,
      payloadOffset: 40,
      receiver: this.o.partition,
      sender: ffa.id,
      payloadSize: bytes.length,
    });
    const buf = new Uint8Array(40 + bytes.length);
    buf.set(hdr);
    buf.set(bytes, 40);
    this.o.mem.write(ffa.tx, buf);
    const r = ffa.raw([FFA.MSG_SEND2, 0, 0]);
    if (r.w(0) !== FFA.SUCCESS) {
      const code = r.w(0) === FFA.ERROR ? r.w(2) | 0 : undefined;
      const name = code === undefined ? `x0=${r.toHex()[0]}` : (ffaErrorName(code) ?? `error(${code})`);
      return { ok: false, error: 'INDIRECT_FAILED', detail: `FFA_MSG_SEND2 → ${name}`, ffa: name };
    }
    // The reply comes through the framework notification "RX buffer full"; the RFC driver waits with a timeout
    // of 1000. The modelled SPMC queues the message but does not run the partition for it, so nothing comes.
    return {
      ok: false,
      error: 'TIMEOUT',
      detail: 'FFA_MSG_SEND2 queued; no RX-buffer-full notification came (timeout 1000)',
    };
  }

  // -------------------------------------------------------------------------------------------
  // Bus

  /** VERSION: checks the bus version and that the device accepts direct messages. */
  busVersion(): VirtioResult<{ busVersion: number; maxAreas: number; busFeatures: number }> {
    const r = this.request({
      name: 'VERSION',
      fields: {
        bus_version: VIRTIO_MSG_FFA_BUS_VERSION,
        transport_revision: VIRTIO_MSG_TRANSPORT_REVISION,
        ffa_version: this.o.ffa.version ?? 0x10002,
        bus_features: BUS_FEATURES.DIRECT_TX,
      },
    });
    if (!r.ok) return r;
    const f = r.value.fields;
    if (Number(f.bus_version) !== VIRTIO_MSG_FFA_BUS_VERSION)
      return { ok: false, error: 'VMSG_BUS_VERSION', detail: `bus version ${f.bus_version} not supported` };
    if ((Number(f.bus_features) & BUS_FEATURES.DIRECT_RX) === 0)
      return { ok: false, error: 'VMSG_NO_DIRECT', detail: 'device does not take direct messages' };
    return {
      ok: true,
      value: {
        busVersion: Number(f.bus_version),
        maxAreas: Number(f.max_areas),
        busFeatures: Number(f.bus_features),
      },
    };
  }

  /** GET_DEVICES over the first 64 device numbers: the device numbers present. */
  devices(): VirtioResult<number[]> {
    const out: number[] = [];
    let offset = 0;
    for (let i = 0; i < 8; i++) {
      const r = this.request({ name: 'GET_DEVICES', fields: { offset, num: 8 } });
      if (!r.ok) return r;
      const t = r.value.tail;
      const bitmap = t?.kind === 'bytes' ? t.bytes : new Uint8Array(0);
      if (Number(r.value.fields.offset) !== offset || bitmap.length !== 1)
        return {
          ok: false,
          error: 'VMSG_BAD_BITMAP',
          detail: `GET_DEVICES window ${offset}: bitmap of ${bitmap.length} bytes`,
        };
      for (let b = 0; b < 8; b++) if ((bitmap[0]! >> b) & 1) out.push(offset + b);
      const next = Number(r.value.fields.next_offset);
      if (next === 0) break;
      if (next <= offset)
        return { ok: false, error: 'VMSG_BAD_BITMAP', detail: `next_offset ${next} ≤ ${offset}` };
      offset = next;
    }
    return { ok: true, value: out };
  }

  /**
   * A DMA area: `pages` host pages, FFA_MEM_SHARE'd RW with the device partition, then AREA_SHARE. When
   * AREA_SHARE fails the share is reclaimed, so nothing stays shared.
   */
  shareArea(id: number, pages: number): VirtioResult<{ id: number; handle: bigint; base: number }> {
    const ps = this.o.pageSize;
    const base = this.o.allocPages(pages);
    this.o.mem.write(base, new Uint8Array(pages * ps));
    const s = this.o.ffa.memShare({
      receivers: [{ id: this.o.partition, perm: 'RW' }],
      constituents: [{ address: base, pageCount: (pages * ps) / 4096 }],
    });
    if (!s.ok)
      return { ok: false, error: 'SHARE_FAILED', detail: `FFA_MEM_SHARE → ${s.error}`, ffa: s.error };
    const handle = s.value.handle;
    const r = this.request({
      name: 'AREA_SHARE',
      fields: { area_id: id, page_count: (pages * ps) / 4096, mem_handle: handle, sharing_attrs: 0 },
    });
    if (!r.ok || Number(r.value.fields.area_id) !== id) {
      const rc = this.o.ffa.memReclaim(handle);
      this.note(`AREA_SHARE ${id} failed; MEM_RECLAIM 0x${handle.toString(16)} → ${rc.ok ? 'ok' : rc.error}`);
      // The answer was untrusted: a device that retrieved the memory and then answered garbage still holds it,
      // and the reclaim is refused. Keep the area recorded (teardown retries AREA_UNSHARE + reclaim) rather than
      // forget memory that is still shared (found by the virtio-msg fuzz target, src/check/virtio-fuzz.ts).
      if (!rc.ok) this.areas.set(id, { id, handle, base, bytes: pages * ps });
      return r.ok ? { ok: false, error: 'VMSG_MISMATCH', detail: `AREA_SHARE answered for another area` } : r;
    }
    this.areas.set(id, { id, handle, base, bytes: pages * ps });
    return { ok: true, value: { id, handle, base } };
  }

  /**
   * AREA_UNSHARE then MEM_RECLAIM. The device's answer is untrusted, so the reclaim is tried whatever it says:
   * the SPMC's answer to MEM_RECLAIM is what tells whether the device still holds the memory (then the area stays
   * recorded as shared, never forgotten).
   */
  unshareArea(id: number): VirtioResult<void> {
    const a = this.areas.get(id);
    if (a === undefined) return { ok: false, error: 'NO_AREA', detail: `area ${id} not shared` };
    const r = this.request({ name: 'AREA_UNSHARE', fields: { area_id: id } });
    const rc = this.o.ffa.memReclaim(a.handle);
    if (!rc.ok)
      return {
        ok: false,
        error: 'RECLAIM_FAILED',
        detail: `FFA_MEM_RECLAIM → ${rc.error}${r.ok ? '' : ` (AREA_UNSHARE: ${r.error})`}`,
        ffa: rc.error,
      };
    this.areas.delete(id);
    if (!r.ok) this.note(`AREA_UNSHARE ${id} answered ${r.error}; the memory was reclaimed anyway`);
    return { ok: true, value: undefined };
  }

  /** Areas currently shared. */
  sharedAreas(): readonly HostArea[] {
    return [...this.areas.values()];
  }

  /** Host memory behind bus addresses of the shared areas. */
  memory(): QueueMemory {
    const resolve = (addr: bigint, len: number): number | undefined => {
      const { areaId, offset } = splitBusAddress(addr);
      const a = this.areas.get(areaId);
      if (a === undefined || offset + BigInt(len) > BigInt(a.bytes)) return undefined;
      return a.base + Number(offset);
    };
    return {
      read: (addr, len) => {
        const pa = resolve(addr, len);
        return pa === undefined ? undefined : this.o.mem.read(pa, len);
      },
      write: (addr, bytes) => {
        const pa = resolve(addr, bytes.length);
        if (pa === undefined) return false;
        this.o.mem.write(pa, bytes);
        return true;
      },
    };
  }

  /** EVENT_POLL until no event is pending (at most `max` polls); events land in {@link events}. */
  poll(max = 16): VirtioResult<number> {
    let got = 0;
    for (let i = 0; i < max; i++) {
      const r = this.request({ name: 'EVENT_POLL' });
      if (!r.ok) return r;
      if (r.value.tail?.kind === 'msg' && r.value.tail.msg !== undefined) got++;
      if (Number(r.value.fields.pending) <= 1) break;
    }
    return { ok: true, value: got };
  }

  /** Stores the event an EVENT_POLL answer carries. */
  takeEvents(ans: VirtioMsg): VirtioResult<number> {
    if (ans.name !== 'EVENT_POLL') return { ok: true, value: 0 };
    const t = ans.tail;
    const pending = Number(ans.fields.pending);
    if (t?.kind !== 'msg' || t.msg === undefined) {
      if (pending !== 0)
        return {
          ok: false,
          error: 'VMSG_BAD_POLL',
          detail: `EVENT_POLL says ${pending} pending but carries none`,
        };
      return { ok: true, value: 0 };
    }
    this.events.push(t.msg);
    return { ok: true, value: 1 };
  }
}

/** One queue of a probed device. */
export interface DriverVirtqueue {
  index: number;
  queue: DriverQueue;
  /** Where the queue's buffers start in its area (bus address) and how many bytes each of `size` has. */
  buffers: bigint;
  bufferSize: number;
}

/** A probed virtio device on the bus (transport layer). */
export class VirtioMsgDevice {
  readonly queues: DriverVirtqueue[] = [];
  status = 0;
  features = 0n;

  readonly bus: VirtioMsgFfaDriver;
  readonly devNum: number;
  readonly info: { deviceId: number; vendorId: number; configSize: number; maxQueues: number };

  constructor(
    bus: VirtioMsgFfaDriver,
    devNum: number,
    info: { deviceId: number; vendorId: number; configSize: number; maxQueues: number },
  ) {
    this.bus = bus;
    this.devNum = devNum;
    this.info = info;
  }

  private req(m: Omit<VirtioMsgInput, 'devNum'>): VirtioResult<VirtioMsg> {
    return this.bus.request({ ...m, devNum: this.devNum });
  }

  /** GET_DEVICE_INFO, then a device handle. */
  static probe(bus: VirtioMsgFfaDriver, devNum: number): VirtioResult<VirtioMsgDevice> {
    const r = bus.request({ name: 'GET_DEVICE_INFO', devNum });
    if (!r.ok) return r;
    const f = r.value.fields;
    return {
      ok: true,
      value: new VirtioMsgDevice(bus, devNum, {
        deviceId: Number(f.device_id),
        vendorId: Number(f.vendor_id),
        configSize: Number(f.config_size),
        maxQueues: Number(f.max_virtqueues),
      }),
    };
  }

  setStatus(status: number): VirtioResult<number> {
    const r = this.req({ name: 'SET_DEVICE_STATUS', fields: { status } });
    if (!r.ok) return r;
    this.status = Number(r.value.fields.status);
    return { ok: true, value: this.status };
  }

  /** Status ACKNOWLEDGE|DRIVER, features (device ∩ wanted, VERSION_1 required), FEATURES_OK read back. */
  negotiate(wanted: bigint): VirtioResult<bigint> {
    const st = this.setStatus(VIRTIO_STATUS.ACKNOWLEDGE | VIRTIO_STATUS.DRIVER);
    if (!st.ok) return st;
    const g = this.req({ name: 'GET_DEVICE_FEATURES', fields: { index: 0, num: 2 } });
    if (!g.ok) return g;
    const t = g.value.tail;
    if (t?.kind !== 'u32s' || t.values.length !== 2)
      return { ok: false, error: 'VMSG_BAD_FEATURES', detail: 'GET_DEVICE_FEATURES did not return 2 blocks' };
    const offered = BigInt(t.values[0]!) | (BigInt(t.values[1]!) << 32n);
    if ((offered & VIRTIO_F_VERSION_1) === 0n)
      return { ok: false, error: 'VMSG_LEGACY', detail: 'device does not offer VIRTIO_F_VERSION_1' };
    const mine = offered & (wanted | VIRTIO_F_VERSION_1);
    const s = this.req({
      name: 'SET_DRIVER_FEATURES',
      fields: { index: 0 },
      tail: [Number(mine & 0xffff_ffffn), Number(mine >> 32n)],
    });
    if (!s.ok) return s;
    const ok2 = this.setStatus(VIRTIO_STATUS.ACKNOWLEDGE | VIRTIO_STATUS.DRIVER | VIRTIO_STATUS.FEATURES_OK);
    if (!ok2.ok) return ok2;
    if ((ok2.value & VIRTIO_STATUS.FEATURES_OK) === 0)
      return { ok: false, error: 'VMSG_FEATURES_REFUSED', detail: 'device cleared FEATURES_OK' };
    this.features = mine;
    return { ok: true, value: mine };
  }

  /** GET_CONFIG of `length` bytes at `offset`. */
  readConfig(offset: number, length: number): VirtioResult<Uint8Array> {
    const r = this.req({ name: 'GET_CONFIG', fields: { offset, length } });
    if (!r.ok) return r;
    const t = r.value.tail;
    if (t?.kind !== 'bytes' || t.bytes.length !== length || Number(r.value.fields.offset) !== offset)
      return {
        ok: false,
        error: 'VMSG_BAD_CONFIG',
        detail: `GET_CONFIG returned another range than ${offset}+${length}`,
      };
    return { ok: true, value: t.bytes };
  }

  /**
   * Lays out queue `index` in area `areaId` at `offset` (descriptor table, avail ring, used ring, then `size`
   * buffers of `bufferSize` bytes), zeroes it and announces it with SET_VQUEUE. Returns the bytes used.
   */
  setupQueue(
    index: number,
    size: number,
    areaId: number,
    offset: number,
    bufferSize: number,
  ): VirtioResult<number> {
    const g = this.req({ name: 'GET_VQUEUE', fields: { index } });
    if (!g.ok) return g;
    const max = Number(g.value.fields.max_size);
    if (max === 0 || size > max)
      return { ok: false, error: 'VMSG_QUEUE_SIZE', detail: `queue ${index}: size ${size} > max ${max}` };
    const align = (n: number, a: number) => Math.ceil(n / a) * a;
    const desc = offset;
    const driver = align(desc + descTableBytes(size), 2);
    const device = align(driver + availRingBytes(size), 4);
    const bufs = align(device + usedRingBytes(size), 64);
    const end = bufs + size * bufferSize;
    const layout = {
      size,
      desc: busAddress(areaId, desc),
      driver: busAddress(areaId, driver),
      device: busAddress(areaId, device),
    };
    const q = new DriverQueue(layout, this.bus.memory());
    if (!q.init())
      return { ok: false, error: 'NO_AREA', detail: `queue ${index} does not fit area ${areaId}` };
    const s = this.req({
      name: 'SET_VQUEUE',
      fields: { index, size, desc_addr: layout.desc, driver_addr: layout.driver, device_addr: layout.device },
    });
    if (!s.ok) return s;
    this.queues[index] = { index, queue: q, buffers: busAddress(areaId, bufs), bufferSize };
    return { ok: true, value: end - offset };
  }

  /** Adds a chain on queue `index` and sends EVENT_AVAIL; events in the answer are kept on the bus. */
  kick(index: number, buffers: readonly ChainBuffer[]): VirtioResult<number> {
    const vq = this.queues[index];
    if (vq === undefined) return { ok: false, error: 'NO_QUEUE', detail: `queue ${index} not set up` };
    const h = vq.queue.add(buffers);
    if (!h.ok) return { ok: false, error: h.error.code, detail: h.error.message, at: h.error };
    // An event has no response of its own: the device answers with EVENT_POLL (see src/spmc/virtio-device.ts).
    const r = this.bus.request(
      { name: 'EVENT_AVAIL', devNum: this.devNum, fields: { index, next: vq.queue.nextAvail } },
      'EVENT_POLL',
    );
    if (!r.ok) return r;
    return { ok: true, value: h.value };
  }

  /** The buffer slot `i` of queue `index` (bus address). */
  slot(index: number, i: number): bigint {
    const vq = this.queues[index]!;
    return vq.buffers + BigInt(i * vq.bufferSize);
  }

  /** RESET_VQUEUE for every queue, then status 0. */
  teardown(): VirtioResult<void> {
    for (const vq of this.queues) {
      if (vq === undefined) continue;
      const r = this.req({ name: 'RESET_VQUEUE', fields: { index: vq.index } });
      if (!r.ok) return r;
    }
    this.queues.length = 0;
    const s = this.setStatus(0);
    return s.ok ? { ok: true, value: undefined } : s;
  }
}
