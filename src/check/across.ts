/**
 * One flow across profiles (`ffasim run S --profile all`, `ffasim replay F --profile a,b,c`): the same scenario or
 * replay file on each profile, compared host call by host call — the registers the host sees after the SMC and
 * the page-state changes the call made — and every difference explained by the profile change that causes it.
 *
 * Explanation is by counterfactual, not by reading decisions: for a call where profile P differs from the first
 * profile B, each change in exactly one of the two is toggled on B alone and the flow re-run; the changes whose
 * toggle makes that call behave as on P explain it. Where no single change does, pairs are tried (`a+b`); where no
 * pair does either, the call is reported with the candidate changes (more changes together, or a knock-on effect
 * of an earlier difference).
 */
import { changeById, createProfile, type Profile } from '../hyp/profiles.ts';
import type { RunOptions, Scenario } from '../scenario/scenario.ts';
import { RegisterFile } from '../smccc/regs.ts';
import type { TraceEvent } from '../trace/events.ts';
import { describeCall, describeResult } from '../trace/text.ts';
import type { WorldConfig } from '../world/config.ts';
import { runWithInvariants } from './invariants.ts';

/** What the host sees of one call on one profile. */
export interface CallView {
  /** Decoded call the host made. */
  call: string;
  /** Decoded result. */
  result: string;
  /** x0–x17 after the SMC, 16-digit hex. */
  regs: string[];
  /** Page-state changes the call made: `host 0x88002000 ×4 OWNED → SHARED_OWNED`. */
  pages: string[];
  /** The call's registers as issued (scenarios adapt to earlier answers, so these may differ too). */
  input: string[];
}

/** One host call where the profiles differ. */
export interface CallDifference {
  /** Host call number (1-based). */
  call: number;
  /** Per profile name, what the host saw; absent where that profile's run made fewer calls. */
  views: Record<string, CallView | undefined>;
  /** Registers whose value differs between profiles (`x1`, …). */
  regs: string[];
  /** Whether the page-state changes differ. */
  pages: boolean;
  /** Whether the host issued different registers (the flow had already diverged). */
  input: boolean;
  /** Per profile that differs from the first: the changes that explain it (empty: none alone does). */
  explainedBy: Record<string, string[]>;
  /** Per profile with no single explaining change: the changes between it and the first profile. */
  candidates: Record<string, string[]>;
}

/** The comparison of one flow across profiles. */
export interface AcrossReport {
  scenario: string;
  profiles: string[];
  /** Host calls per profile. */
  calls: Record<string, number>;
  differences: CallDifference[];
  /** Differences grouped by explaining change (`?` for the unexplained), in first-seen order. */
  groups: { change: string; effect: string; source: string; calls: number[] }[];
}

export interface AcrossOptions {
  config?: WorldConfig;
  seed?: number;
}

/** Per host call (1-based), what the host saw, from a run's trace. */
function callViews(events: readonly TraceEvent[]): CallView[] {
  const out: CallView[] = [];
  let callIn: string[] | undefined;
  for (const e of events) {
    if (e.call === 0) continue;
    let v = out[e.call - 1];
    if (v === undefined) {
      v = { call: '', result: '', regs: [], pages: [], input: [] };
      out[e.call - 1] = v;
    }
    if (e.kind === 'hop' && e.from === 'host' && e.dir === 'call') {
      callIn = e.regs;
      v.input = e.regs;
      v.call = describeCall(RegisterFile.of(e.regs.map((h) => BigInt(h))));
    } else if (e.kind === 'hop' && e.to === 'host' && e.dir === 'ret') {
      v.regs = e.regs;
      v.result = describeResult(
        RegisterFile.of(e.regs.map((h) => BigInt(h))),
        callIn === undefined ? undefined : RegisterFile.of(callIn.map((h) => BigInt(h))),
      );
    } else if (e.kind === 'pages') {
      v.pages.push(`${e.table} 0x${e.addr.toString(16)} ×${e.pages} ${e.from} → ${e.to}`);
    }
  }
  return out;
}

