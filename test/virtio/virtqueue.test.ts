/**
 * Split-ring handling, driver and device side over one memory: chains go round, and each index or length the
 * other side could corrupt is rejected with a located error that leaves the queue as it was.
 */
import { describe, expect, it } from 'vitest';
import {
  DeviceQueue,
  DriverQueue,
  type QueueLayout,
  type QueueMemory,
  validQueueSize,
} from '../../src/virtio/index.ts';

function memory(size = 4096): QueueMemory & { bytes: Uint8Array } {
  const bytes = new Uint8Array(size);
  return {
    bytes,
    read: (a, n) => (a + BigInt(n) <= BigInt(size) ? bytes.slice(Number(a), Number(a) + n) : undefined),
    write: (a, b) => {
      if (a + BigInt(b.length) > BigInt(size)) return false;
      bytes.set(b, Number(a));
      return true;
    },
  };
}

const LAYOUT: QueueLayout = { size: 4, desc: 0n, driver: 64n, device: 128n };

function pair() {
  const mem = memory();
  const drv = new DriverQueue(LAYOUT, mem);
  expect(drv.init()).toBe(true);
  const dev = new DeviceQueue(LAYOUT, mem);
  return { mem, drv, dev };
}

const dv = (m: { bytes: Uint8Array }) => new DataView(m.bytes.buffer);

describe('split virtqueue', () => {
  it('a chain goes driver → device → driver', () => {
    const { drv, dev } = pair();
    const h = drv.add([
      { addr: 1024n, len: 16, write: false },
      { addr: 2048n, len: 32, write: true },
    ]);
    expect(h.ok).toBe(true);
    const c = dev.pop();
    expect(c.ok && c.value?.buffers).toEqual([
      { addr: 1024n, len: 16, write: false },
      { addr: 2048n, len: 32, write: true },
    ]);
    expect(dev.pop()).toEqual({ ok: true, value: undefined });
    if (!c.ok || c.value === undefined) return;
    expect(dev.push(c.value.head, 20).ok).toBe(true);
    const u = drv.collect();
    expect(u.ok && u.value.map((x) => [x.head, x.len])).toEqual([[c.value.head, 20]]);
    expect(drv.outstanding).toBe(0);
  });

  it('wraps around the ring many times (free-running indices)', () => {
    const { drv, dev } = pair();
    for (let i = 0; i < 70; i++) {
      const h = drv.add([{ addr: 1024n, len: 8, write: true }]);
      expect(h.ok).toBe(true);
      const c = dev.pop();
      if (!c.ok || c.value === undefined) throw new Error('no chain');
      expect(dev.push(c.value.head, 8).ok).toBe(true);
      expect(drv.collect().ok).toBe(true);
    }
    expect(drv.outstanding).toBe(0);
  });

  it('rejects a full queue', () => {
    const { drv } = pair();
    for (let i = 0; i < 4; i++) expect(drv.add([{ addr: 0n, len: 1, write: true }]).ok).toBe(true);
    const r = drv.add([{ addr: 0n, len: 1, write: true }]);
    expect(!r.ok && r.error.code).toBe('VQ_FULL');
  });

  it('queue sizes are powers of two up to 32768', () => {
    expect([1, 2, 4, 256, 32768].every(validQueueSize)).toBe(true);
    expect([0, 3, 6, 65536, 1.5].some(validQueueSize)).toBe(false);
  });
});

