/**
 * Scenario `virtio-msg`: a host drives a virtio-console that lives in a secure partition, over virtio-msg on
 * the FF-A bus (docs/virtio-msg.md). On `ffa-1.2-direct-msg` the whole flow runs: bus VERSION, device
 * discovery, an area of 4 pages shared and announced, device info, feature negotiation, config, two split
 * virtqueues, a line transmitted and echoed back, a busy answer retried, a failed AREA_SHARE reclaimed, and
 * teardown (RESET_VQUEUE, AREA_UNSHARE, MEM_RECLAIM). On every other profile the first DIRECT_REQ2 is
 * NOT_SUPPORTED — by the proxy's deny list from the FF-A 1.2 series on, by the SPMC before it (the host could
 * only negotiate an older FF-A version) — and the scenario shows where, then the RFC-era fallback to
 * FFA_MSG_SEND2 and why it does not deliver either.
 *
 * Where and why are read from what happened, not from the profile: whether the hyp issued an SMC to EL3 for the
 * host's REQ2 (forwarded, so the SPMC answered) and the decisions traced on the way. So the same report holds in
 * kernel mode (`--kernel <tree>`), where the hyp is a tree's real ffa.c and the profile does not describe it.
 */

import { FFA } from '../../ffa/ids.ts';
import {
  type VirtioMsgDevice as DeviceHandle,
  VirtioMsgDevice,
  VirtioMsgFfaDriver,
} from '../../host/virtio-driver.ts';
import type { DirectHandler } from '../../spmc/types.ts';
import {
  createVirtioMsgBus,
  VIRTIO_CONSOLE_F_SIZE,
  VIRTIO_ID_CONSOLE,
  VIRTIO_STATUS,
  VirtioConsole,
  type VirtioMsgBus,
} from '../../spmc/virtio-device.ts';
import type { TraceEvent } from '../../trace/events.ts';
import { latin1Bytes, latin1String, VIRTIO_MSG_FFA_DEVICE_UUID } from '../../virtio/index.ts';
import type { World } from '../../world/world.ts';
import type { Scenario, ScenarioContext } from '../scenario.ts';

/** The device partition's endpoint ID. */
export const VIRTIO_SP = 0x8002;
/** Properties: direct req recv (0), indirect messages (2), AArch64 (8), DIRECT_REQ2 recv (9). */
export const VIRTIO_SP_PROPERTIES = 0x1 | 0x4 | 0x100 | 0x200;
/** The line the host transmits. */
export const ECHO_LINE = 'hello from the host\n';

/** The bus and console behind a world's device partition (options() creates them, run() finds them). */
const DEVICES = new WeakMap<DirectHandler, { bus: VirtioMsgBus; console: VirtioConsole }>();

/** The partition entry of the device (world file form). */
export function virtioPartition(id = VIRTIO_SP) {
  return {
    id,
    uuids: [VIRTIO_MSG_FFA_DEVICE_UUID],
    properties: VIRTIO_SP_PROPERTIES,
    execContexts: 1,
    name: 'virtio-msg',
  };
}

/** The host's virtio-msg driver in `world`, talking to the device partition `partition` (and its trace). */
export function virtioDriverFor(world: World, partition = VIRTIO_SP): VirtioMsgFfaDriver {
  return new VirtioMsgFfaDriver({
    ffa: world.host,
    mem: world.mem,
    allocPages: (n) => world.allocHostPages(n),
    pageSize: world.config.pageSize,
    partition,
    ...(world.trace ? { trace: world.trace } : {}),
  });
}

/** A console bus for the device partition: busy once on GET_DEVICE_INFO, one area at most. */
export function virtioHandlers(id = VIRTIO_SP): Record<number, DirectHandler> {
  const console = new VirtioConsole({ cols: 80, rows: 25 });
  const bus = createVirtioMsgBus({
    devices: [console],
    maxAreas: 1,
    busy: [{ name: 'GET_DEVICE_INFO', times: 1 }],
  });
  DEVICES.set(bus.handler, { bus, console });
  return { [id]: bus.handler };
}

/** The bus and console of the world's device partition. */
export function virtioDeviceOf(
  world: World,
  id = VIRTIO_SP,
): { bus: VirtioMsgBus; console: VirtioConsole } | undefined {
  const h = world.spmc.partition(id)?.handler;
  return h === undefined ? undefined : DEVICES.get(h);
}

