/**
 * World.snapshot / World.restore and BootedWorld: a restored world is indistinguishable from the snapshot point —
 * the same calls afterwards give the same host registers, the same trace events (seq aside: the bus keeps
 * counting), the same page states, SPMC holdings, hyp state and memory (property).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FFA } from '../../src/ffa/ids.ts';
import { createProfile } from '../../src/hyp/profiles.ts';
import type { TraceEvent } from '../../src/trace/events.ts';
import { BootedWorld, createWorld, type World } from '../../src/world/world.ts';

type Op =
  | { op: 'share'; i: number; pages: number; lend: boolean }
  | { op: 'big'; i: number; n: number }
  | { op: 'reclaim'; k: number; flags: number }
  | { op: 'map' }
  | { op: 'unmap' }
  | { op: 'version'; v: number }
  | { op: 'partinfo' }
  | { op: 'direct' }
  | { op: 'raw'; fid: number; args: number[] };

const POOL = 64;

const arbOp: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('share' as const),
      i: fc.nat(POOL - 1),
      pages: fc.integer({ min: 1, max: 4 }),
      lend: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('big' as const),
      i: fc.nat(8),
      n: fc.integer({ min: 200, max: 400 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ op: fc.constant('reclaim' as const), k: fc.nat(6), flags: fc.constantFrom(0, 1) }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('map' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('unmap' as const) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('version' as const),
      v: fc.constantFrom(0x10000, 0x10001, 0x10002, 0x20000),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('partinfo' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('direct' as const) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('raw' as const),
      fid: fc.integer({ min: 0x60, max: 0x90 }).map((n) => (0x8400_0000 | n) >>> 0),
      args: fc.array(fc.constantFrom(0, 1, 0x8001, 0xffff_ffff), { maxLength: 4 }),
    }),
  },
);

/** Runs ops through the host driver and raw SMCs; returns what the host saw. `handles` is the driver's memory. */
function runOps(w: World, pool: number, ops: readonly Op[], handles: bigint[]): string[] {
  const ps = w.config.pageSize;
  const out: string[] = [];
  for (const o of ops) {
    switch (o.op) {
      case 'share':
      case 'big': {
        const constituents =
          o.op === 'share'
            ? [{ address: pool + o.i * ps, pageCount: o.pages }]
            : Array.from({ length: o.n }, (_, k) => ({
                address: pool + ((o.i + k) % POOL) * ps,
                pageCount: 1,
              }));
        const send = { receivers: [{ id: 0x8001, perm: 'RW' as const }], constituents };
        const r = o.op === 'share' && o.lend ? w.host.memLend(send) : w.host.memShare(send);
        if (r.ok) handles.push(r.value.handle);
        out.push(r.regs.toHex().join(','));
        break;
      }
      case 'reclaim': {
        const h = handles.length === 0 ? BigInt(o.k) : handles[o.k % handles.length]!;
        out.push(w.host.memReclaim(h, o.flags).regs.toHex().join(','));
        break;
      }
      case 'map':
        out.push(w.host.rxtxMap().regs.toHex().join(','));
        break;
      case 'unmap':
        out.push(w.host.rxtxUnmap().regs.toHex().join(','));
        break;
      case 'version':
        out.push(w.smc([FFA.VERSION, o.v]).toHex().join(','));
        break;
      case 'partinfo':
        out.push(w.host.partitionInfo().regs.toHex().join(','));
        break;
      case 'direct':
        out.push(w.smc([FFA.MSG_SEND_DIRECT_REQ64, 0x8001, 0, 1, 2]).toHex().join(','));
        break;
      case 'raw':
        out.push(
          w
            .smc([o.fid, ...o.args])
            .toHex()
            .join(','),
        );
        break;
    }
  }
  return out;
}

