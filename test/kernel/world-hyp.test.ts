/** WorldOptions.hyp: the world runs whatever HypImpl the factory gives it, with the model proxy's wiring. */
import { describe, expect, it } from 'vitest';
import { FFA } from '../../src/ffa/ids.ts';
import { RegisterFile } from '../../src/smccc/regs.ts';
import { createWorld, type HypContext, type HypImpl } from '../../src/world/world.ts';

/** A hyp that forwards every host call unchanged (what kvm_host_ffa_handler returning false leads to). */
class PassThrough implements HypImpl {
  readonly name = 'pass-through 1.0';
  hypVersion = 0;
  negotiated = false;
  hostTx: number | undefined;
  readonly counters = { oob: [], warns: [], leaks: [], hangs: [] };
  readonly ctx: HypContext;
  constructor(ctx: HypContext) {
    this.ctx = ctx;
  }
  initialise() {
    const r = this.ctx.smc(RegisterFile.of([FFA.VERSION, 0x10002]));
    this.hypVersion = r.w(0);
    return { kind: 'ok' as const, spmcVersion: r.w(0), hypVersion: r.w(0) };
  }
  handleHostSmc(host: RegisterFile): void {
    host.copyFrom(this.ctx.smc(host.clone()));
  }
}

describe('WorldOptions.hyp', () => {
  it('gives the factory the world parts and labels the hyp hops with its name', () => {
    let ctx: HypContext | undefined;
    const w = createWorld({
      hyp: (c) => {
        ctx = c;
        return new PassThrough(c);
      },
    });
    expect(ctx?.pages).toEqual(w.hypPages);
    expect(ctx?.stage2).toBe(w.stage2);
    expect(ctx?.mem).toBe(w.mem);
    expect(w.init.kind).toBe('ok');
    expect(w.hyp.hypVersion).toBe(0x10002);
    const before = w.el3Calls;
    const out = w.smc([FFA.ID_GET]);
    expect(out.w(0)).toBe(FFA.SUCCESS);
    expect(w.el3Calls).toBe(before + 1);
    const hops = (w.trace?.events ?? []).filter((e) => e.kind === 'hop');
    const hyp = hops.filter((e) => e.kind === 'hop' && (e.from === 'hyp' || e.to === 'hyp'));
    expect(hyp.length).toBeGreaterThan(0);
    for (const e of hyp) expect(e.kind === 'hop' && e.code).toBe('pass-through 1.0');
    // Hops that do not touch the hyp carry no label.
    const spmc = hops.find((e) => e.kind === 'hop' && e.to === 'spmc');
    expect(spmc?.kind === 'hop' && spmc.code).toBeUndefined();
  });

  it('leaves the model proxy unlabelled', () => {
    const w = createWorld();
    w.smc([FFA.VERSION, 0x10002]);
    expect((w.trace?.events ?? []).some((e) => e.kind === 'hop' && e.code !== undefined)).toBe(false);
    expect(w.hyp.name).toBeUndefined();
  });
});
