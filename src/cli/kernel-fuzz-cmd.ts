/**
 * `ffasim fuzz --kernel <tree>`: the campaign through a tree's real ffa.c, in worker processes that may crash
 * (src/kernel/campaign.ts). Each distinct finding — a sanitizer report, an abort, an invariant the worker saw
 * broken — is shrunk and written as a replay file that reproduces it with `ffasim replay FILE --kernel TREE`.
 * Sanitizers are on unless `--sanitize` says otherwise.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROFILES, type Profile } from '../hyp/profiles.ts';
import type { KernelCampaignReport, KernelFinding } from '../kernel/campaign.ts';
import { describeLie } from '../spmc/hostile.ts';
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
  /** EL3 lies (`--spmc hostile`). */
  hostile: boolean;
}

const pad3 = (n: number): string => String(n).padStart(3, '0');

/** A finding's short report (Markdown): what broke where, its class, the lies, the decoded sequence. */
function findingMarkdown(
  f: KernelFinding,
  id: number,
  c: Chosen,
  label: string,
  file: string,
  flags: string,
): string {
  const cls =
    f.cls === 'holds-when-el3-lies'
      ? 'must hold even when EL3 lies: a bug in the hyp whatever the secure world does'
      : 'presupposes an honest SPMC: real only if a correct secure world can give these answers';
  const site =
    f.crash?.func !== undefined
      ? `\`${f.crash.func}\` (${f.crash.file?.slice(f.crash.file.lastIndexOf('/') + 1)}:${f.crash.line})`
      : f.warn !== undefined
        ? `\`${f.warn.slice(0, f.warn.indexOf(':') < 0 ? undefined : f.warn.indexOf(': WARN_ON'))}\``
        : (/by (\w+ \(ffa\.c:\d+\))/.exec(f.title)?.[1] ?? '—');
  return [
    `# Finding ${pad3(id)}: ${f.title}`,
    '',
    `- **Kind:** ${f.kind}${f.violation === undefined ? '' : ` (${f.violation.invariant})`}`,
    `- **Class:** ${f.cls} — ${cls}`,
    `- **Decision site:** ${site}; dedup key \`${f.signature}\``,
    `- **Code:** ${label}; profile ${c.profile.name}; campaign seed ${c.seed}, sequence ${f.index}`,
    `- **Reproduce:** \`ffasim replay ${file} ${flags}\` (trace: \`ffasim run ${file} ${flags} --explain\`)`,
    '',
    f.lies === undefined || f.lies.length === 0
      ? 'The secure world told no lie.'
      : 'EL3 lies (`spmc.hostile.lies` in the replay header):',
    ...(f.lies ?? []).map((l) => `- ${describeLie(l)}`),
    '',
    ...(f.crash === undefined || f.crash.text === ''
      ? []
      : ['The report:', '', '```', ...f.crash.text.split('\n').slice(0, 40), '```', '']),
    `Shrunk to ${f.actions.length} action(s); the decoded sequence (${f.replay.length} replay lines):`,
    '',
    ...f.replay.map((l, i) => {
      const d = describeReplayLine(l);
      return `${i + 1}. ${d.length > 200 ? `${d.slice(0, 200)}… (the replay file has it all)` : d}`;
    }),
    '',
  ].join('\n');
}

