/**
 * `ffasim kernel identify <tree>`: which shipped profile a tree's real ffa.c behaves like, and which profile
 * changes it carries — by behaviour, not by reading the source. Every shipped profile is scored on the real code
 * by three measurements: the conformance suite (src/check/conformance.ts, expectations of that profile), the
 * profile probes (src/check/diff.ts, the real code's outcome vs the model's on that profile) and the call-by-call
 * differential over the built-in scenarios (src/check/differential.ts). The best profile has the fewest
 * mismatches. Then each catalogued change is toggled on the best profile: the observations where the model with
 * and without it differ are the evidence, and the real code siding with one of them says whether it carries it.
 */

import { allRules, type RuleResult, runCheck } from '../check/conformance.ts';
import { probes, runProbe } from '../check/diff.ts';
import { type DiffSide, diffSubject, type HypFactory } from '../check/differential.ts';
import { CHANGES, createProfile, PROFILES, type Profile } from '../hyp/profiles.ts';
import { BUILTIN_SCENARIOS } from '../scenario/builtin/index.ts';

/** One profile's score on the real code. */
export interface ProfileScore {
  profile: string;
  /** Conformance rules that failed on the real code (of those that apply to the profile). */
  checkFailed: string[];
  checkRules: number;
  /** Probes whose outcome on the real code differs from the model's on this profile. */
  probeMismatch: string[];
  /** Built-in scenarios that diverge call by call. */
  diverging: string[];
  mismatches: number;
}

/** What the real code says about one change. */
export interface ChangeEvidence {
  change: string;
  /** In the best profile's list. */
  inProfile: boolean;
  verdict: 'carries' | 'lacks' | 'not observed';
  /** Observations that tell the change apart, each with the real code's side. */
  evidence: string[];
}

export interface IdentifyReport {
  best: string;
  scores: ProfileScore[];
  changes: ChangeEvidence[];
}

const SCENARIO_SEED = 1;

/**
 * Crash isolation of the observations on the real code: a probe or rule can make it fault (6.12 follows an
 * unchecked EMAD offset out of its buffer), which ends the process. `begin` is told each observation's key before
 * it runs (the CLI writes it where its parent can read it); `crashed` gives the outcome of a key that killed an
 * earlier process, which is then not run again.
 */
export interface ObservationGuard {
  begin(key: string): void;
  /** The outcome of a key already known (it crashed an earlier process, or an earlier process measured it). */
  crashed(key: string): string | undefined;
  /** A key measured (so a restarted process need not run it again). */
  done?(key: string, outcome: string): void;
}

let guard: ObservationGuard | undefined;

function guarded(key: string, run: () => string): string {
  const c = guard?.crashed(key);
  if (c !== undefined) return c;
  guard?.begin(key);
  const v = run();
  guard?.begin(''); // a crash outside an observation is not blamed on the last one
  guard?.done?.(key, v);
  return v;
}

function divergingScenarios(model: Profile, real: DiffSide): string[] {
  const side: DiffSide = { label: `model ${model.name}`, profile: model };
  const out: string[] = [];
  for (const s of BUILTIN_SCENARIOS) {
    const got = guarded(`scenario ${model.name} ${s.name}`, () => {
      const d = diffSubject({ kind: 'scenario', scenario: s, seed: SCENARIO_SEED }, side, {
        ...real,
        profile: model,
      }).divergences[0]?.divergence;
      return d === undefined ? '' : `call ${d.call} (${d.fn}) ${d.aspect}: ${d.what}`;
    });
    if (got !== '') out.push(`${s.name}: ${got}`);
  }
  return out;
}

/** Scores one profile on the real code. */
function score(profile: Profile, hyp: HypFactory, realProbes: Map<string, string>): ProfileScore {
  const checks: RuleResult[] = [];
  for (const rule of allRules()) {
    if (rule.expected(profile.base) === undefined) continue;
    let got: RuleResult | undefined;
    const outcome = guarded(`check ${profile.name} ${rule.id}`, () => {
      got = runCheck(profile, (id) => id === rule.id, { hyp })[0];
      return got?.observed ?? '';
    });
    const expected = rule.expected(profile.base)!;
    checks.push(
      got ?? {
        id: rule.id,
        statement: rule.statement,
        source: rule.source,
        profile: profile.name,
        expected,
        observed: outcome,
        pass: outcome === expected,
      },
    );
  }
  const checkFailed = checks
    .filter((c) => !c.pass)
    .map((c) => `${c.id}: expected ${c.expected}, got ${c.observed}`);
  const probeMismatch: string[] = [];
  for (const p of probes()) {
    const m = runProbe(p, profile);
    const r = realProbe(p, profile, hyp, realProbes);
    if (m !== r) probeMismatch.push(`${p.id}: model ${m}, real ${r}`);
  }
  const diverging = divergingScenarios(profile, { label: 'real', profile, hyp });
  return {
    profile: profile.name,
    checkFailed,
    checkRules: checks.length,
    probeMismatch,
    diverging,
    mismatches: checkFailed.length + probeMismatch.length + diverging.length,
  };
}

