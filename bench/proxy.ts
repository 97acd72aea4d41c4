/**
 * Proxy benchmarks (issue 4): each beside a same-run floor that copies the register file through the same hops
 * with no logic. Targets: ≤ 250 ns per forwarded call, ≤ 5 µs per 1-page share+reclaim, ≤ 1 ms / ≤ 10 ms for
 * sharing+reclaiming 1 GiB as 1 and as 2048 constituents.
 */
import { FFA } from '../src/ffa/ids.ts';
import { RegisterFile } from '../src/smccc/regs.ts';
import { createWorld, type World } from '../src/world/world.ts';
import { type BenchResult, measure } from './harness.ts';

function readyWorld(): World {
  const w = createWorld({ trace: false });
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

export function benchProxy(): BenchResult[] {
  const out: BenchResult[] = [];
  const f = measure('floor: register file through 4 hops and back', floor);
  out.push(f);

  const w = readyWorld();
  const req = RegisterFile.of([FFA.MSG_SEND_DIRECT_REQ64, 0x8001, 0, 1, 2, 3, 4, 5]);
  const direct = measure('forwarded DIRECT_REQ_64 round trip (host→hyp→SPMD→SPMC→SP→back)', (iter) => {
    let acc = 0;
    for (let n = 0; n < iter; n++) acc += w.smc(req).w(0);
    return acc;
  });
  direct.ratio = direct.nsPerOp / f.nsPerOp;
  direct.target = '≤ 250 ns';
  out.push(direct);

  const ps = w.config.pageSize;
  const page = w.allocHostPages(1);
  const share1 = measure('MEM_SHARE + MEM_RECLAIM of 1 page (host driver, v1.2 descriptor)', (iter) => {
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
  share1.ratio = share1.nsPerOp / f.nsPerOp;
  share1.target = '≤ 5 µs';
  out.push(share1);

  const gib = 1 << 30;
  const big = createWorld({ trace: false });
  big.host.negotiate();
  big.host.rxtxMap();
  const base = big.allocHostPages(gib / ps);
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
