/**
 * Isolation invariants of the proxy (issue 6), checked against a world after every host call:
 *
 * - I1 every page of a memory transaction the SPMC holds (retrieved or not) is SHARED_OWNED at host stage-2
 *   (checked once the transaction is complete: before that no partition can retrieve it);
 * - I2 a call the proxy rejected on its own (an FFA_ERROR with no SMC to EL3) changed no page state;
 * - I3 no hypervisor-internal value reaches host registers (the stale-stack leak, H16);
 * - I4 guest-owned, hyp-owned, NOMAP and MMIO pages are never shared with the secure world;
 * - I5 no exception escapes the model;
 * - I6 the hyp never reads or writes outside the buffer it is parsing (an EL2 out-of-bounds access, H13);
 * - I7 a share the secure world does not hold can be reclaimed, and its pages return to OWNED, once the host has
 *   put its mailboxes in order (RXTX mapped, RX released) — except the documented H18 limitation: pages of
 *   earlier fragments after a failed FRAG_TX.
 */
import { FFA } from '../ffa/ids.ts';
import { type RunOptions, type RunResult, runScenario, type Scenario } from '../scenario/scenario.ts';
import type { RegisterFile } from '../smccc/regs.ts';
import type { World } from '../world/world.ts';

export type InvariantId = 'I1' | 'I2' | 'I3' | 'I4' | 'I5' | 'I6' | 'I7';

export interface Violation {
  invariant: InvariantId;
  detail: string;
}

/** What the checker remembers between calls. */
export interface CheckState {
  oob: number;
  leaks: number;
  hangs: number;
  el3: number;
  /** Stage-2 and SPMC change counters at the last holdings check. */
  s2: number;
  tx: number;
  /** Handles whose earlier fragments are stuck by design (H18): exempt from I7. */
  h18: Set<bigint>;
}

export function initialCheckState(w: World): CheckState {
  return {
    oob: w.hyp.counters.oob.length,
    leaks: w.hyp.counters.leaks.length,
    hangs: w.hyp.counters.hangs.length,
    el3: w.el3Calls,
    s2: -1,
    tx: -1,
    h18: new Set(),
  };
}

/**
 * I1 and I4 over the SPMC's holdings: every kernel page a constituent touches must be host SHARED_OWNED.
 */
/** 2^52, the modelled PA space, hoisted: a bigint power is re-evaluated on every use. */
const PA_LIMIT = 1n << 52n;

export function checkHoldings(w: World): Violation | undefined {
  const ps = w.config.pageSize;
  for (const t of w.spmc.transactions()) {
    // A transaction still being sent cannot be retrieved yet; its pages count once the SPMC completes it.
    if (!t.complete) continue;
    for (const c of t.constituents) {
      if (c.pageCount === 0) continue;
      if (c.address >= PA_LIMIT)
        return {
          invariant: 'I4',
          detail: `handle 0x${t.handle.toString(16)} holds 0x${c.address.toString(16)}, outside the PA space`,
        };
      const start = Number(c.address);
      const end = start + c.pageCount * 4096;
      const first = Math.floor(start / ps);
      const last = Math.floor((end - 1) / ps);
      // The common answer (every page FF-A shared) without building the range list; the list only for the report.
      if (w.stage2.allHost(first, last - first + 1, 'SHARED_OWNED')) continue;
      for (const r of w.stage2.query(first * ps, last - first + 1)) {
        if (r.host === 'SHARED_OWNED') continue;
        const why = `handle 0x${t.handle.toString(16)} (${t.kind}, ${t.complete ? 'complete' : 'in progress'}) holds 0x${Math.max(r.addr, start).toString(16)}, host stage-2 ${r.host} (${r.region})`;
        const foreign = r.owner === 'guest' || r.owner === 'hyp' || r.region !== 'ram';
        return { invariant: foreign ? 'I4' : 'I1', detail: why };
      }
    }
  }
  return undefined;
}

/**
 * Checks one host call: `before` is the stage-2 change counter and fingerprint before it, `out` the host
 * registers after it.
 * Updates `st` (counters seen so far). Returns the first violation, if any.
 */
