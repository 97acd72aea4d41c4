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
import { describeOob } from '../hyp/bufview.ts';
import { type RunOptions, type RunResult, runScenario, type Scenario } from '../scenario/scenario.ts';
import { hi32, lo32, type RegisterFile, u64Of } from '../smccc/regs.ts';
import type { HeldTransaction } from '../spmc/spmc.ts';
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
  /** Per complete transaction (keyed by its constituent list), its last I1/I4 verdict (incremental checks). */
  holdings: WeakMap<object, HoldingVerdict>;
}

/**
 * A transaction's I1/I4 verdict as of stage-2 change `at`. It depends only on the transaction (immutable once
 * complete) and the page states of pfns [lo, hi), so it stands until a change touches that range.
 */
interface HoldingVerdict {
  at: number;
  lo: number;
  hi: number;
  /** The pfn ranges of the constituents, adjacent ones merged: [from, to) pairs (for the all-shared test). */
  merged: number[];
  /** Some constituent lies at or above 2^52 (the verdict then needs the exact walk). */
  outside: boolean;
  v: Violation | undefined;
}

/** What a checker notes of the state before a host call, for I2: see {@link markCall}. */
export interface CallMark {
  changes: number;
  /** A {@link Stage2.fingerprint} (older callers), or … */
  fingerprint?: string;
  /** … a {@link Stage2.mark}, which copies the state only if the call changes it. */
  mark?: number;
}

/** The I2 mark of the state before a host call (cheap: no fingerprint is built). */
export function markCall(w: World): CallMark {
  return { changes: w.stage2.changes, mark: w.stage2.mark() };
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
    holdings: new WeakMap(),
  };
}

/**
 * I1 and I4 over the SPMC's holdings: every kernel page a constituent touches must be host SHARED_OWNED.
 */
/** 2^52, the modelled PA space, hoisted: a bigint power is re-evaluated on every use. */
const PA_LIMIT = 1n << 52n;

export function checkHoldings(w: World): Violation | undefined {
  for (const t of w.spmc.transactions()) {
    // A transaction still being sent cannot be retrieved yet; its pages count once the SPMC completes it.
    if (!t.complete) continue;
    const v = checkTransaction(w, t);
    if (v !== undefined) return v;
  }
  return undefined;
}

/** I1/I4 of one complete transaction: its first constituent page that is not host SHARED_OWNED. */
function checkTransaction(
  w: World,
  t: Pick<HeldTransaction, 'handle' | 'kind' | 'constituents'>,
): Violation | undefined {
  const ps = w.config.pageSize;
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
      const why = `handle 0x${t.handle.toString(16)} (${t.kind}, complete) holds 0x${Math.max(r.addr, start).toString(16)}, host stage-2 ${r.host} (${r.region})`;
      const foreign = r.owner === 'guest' || r.owner === 'hyp' || r.region !== 'ram';
      return { invariant: foreign ? 'I4' : 'I1', detail: why };
    }
  }
  return undefined;
}

/**
 * {@link checkHoldings} after a call, re-examining only what the call could have changed: a transaction's
 * verdict is reused while no stage-2 change since it was reached touched the transaction's pages (the SPMC's
 * constituents of a complete transaction never change). Same verdicts as the full check, in the same order —
 * test/check/incremental.test.ts compares the two after every call of random sequences.
 */
export function checkHoldingsIncremental(w: World, st: CheckState): Violation | undefined {
  const s2 = w.stage2;
  for (const t of w.spmc.completeTransactions()) {
    let h = st.holdings.get(t.constituents);
    if (h !== undefined && !s2.changedSince(h.at, h.lo, h.hi)) {
      if (h.v !== undefined) return h.v;
      continue;
    }
    h ??= holdingRanges(w, t);
    h.at = s2.changes;
    // All constituents FF-A shared, tested per merged range; the exact walk only to name a violation.
    let ok = !h.outside;
    for (let i = 0; ok && i < h.merged.length; i += 2)
      ok = s2.allHost(h.merged[i]!, h.merged[i + 1]! - h.merged[i]!, 'SHARED_OWNED');
    h.v = ok ? undefined : checkTransaction(w, t);
    st.holdings.set(t.constituents, h);
    if (h.v !== undefined) return h.v;
  }
  return undefined;
}