/** What one host SMC did at the hyp: its function ID, whether the hyp issued an SMC to EL3, and the answer. */
export interface HostCallRecord {
  /** Host call number (the trace's `call`). */
  call: number;
  fid: number;
  /** True when the hyp issued at least one SMC to EL3 while handling it. */
  forwarded: boolean;
  /** x0 and x2 of the answer (x2 is the error code of FFA_ERROR). */
  x0: number;
  x2: number;
  /** Decisions traced during the call (the proxy's, and with `actor`, the SPMC's / SPMD's). */
  decisions: Extract<TraceEvent, { kind: 'decision' }>[];
}

/**
 * Records every host SMC of `world` from now on ({@link HostCallRecord}); decisions are collected when the world
 * has a trace.
 */
export function watchHostCalls(world: World): HostCallRecord[] {
  const out: HostCallRecord[] = [];
  const byCall = new Map<number, HostCallRecord>();
  world.trace?.on((e) => {
    if (e.kind === 'decision') byCall.get(e.call)?.decisions.push(e);
  });
  world.observers.push({
    before: (regs) => {
      const r: HostCallRecord = {
        call: world.calls,
        fid: regs.w(0),
        forwarded: false,
        x0: 0,
        x2: 0,
        decisions: [],
      };
      byCall.set(r.call, r);
      return { r, el3: world.el3Calls };
    },
    after: (regs, token) => {
      const { r, el3 } = token as { r: HostCallRecord; el3: number };
      r.forwarded = world.el3Calls > el3;
      r.x0 = regs.w(0);
      r.x2 = regs.w(2);
      out.push(r);
    },
  });
  return out;
}

/** `rule [change]: text` of the first decision matching `pick`, or ''. */
function decisionText(
  r: HostCallRecord | undefined,
  pick: (d: HostCallRecord['decisions'][number]) => boolean,
) {
  const d = r?.decisions.find(pick);
  if (d === undefined) return '';
  const change = d.change === 'base' ? '' : ` [${d.change}]`;
  // Kernel mode's decisions name their rule in the text already (`… (kvm_host_ffa_handler returned true)`).
  return d.text.includes(d.rule) && change === '' ? d.text : `${d.rule}${change}: ${d.text}`;
}

/**
 * Where and why the first DIRECT_REQ2 stopped, from the record of that host call: at EL2 (the hyp answered
 * without an SMC to EL3) or in the secure world (forwarded, the SPMC answered), with the decision that says why.
 */
export function whereRefused(
  world: World,
  r: HostCallRecord | undefined,
): { by: 'hyp' | 'spmc'; text: string } {
  const hyp = world.hyp.name === undefined ? 'the model proxy' : `the real ${world.hyp.name}`;
  if (r === undefined) return { by: 'hyp', text: 'no DIRECT_REQ2 was issued' };
  if (!r.forwarded) {
    const why = decisionText(r, (d) => d.actor === undefined);
    return {
      by: 'hyp',
      text: `at EL2: ${hyp} answered without an SMC to EL3${why === '' ? '' : ` (${why})`}`,
    };
  }
  const why = decisionText(r, (d) => d.actor === 'spmc' || d.actor === 'spmd');
  const v = world.host.version;
  const negotiated =
    v === undefined ? 'no FF-A version negotiated' : `FF-A ${v >> 16}.${v & 0xffff} negotiated`;
  return {
    by: 'spmc',
    text: `by the SPMC: ${hyp} forwarded it to EL3 (${negotiated})${why === '' ? '' : `, and the SPMC refused it (${why})`}`,
  };
}

export const virtioMsg: Scenario = {
  name: 'virtio-msg',
  description:
    'virtio-console in a secure partition over virtio-msg/FF-A: echoes a line on ffa-1.2-direct-msg; elsewhere the first DIRECT_REQ2 is NOT_SUPPORTED',
  world: (cfg) => {
    cfg.spmc.partitions.push(virtioPartition());
  },
  options: () => ({ handlers: virtioHandlers() }),
  run(ctx) {
    runVirtioMsg(ctx);
  },
};

