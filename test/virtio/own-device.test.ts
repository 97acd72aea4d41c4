/**
 * The docs/virtio-msg.md example, through the package entry point: a user-written virtio-rng in a partition,
 * driven by the host driver over DIRECT_REQ2 on ffa-1.2-direct-msg.
 */
import { expect, it } from 'vitest';
import {
  createProfile,
  createVirtioMsgBus,
  createWorld,
  type DeviceIO,
  defaultWorldConfig,
  VIRTIO_F_VERSION_1,
  VIRTIO_MSG_FFA_DEVICE_UUID,
  VIRTIO_STATUS,
  type VirtioDevice,
  VirtioMsgDevice,
  VirtioMsgFfaDriver,
} from '../../src/index.ts';

class Rng implements VirtioDevice {
  readonly deviceId = 4;
  readonly vendorId = 0;
  readonly features = VIRTIO_F_VERSION_1;
  readonly numQueues = 1;
  readonly queueMaxSize = 8;
  private x = 1;
  private next(): number {
    this.x = (this.x * 1103515245 + 12345) >>> 0;
    return this.x >>> 24;
  }
  config() {
    return new Uint8Array(0);
  }
  notify(q: number, io: DeviceIO) {
    for (;;) {
      const c = io.pop(q);
      if (!c.ok) return c;
      if (c.value === undefined) return { ok: true, value: undefined } as const;
      const b = c.value.buffers[0]!;
      const bytes = new Uint8Array(b.len).map(() => this.next());
      const w = io.write(b, bytes);
      if (!w.ok) return w;
      const u = io.push(q, c.value.head, b.len);
      if (!u.ok) return u;
    }
  }
}

it('a user-written virtio-rng fills a posted buffer', () => {
  const cfg = defaultWorldConfig();
  cfg.spmc.partitions.push({
    id: 0x8002,
    uuids: [VIRTIO_MSG_FFA_DEVICE_UUID],
    properties: 0x1 | 0x4 | 0x100 | 0x200,
    execContexts: 1,
    name: 'rng',
  });
  const bus = createVirtioMsgBus({ devices: [new Rng()] });
  const world = createWorld({
    config: cfg,
    profile: createProfile('ffa-1.2-direct-msg'),
    handlers: { 32770: bus.handler },
  });
  expect(world.host.negotiate().ok && world.host.rxtxMap().ok).toBe(true);
  const drv = new VirtioMsgFfaDriver({
    ffa: world.host,
    mem: world.mem,
    allocPages: (n) => world.allocHostPages(n),
    pageSize: cfg.pageSize,
    partition: 0x8002,
  });
  expect(drv.busVersion().ok).toBe(true);
  expect(drv.shareArea(1, 1).ok).toBe(true);
  const p = VirtioMsgDevice.probe(drv, 1);
  if (!p.ok) throw new Error(p.detail);
  const d = p.value;
  expect(d.info.deviceId).toBe(4);
  expect(d.negotiate(0n).ok).toBe(true);
  expect(d.setupQueue(0, 4, 1, 0, 32).ok).toBe(true);
  const all =
    VIRTIO_STATUS.ACKNOWLEDGE | VIRTIO_STATUS.DRIVER | VIRTIO_STATUS.FEATURES_OK | VIRTIO_STATUS.DRIVER_OK;
  expect(d.setStatus(all).ok).toBe(true);
  const buf = d.slot(0, 0);
  expect(d.kick(0, [{ addr: buf, len: 32, write: true }]).ok).toBe(true);
  const used = d.queues[0]!.queue.collect();
  expect(used.ok && used.value[0]?.len).toBe(32);
  const bytes = drv.memory().read(buf, 32)!;
  expect(bytes.some((b) => b !== 0)).toBe(true);
  expect(drv.events.some((e) => e.name === 'EVENT_USED')).toBe(true);
  expect(d.teardown().ok && drv.unshareArea(1).ok).toBe(true);
  expect(world.spmc.transactions()).toEqual([]);
});