/** Writes `text` to DIR/name (atomically); a UsageError naming the path when it cannot. */
function writeIn(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  try {
    writeFileSync(`${path}.tmp`, text);
    renameSync(`${path}.tmp`, path);
  } catch (e) {
    throw new UsageError(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return path;
}

function replayFlags(tree: string, sanitize: readonly string[]): string {
  return [`--kernel ${tree}`, sanitize.length > 0 ? `--sanitize ${sanitize.join(',')}` : '']
    .filter(Boolean)
    .join(' ');
}

function replayText(f: KernelFinding, c: Chosen, tree: string, label: string, sanitize: string[]): string {
  const base = PROFILES.find((p) => p.name === c.profile.base)?.changes ?? [];
  const lines = [
    `# ffasim fuzz --kernel finding: ${f.title}`,
    `# code ${label}; profile ${c.profile.name}, seed ${c.seed}, sequence ${f.index}; shrunk to ${f.actions.length} action(s); ${f.cls}`,
    `# reproduce: ffasim replay THIS_FILE ${replayFlags(tree, sanitize)}`,
  ];
  if (f.crash !== undefined) for (const l of f.crash.text.split('\n').slice(0, 40)) lines.push(`# | ${l}`);
  // The lies EL3 told in the recorded run go in the world, so the replay tells exactly those again.
  const world: WorldConfig =
    f.lies === undefined ? c.config : { ...c.config, spmc: { ...c.config.spmc, hostile: { lies: f.lies } } };
  lines.push(
    JSON.stringify({
      world,
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
  // DIR as the model campaign keeps it (docs/fuzz.md "Campaign folder"); nothing is written without --out.
  const dir = o.out;
  if (dir !== undefined && /\.jsonl?$/.test(dir))
    throw new UsageError(
      `--out ${dir}: --out names a campaign directory (finding-NNN.jsonl files go inside it), not a file`,
    );
  if (dir !== undefined && existsSync(dir) && readdirSync(dir).length > 0)
    throw new UsageError(`--out ${dir}: the directory is not empty — name another directory`);
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
      hostile: c.hostile,
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
  const texts = report.findings.map((f) => replayText(f, c, tree, build.label, build.sanitize));
  const flags = replayFlags(tree, build.sanitize);
  let paths: (string | undefined)[] = report.findings.map(() => undefined);
  let lcov: string | undefined;
  if (dir !== undefined) {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new UsageError(
        `--out ${dir}: cannot create it (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
      );
    }
    paths = report.findings.map((f, i) => {
      const name = `finding-${pad3(i + 1)}`;
      const file = writeIn(dir, `${name}.jsonl`, texts[i]!);
      writeIn(dir, `${name}.md`, findingMarkdown(f, i + 1, c, build.label, file, flags));
      return file;
    });
    if (report.coverage !== undefined) {
      const { toLcov } = await import('../kernel/coverage.ts');
      lcov = writeIn(dir, 'ffa-coverage.lcov', toLcov(report.coverage));
    }
  }
  const rate = report.ms > 0 ? Math.round((report.smcs * 1000) / report.ms) : 0;
  const summary = {
    code: build.label,
    profile: c.profile.name,
    seed: c.seed,
    spmc: c.hostile ? 'hostile' : 'honest',
    runs: report.runs,
    smcs: report.smcs,
    ms: Math.round(report.ms),
    callsPerSecond: rate,
    workers: report.workers,
    findings: report.findings.map((f, i) => ({
      id: i + 1,
      kind: f.kind,
      class: f.cls,
      title: f.title,
      signature: f.signature,
      sequence: f.index,
      actions: f.actions.length,
      ...(paths[i] === undefined ? {} : { replay: paths[i] }),
      ...(f.crash === undefined
        ? {}
        : { crash: { kind: f.crash.kind, func: f.crash.func, file: f.crash.file, line: f.crash.line } }),
      ...(f.violation === undefined ? {} : { violation: f.violation }),
      ...(f.warn === undefined ? {} : { warn: f.warn }),
      ...(f.lies === undefined ? {} : { lies: f.lies.length }),
    })),
    ...(report.coverage === undefined
      ? {}
      : {
          coverage: {
            lines: report.coverage.lines,
            branches: report.coverage.branches,
            ...(lcov === undefined ? {} : { lcov }),
          },
        }),
  };
  const table = [
    '| # | kind | class | title | sequence | actions | replay |',
    '|---|---|---|---|---|---|---|',
    ...report.findings.map(
      (f, i) =>
        `| ${pad3(i + 1)} | ${f.kind} | ${f.cls} | ${f.title.replace(/\|/g, '\\|')} | ${f.index} | ${f.actions.length} | ${paths[i] ?? '(stdout)'} |`,
    ),
  ].join('\n');
  if (dir !== undefined) {
    writeIn(dir, 'summary.json', `${JSON.stringify(summary, null, 1)}\n`);
    writeIn(
      dir,
      'summary.md',
      `# ffasim fuzz --kernel campaign\n\n${build.label} · profile ${c.profile.name} · seed ${c.seed} · ${summary.spmc} SPMC: ${report.runs} sequences, ${report.smcs} host SMCs\n\n${report.findings.length === 0 ? 'no finding' : table}\n`,
    );
  }
  if (c.format === 'json') {
    writeOutput(
      `${JSON.stringify({ ...summary, ...(dir === undefined ? { replays: texts } : { out: dir }) })}\n`,
      undefined,
    );
  } else if (c.format === 'junit') {
    const suite = `${build.label} ${c.profile.name} seed ${c.seed}`;
    const cases: ReportCase[] = report.findings.map((f, i) => ({
      name: f.signature,
      suite,
      failure: {
        message: f.title,
        detail: `${f.title}\n${f.replay.map((l, k) => `  ${k + 1}. ${describeReplayLine(l)}`).join('\n')}\nreplay file: ${paths[i] ?? '(stdout: pass --out DIR)'}${f.crash === undefined ? '' : `\n${f.crash.text}`}`,
      },
      diag: { replay: paths[i] ?? '(stdout)', actions: f.actions.length },
    }));
    if (cases.length === 0)
      cases.push({ name: 'no finding', suite, diag: { sequences: report.runs, smcs: report.smcs } });
    writeOutput(toJUnit('ffasim fuzz --kernel', cases, { seconds: report.ms / 1000 }), undefined);
  } else {
    let s = `fuzz ${build.label} (${[...build.sanitize, build.coverage ? 'coverage' : ''].filter(Boolean).join(', ') || 'no sanitizers'}) · profile ${c.profile.name} · seed ${c.seed}: ${report.runs} sequences, ${report.smcs} host SMCs in ${(report.ms / 1000).toFixed(1)} s (${rate} calls/s; ${report.workers} worker process(es))\n`;
    if (report.findings.length === 0) s += 'no finding\n';
    report.findings.forEach((f, i) => {
      s += `FINDING ${pad3(i + 1)} (${f.kind}, ${f.cls}): ${f.title}\n  sequence ${f.index}, shrunk to ${f.actions.length} action(s), ${f.replay.length} replay line(s)${paths[i] === undefined ? '' : `; replay: ${paths[i]}`}\n`;
    });
    if (report.coverage !== undefined) {
      const { coverageText } = await import('../kernel/coverage.ts');
      s += coverageText(report.coverage, lcov);
    }
    if (dir === undefined && report.findings.length > 0) {
      s += `\n# nothing was written: pass --out DIR to keep each finding as DIR/finding-NNN.jsonl (+ .md)${report.coverage === undefined ? '' : ' and the lcov file'}\n`;
      texts.forEach((t, i) => {
        s += `\n# ---- finding ${pad3(i + 1)} (save as a file and run: ffasim replay FILE ${flags}) ----\n${t}`;
      });
    } else if (dir === undefined && report.coverage !== undefined) {
      s += '  (pass --out DIR for the lcov file)\n';
    }
    writeOutput(s, undefined);
  }
  return report.findings.length === 0 ? 0 : 1;
}