describe('split virtqueue: a hostile driver (device side rejects)', () => {
  it('avail.idx more than the queue size ahead', () => {
    const { mem, dev } = pair();
    dv(mem).setUint16(64 + 2, 5, true); // valid neighbour: 4
    const r = dev.pop();
    expect(!r.ok && r.error.code).toBe('VQ_AVAIL_IDX_RANGE');
    dv(mem).setUint16(64 + 2, 4, true);
    expect(dev.pending()).toEqual({ ok: true, value: 4 });
  });

  it('a head outside the descriptor table', () => {
    const { mem, drv, dev } = pair();
    drv.add([{ addr: 0n, len: 1, write: true }]);
    dv(mem).setUint16(64 + 4, 4, true); // valid neighbour: 3 (size 4)
    const r = dev.pop();
    expect(!r.ok && r.error.code).toBe('VQ_DESC_INDEX');
    expect(dev.lastAvail).toBe(0); // nothing consumed
  });

  it('a descriptor loop', () => {
    const { mem, drv, dev } = pair();
    const h = drv.add([{ addr: 0n, len: 1, write: false }]);
    if (!h.ok) throw new Error('add');
    // flags NEXT, next = itself
    dv(mem).setUint16(16 * h.value + 12, 1, true);
    dv(mem).setUint16(16 * h.value + 14, h.value, true);
    const r = dev.pop();
    expect(!r.ok && r.error.code).toBe('VQ_CHAIN_LOOP');
  });

  it('a readable buffer after a writable one, and indirect descriptors', () => {
    const { mem, drv, dev } = pair();
    const h = drv.add([
      { addr: 0n, len: 1, write: true },
      { addr: 0n, len: 1, write: false },
    ]);
    expect(h.ok).toBe(true);
    const r = dev.pop();
    expect(!r.ok && r.error.code).toBe('VQ_READ_AFTER_WRITE');
    const p2 = pair();
    const h2 = p2.drv.add([{ addr: 0n, len: 1, write: false }]);
    if (!h2.ok) throw new Error('add');
    dv(p2.mem).setUint16(16 * h2.value + 12, 4, true);
    const r2 = p2.dev.pop();
    expect(!r2.ok && r2.error.code).toBe('VQ_INDIRECT');
    void mem;
  });
});

describe('split virtqueue: a hostile device (driver side rejects, nothing freed)', () => {
  function oneInFlight() {
    const p = pair();
    const h = p.drv.add([{ addr: 1024n, len: 16, write: true }]);
    if (!h.ok) throw new Error('add');
    return { ...p, head: h.value };
  }

  it('used.idx ahead of what is in flight', () => {
    const { mem, drv } = oneInFlight();
    dv(mem).setUint16(128 + 2, 2, true); // valid neighbour: 1
    const r = drv.collect();
    expect(!r.ok && r.error.code).toBe('VQ_USED_IDX_RANGE');
    expect(drv.outstanding).toBe(1);
  });

  it('a used id that is not an in-flight head', () => {
    const { mem, drv, head } = oneInFlight();
    dv(mem).setUint32(128 + 4, head + 1, true); // valid neighbour: head
    dv(mem).setUint16(128 + 2, 1, true);
    const r = drv.collect();
    expect(!r.ok && r.error.code).toBe('VQ_USED_ID');
    expect(drv.outstanding).toBe(1);
    dv(mem).setUint32(128 + 4, head, true);
    expect(drv.collect().ok).toBe(true);
    expect(drv.outstanding).toBe(0);
  });

  it('a used length beyond the writable bytes', () => {
    const { mem, drv, head } = oneInFlight();
    dv(mem).setUint32(128 + 4, head, true);
    dv(mem).setUint32(128 + 8, 17, true); // valid neighbour: 16
    dv(mem).setUint16(128 + 2, 1, true);
    const r = drv.collect();
    expect(!r.ok && r.error.code).toBe('VQ_USED_LEN');
    dv(mem).setUint32(128 + 8, 16, true);
    const ok = drv.collect();
    expect(ok.ok && ok.value[0]?.len).toBe(16);
  });

  it('the same head twice in one batch', () => {
    const p = pair();
    const a = p.drv.add([{ addr: 0n, len: 4, write: true }]);
    p.drv.add([{ addr: 0n, len: 4, write: true }]);
    if (!a.ok) throw new Error('add');
    dv(p.mem).setUint32(128 + 4, a.value, true);
    dv(p.mem).setUint32(128 + 12, a.value, true);
    dv(p.mem).setUint16(128 + 2, 2, true);
    const r = p.drv.collect();
    expect(!r.ok && r.error.code).toBe('VQ_USED_ID');
    expect(p.drv.outstanding).toBe(2);
  });
});
