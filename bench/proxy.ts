/**
 * Proxy benchmarks (issue 4): each beside a same-run floor that copies the register file through the same hops
 * with no logic. Targets: ≤ 250 ns per forwarded call, ≤ 5 µs per 1-page share+reclaim, ≤ 1 ms / ≤ 10 ms for
 * sharing+reclaiming 1 GiB as 1 and as 2048 constituents.
 */
import { FFA } from '../src/ffa/ids.ts';
import { RegisterFile } from '../src/smccc/regs.ts';
import { createWorld, type World, type WorldOptions } from '../src/world/world.ts';
import { type BenchResult, measure } from './harness.ts';

/** A world with the driver negotiated and its RX/TX mapped, on `hyp` (default the model proxy). */
export function readyWorld(hyp?: WorldOptions['hyp']): World {
  const w = createWorld({ trace: false, ...(hyp === undefined ? {} : { hyp }) });
  const v = w.host.negotiate();
  const m = w.host.rxtxMap();
  if (!v.ok || !m.ok) throw new Error('bench world set-up failed');
  return w;
}

/** Floor: the register file copied host → hyp → spmd → spmc → partition and back, no logic at all. */
export function floor(iter: number): number {
  const host = RegisterFile.of([FFA.MSG_SEND_DIRECT_REQ64, 0x8001, 0, 1, 2, 3, 4, 5]);
  const a = new RegisterFile();
  const b = new RegisterFile();
  const c = new RegisterFile();
  let acc = 0;
  for (let n = 0; n < iter; n++) {
    a.copyFrom(host); // host → hyp (forwarder loads x0–x17)
    b.copyFrom(a); // hyp → spmd
    c.copyFrom(b); // spmd → spmc → partition
    c.setW(0, FFA.MSG_SEND_DIRECT_RESP64);
    b.copyFrom(c);
    a.copyFrom(b);
    host.copyFrom(a);
    acc += host.w(3);
    host.setW(0, FFA.MSG_SEND_DIRECT_REQ64);
  }
  return acc;
}

/** A forwarded DIRECT_REQ_64 round trip through `w` (any hyp: the model proxy or kernel mode's real code). */
export function benchDirectReq(w: World, label: string): BenchResult {
  const req = RegisterFile.of([FFA.MSG_SEND_DIRECT_REQ64, 0x8001, 0, 1, 2, 3, 4, 5]);
  return measure(label, (iter) => {
    let acc = 0;
    for (let n = 0; n < iter; n++) acc += w.smc(req).w(0);
    return acc;
  });
}

/** MEM_SHARE then MEM_RECLAIM of one page through `w`'s host driver (a negotiated, mapped world). */
export function benchShare1(w: World, label: string): BenchResult {
  const ps = w.config.pageSize;
  const page = w.allocHostPages(1);
  return measure(label, (iter) => {
    let acc = 0;
    for (let n = 0; n < iter; n++) {
      const s = w.host.memShare({
        receivers: [{ id: 0x8001, perm: 'RW' }],
        constituents: [{ address: page, pageCount: ps / 4096 }],
      });
      if (!s.ok) throw new Error(`share failed: ${s.error}`);
      const r = w.host.memReclaim(s.value.handle);
      if (!r.ok) throw new Error(`reclaim failed: ${r.error}`);
      acc++;
    }
    return acc;
  });
}

export function benchProxy(): BenchResult[] {
  const out: BenchResult[] = [];
  const f = measure('floor: register file through 4 hops and back', floor);
  out.push(f);

  const w = readyWorld();
  const direct = benchDirectReq(w, 'forwarded DIRECT_REQ_64 round trip (host→hyp→SPMD→SPMC→SP→back)');
  direct.ratio = direct.nsPerOp / f.nsPerOp;
  direct.target = '≤ 250 ns';
  out.push(direct);

  const share1 = benchShare1(w, 'MEM_SHARE + MEM_RECLAIM of 1 page (host driver, v1.2 descriptor)');
  share1.ratio = share1.nsPerOp / f.nsPerOp;
  share1.target = '≤ 5 µs';
  out.push(share1);

  const gib = 1 << 30;
  const big = readyWorld();
  const base = big.allocHostPages(gib / big.config.pageSize);
  for (const [label, parts, target] of [
    ['1 GiB as 1 constituent', 1, '≤ 1 ms'],
    ['1 GiB as 2048 constituents (fragmented)', 2048, '≤ 10 ms'],
  ] as const) {
    const step = gib / parts;
    const constituents = Array.from({ length: parts }, (_, i) => ({
      address: base + i * step,
      pageCount: step / 4096,
    }));
    const r = measure(
      `MEM_SHARE + MEM_RECLAIM of ${label}`,
      (iter) => {
        let acc = 0;
        for (let n = 0; n < iter; n++) {
          const s = big.host.memShare({ receivers: [{ id: 0x8001, perm: 'RW' }], constituents });
          if (!s.ok) throw new Error(`share failed: ${s.error} ${s.detail ?? ''}`);
          const rc = big.host.memReclaim(s.value.handle);
          if (!rc.ok) throw new Error(`reclaim failed: ${rc.error}`);
          acc++;
        }
        return acc;
      },
      400,
    );
    r.ratio = r.nsPerOp / f.nsPerOp;
    r.target = target;
    out.push(r);
  }
  return out;
}