/** Everything observable of a world's state. */
function state(w: World, pool: number): unknown {
  const ps = w.config.pageSize;
  const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
  return {
    runs: w.stage2.allRuns(),
    fingerprint: w.stage2.fingerprint(),
    txs: w.spmc.transactions(),
    ns: w.spmc.nsVersion(),
    rx: w.spmc.rxOwner(),
    mailboxes: w.spmc.mailboxes(),
    hyp: [w.hyp.hypVersion, w.hyp.negotiated, w.hyp.hostTx, JSON.stringify(w.hyp.counters)],
    host: [w.host.version, w.host.tx, w.host.rx, w.host.partitions.length],
    calls: [w.calls, w.el3Calls, w.allocHostPages(0)],
    frames: w.mem.frameCount,
    pool: hex(w.mem.read(pool, POOL * ps)),
    hypPages: hex(w.mem.read(w.hypPages.tx, 2 * ps + w.hypPages.descBufLen)),
  };
}

const events = (w: World, from: number): unknown[] =>
  (w.trace?.events.slice(from) ?? []).map((e: TraceEvent) => ({ ...e, seq: 0 }));

describe('World snapshot / restore', () => {
  it('the same calls after restore give the same registers, trace and state (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('ffa-1.2', 'ffa-1.2-hardened', 'linux-6.6', 'linux-6.11'),
        fc.array(arbOp, { maxLength: 12 }),
        fc.array(arbOp, { maxLength: 12 }),
        (profile, prefix, suffix) => {
          const w = createWorld({ profile: createProfile(profile) });
          const pool = w.allocHostPages(POOL);
          const handles: bigint[] = [];
          runOps(w, pool, [{ op: 'version', v: 0x10002 }, { op: 'map' }, ...prefix], handles);
          const snap = w.snapshot();
          const h0 = [...handles];
          const at1 = w.trace!.events.length;
          const out1 = runOps(w, pool, suffix, handles);
          const ev1 = events(w, at1);
          const st1 = state(w, pool);
          // Twice, to show a snapshot survives being restored.
          for (let k = 0; k < 2; k++) {
            w.restore(snap);
            const at2 = w.trace!.events.length;
            const out2 = runOps(w, pool, suffix, [...h0]);
            expect(out2).toEqual(out1);
            expect(events(w, at2)).toEqual(ev1);
            expect(state(w, pool)).toEqual(st1);
          }
          // And taking the snapshot changed nothing: a world that never snapshotted does the same.
          const v = createWorld({ profile: createProfile(profile) });
          runOps(v, v.allocHostPages(POOL), [{ op: 'version', v: 0x10002 }, { op: 'map' }, ...prefix], []);
          const at3 = v.trace!.events.length;
          expect(runOps(v, pool, suffix, [...h0])).toEqual(out1);
          expect(events(v, at3)).toEqual(ev1);
        },
      ),
      { numRuns: 120, seed: 7 },
    );
  });

  it('BootedWorld.fresh() is the world createWorld gives, however the last taker left it', () => {
    const profile = createProfile('ffa-1.2');
    const boot = new BootedWorld({ profile });
    const ops: Op[] = [
      { op: 'version', v: 0x10002 },
      { op: 'map' },
      { op: 'share', i: 3, pages: 2, lend: false },
    ];
    const a = boot.fresh();
    const poolA = a.allocHostPages(POOL);
    runOps(a, poolA, [...ops, { op: 'big', i: 0, n: 300 }, { op: 'unmap' }], []);
    const b = boot.fresh();
    const at = b.trace!.events.length;
    const outB = runOps(b, b.allocHostPages(POOL), ops, []);
    const c = createWorld({ profile });
    const outC = runOps(c, c.allocHostPages(POOL), ops, []);
    expect(outB).toEqual(outC);
    expect(events(b, at)).toEqual(events(c, c.trace!.events.length - (b.trace!.events.length - at)));
    expect(state(b, poolA)).toEqual(state(c, poolA));
  });

  it('refuses what it cannot see: a hyp without snapshot, custom handlers', () => {
    expect(() => createWorld({ handlers: { 32769: (r) => r } }).snapshot()).toThrow(/handlers/);
    const w = createWorld();
    expect(() => w.restore(createWorld().snapshot())).toThrow(/another world/);
  });
});
