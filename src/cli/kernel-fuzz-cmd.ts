/**
 * `ffasim fuzz --kernel <tree>`: the campaign through a tree's real ffa.c, in worker processes that may crash
 * (src/kernel/campaign.ts). Each distinct finding — a sanitizer report, an abort, an invariant the worker saw
 * broken — is shrunk and written as a replay file that reproduces it with `ffasim replay FILE --kernel TREE`.
 * Sanitizers are on unless `--sanitize` says otherwise.
 */
import { PROFILES, type Profile } from '../hyp/profiles.ts';
import type { KernelCampaignReport, KernelFinding } from '../kernel/campaign.ts';
import type { WorldConfig } from '../world/config.ts';
import { UsageError, writeOutput } from './common.ts';
import { describeReplayLine, type FuzzOpts } from './fuzz-cmd.ts';
import { resolveKernelBuild } from './kernel-opt.ts';
import { type ReportCase, toJUnit } from './reports.ts';

interface Chosen {
  profile: Profile;
  config: WorldConfig;
  seed: number;
  runs: number | undefined;
  time: number | undefined;
  format: 'text' | 'json' | 'junit';
}

/** The replay file of finding `n` (the first at --out, the others beside it, numbered). */
function findingPath(out: string, n: number): string {
  if (n === 0) return out;
  const m = /^(.*?)(\.jsonl)?$/.exec(out)!;
  return `${m[1]}-${n + 1}${m[2] ?? '.jsonl'}`;
}

function replayText(f: KernelFinding, c: Chosen, tree: string, label: string, sanitize: string[]): string {
  const base = PROFILES.find((p) => p.name === c.profile.base)?.changes ?? [];
  const flags = [`--kernel ${tree}`, sanitize.length > 0 ? `--sanitize ${sanitize.join(',')}` : ''].filter(
    Boolean,
  );
  const lines = [
    `# ffasim fuzz --kernel finding: ${f.title}`,
    `# code ${label}; profile ${c.profile.name}, seed ${c.seed}, sequence ${f.index}; shrunk to ${f.actions.length} action(s)`,
    `# reproduce: ffasim replay THIS_FILE ${flags.join(' ')}`,
  ];
  if (f.crash !== undefined) for (const l of f.crash.text.split('\n').slice(0, 40)) lines.push(`# | ${l}`);
  lines.push(
    JSON.stringify({
      world: c.config,
      profile: c.profile.base,
      with: c.profile.changes.filter((x) => !base.includes(x)),
      without: base.filter((x) => !c.profile.has(x)),
    }),
  );
  for (const l of f.replay) {
    if ('#' in l) lines.push(`# ${String(l['#'])}`);
    else lines.push(JSON.stringify(l));
  }
  return `${lines.join('\n')}\n`;
}

