/**
 * Conformance rules for the virtio-msg FF-A binding (docs/virtio-msg.md; peers-and-tests.md §5): the first
 * DIRECT_REQ2 per profile, the busy retry (at most 3), the 104-byte message bound on both sides, and the reclaim
 * after a failed AREA_SHARE. The binding rules apply where DIRECT_REQ2 reaches the device.
 */

import type { VirtioMsgFfaDriver } from '../host/virtio-driver.ts';
import type { Profile } from '../hyp/profiles.ts';
import { virtioDriverFor } from '../scenario/builtin/virtio-msg.ts';
import type { RegisterFile } from '../smccc/regs.ts';
import { createVirtioMsgBus, type VirtioBusOptions, VirtioConsole } from '../spmc/virtio-device.ts';
import {
  bytesToPayload,
  decodeVirtioMsg,
  payloadBytes,
  setPayload,
  VIRTIO_MSG_FFA_DEVICE_UUID,
} from '../virtio/index.ts';
import { defaultWorldConfig } from '../world/config.ts';
import { createWorld, type World } from '../world/world.ts';
import { type Rule, specHas } from './conformance.ts';

const SRC = 'peers-and-tests.md §5 (2026 FF-A binding PoC: virtio_msg_bus_ffa_protocol.h, _xfer_direct.c)';

function setup(
  profile: Profile,
  bus: Partial<VirtioBusOptions> = {},
  wrap?: (
    h: ReturnType<typeof createVirtioMsgBus>['handler'],
  ) => ReturnType<typeof createVirtioMsgBus>['handler'],
): { world: World; drv: VirtioMsgFfaDriver } {
  const cfg = defaultWorldConfig();
  cfg.spmc.partitions.push({
    id: 0x8002,
    uuids: [VIRTIO_MSG_FFA_DEVICE_UUID],
    properties: 0x1 | 0x4 | 0x100 | 0x200,
    execContexts: 1,
    name: 'virtio-msg',
  });
  const b = createVirtioMsgBus({ devices: [new VirtioConsole()], ...bus });
  const world = createWorld({
    config: cfg,
    profile,
    trace: false,
    handlers: { 32770: wrap === undefined ? b.handler : wrap(b.handler) },
  });
  world.host.negotiate();
  world.host.rxtxMap();
  const drv = virtioDriverFor(world);
  return { world, drv };
}

const whereDelivered = (outcome: string) => (p: string) =>
  specHas(p, 'direct-req2-forward') ? outcome : undefined;

export function virtioRules(): Rule[] {
  return [
    {
      id: 'virtio/first-direct-req2',
      statement:
        'the virtio-msg driver’s first DIRECT_REQ2 (bus VERSION) reaches the device only where REQ2 is forwarded',
      source: `${SRC}; proxy-behaviour.md §2 (deny-ffa12-optional, direct-req2-forward)`,
      expected: (p) => (specHas(p, 'direct-req2-forward') ? 'delivered' : 'NOT_SUPPORTED'),
      observe: (profile) => {
        const r = setup(profile).drv.busVersion();
        return r.ok ? 'delivered' : (r.ffa ?? r.error);
      },
    },
    {
      id: 'virtio/busy-retry',
      statement: 'an all-zero DIRECT_RESP2 is busy: retried at most 3 times, then the request fails BUSY',
      source: SRC,
      expected: whereDelivered('3 busy → answered; 4 busy → BUSY'),
      observe: (profile) => {
        const a = setup(profile, { busy: [{ name: 'PING', times: 3 }] }).drv.request({ name: 'PING' });
        const b = setup(profile, { busy: [{ name: 'PING', times: 4 }] }).drv.request({ name: 'PING' });
        return `3 busy → ${a.ok ? 'answered' : a.error}; 4 busy → ${b.ok ? 'answered' : b.error}`;
      },
    },
    {
      id: 'virtio/message-bounds',
      statement: 'a message over the binding’s 104 bytes is rejected by the device (ERROR) and by the driver',
      source: `${SRC} (FFA_BUS_MAX_MSG_SIZE)`,
      expected: whereDelivered('device ERROR INVALID; driver VMSG_SIZE_RANGE'),
      observe: (profile) => {
        // Device side: a PING whose msg_size says 105.
        const { world } = setup(profile);
        const msg = new Uint8Array(112);
        msg.set([0x02, 0x03, 0, 0, 1, 0, 105, 0]);
        const r = world.host.directReq2(0x8002, VIRTIO_MSG_FFA_DEVICE_UUID, bytesToPayload(msg));
        const d = r.ok ? decodeVirtioMsg(payloadBytes(r.regs)) : undefined;
        const dev = d?.ok
          ? `${d.value.name} ${d.value.fields.error === 2 ? 'INVALID' : String(d.value.fields.error)}`
          : 'no answer';
        // Driver side: the device's answer claims 105 bytes.
        const big = (h: ReturnType<typeof createVirtioMsgBus>['handler']) =>
          ((req: RegisterFile, ctx: Parameters<typeof h>[1]) => {
            const out = h(req, ctx);
            const b = payloadBytes(out);
            b[6] = 105;
            return setPayload(out, b);
          }) as typeof h;
        const drv = setup(profile, {}, big).drv.request({ name: 'PING' });
        return `device ${dev}; driver ${drv.ok ? 'accepted' : drv.error}`;
      },
    },
    {
      id: 'virtio/reclaim-after-failed-area-share',
      statement:
        'when AREA_SHARE fails the driver reclaims the memory it shared: every page OWNED, no transaction',
      source: SRC,
      expected: whereDelivered('refused; reclaimed'),
      observe: (profile) => {
        const { world, drv } = setup(profile, { maxAreas: 0 });
        const a = drv.shareArea(1, 1);
        const left = world.spmc.transactions().length;
        return `${a.ok ? 'accepted' : 'refused'}; ${left === 0 ? 'reclaimed' : `${left} transaction(s) left`}`;
      },
    },
  ];
}
