/**
 * `ffasim check [--profile P|all] [--with/--without] [--rule PREFIX] [--format text|json|junit|tap]`: conformance
 * rules, pass/fail (`--json` is `--format json`).
 */
import { allRules, type RuleResult, runCheck } from '../check/conformance.ts';
import { PROFILES } from '../hyp/profiles.ts';
import { profileFrom, UsageError, writeOutput } from './common.ts';
import { type KernelCliOpts, kernelMode, startCoverage } from './kernel-opt.ts';
import { type ReportCase, toJUnit, toTAP } from './reports.ts';
import { unknownName } from './suggest.ts';

interface CheckOpts extends KernelCliOpts {
  profile?: string;
  with?: string[];
  without?: string[];
  rule?: string;
  json?: boolean;
  format?: 'text' | 'json' | 'junit' | 'tap';
  /** A BullMQ queue (`redis://HOST:PORT`): one job per profile, run by `ffasim worker` processes. */
  queue?: string;
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

/**
 * `--rule PREFIX` → the rule filter. @throws UsageError when no rule id starts with it (a typo must not give a
 * green run that checked nothing), naming the closest ids and groups.
 */
function ruleFilter(prefix: string | undefined): ((id: string) => boolean) | undefined {
  if (prefix === undefined) return undefined;
  const ids = allRules().map((r) => r.id);
  if (!ids.some((id) => id.startsWith(prefix))) {
    const groups = [...new Set(ids.map((id) => `${id.split('/')[0]}/`))];
    // Candidates: the groups, the ids, and every id cut to the typed length (the prefixes that would select).
    const cut = ids.map((id) => id.slice(0, prefix.length));
    throw new UsageError(
      `--rule: ${unknownName('rule prefix', prefix, [...groups, ...ids, ...cut], {
        hint: `rule ids start with ${groups.join(', ')} (ffasim check --format json lists them)`,
      })}`,
    );
  }
  return (id) => id.startsWith(prefix);
}

export async function runCheckCommand(o: CheckOpts): Promise<number> {
  if (o.json && o.format !== undefined && o.format !== 'text' && o.format !== 'json')
    throw new UsageError(`--json is --format json: it does not go with --format ${o.format}`);
  const names = o.profile === 'all' ? PROFILES.map((p) => p.name) : [o.profile ?? 'ffa-1.2'];
  const filter = ruleFilter(o.rule);
  if (o.kernel !== undefined && names.length > 1)
    throw new UsageError('--kernel checks one tree against one profile: it does not go with --profile all');
  if (o.kernel !== undefined && o.queue !== undefined)
    throw new UsageError(
      '--queue sweeps the model profiles: it does not go with --kernel (the tree is on this machine)',
    );
  // Kernel mode: sanitizers on unless --sanitize says otherwise (issue 12: default on for check and fuzz).
  const k = await kernelMode(o, 4096, { sanitize: ['address', 'undefined'] });
  if (typeof k === 'number') return k;
  const hyp = k?.hyp;
  const coverage = k !== undefined && o.coverage === true ? await startCoverage(k) : undefined;
  const results: RuleResult[] = [];
  if (o.queue !== undefined) {
    // A cell per profile, run wherever a worker takes it; the verdicts come back in profile order, as below.
    for (const name of names) profileFrom({ ...o, profile: name }); // bad names: a usage error before any job
    const { runCheckJobs } = await import('./queue.ts');
    const cells = names.map((name) => ({
      profile: { base: name, with: o.with ?? [], without: o.without ?? [] },
      ...(o.rule === undefined ? {} : { rule: o.rule }),
    }));
    for (const cell of await runCheckJobs(o.queue, cells)) for (const r of cell) results.push(r);
  } else
    for (const name of names)
      for (const r of runCheck(
        profileFrom({ ...o, profile: name }),
        filter,
        hyp === undefined ? {} : { hyp },
      ))
        results.push(r);
  // Text: the summary follows the verdicts on stdout; machine formats keep stdout to themselves.
  const covered = coverage?.finish();
  if (results.length === 0)
    throw new UsageError(
      `${o.rule === undefined ? 'no rule applies' : `--rule ${o.rule}: the rules it selects do not apply`} to ${names.length === 1 ? `profile ${names[0]} (try --profile all)` : 'any profile'}`,
    );
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
    if (covered !== undefined) s += `\n${covered}`;
    writeOutput(s, undefined);
  }
  if (covered !== undefined && format !== 'text') process.stderr.write(covered);
  return failed === 0 ? 0 : 1;
}
