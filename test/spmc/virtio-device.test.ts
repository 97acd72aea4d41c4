/**
 * The device side: the bus answers malformed messages with ERROR (never an exception), refuses areas it cannot
 * retrieve, keeps queues inside shared areas, and the console reaches buffers only through retrieved memory.
 */
import { describe, expect, it } from 'vitest';
import { FFA } from '../../src/ffa/ids.ts';
import { uuidParse, uuidToX2 } from '../../src/ffa/uuid.ts';
import { RegisterFile } from '../../src/smccc/regs.ts';
import type { PartitionContext } from '../../src/spmc/types.ts';
import { createVirtioMsgBus, VirtioConsole } from '../../src/spmc/virtio-device.ts';
import {
  buildVirtioMsg,
  decodeVirtioMsg,
  payloadBytes,
  setPayload,
  VIRTIO_MSG_FFA_DEVICE_UUID,
  type VirtioMsgInput,
} from '../../src/virtio/index.ts';

/** A partition context over a 16 KiB "retrieved" region at 0x10000 for handle 1. */
function context(): PartitionContext & { retrieved: bigint[] } {
  const mem = new Uint8Array(0x4000);
  const retrieved: bigint[] = [];
  const inside = (a: number, n: number) => retrieved.includes(1n) && a >= 0x10000 && a + n <= 0x14000;
  return {
    id: 0x8002,
    uuid: VIRTIO_MSG_FFA_DEVICE_UUID,
    resumed: 0,
    retrieved,
    retrieve: (h) => {
      if (h !== 1n) return { ok: false, error: 'INVALID_PARAMETERS' };
      retrieved.push(h);
      return { ok: true, constituents: [{ address: 0x10000n, pageCount: 4 }] };
    },
    relinquish: (h) => {
      const i = retrieved.indexOf(h);
      if (i < 0) return { ok: false, error: 'INVALID_PARAMETERS' };
      retrieved.splice(i, 1);
      return { ok: true };
    },
    read: (a, n) => (inside(a, n) ? mem.slice(a - 0x10000, a - 0x10000 + n) : undefined),
    write: (a, b) => {
      if (!inside(a, b.length)) return false;
      mem.set(b, a - 0x10000);
      return true;
    },
    log: () => {},
  };
}

function req(bytes: Uint8Array): RegisterFile {
  const r = new RegisterFile().setW(0, FFA.MSG_SEND_DIRECT_REQ2).setW(1, 0x8002);
  const [lo, hi] = uuidToX2(uuidParse(VIRTIO_MSG_FFA_DEVICE_UUID)!);
  r.setX(2, lo).setX(3, hi);
  return setPayload(r, bytes);
}

function ask(
  bus: ReturnType<typeof createVirtioMsgBus>,
  ctx: PartitionContext,
  m: VirtioMsgInput | Uint8Array,
) {
  const out = bus.handler(req(m instanceof Uint8Array ? m : buildVirtioMsg(m)), ctx);
  expect(out.w(0)).toBe(FFA.MSG_SEND_DIRECT_RESP2);
  const d = decodeVirtioMsg(payloadBytes(out));
  if (!d.ok) throw new Error(d.error.message);
  return d.value;
}

describe('virtio-msg bus (device side)', () => {
  it('answers a malformed message with ERROR INVALID and records the located error', () => {
    const bus = createVirtioMsgBus({ devices: [new VirtioConsole()] });
    const ctx = context();
    // valid neighbour: 00 02 0100 0500 0800 (GET_DEVICE_INFO); here msg_size 0x70 > 104
    const a = ask(bus, ctx, Uint8Array.of(0, 2, 1, 0, 5, 0, 0x70, 0));
    expect(a.name).toBe('ERROR');
    expect(a.token).toBe(5);
    expect(a.fields.error).toBe(2);
    expect(bus.rejected.at(-1)?.code).toBe('VMSG_SIZE_RANGE');
  });

  it('refuses an area it cannot retrieve and a page count that does not match', () => {
    const bus = createVirtioMsgBus({ devices: [new VirtioConsole()] });
    const ctx = context();
    expect(
      ask(bus, ctx, { name: 'AREA_SHARE', token: 1, fields: { area_id: 1, mem_handle: 9n, page_count: 4 } })
        .name,
    ).toBe('ERROR');
    expect(
      ask(bus, ctx, { name: 'AREA_SHARE', token: 2, fields: { area_id: 1, mem_handle: 1n, page_count: 3 } })
        .name,
    ).toBe('ERROR');
    expect(ctx.retrieved).toEqual([]); // relinquished again
    expect(
      ask(bus, ctx, { name: 'AREA_SHARE', token: 3, fields: { area_id: 1, mem_handle: 1n, page_count: 4 } })
        .name,
    ).toBe('AREA_SHARE');
    expect(bus.areas.has(1)).toBe(true);
    expect(ask(bus, ctx, { name: 'AREA_UNSHARE', token: 4, fields: { area_id: 1 } }).name).toBe(
      'AREA_UNSHARE',
    );
    expect(ctx.retrieved).toEqual([]);
  });

  it('a queue outside the shared areas is refused; unknown devices get NO_DEVICE', () => {
    const bus = createVirtioMsgBus({ devices: [new VirtioConsole()] });
    const ctx = context();
    ask(bus, ctx, { name: 'AREA_SHARE', token: 1, fields: { area_id: 1, mem_handle: 1n, page_count: 4 } });
    ask(bus, ctx, { name: 'SET_DRIVER_FEATURES', devNum: 1, token: 2, fields: { index: 0 }, tail: [1, 1] });
    ask(bus, ctx, { name: 'SET_DEVICE_STATUS', devNum: 1, token: 3, fields: { status: 11 } });
    const area = (off: number) => (1n << 48n) | BigInt(off);
    const bad = ask(bus, ctx, {
      name: 'SET_VQUEUE',
      devNum: 1,
      token: 4,
      fields: {
        index: 0,
        size: 4,
        desc_addr: area(0x3ff0),
        driver_addr: area(0x100),
        device_addr: area(0x200),
      },
    });
    expect(bad.name).toBe('ERROR'); // descriptor table runs past the 16 KiB area
    const good = ask(bus, ctx, {
      name: 'SET_VQUEUE',
      devNum: 1,
      token: 5,
      fields: { index: 0, size: 4, desc_addr: area(0), driver_addr: area(0x100), device_addr: area(0x200) },
    });
    expect(good.name).toBe('SET_VQUEUE');
    const nodev = ask(bus, ctx, { name: 'GET_DEVICE_INFO', devNum: 7, token: 6 });
    expect(nodev.name === 'ERROR' && nodev.fields.error).toBe(3);
  });

  it('busy: an all-zero RESP2 for the configured number of requests', () => {
    const bus = createVirtioMsgBus({ devices: [new VirtioConsole()], busy: [{ name: 'PING', times: 2 }] });
    const ctx = context();
    const m = req(buildVirtioMsg({ name: 'PING', token: 1, fields: { data: 7 } }));
    for (let i = 0; i < 2; i++) {
      const out = bus.handler(m, ctx);
      expect(payloadBytes(out).every((b) => b === 0)).toBe(true);
    }
    const ok = decodeVirtioMsg(payloadBytes(bus.handler(m, ctx)));
    expect(ok.ok && ok.value.fields.data).toBe(7);
  });
});
