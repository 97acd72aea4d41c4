/**
 * virtio-msg over FF-A (issue 15): round trips per second through the model — host driver → proxy → SPMD →
 * SPMC → device partition → back — beside a bare DIRECT_REQ2 round trip measured in the same run, on
 * `ffa-1.2-direct-msg` (the profile that forwards DIRECT_REQ2).
 */
import { FFA } from '../src/ffa/ids.ts';
import { uuidParse, uuidToX2 } from '../src/ffa/uuid.ts';
import { VirtioMsgDevice } from '../src/host/virtio-driver.ts';
import { createProfile } from '../src/hyp/profiles.ts';
import { virtioDriverFor, virtioHandlers, virtioPartition } from '../src/scenario/builtin/virtio-msg.ts';
import { RegisterFile } from '../src/smccc/regs.ts';
import { VIRTIO_CONSOLE_F_SIZE, VIRTIO_STATUS } from '../src/spmc/virtio-device.ts';
import { defaultWorldConfig } from '../src/world/config.ts';
import { createWorld } from '../src/world/world.ts';
import { type BenchResult, measure, printResults } from './harness.ts';

function fail(what: string): never {
  throw new Error(`virtio bench set-up: ${what}`);
}

export function benchVirtio(): void {
  const cfg = defaultWorldConfig();
  cfg.spmc.partitions.push(virtioPartition());
  const handlers = virtioHandlers();
  const w = createWorld({
    config: cfg,
    profile: createProfile('ffa-1.2-direct-msg'),
    trace: false,
    handlers,
  });
  if (!w.host.negotiate().ok || !w.host.rxtxMap().ok) fail('FF-A');
  const drv = virtioDriverFor(w);
  if (!drv.busVersion().ok || !drv.shareArea(1, 4).ok) fail('bus');
  const p = VirtioMsgDevice.probe(drv, 1); // the scenario's device answers busy once here
  if (!p.ok) fail(p.detail);
  const d = p.value;
  if (!d.negotiate(VIRTIO_CONSOLE_F_SIZE).ok) fail('features');
  if (!d.setupQueue(0, 8, 1, 0, 64).ok || !d.setupQueue(1, 8, 1, 4096, 64).ok) fail('queues');
  const all =
    VIRTIO_STATUS.ACKNOWLEDGE | VIRTIO_STATUS.DRIVER | VIRTIO_STATUS.FEATURES_OK | VIRTIO_STATUS.DRIVER_OK;
  if (!d.setStatus(all).ok) fail('DRIVER_OK');

  const out: BenchResult[] = [];
  // A bare DIRECT_REQ2 through the same world: the default echo partition 0x8001, no virtio-msg work.
  const [lo, hi] = uuidToX2(uuidParse('40ee25f0-a2bc-304c-8c4c-a173c57d8af1')!);
  const req2 = RegisterFile.of([FFA.MSG_SEND_DIRECT_REQ2, 0x8001, lo, hi, 1, 2, 3]);
  const bare = measure('bare DIRECT_REQ2 round trip (echo partition)', (iter) => {
    let acc = 0;
    for (let n = 0; n < iter; n++) acc += w.smc(req2).w(0);
    return acc;
  });
  out.push(bare);

  const ctl = measure(
    'virtio-msg request round trip (GET_DEVICE_STATUS: encode, REQ2, device, decode)',
    (iter) => {
      let acc = 0;
      for (let n = 0; n < iter; n++) {
        const r = d.setStatus(all);
        if (!r.ok) fail(r.detail);
        acc += r.value;
      }
      return acc;
    },
  );
  ctl.ratio = ctl.nsPerOp / bare.nsPerOp;
  out.push(ctl);

  const mem = drv.memory();
  const line = new TextEncoder().encode('bench line\n');
  const tx = d.slot(1, 0);
  mem.write(tx, line);
  const rx = d.slot(0, 0);
  const echo = measure(
    'virtio-console echo (post rx, EVENT_AVAIL tx, EVENT_POLL, collect both rings)',
    (iter) => {
      let acc = 0;
      for (let n = 0; n < iter; n++) {
        if (!d.kick(0, [{ addr: rx, len: 64, write: true }]).ok) fail('kick rx');
        if (!d.kick(1, [{ addr: tx, len: line.length, write: false }]).ok) fail('kick tx');
        if (!drv.poll().ok) fail('poll');
        drv.events.length = 0;
        const a = d.queues[0]!.queue.collect();
        const b = d.queues[1]!.queue.collect();
        if (!a.ok || !b.ok || a.value.length !== 1) fail('collect');
        acc += a.value[0]!.len;
      }
      return acc;
    },
  );
  echo.ratio = echo.nsPerOp / bare.nsPerOp;
  out.push(echo);

  printResults(
    'virtio-msg over FF-A (ffa-1.2-direct-msg): ns per round trip, ratio to a bare DIRECT_REQ2',
    out,
  );
  for (const r of out)
    console.log(
      `  ${r.name.split(' (')[0]}: ${Math.round(1e9 / r.nsPerOp).toLocaleString('en')} round trips/s`,
    );
}