function same(a: CallView | undefined, b: CallView | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return (
    a.regs.join() === b.regs.join() &&
    a.pages.join('\n') === b.pages.join('\n') &&
    a.input.join() === b.input.join()
  );
}

function run(s: Scenario, profile: Profile, o: AcrossOptions): CallView[] {
  const ro: RunOptions = {
    profile,
    seed: o.seed ?? 1,
    // The world reads its config and never writes it, so every run can share one.
    ...(o.config ? { config: o.config } : {}),
  };
  const r = runWithInvariants(s, ro);
  return callViews(r.world.trace?.events ?? []);
}

/** Profiles with more changes between them than this are not searched for explaining pairs. */
const PAIR_LIMIT = 12;

/** `base` with `changes` toggled towards `target` (each added when target has it, removed otherwise). */
function toggled(base: Profile, changes: readonly string[], target: Profile): Profile {
  const shipped = createProfile(base.base).changes;
  let add = base.changes.filter((c) => !shipped.includes(c));
  let remove = shipped.filter((c) => !base.has(c));
  for (const c of changes) {
    if (target.has(c)) {
      add = [...add.filter((x) => x !== c), c];
      remove = remove.filter((x) => x !== c);
    } else {
      add = add.filter((x) => x !== c);
      remove = [...remove.filter((x) => x !== c), c];
    }
  }
  return createProfile(base.base, { with: add, without: remove });
}

/**
 * Runs `s` on every profile and compares the runs call by call. The first profile is the reference the others
 * are explained against.
 */
export function acrossProfiles(
  s: Scenario,
  profiles: readonly Profile[],
  o: AcrossOptions = {},
): AcrossReport {
  if (profiles.length < 2) throw new RangeError('acrossProfiles needs at least two profiles');
  const names = profiles.map((p) => p.name);
  const runs = profiles.map((p) => run(s, p, o));
  const base = profiles[0]!;
  const baseRun = runs[0]!;
  const n = runs.reduce((m, r) => Math.max(m, r.length), 0);
  // Counterfactual runs, computed once per (profile, change).
  const cf = new Map<string, CallView[]>();
  const counterfactual = (target: Profile, changes: readonly string[]): CallView[] => {
    const key = changes.map((c) => `${target.has(c) ? '+' : '-'}${c}`).join(' ');
    let r = cf.get(key);
    if (r === undefined) {
      r = run(s, toggled(base, changes, target), o);
      cf.set(key, r);
    }
    return r;
  };
  const differences: CallDifference[] = [];
  for (let i = 0; i < n; i++) {
    const views = runs.map((r) => r[i]);
    if (views.every((v) => same(v, views[0]))) continue;
    const diff: CallDifference = {
      call: i + 1,
      views: Object.fromEntries(names.map((name, k) => [name, views[k]])),
      regs: [],
      pages: false,
      input: false,
      explainedBy: {},
      candidates: {},
    };
    for (let r = 0; r < 18; r++) {
      const vals = new Set(views.map((v) => v?.regs[r]));
      if (vals.size > 1) diff.regs.push(`x${r}`);
    }
    diff.pages = new Set(views.map((v) => v?.pages.join('\n'))).size > 1;
    diff.input = new Set(views.map((v) => v?.input.join())).size > 1;
    profiles.forEach((p, k) => {
      if (k === 0 || same(views[k], baseRun[i])) return;
      const between = [...p.changes.filter((c) => !base.has(c)), ...base.changes.filter((c) => !p.has(c))];
      let explains = between.filter((c) => same(counterfactual(p, [c])[i], views[k]));
      // No single change: a pair of them together (bounded, so a long list of changes stays cheap).
      if (explains.length === 0 && between.length <= PAIR_LIMIT)
        for (let a = 0; a < between.length; a++)
          for (let b = a + 1; b < between.length; b++)
            if (same(counterfactual(p, [between[a]!, between[b]!])[i], views[k]))
              explains = [...explains, `${between[a]}+${between[b]}`];
      diff.explainedBy[p.name] = explains;
      if (explains.length === 0) diff.candidates[p.name] = between;
    });
    differences.push(diff);
  }
  const groups: AcrossReport['groups'] = [];
  for (const d of differences) {
    const ids = new Set(Object.values(d.explainedBy).flat());
    if (Object.values(d.explainedBy).some((e) => e.length === 0)) ids.add('?');
    for (const id of ids) {
      let g = groups.find((x) => x.change === id);
      if (g === undefined) {
        const parts = id === '?' ? [] : id.split('+').map((x) => changeById(x));
        g = {
          change: id,
          effect:
            id === '?'
              ? 'no single change or pair explains it (more together, or a knock-on of an earlier difference)'
              : parts.map((c) => c?.effect ?? '').join(' — together with — '),
          source: parts.map((c) => c?.source ?? '').join('; '),
          calls: [],
        };
        groups.push(g);
      }
      g.calls.push(d.call);
    }
  }
  return {
    scenario: s.name,
    profiles: names,
    calls: Object.fromEntries(names.map((name, k) => [name, runs[k]!.length])),
    differences,
    groups,
  };
}

