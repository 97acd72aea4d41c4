/**
 * What-if, in the page: re-run the trace's scenario (a built-in by name, or the replay file the trace came from)
 * on the project's own model — nothing below src/cli imports Node — with another profile or with edited
 * registers on chosen host calls, and compare two runs to find where they first diverge.
 */
import { runWithInvariants } from '../../../src/check/invariants.ts';
import { CHANGES, createProfile, PROFILES } from '../../../src/hyp/profiles.ts';
import { builtinScenario } from '../../../src/scenario/builtin/index.ts';
import { replayScenario } from '../../../src/scenario/replay.ts';
import type { Scenario } from '../../../src/scenario/scenario.ts';
import { runToJSONL } from '../../../src/scenario/trace.ts';
import { RegisterFile } from '../../../src/smccc/regs.ts';
import { parseWorldConfig, type WorldConfig } from '../../../src/world/config.ts';
import { callInfo, eventAt, type TraceIndex } from './trace-index.ts';

export { hostCallHop } from './trace-index.ts';

export const PROFILE_NAMES: readonly string[] = PROFILES.map((p) => p.name);
export const CHANGE_IDS: readonly string[] = CHANGES.map((c) => c.id);

/** One register edit: host call `call` (1-based) issues `value` in x`reg`. */
export interface RegEdit {
  call: number;
  reg: number;
  value: bigint;
}

export interface WhatIfSource {
  /** A built-in scenario name (from the trace header). */
  scenario?: string;
  /** The replay file the trace was made from. */
  replay?: string;
  /** The world the trace ran in (`ffasim view --world`), as JSON text. */
  world?: string;
}

/**
 * How a trace's header names its profile (`ffa-1.2 +x -y`, with the effective change list) as a base profile and
 * the changes added or removed, so a re-run uses exactly what made the trace.
 */
export function profileOfHeader(header: Record<string, unknown> | undefined): {
  base: string;
  with: string[];
  without: string[];
} {
  const name = typeof header?.profile === 'string' ? header.profile : 'ffa-1.2';
  const base = name.split(' ')[0] ?? 'ffa-1.2';
  const def = PROFILES.find((p) => p.name === base);
  const changes = Array.isArray(header?.changes)
    ? (header.changes as unknown[]).filter((c) => typeof c === 'string')
    : undefined;
  if (def === undefined || changes === undefined)
    return { base: def === undefined ? 'ffa-1.2' : base, with: [], without: [] };
  const have = new Set(createProfile(base).changes);
  const want = new Set(changes as string[]);
  return {
    base,
    with: [...want].filter((c) => !have.has(c) && CHANGE_IDS.includes(c)),
    without: [...have].filter((c) => !want.has(c)),
  };
}

export type WhatIfResult = { ok: true; jsonl: string; failures: string[] } | { ok: false; error: string };

function resolve(src: WhatIfSource): Scenario | string {
  if (src.replay !== undefined) {
    const r = replayScenario(src.replay, src.scenario ?? 'replay');
    return r.ok ? r.value : r.error;
  }
  if (src.scenario !== undefined) {
    const s = builtinScenario(src.scenario);
    if (s !== undefined) return s;
    return `scenario '${src.scenario}' is not built in; open the view with its replay file to re-run it`;
  }
  return 'this trace names no scenario; open the view with a built-in scenario or a replay file to re-run it';
}

/** Whether the trace can be re-run in the page, and if not, why. */
export function whatIfAvailable(src: WhatIfSource): string | undefined {
  const s = resolve(src);
  return typeof s === 'string' ? s : undefined;
}

/** Re-runs with `profile` (with/without changes) and the register edits; never throws. */
export function runWhatIf(
  src: WhatIfSource,
  profile: string,
  edits: readonly RegEdit[] = [],
  o: { with?: string[]; without?: string[]; seed?: number } = {},
): WhatIfResult {
  const s = resolve(src);
  if (typeof s === 'string') return { ok: false, error: s };
  let p: ReturnType<typeof createProfile>;
  try {
    p = createProfile(profile, { with: o.with ?? [], without: o.without ?? [] });
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
  let config: WorldConfig | undefined;
  if (src.world !== undefined) {
    let json: unknown;
    try {
      json = JSON.parse(src.world);
    } catch (e) {
      return { ok: false, error: `world: ${(e as Error).message}` };
    }
    const c = parseWorldConfig(json);
    if (!c.ok) return { ok: false, error: c.errors.map((e) => `${e.path}: ${e.message}`).join('; ') };
    config = c.value;
  }
  for (const e of edits) {
    if (!Number.isInteger(e.reg) || e.reg < 0 || e.reg > 17)
      return { ok: false, error: `x${e.reg}: no such register` };
    if (e.value < 0n || e.value >= 1n << 64n) return { ok: false, error: `x${e.reg}: value is not a u64` };
  }
  const r = runWithInvariants(s, {
    profile: p,
    seed: o.seed ?? 1,
    ...(config === undefined ? {} : { config }),
    prepare: (w) => {
      if (edits.length === 0) return;
      const orig = w.smc.bind(w);
      w.smc = (regs, cpu = 0) => {
        const n = w.calls + 1;
        const mine = edits.filter((e) => e.call === n);
        if (mine.length === 0) return orig(regs, cpu);
        const rf = regs instanceof RegisterFile ? regs.clone() : RegisterFile.of(regs);
        for (const e of mine) rf.setX(e.reg, e.value);
        return orig(rf, cpu);
      };
    },
  });
  return { ok: true, jsonl: runToJSONL(r), failures: r.failures };
}

/** Registers the host received for each host call (x0–x17 of the hyp → host return), by call number. */
export function hostResults(ix: TraceIndex): Map<number, string[]> {
  const out = new Map<number, string[]>();
  const host = ix.components.indexOf('host');
  for (const h of ix.hops) {
    if (ix.dir[h] === 1 && ix.to[h] === host) {
      const regs = eventAt(ix, h).regs;
      if (Array.isArray(regs)) out.set(ix.call[h]!, regs as string[]);
    }
  }
  return out;
}

/** The first host call whose request or result differs between two traces, or undefined when they agree. */
export function firstDivergence(a: TraceIndex, b: TraceIndex): { call: number; why: string } | undefined {
  const ra = hostResults(a);
  const rb = hostResults(b);
  const calls = [...new Set([...ra.keys(), ...rb.keys()])].sort((x, y) => x - y);
  for (const c of calls) {
    const x = ra.get(c);
    const y = rb.get(c);
    if (x === undefined || y === undefined)
      return { call: c, why: x === undefined ? 'only in B' : 'only in A' };
    const ia = callInfo(a, c);
    const ib = callInfo(b, c);
    if (ia?.name !== ib?.name) return { call: c, why: `host call ${ia?.name} vs ${ib?.name}` };
    for (let r = 0; r < 18; r++) {
      if (x[r] !== y[r]) return { call: c, why: `x${r} ${x[r]} vs ${y[r]} (${ia?.status} vs ${ib?.status})` };
    }
    if ((ia?.hops ?? 0) !== (ib?.hops ?? 0)) return { call: c, why: `${ia?.hops} hops vs ${ib?.hops}` };
  }
  return undefined;
}