export function checkCall(
  w: World,
  st: CheckState,
  before: { changes: number; fingerprint: string },
  regs: RegisterFile,
  out: RegisterFile,
): Violation | undefined {
  const c = w.hyp.counters;
  if (c.oob.length > st.oob) {
    const a = c.oob[st.oob]!;
    st.oob = c.oob.length;
    return {
      invariant: 'I6',
      detail: `EL2 ${a.kind === 'beyond-buffer' ? 'access past the end of' : 'read past the message in'} ${a.buffer}: ${a.size} bytes at +${a.offset} (limit ${a.limit})`,
    };
  }
  if (c.hangs.length > st.hangs) {
    st.hangs = c.hangs.length;
    return { invariant: 'I6', detail: `EL2 livelock: ${c.hangs[c.hangs.length - 1]}` };
  }
  if (c.leaks.length > st.leaks) {
    const l = c.leaks[st.leaks]!;
    st.leaks = c.leaks.length;
    return { invariant: 'I3', detail: `${l.call} reply carries stale hyp stack in x${l.regs.join(', x')}` };
  }
  const sent = w.el3Calls > st.el3;
  st.el3 = w.el3Calls;
  // The change counter rules out most calls cheaply; a rollback bumps it without a net change, so confirm.
  if (
    !sent &&
    out.w(0) === FFA.ERROR &&
    w.stage2.changes !== before.changes &&
    w.stage2.fingerprint() !== before.fingerprint
  ) {
    return {
      invariant: 'I2',
      detail: `the proxy rejected 0x${regs.w(0).toString(16)} (error ${out.w(2) | 0}) but page states changed`,
    };
  }
  // H18: a FRAG_TX the hyp answered DENIED leaves the earlier fragments' pages shared by design.
  if (regs.w(0) === FFA.MEM_FRAG_TX && out.w(0) === FFA.ERROR && (out.w(2) | 0) === -6) {
    st.h18.add((BigInt(regs.w(2)) << 32n) | BigInt(regs.w(1)));
  }
  // I1/I4 can only change when page states or the SPMC's transactions did.
  if (w.stage2.changes === st.s2 && w.spmc.txChanges === st.tx) return undefined;
  st.s2 = w.stage2.changes;
  st.tx = w.spmc.txChanges;
  return checkHoldings(w);
}

/**
 * I7 at the end of a sequence: every transaction the SPMC holds that no partition has retrieved must be
 * reclaimable by the host, and its pages must return to OWNED.
 */
export function checkReclaimable(
  w: World,
  st: CheckState,
  smc: (regs: (number | bigint)[]) => RegisterFile = (r) => w.smc(r),
): Violation | undefined {
  for (const t of w.spmc.transactions()) {
    if (!t.complete || t.retrievedBy.length > 0 || st.h18.has(t.handle)) continue;
    const out = smc([FFA.MEM_RECLAIM, Number(t.handle & 0xffff_ffffn), Number(t.handle >> 32n), 0]);
    if (out.w(0) !== FFA.SUCCESS) {
      return {
        invariant: 'I7',
        detail: `handle 0x${t.handle.toString(16)} (${t.constituents.length} constituents) cannot be reclaimed: x0=0x${out.w(0).toString(16)} w2=${out.w(2) | 0}`,
      };
    }
    const ps = w.config.pageSize;
    for (const c of t.constituents) {
      const start = Number(c.address);
      const first = Math.floor(start / ps);
      const last = Math.floor((start + c.pageCount * 4096 - 1) / ps);
      const stuck = w.stage2.query(first * ps, last - first + 1).find((r) => r.host === 'SHARED_OWNED');
      if (stuck !== undefined)
        return {
          invariant: 'I7',
          detail: `handle 0x${t.handle.toString(16)} reclaimed but 0x${stuck.addr.toString(16)} stays SHARED_OWNED`,
        };
    }
  }
  return undefined;
}

/**
 * Attaches the per-call invariant checks (I1–I6) to a world: after every host SMC a `check` trace event with id
 * `invariants` (pass) or the violated invariant's id (fail). Returns the violations seen.
 */
export function watchInvariants(w: World): Violation[] {
  const st = initialCheckState(w);
  const seen: Violation[] = [];
  w.observers.push({
    before: (regs) => ({
      regs: regs.clone(),
      changes: w.stage2.changes,
      fingerprint: w.stage2.fingerprint(),
    }),
    after: (out, token) => {
      const t = token as { regs: RegisterFile; changes: number; fingerprint: string };
      const v = checkCall(w, st, t, t.regs, out);
      if (v !== undefined) seen.push(v);
      w.trace?.emit(
        v === undefined
          ? { kind: 'check', id: 'invariants', verdict: 'pass', detail: 'I1–I6 hold' }
          : { kind: 'check', id: v.invariant, verdict: 'fail', detail: v.detail },
      );
    },
  });
  return seen;
}

/**
 * Runs a scenario with the isolation invariants checked after every host call, as `ffasim run`, `ffasim view`
 * and the web view's what-if all do: their failures become `check` events in the trace. `o.prepare` runs after
 * the checks are attached.
 */
export function runWithInvariants(s: Scenario, o: RunOptions = {}): RunResult {
  return runScenario(s, {
    ...o,
    prepare: (w) => {
      watchInvariants(w);
      o.prepare?.(w);
    },
  });
}