/** The real code's outcome of a probe (its world's stage-2 rules follow the profile, so it is run per profile). */
function realProbe(
  p: ReturnType<typeof probes>[number],
  profile: Profile,
  hyp: HypFactory,
  cache: Map<string, string>,
): string {
  const k = `${profile.name}\u0000${p.id}`;
  let v = cache.get(k);
  if (v === undefined) {
    v = guarded(`probe ${profile.name} ${p.id}`, () => runProbe(p, profile, hyp));
    cache.set(k, v);
  }
  return v;
}

/** Identifies the hyp `hyp` (a tree's real ffa.c) among the shipped profiles. Deterministic. */
export function identifyTree(hyp: HypFactory, g?: ObservationGuard): IdentifyReport {
  guard = g;
  try {
    return identify(hyp);
  } finally {
    guard = undefined;
  }
}

function identify(hyp: HypFactory): IdentifyReport {
  const cache = new Map<string, string>();
  const scores = PROFILES.map((p) => score(createProfile(p.name), hyp, cache));
  // Fewest mismatches; among equals the later (newer) profile in the list.
  let best = scores[0]!;
  for (const s of scores) if (s.mismatches <= best.mismatches) best = s;
  const base = createProfile(best.profile);
  const changes: ChangeEvidence[] = [];
  for (const c of CHANGES) {
    if (c.notModelled === true) continue;
    const inProfile = base.has(c.id);
    const other = createProfile(base.name, inProfile ? { without: [c.id] } : { with: [c.id] });
    const evidence: string[] = [];
    let forBase = 0;
    let forOther = 0;
    for (const p of probes()) {
      if (!p.changes.includes(c.id)) continue;
      const mb = runProbe(p, base);
      const mo = runProbe(p, other);
      if (mb === mo) continue;
      const r = realProbe(p, base, hyp, cache);
      if (r === mb) forBase++;
      else if (r === mo) forOther++;
      evidence.push(`probe ${p.id}: with ${inProfile ? mb : mo}, without ${inProfile ? mo : mb}; real ${r}`);
    }
    const baseDiv = best.diverging.length;
    const otherDiv = divergingScenarios(other, { label: 'real', profile: other, hyp });
    if (otherDiv.length !== baseDiv) {
      if (otherDiv.length > baseDiv) forBase++;
      else forOther++;
      evidence.push(
        `differential over ${BUILTIN_SCENARIOS.length} built-in scenarios: ${baseDiv} diverging ${inProfile ? 'with' : 'without'} it, ${otherDiv.length} ${inProfile ? 'without' : 'with'} it${otherDiv[0] === undefined ? '' : ` (first: ${otherDiv[0]})`}`,
      );
    }
    const sideWith = inProfile ? forBase : forOther;
    const sideWithout = inProfile ? forOther : forBase;
    const verdict: ChangeEvidence['verdict'] =
      sideWith > sideWithout ? 'carries' : sideWithout > sideWith ? 'lacks' : 'not observed';
    changes.push({ change: c.id, inProfile, verdict, evidence });
  }
  return { best: best.profile, scores, changes };
}

/** The report for humans. */
export function identifyText(r: IdentifyReport, label: string): string {
  let s = `${label} behaves like: ${r.best}\n\nprofiles (mismatches on the real code: conformance failures + probe mismatches + diverging scenarios):\n`;
  for (const p of r.scores)
    s += `  ${p.profile === r.best ? '*' : ' '} ${p.profile.padEnd(20)} ${String(p.mismatches).padStart(3)}  (check ${p.checkFailed.length}/${p.checkRules} failed, probes ${p.probeMismatch.length}, scenarios ${p.diverging.length})\n`;
  const best = r.scores.find((p) => p.profile === r.best)!;
  if (best.mismatches > 0) {
    s += `\nwhat ${r.best} does not match:\n`;
    for (const x of [...best.checkFailed, ...best.probeMismatch, ...best.diverging]) s += `  - ${x}\n`;
  }
  s += '\nchanges (toggled on the best profile; evidence from the real code):\n';
  for (const c of r.changes) {
    s += `  ${c.verdict.padEnd(12)} ${c.change}${c.inProfile ? '' : ' (not in the profile)'}\n`;
    for (const e of c.evidence) s += `      ${e}\n`;
  }
  return s;
}