/** The pfn ranges a transaction's verdict depends on. */
function holdingRanges(w: World, t: HeldTransaction): HoldingVerdict {
  const ps = w.config.pageSize;
  const merged: number[] = [];
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  let outside = false;
  for (const c of t.constituents) {
    if (c.pageCount === 0) continue;
    if (c.address >= PA_LIMIT) {
      outside = true;
      continue;
    }
    const start = Number(c.address);
    const from = Math.floor(start / ps);
    const to = Math.floor((start + c.pageCount * 4096 - 1) / ps) + 1;
    const n = merged.length;
    if (n > 0 && from <= merged[n - 1]! && to >= merged[n - 2]!) {
      // Overlaps or touches the previous range: widen it.
      merged[n - 2] = Math.min(merged[n - 2]!, from);
      merged[n - 1] = Math.max(merged[n - 1]!, to);
    } else merged.push(from, to);
    lo = Math.min(lo, from);
    hi = Math.max(hi, to);
  }
  return { at: 0, lo, hi, merged, outside, v: undefined };
}

/**
 * Checks one host call: `before` is the stage-2 change counter and fingerprint before it, `out` the host
 * registers after it.
 * Updates `st` (counters seen so far). Returns the first violation, if any; `more` gets the call's other EL2
 * evidence (an out-of-bounds access and a livelock in one call are two violations of that call).
 */
