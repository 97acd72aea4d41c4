/** Small observers shared by the conformance rules and the profile diff: what a host call did, as a label. */
import { ffaErrorLabel } from '../ffa/errors.ts';
import { FFA, ffaName } from '../ffa/ids.ts';
import { RegisterFile } from '../smccc/regs.ts';
import type { World } from '../world/world.ts';

/** The host driver's start: negotiate and map RXTX. */
export function ready(w: World): void {
  w.host.negotiate();
  w.host.rxtxMap();
}

/** `DENIED` for an FFA_ERROR, `NOT_SUPPORTED(x0)` for a bare −1, else the function name of x0. */
export function resultLabel(r: RegisterFile): string {
  if (r.w(0) === FFA.ERROR) return ffaErrorLabel(r.w(2));
  if (r.x(0) === 0xffff_ffff_ffff_ffffn) return 'NOT_SUPPORTED(x0)';
  return ffaName(r.w(0));
}

/** Did the hyp issue an SMC to EL3 while `fn` ran? */
export function sentToEl3<T>(w: World, fn: () => T): { value: T; sent: boolean } {
  const before = w.el3Calls;
  const value = fn();
  return { value, sent: w.el3Calls > before };
}

/**
 * Disposition of one host call after negotiation (proxy-behaviour.md §2 legend): `F` forwarded with exactly the
 * host's registers, `NS` NOT_SUPPORTED from the hyp alone, `H` handled. Needs a traced world.
 */
export function disposition(w: World, fid: number): 'F' | 'H' | 'NS' {
  const regs = RegisterFile.of([fid, 0, 0, 0, 0, 0, 0x5a5a, 0x5a5a]);
  const before = w.trace?.events.length ?? 0;
  const { value: out, sent } = sentToEl3(w, () => w.smc(regs));
  const hex = regs.toHex().join();
  const evs = (w.trace?.events ?? []).slice(before);
  if (
    evs.some(
      (e) =>
        e.kind === 'hop' && e.from === 'hyp' && e.to === 'spmd' && e.dir === 'call' && e.regs.join() === hex,
    )
  )
    return 'F';
  if (!sent && out.w(0) === FFA.ERROR && (out.w(2) | 0) === -1) return 'NS';
  return 'H';
}

/** The result label plus where it came from: the hyp alone, or after an SMC to the SPMC. */
export function outcomeOf(w: World, regs: readonly (number | bigint)[]): string {
  const { value, sent } = sentToEl3(w, () => w.smc(regs));
  return `${resultLabel(value)} (${sent ? 'after the SPMC' : 'from the hyp'})`;
}