/** The report as text: per explaining change, each differing call with every profile's answer side by side. */
export function acrossToText(r: AcrossReport): string {
  const w = r.profiles.reduce((m, p) => Math.max(m, p.length), 0);
  const counts = r.profiles.map((p) => `${p} ${r.calls[p]}`).join(', ');
  let s = `${r.scenario} across ${r.profiles.join(', ')}: host calls ${counts}; ${r.differences.length} call(s) differ\n`;
  if (r.differences.length === 0) return `${s}the profiles answer every host call alike\n`;
  const shown = new Set<number>();
  for (const g of r.groups) {
    s += `\n■ ${g.change === '?' ? 'unexplained' : g.change.replace('+', ' together with ')}: ${g.effect}${g.source ? `\n  source: ${g.source}` : ''}\n`;
    for (const call of g.calls) {
      const d = r.differences.find((x) => x.call === call)!;
      const first = Object.values(d.views).find((v) => v !== undefined);
      const what = [
        d.regs.length > 0 ? `registers ${d.regs.join(' ')}` : '',
        d.pages ? 'page states' : '',
        d.input ? 'the call itself' : '',
      ]
        .filter((x) => x !== '')
        .join(', ');
      s += `  #${call} ${first?.call ?? '?'}   (differs: ${what})\n`;
      for (const p of r.profiles) {
        const v = d.views[p];
        const mark = g.change !== '?' && d.explainedBy[p]?.includes(g.change) ? '  ◀ this change' : '';
        s +=
          v === undefined
            ? `    ${p.padEnd(w)}  (no such call: the run made ${r.calls[p]} host calls)\n`
            : `    ${p.padEnd(w)}  ${d.input ? `${v.call} → ` : ''}${v.result}${mark}\n`;
      }
      if (g.change === '?')
        for (const [p, c] of Object.entries(d.candidates))
          s += `    ${p}: no single change or pair explains it; between it and ${r.profiles[0]}: ${c.length === 0 ? 'none' : c.join(', ')}\n`;
      if (shown.has(call)) {
        s += '    (registers and pages: see above)\n';
        continue;
      }
      shown.add(call);
      if (d.regs.length > 0) {
        const col = 18;
        s +=
          `    ${''.padStart(3)}  ${r.profiles.map((p) => p.slice(0, col).padEnd(col)).join('  ')}`.trimEnd() +
          '\n';
        for (const reg of d.regs) {
          const i = Number(reg.slice(1));
          s +=
            `    ${reg.padStart(3)}  ${r.profiles.map((p) => (d.views[p]?.regs[i] ?? '—').padEnd(col)).join('  ')}`.trimEnd() +
            '\n';
        }
      }
      if (d.pages)
        for (const p of r.profiles) {
          const pages = d.views[p]?.pages ?? [];
          s += `    pages ${p.padEnd(w)}  ${pages.length === 0 ? 'none' : pages.join('; ')}\n`;
        }
    }
  }
  return s;
}