export function checkCall(
  w: World,
  st: CheckState,
  before: CallMark,
  regs: RegisterFile,
  out: RegisterFile,
  more?: Violation[],
): Violation | undefined {
  const c = w.hyp.counters;
  // This call's EL2 evidence, all of it consumed here: what is not reported (an OOB access before a livelock in
  // the same call) must not be reported at the next call, as that call's.
  const oob = c.oob.length > st.oob ? c.oob[st.oob] : undefined;
  const hang = c.hangs.length > st.hangs ? c.hangs[c.hangs.length - 1] : undefined;
  const leak = c.leaks.length > st.leaks ? c.leaks[st.leaks] : undefined;
  st.oob = c.oob.length;
  st.hangs = c.hangs.length;
  st.leaks = c.leaks.length;
  if (oob !== undefined || hang !== undefined || leak !== undefined) {
    const found: Violation[] = [];
    if (oob !== undefined) found.push({ invariant: 'I6', detail: describeOob(oob) });
    if (hang !== undefined) found.push({ invariant: 'I6', detail: `EL2 livelock: ${hang}` });
    if (leak !== undefined)
      found.push({
        invariant: 'I3',
        detail: `${leak.call} reply carries stale hyp stack in x${leak.regs.join(', x')}`,
      });
    if (more !== undefined) for (let k = 1; k < found.length; k++) more.push(found[k]!);
    return found[0];
  }
  const sent = w.el3Calls > st.el3;
  st.el3 = w.el3Calls;
  // The change counter rules out most calls cheaply; a rollback bumps it without a net change, so confirm.
  if (
    !sent &&
    out.w(0) === FFA.ERROR &&
    w.stage2.changes !== before.changes &&
    (before.mark !== undefined
      ? !w.stage2.sameAsMark(before.mark)
      : w.stage2.fingerprint() !== before.fingerprint)
  ) {
    return {
      invariant: 'I2',
      detail: `the proxy rejected 0x${regs.w(0).toString(16)} (error ${out.w(2) | 0}) but page states changed`,
    };
  }
  // H18: a FRAG_TX the hyp answered DENIED leaves the earlier fragments' pages shared by design.
  if (regs.w(0) === FFA.MEM_FRAG_TX && out.w(0) === FFA.ERROR && (out.w(2) | 0) === -6) {
    st.h18.add(u64Of(regs.w(1), regs.w(2)));
  }
  // I1/I4 can only change when page states or the SPMC's transactions did.
  if (w.stage2.changes === st.s2 && w.spmc.txChanges === st.tx) return undefined;
  st.s2 = w.stage2.changes;
  st.tx = w.spmc.txChanges;
  return checkHoldingsIncremental(w, st);
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
  // The list is the SPMC's view as it stood before the reclaims below (they build a new one, not change it).
  for (const t of w.spmc.completeTransactions()) {
    if (t.retrieved > 0 || st.h18.has(t.handle)) continue;
    const out = smc([FFA.MEM_RECLAIM, lo32(t.handle), hi32(t.handle), 0]);
    if (out.w(0) !== FFA.SUCCESS) {
      return {
        invariant: 'I7',
        detail: `handle 0x${t.handle.toString(16)} (${t.constituents.length} constituents) cannot be reclaimed: x0=0x${out.w(0).toString(16)} w2=${out.w(2) | 0}`,
      };
    }
    const ps = w.config.pageSize;
    if (!someStillShared(w, t, st.holdings.get(t.constituents) ?? holdingRanges(w, t))) continue;
    for (const c of t.constituents) {
      const start = Number(c.address);
      const first = Math.floor(start / ps);
      const last = Math.floor((start + c.pageCount * 4096 - 1) / ps);
      if (!w.stage2.someHost(first, last - first + 1, 'SHARED_OWNED')) continue;
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
 * Whether some page the reclaim walk of {@link checkReclaimable} looks at is still SHARED_OWNED: the same pages
 * (per constituent, [first, last]), tested per merged run of adjacent constituents, the runs
 * {@link holdingRanges} found for I1 (one test for the fuzzer's 2 300-constituent share instead of 2 300). A
 * constituent beyond 2^52, where the pfn arithmetic is inexact, is tested alone, exactly as the walk does. The
 * walk itself runs only to name the page.
 */
function someStillShared(w: World, t: HeldTransaction, h: HoldingVerdict): boolean {
  for (let i = 0; i < h.merged.length; i += 2)
    if (w.stage2.someHost(h.merged[i]!, h.merged[i + 1]! - h.merged[i]!, 'SHARED_OWNED')) return true;
  if (!h.outside) return false;
  const ps = w.config.pageSize;
  for (const c of t.constituents) {
    if (c.pageCount === 0 || c.address < PA_LIMIT) continue;
    const start = Number(c.address);
    const first = Math.floor(start / ps);
    const last = Math.floor((start + c.pageCount * 4096 - 1) / ps);
    if (w.stage2.someHost(first, last - first + 1, 'SHARED_OWNED')) return true;
  }
  return false;
}

/**
 * Attaches the per-call invariant checks (I1–I6) to a world: after every host SMC a `check` trace event with id
 * `invariants` (pass) or the violated invariant's id (fail). Returns the violations seen.
 */
export function watchInvariants(w: World): Violation[] {
  const st = initialCheckState(w);
  const seen: Violation[] = [];
  w.observers.push({
    before: (regs) => ({ regs: regs.clone(), ...markCall(w) }),
    after: (out, token) => {
      const t = token as CallMark & { regs: RegisterFile };
      const more: Violation[] = [];
      const v = checkCall(w, st, t, t.regs, out, more);
      if (v === undefined) {
        w.trace?.emit({ kind: 'check', id: 'invariants', verdict: 'pass', detail: 'I1–I6 hold' });
        return;
      }
      for (const x of [v, ...more]) {
        seen.push(x);
        w.trace?.emit({ kind: 'check', id: x.invariant, verdict: 'fail', detail: x.detail });
      }
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
