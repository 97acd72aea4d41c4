/**
 * `ffasim check [--profile P|all] [--with/--without] [--rule PREFIX] [--format text|json|junit|tap]`: conformance
 * rules, pass/fail (`--json` is `--format json`).
 */
import { type RuleResult, runCheck } from '../check/conformance.ts';
import { PROFILES } from '../hyp/profiles.ts';
import { profileFrom, writeOutput } from './common.ts';
import { type ReportCase, toJUnit, toTAP } from './reports.ts';

interface CheckOpts {
  profile?: string;
  with?: string[];
  without?: string[];
  rule?: string;
  json?: boolean;
  format?: 'text' | 'json' | 'junit' | 'tap';
}

/** A rule verdict as a CI test case: suite = profile, name = rule id. */
function ruleCase(r: RuleResult): ReportCase {
  return {
    name: r.id,
    suite: r.profile,
    ...(r.pass
      ? {}
      : {
          failure: {
            message: `expected ${r.expected}; observed ${r.observed}`,
            detail: `${r.statement}\nsource: ${r.source}\nexpected: ${r.expected}\nobserved: ${r.observed}`,
          },
        }),
    diag: { statement: r.statement, source: r.source, expected: r.expected, observed: r.observed },
  };
}

export function runCheckCommand(o: CheckOpts): number {
  const names = o.profile === 'all' ? PROFILES.map((p) => p.name) : [o.profile ?? 'ffa-1.2'];
  const filter = o.rule === undefined ? undefined : (id: string) => id.startsWith(o.rule!);
  const results: RuleResult[] = [];
  for (const name of names)
    for (const r of runCheck(profileFrom({ ...o, profile: name }), filter)) results.push(r);
  const passed = results.filter((r) => r.pass).length;
  const failed = results.length - passed;
  const format = o.json ? 'json' : (o.format ?? 'text');
  if (format === 'json') {
    writeOutput(`${JSON.stringify({ passed, failed, results }, null, 1)}\n`, undefined);
  } else if (format === 'junit') {
    writeOutput(toJUnit('ffasim check', results.map(ruleCase)), undefined);
  } else if (format === 'tap') {
    writeOutput(toTAP(results.map(ruleCase)), undefined);
  } else if (names.length > 1) {
    // A matrix: one row per rule, one column per profile (pass ✓, FAIL ✗, · where the rule does not apply).
    const w = results.reduce((m, r) => Math.max(m, r.id.length), 0);
    const byRule = new Map<string, Map<string, RuleResult>>();
    for (const r of results) {
      const row = byRule.get(r.id) ?? new Map<string, RuleResult>();
      row.set(r.profile, r);
      byRule.set(r.id, row);
    }
    const cols = names.map((n) => n.replace('ffa-1.2-', '').replace('linux-', ''));
    let s = `${''.padEnd(w)}  ${cols.map((c) => c.padEnd(9)).join(' ')}\n`;
    for (const [id, row] of byRule) {
      s += `${id.padEnd(w)}  ${names
        .map((n) => {
          const r = row.get(n);
          return (r === undefined ? '·' : r.pass ? '✓' : '✗').padEnd(9);
        })
        .join(' ')
        .trimEnd()}\n`;
    }
    for (const r of results.filter((x) => !x.pass))
      s += `\nFAIL ${r.profile} ${r.id}: expected ${r.expected}; observed ${r.observed}\n  ${r.statement} [${r.source}]\n`;
    s += `\n${passed} passed, ${failed} failed\n`;
    writeOutput(s, undefined);
  } else {
    const w = results.reduce((m, r) => Math.max(m, r.id.length), 0);
    let s = '';
    let last = '';
    for (const r of results) {
      if (r.profile !== last) {
        s += `\n${r.profile}\n`;
        last = r.profile;
      }
      s += `  ${r.pass ? 'pass' : 'FAIL'}  ${r.id.padEnd(w)}  ${r.pass ? r.observed : `expected ${r.expected}; observed ${r.observed}`}\n`;
      if (!r.pass) s += `        ${r.statement} [${r.source}]\n`;
    }
    s += `\n${passed} passed, ${failed} failed\n`;
    writeOutput(s, undefined);
  }
  return failed === 0 ? 0 : 1;
}