function runVirtioMsg({ world, host, profile, expect, step }: ScenarioContext): void {
  const ps = world.config.pageSize;
  step('FF-A set-up: version, RX/TX, find the virtio-msg device partition by its device-role UUID');
  const v = host.negotiate();
  if (v.ok) expect(true, 'FFA_VERSION negotiated');
  // 6.6 and 6.10: the proxy negotiated 1.0 with the SPMC at init, so the SPMC refuses 1.2 (its version lock).
  else
    expect(
      world.hyp.hypVersion < 0x10002,
      `FFA_VERSION(1.2) → ${v.error}: the proxy negotiated ${world.hyp.hypVersion >> 16}.${world.hyp.hypVersion & 0xffff} with the SPMC at init`,
    );
  const m = host.rxtxMap();
  expect(m.ok, 'RX/TX mapped');
  if (v.ok) {
    const p = host.partitionInfo(VIRTIO_MSG_FFA_DEVICE_UUID);
    expect(
      p.ok && p.value.some((x) => x.id === VIRTIO_SP),
      'PARTITION_INFO_GET by the device UUID finds 0x8002',
    );
  }
  const drv = virtioDriverFor(world);
  const dev = virtioDeviceOf(world);
  const model = world.hyp.name === undefined;

  step('bus VERSION: the first FFA_MSG_SEND_DIRECT_REQ2');
  const calls = watchHostCalls(world);
  const ver = drv.busVersion();
  const req2 = calls.find((c) => c.fid === FFA.MSG_SEND_DIRECT_REQ2);
  // The model's profile says whether REQ2 is forwarded and delivered; the real code (kernel mode) says it itself.
  if (model)
    expect(
      ver.ok === profile.has('direct-req2-forward'),
      `REQ2 ${ver.ok ? 'delivered' : 'refused'}, as profile ${profile.name} says`,
    );
  if (!ver.ok) {
    const where = whereRefused(world, req2);
    expect(ver.ffa === 'NOT_SUPPORTED', `the first DIRECT_REQ2 → ${ver.ffa ?? ver.error}, ${where.text}`);
    if (model)
      expect(
        (where.by === 'hyp') === profile.has('deny-ffa12-optional'),
        where.by === 'hyp'
          ? 'refused by the proxy: its deny list (deny-ffa12-optional) holds REQ2'
          : `refused by the SPMC: ${host.version === undefined ? 'the host negotiated no FF-A version' : `the host negotiated FF-A ${host.version >> 16}.${host.version & 0xffff}`}, and REQ2 needs 1.2`,
      );
    // RFC-era fallback: FFA_MSG_SEND2. The proxy forwards it without copying the host's TX buffer into its own
    // (proxy-behaviour.md §4, MSG_SEND2 row), so the SPMC reads the hyp's TX, not this message.
    expect(drv.transfer === 'indirect', 'the driver falls back to FFA_MSG_SEND2 for good');
    const send2 = calls.find((c) => c.fid === FFA.MSG_SEND2);
    const why2 = decisionText(send2, (d) => d.action === 'reject');
    expect(
      !ver.ok,
      `the fallback does not deliver: ${ver.detail}${why2 === '' ? '' : ` (${send2?.forwarded ? 'forwarded; ' : ''}${why2})`}`,
    );
    expect((dev?.bus.areas.size ?? 0) === 0, 'no area reached the device');
    expect(world.spmc.transactions().length === 0, 'no memory shared: nothing to leak');
    return;
  }
  expect(
    ver.ok && ver.value.busVersion === 1,
    `bus version 1, max_areas ${ver.ok ? ver.value.maxAreas : '?'}`,
  );

  step('GET_DEVICES: the device bitmap');
  const devs = drv.devices();
  expect(devs.ok && devs.value.length === 1 && devs.value[0] === 1, 'one device, number 1');

  step('share a 4-page DMA area (FFA_MEM_SHARE) and announce it (AREA_SHARE)');
  const pages = Math.max(1, Math.ceil((4 * 4096) / ps));
  const area = drv.shareArea(1, pages);
  expect(
    area.ok,
    `area 1 shared${area.ok ? ` as handle 0x${area.value.handle.toString(16)}` : `: ${area.detail}`}`,
  );
  if (!area.ok) return;
  expect(
    world.stage2.hostState(area.value.base) === 'SHARED_OWNED',
    'the area is SHARED_OWNED at host stage-2',
  );
  expect(dev?.bus.areas.has(1) === true, 'the device retrieved the area');

  step('GET_DEVICE_INFO (the device answers busy once: retried)');
  const before = drv.busyRetries;
  const probed = VirtioMsgDevice.probe(drv, 1);
  expect(probed.ok && drv.busyRetries === before + 1, 'an all-zero DIRECT_RESP2 is retried, then answered');
  if (!probed.ok) return;
  const d: DeviceHandle = probed.value;
  expect(d.info.deviceId === VIRTIO_ID_CONSOLE, `device ID ${d.info.deviceId} (virtio-console)`);

  step('features, config, queues, DRIVER_OK');
  const f = d.negotiate(VIRTIO_CONSOLE_F_SIZE);
  expect(
    f.ok && (f.value & VIRTIO_CONSOLE_F_SIZE) !== 0n,
    'VERSION_1 and CONSOLE_F_SIZE negotiated, FEATURES_OK kept',
  );
  const cfg = d.readConfig(0, 4);
  const cols = cfg.ok ? cfg.value[0]! | (cfg.value[1]! << 8) : 0;
  const rows = cfg.ok ? cfg.value[2]! | (cfg.value[3]! << 8) : 0;
  expect(cols === 80 && rows === 25, `config: ${cols}×${rows}`);
  const q0 = d.setupQueue(0, 4, 1, 0, 64);
  const q1 = q0.ok ? d.setupQueue(1, 4, 1, 2048, 64) : q0;
  expect(q0.ok && q1.ok, 'receiveq and transmitq set up in area 1 (area_id << 48 | offset)');
  const ok = d.setStatus(
    VIRTIO_STATUS.ACKNOWLEDGE | VIRTIO_STATUS.DRIVER | VIRTIO_STATUS.FEATURES_OK | VIRTIO_STATUS.DRIVER_OK,
  );
  expect(ok.ok && (ok.value & VIRTIO_STATUS.DRIVER_OK) !== 0, 'DRIVER_OK');
  if (!q0.ok || !q1.ok) return;

  step(`data path: post a receive buffer, transmit ${JSON.stringify(ECHO_LINE)}, EVENT_AVAIL, EVENT_USED`);
  const mem = drv.memory();
  const rx = d.slot(0, 0);
  expect(d.kick(0, [{ addr: rx, len: 64, write: true }]).ok, 'receive buffer made available');
  const tx = d.slot(1, 0);
  const line = latin1Bytes(ECHO_LINE);
  mem.write(tx, line);
  const k = d.kick(1, [{ addr: tx, len: line.length, write: false }]);
  expect(k.ok, 'transmit buffer made available, EVENT_AVAIL sent');
  const polled = drv.poll();
  expect(polled.ok, 'EVENT_POLL drained the device events');
  const used = drv.events.filter((e) => e.name === 'EVENT_USED').map((e) => Number(e.fields.index));
  expect(used.includes(0) && used.includes(1), `EVENT_USED for queues ${used.join(', ')}`);
  const got0 = d.queues[0]!.queue.collect();
  const got1 = d.queues[1]!.queue.collect();
  expect(got1.ok && got1.value.length === 1, 'transmit buffer returned');
  const echoed =
    got0.ok && got0.value.length === 1
      ? latin1String(mem.read(rx, got0.value[0]!.len) ?? new Uint8Array(0))
      : undefined;
  expect(echoed === ECHO_LINE, `console echoed ${JSON.stringify(echoed)}`);
  world.trace?.emit({ kind: 'note', who: 'host', text: `virtio-console: read ${JSON.stringify(echoed)}` });

  step('a second AREA_SHARE beyond max_areas fails: the driver reclaims it');
  const second = drv.shareArea(2, 1);
  expect(
    !second.ok && second.error === 'VMSG_ERROR_NO_MEMORY',
    `AREA_SHARE 2 → ${second.ok ? 'ok' : second.error}`,
  );
  expect(world.spmc.transactions().length === 1, 'only area 1 stays shared (the failed one was reclaimed)');

  step('teardown: RESET_VQUEUE, status 0, AREA_UNSHARE, MEM_RECLAIM');
  const t = d.teardown();
  expect(t.ok, 'queues reset, device reset');
  const u = drv.unshareArea(1);
  expect(u.ok, `area 1 unshared and reclaimed${u.ok ? '' : `: ${u.detail}`}`);
  expect(
    world.stage2.query(area.value.base, pages).every((r) => r.host === 'OWNED'),
    'the area is OWNED again',
  );
  expect(world.spmc.transactions().length === 0, 'the SPMC holds no transaction');
}