export async function runKernelFuzz(o: FuzzOpts, c: Chosen): Promise<number> {
  if (o.kernel === undefined) throw new UsageError('--sanitize and --coverage go with --kernel');
  const { tree, build } = await resolveKernelBuild({ ...o, kernel: o.kernel }, c.config.pageSize, {
    sanitize: ['address', 'undefined'],
  });
  const { kernelCampaign } = await import('../kernel/campaign.ts');
  const base = PROFILES.find((p) => p.name === c.profile.base)?.changes ?? [];
  const tty = process.stderr.isTTY === true && c.format === 'text';
  const report: KernelCampaignReport = await kernelCampaign({
    build,
    setup: {
      tree,
      build: {
        sanitize: build.sanitize,
        stackInit: build.stackInit,
        coverage: build.coverage,
        pageSize: build.pageSize,
      },
      profile: {
        base: c.profile.base,
        with: c.profile.changes.filter((x) => !base.includes(x)),
        without: base.filter((x) => !c.profile.has(x)),
      },
      config: c.config,
      ignore: o.ignore ?? [],
      seed: c.seed,
      maxLength: 24,
    },
    ...(c.runs === undefined && c.time === undefined ? { runs: 2000 } : {}),
    ...(c.runs === undefined ? {} : { runs: c.runs }),
    ...(c.time === undefined ? {} : { timeMs: c.time * 1000 }),
    coverage: build.coverage,
    ...(tty
      ? {
          progress: (p) => {
            const rate = p.ms > 0 ? Math.round((p.smcs * 1000) / p.ms) : 0;
            process.stderr.write(
              `\r  ${p.runs} sequences, ${p.smcs} host SMCs, ${(p.ms / 1000).toFixed(1)} s, ${rate} calls/s, ${p.findings} finding(s)   `,
            );
          },
        }
      : {}),
  });
  if (tty) process.stderr.write('\n');
  const paths = report.findings.map((_, i) => findingPath(o.out, i));
  report.findings.forEach((f, i) => {
    writeOutput(replayText(f, c, tree, build.label, build.sanitize), paths[i]);
  });
  let lcov: string | undefined;
  if (report.coverage !== undefined) {
    const { toLcov } = await import('../kernel/coverage.ts');
    lcov = 'ffa-coverage.lcov';
    writeOutput(toLcov(report.coverage), lcov);
  }
  const rate = report.ms > 0 ? Math.round((report.smcs * 1000) / report.ms) : 0;
  if (c.format === 'json') {
    writeOutput(
      `${JSON.stringify({
        code: build.label,
        profile: c.profile.name,
        seed: c.seed,
        runs: report.runs,
        smcs: report.smcs,
        ms: Math.round(report.ms),
        callsPerSecond: rate,
        workers: report.workers,
        findings: report.findings.map((f, i) => ({
          kind: f.kind,
          title: f.title,
          sequence: f.index,
          actions: f.actions.length,
          replay: paths[i],
          ...(f.crash === undefined
            ? {}
            : { crash: { kind: f.crash.kind, func: f.crash.func, file: f.crash.file, line: f.crash.line } }),
          ...(f.violation === undefined ? {} : { violation: f.violation }),
        })),
        ...(report.coverage === undefined
          ? {}
          : { coverage: { lines: report.coverage.lines, branches: report.coverage.branches, lcov } }),
      })}\n`,
      undefined,
    );
  } else if (c.format === 'junit') {
    const suite = `${build.label} ${c.profile.name} seed ${c.seed}`;
    const cases: ReportCase[] = report.findings.map((f, i) => ({
      name: f.signature,
      suite,
      failure: {
        message: f.title,
        detail: `${f.title}\n${f.replay.map((l, k) => `  ${k + 1}. ${describeReplayLine(l)}`).join('\n')}\nreplay file: ${paths[i]}${f.crash === undefined ? '' : `\n${f.crash.text}`}`,
      },
      diag: { replay: paths[i]!, actions: f.actions.length },
    }));
    if (cases.length === 0)
      cases.push({ name: 'no finding', suite, diag: { sequences: report.runs, smcs: report.smcs } });
    writeOutput(toJUnit('ffasim fuzz --kernel', cases, { seconds: report.ms / 1000 }), undefined);
  } else {
    let s = `fuzz ${build.label} (${[...build.sanitize, build.coverage ? 'coverage' : ''].filter(Boolean).join(', ') || 'no sanitizers'}) · profile ${c.profile.name} · seed ${c.seed}: ${report.runs} sequences, ${report.smcs} host SMCs in ${(report.ms / 1000).toFixed(1)} s (${rate} calls/s; ${report.workers} worker process(es))\n`;
    if (report.findings.length === 0) s += 'no finding\n';
    report.findings.forEach((f, i) => {
      s += `FINDING ${i + 1} (${f.kind}): ${f.title}\n  sequence ${f.index}, shrunk to ${f.actions.length} action(s), ${f.replay.length} replay line(s); replay written to ${paths[i]}\n`;
    });
    if (report.coverage !== undefined) {
      const { coverageText } = await import('../kernel/coverage.ts');
      s += coverageText(report.coverage, lcov);
    }
    writeOutput(s, undefined);
  }
  return report.findings.length === 0 ? 0 : 1;
}
