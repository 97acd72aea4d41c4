/**
 * `ffasim fuzz`: an adversarial campaign with invariants after every call (src/check/campaign.ts), going on after
 * findings until its budget. With `--out DIR` the distinct findings (shrunk replay + report each), the corpus and
 * the state for `--resume` go to DIR; without it nothing is written and the shrunk replays go to stdout. Exit 0
 * no finding, 1 finding(s), 2 usage error. docs/fuzz.md.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CampaignContext,
  type CampaignOptions,
  type CampaignState,
  CampaignStateError,
  DEFAULT_BATCH,
  type Finding,
  findingReplayText,
  findingReport,
  initialState,
  inputAt,
  mergeResults,
  type SeqResult,
  stateFromJSON,
  stateToJSON,
} from '../check/campaign.ts';
import type { ReplayLine } from '../check/fuzz.ts';
import { RegisterFile } from '../smccc/regs.ts';
import { describeCall } from '../trace/text.ts';
import { defaultWorldConfig, type WorldConfig } from '../world/config.ts';
import { intOption, loadWorld, profileFrom, secondsOption, UsageError, writeOutput } from './common.ts';
import { BatchPipeline, type BatchRunner, setupOf, ThreadRunner } from './fuzz-runners.ts';
import type { KernelCliOpts } from './kernel-opt.ts';
import { type ReportCase, toJUnit } from './reports.ts';
import { unknownName } from './suggest.ts';

export interface FuzzOpts extends KernelCliOpts {
  profile?: string;
  with?: string[];
  without?: string[];
  world?: string;
  seed: string;
  runs?: string;
  time?: string;
  spmcQuirks?: string[];
  ignore?: string[];
  /** The campaign directory (nothing is written without it). */
  out?: string;
  json?: boolean;
  format?: 'text' | 'json' | 'junit';
}

/** Named SPMC misbehaviours (JSON-expressible, so a finding's replay file carries them). */
export const QUIRK_PRESETS: Record<string, (q: WorldConfig['spmc']['quirks']) => void> = {
  'share-success64': (q) => {
    q.shareSuccess64 = true; // H20
  },
  'version-ns32': (q) => {
    q.versionNotSupported32 = true; // H17
  },
  'features-extra': (q) => {
    q.featuresRxtxExtraBits = 0x0001_0000; // H9
  },
  'retrieve-short': (q) => {
    q.retrievePatch = { offset: 52, value: 90, length: 96 }; // H13 (a): composite header past len
  },
  'retrieve-count': (q) => {
    q.retrievePatch = { offset: 84, value: 2 }; // H13 (b): addr_range_cnt past len
  },
  'frag-rx-long': (q) => {
    q.fragRxLengthAdd = 4096; // FRAG_TX lengths beyond the mailbox: the reclaim loop copies them unchecked
  },
  'frag-rx-zero': (q) => {
    q.fragRxLengthAdd = -65536; // zero-length fragments: the reclaim loop makes no progress
  },
  'retrieve-emad': (q) => {
    q.retrievePatch = { offset: 32, value: 48, length: 50 }; // H14 reclaim: EMAD past fraglen
  },
};

export const INVARIANTS = ['I1', 'I2', 'I3', 'I4', 'I5', 'I6', 'I7'];

/** One replay line as a person reads it: a decoded host SMC, or the memory action as written. */
export function describeReplayLine(line: ReplayLine): string {
  const smc = line.smc;
  if (Array.isArray(smc)) {
    try {
      const regs = RegisterFile.of(smc.map((v) => BigInt(v as string | number)));
      return `smc ${describeCall(regs)}${line.cpu === undefined ? '' : ` on cpu${String(line.cpu)}`}`;
    } catch {
      return JSON.stringify(line);
    }
  }
  const write = line.write as { addr?: unknown; hex?: unknown } | undefined;
  if (write !== undefined && typeof write.hex === 'string')
    return `write ${write.hex.length / 2} bytes at ${String(write.addr)}: ${write.hex}`;
  if (typeof line['#'] === 'string') return `# ${line['#']}`;
  return JSON.stringify(line);
}

/**
 * The campaign as CI test cases: one per invariant I1–I7 (skipped where `--ignore`d), failing with its findings'
 * decoded sequences and replay files.
 */
function fuzzCases(
  o: CampaignOptions,
  st: CampaignState,
  files: (f: Finding) => string | undefined,
): ReportCase[] {
  const suite = `${o.profile.name} seed ${o.seed}`;
  return INVARIANTS.map((inv): ReportCase => {
    const fs = st.findings.filter((f) => f.invariant === inv);
    if (fs.length > 0) {
      const detail = fs
        .map((f) => {
          const steps = f.replay.map((l, i) => `  ${i + 1}. ${describeReplayLine(l)}`).join('\n');
          const file = files(f);
          return `${inv}: ${f.detail} (${f.cls}; at ${f.call}, site ${f.site})\nshrunk to ${f.input.actions.length} action(s), ${f.replay.length} replay line(s):\n${steps}${file === undefined ? '' : `\nreplay file: ${file}\nreproduce: ffasim replay ${file}`}`;
        })
        .join('\n\n');
      return {
        name: inv,
        suite,
        failure: {
          message: `${inv}: ${fs[0]!.detail}${fs.length > 1 ? ` (+${fs.length - 1} more)` : ''}`,
          detail,
        },
        diag: { findings: fs.length },
      };
    }
    if (o.ignore.includes(inv)) return { name: inv, suite, skipped: 'ignored (--ignore)' };
    return { name: inv, suite, diag: { sequences: st.next, smcs: st.smcs } };
  });
}

/** What the command line adds for model-mode campaigns. */
export interface FuzzCliOpts extends FuzzOpts {
  resume?: boolean;
  calls?: string;
  spmc?: string;
  guidance?: boolean;
  quiet?: boolean;
  /** Worker threads (`--workers N`; 1: this thread). */
  workers?: string;
  /** A BullMQ queue (`redis://HOST:PORT`): the sequences run as jobs on `ffasim worker` processes. */
  queue?: string;
}

const SPMC_MODES = ['honest', 'hostile'];

function pad3(n: number): string {
  return String(n).padStart(3, '0');
}

/** DIR as the campaign keeps it: findings, corpus, state (docs/fuzz.md "Campaign folder"). */
class CampaignDir {
  readonly dir: string;
  private corpusWritten = 0;
  constructor(dir: string) {
    this.dir = dir;
  }

  private write(name: string, text: string): void {
    const path = join(this.dir, name);
    try {
      writeFileSync(`${path}.tmp`, text);
      renameSync(`${path}.tmp`, path);
    } catch (e) {
      throw new UsageError(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  }

  create(): void {
    try {
      mkdirSync(join(this.dir, 'corpus'), { recursive: true });
    } catch (e) {
      throw new UsageError(
        `--out ${this.dir}: cannot create it (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
      );
    }
  }

  /** The saved state and corpus; UsageError naming the file when they are missing or corrupt. */
  load(o: CampaignOptions): CampaignState {
    const file = join(this.dir, 'state.json');
    if (!existsSync(file))
      throw new UsageError(`--resume: ${file} does not exist (no campaign to continue in ${this.dir})`);
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new UsageError(`--resume: ${file} is not valid JSON (${(e as Error).message})`);
    }
    const cdir = join(this.dir, 'corpus');
    const names = existsSync(cdir)
      ? readdirSync(cdir)
          .filter((n) => /^\d{6}\.json$/.test(n))
          .sort()
      : [];
    const corpus = names.map((n, i) => {
      if (n !== `${String(i).padStart(6, '0')}.json`)
        throw new UsageError(
          `--resume: ${join(cdir, n)}: corpus files must be numbered from 000000 without gaps`,
        );
      try {
        return JSON.parse(readFileSync(join(cdir, n), 'utf8')) as unknown;
      } catch (e) {
        throw new UsageError(`--resume: ${join(cdir, n)} is not valid JSON (${(e as Error).message})`);
      }
    });
    try {
      const st = stateFromJSON(o, json, corpus, file);
      this.corpusWritten = st.corpus.length;
      return st;
    } catch (e) {
      if (e instanceof CampaignStateError) throw new UsageError(`--resume: ${e.message}`);
      throw e;
    }
  }

  finding(o: CampaignOptions, f: Finding): void {
    const name = `finding-${pad3(f.id)}`;
    this.write(`${name}.jsonl`, findingReplayText(o, f));
    this.write(`${name}.md`, findingReport(o, f, `${name}.jsonl`, describeReplayLine));
  }

  checkpoint(o: CampaignOptions, st: CampaignState): void {
    for (; this.corpusWritten < st.corpus.length; this.corpusWritten++)
      this.write(
        join('corpus', `${String(this.corpusWritten).padStart(6, '0')}.json`),
        `${JSON.stringify(st.corpus[this.corpusWritten])}\n`,
      );
    this.write('state.json', `${JSON.stringify(stateToJSON(o, st), null, 1)}\n`);
  }

  summary(text: string, json: string): void {
    this.write('summary.md', text);
    this.write('summary.json', json);
  }
}

/** `--workers N` or `--queue URL`: where the batches run; undefined: in this thread. */
async function runnerFor(o: FuzzCliOpts, co: CampaignOptions): Promise<BatchRunner | undefined> {
  const workers = o.workers === undefined ? 1 : intOption('--workers', o.workers, 1, 256);
  if (o.queue !== undefined) {
    if (o.workers !== undefined)
      throw new UsageError("--workers and --queue: the queue's workers are `ffasim worker` processes");
    const { QueueRunner } = await import('./queue.ts');
    return QueueRunner.open(o.queue, setupOf(co));
  }
  return workers === 1 ? undefined : new ThreadRunner(setupOf(co), workers);
}

function findingRow(f: Finding, file: string | undefined): string {
  return `| ${pad3(f.id)} | ${f.invariant} | ${f.cls} | ${f.kind} | ${f.call} | \`${f.site}\` | ${f.fixes.length === 0 ? '—' : f.fixes.join(', ')} | ${file ?? '(stdout)'} | ${f.detail.replace(/\|/g, '\\|')} |`;
}

export async function runFuzzCommand(o: FuzzCliOpts): Promise<number> {
  const profile = profileFrom(o);
  const config = loadWorld(o.world) ?? defaultWorldConfig();
  for (const q of o.spmcQuirks ?? []) {
    const apply = QUIRK_PRESETS[q];
    if (apply === undefined)
      throw new UsageError(`--spmc-quirks: ${unknownName('SPMC quirk', q, Object.keys(QUIRK_PRESETS))}`);
    apply(config.spmc.quirks);
  }
  for (const i of o.ignore ?? [])
    if (!INVARIANTS.includes(i)) throw new UsageError(`--ignore: ${unknownName('invariant', i, INVARIANTS)}`);
  if (INVARIANTS.every((i) => o.ignore?.includes(i)))
    throw new UsageError('--ignore names every invariant: the campaign would check nothing');
  const seed = intOption('--seed', o.seed, 0, 0xffff_ffff);
  const runs =
    o.runs === undefined
      ? undefined
      : intOption('--runs', o.runs, 1, Number.MAX_SAFE_INTEGER, 'a positive integer');
  const calls =
    o.calls === undefined
      ? undefined
      : intOption('--calls', o.calls, 1, Number.MAX_SAFE_INTEGER, 'a positive integer');
  const time = o.time === undefined ? undefined : secondsOption('--time', o.time);
  if (o.json && o.format !== undefined && o.format !== 'text' && o.format !== 'json')
    throw new UsageError(`--json is --format json: it does not go with --format ${o.format}`);
  const format = o.json ? 'json' : (o.format ?? 'text');
  const spmc = o.spmc ?? 'honest';
  if (!SPMC_MODES.includes(spmc))
    throw new UsageError(`--spmc: ${unknownName('SPMC mode', spmc, SPMC_MODES)}`);
  if (o.kernel !== undefined || o.sanitize !== undefined || o.coverage === true) {
    if (o.resume || calls !== undefined)
      throw new UsageError('--resume and --calls are model-mode campaign options (not with --kernel)');
    if (o.workers !== undefined || o.queue !== undefined)
      throw new UsageError(
        `${o.workers !== undefined ? '--workers' : '--queue'} splits a model-mode campaign; with --kernel the real code runs in its own crash-isolated worker process`,
      );
    // Kernel mode: the real ffa.c in a worker process that may crash (src/kernel/campaign.ts).
    const { runKernelFuzz } = await import('./kernel-fuzz-cmd.ts');
    return runKernelFuzz(o, { profile, config, seed, runs, time, format, hostile: spmc === 'hostile' });
  }
  if (o.resume && o.out === undefined)
    throw new UsageError('--resume needs --out DIR (the campaign to continue)');
  if (o.out !== undefined && /\.jsonl?$/.test(o.out))
    throw new UsageError(
      `--out ${o.out}: --out names a campaign directory (finding-NNN.jsonl files go inside it), not a file`,
    );
  const dir = o.out === undefined ? undefined : new CampaignDir(o.out);
  if (dir !== undefined && !o.resume && existsSync(o.out!) && readdirSync(o.out!).length > 0)
    throw new UsageError(
      `--out ${o.out}: the directory is not empty — pass --resume to continue its campaign, or name another directory`,
    );

  const co: CampaignOptions = {
    profile,
    config,
    seed,
    hostile: spmc === 'hostile',
    guided: o.guidance !== false,
    ignore: o.ignore ?? [],
  };
  const st = dir !== undefined && o.resume ? dir.load(co) : initialState();
  dir?.create();
  const ctx = new CampaignContext(co);
  const batch = co.batchSize ?? DEFAULT_BATCH;
  const runBudget = runs ?? (time === undefined && calls === undefined ? 2000 : undefined);
  const t0 = performance.now();
  const deadline = time === undefined ? undefined : t0 + time * 1000;
  const startRuns = st.next;
  const startSmcs = st.smcs;
  const quiet = o.quiet === true;
  const tty = !quiet && process.stderr.isTTY === true && format === 'text';
  let lastShown = 0;
  const progress = (pending: number, final = false): void => {
    if (quiet) return;
    const now = performance.now();
    if (!final && now - lastShown < (tty ? 250 : 1000)) return;
    lastShown = now;
    const ms = now - t0;
    const done = st.smcs + pending - startSmcs;
    const rate = ms > 0 ? Math.round((done * 1000) / ms) : 0;
    const left =
      deadline !== undefined
        ? `${Math.max(0, (deadline - now) / 1000).toFixed(0)} s left`
        : runBudget !== undefined
          ? `${Math.max(0, runBudget - st.next)} sequences left`
          : `${Math.max(0, (calls ?? 0) - st.smcs - pending)} calls left`;
    if (format === 'json')
      process.stderr.write(
        `${JSON.stringify({ progress: { elapsedMs: Math.round(ms), sequences: st.next, smcs: st.smcs + pending, callsPerSecond: rate, coverage: st.coverage.size, corpus: st.corpus.length, findings: st.findings.length } })}\n`,
      );
    else if (tty)
      process.stderr.write(
        `\r  ${(ms / 1000).toFixed(1)} s · ${st.smcs + pending} calls (${rate}/s) · coverage ${st.coverage.size} · corpus ${st.corpus.length} · ${st.findings.length} finding(s) · ${left}   `,
      );
  };
  const over = (pendingSmcs: number, index: number): boolean =>
    (runBudget !== undefined && index >= runBudget) ||
    (calls !== undefined && st.smcs + pendingSmcs >= calls) ||
    (deadline !== undefined && performance.now() >= deadline);

  const runner = await runnerFor(o, co);
  const pipeline =
    runner === undefined
      ? undefined
      : new BatchPipeline(runner, batch, runBudget, deadline !== undefined || calls !== undefined);
  let stop = over(0, st.next);
  try {
    while (!stop) {
      const end = (Math.floor(st.next / batch) + 1) * batch;
      let results: SeqResult[] = [];
      let pending = 0;
      if (pipeline === undefined) {
        for (let i = st.next; i < end; i++) {
          if (over(pending, i)) {
            stop = true;
            break;
          }
          const r = ctx.result(i, inputAt(co, st.corpus, st.batchCorpus, i));
          pending += r.smcs;
          results.push(r);
          progress(pending);
        }
      } else {
        // Elsewhere, a batch at a time (the next one already running): the run budget cuts exactly, --time and
        // --calls at batch ends.
        results = await pipeline.next(st);
        if (runBudget !== undefined && runBudget < end) stop = true;
        progress(0);
      }
      for (const f of mergeResults(ctx, st, results)) {
        dir?.finding(co, f);
        if (!quiet && !tty && format === 'text')
          process.stderr.write(
            `finding ${pad3(f.id)}: ${f.invariant} at ${f.call} (${f.cls}) — ${f.detail}\n`,
          );
      }
      dir?.checkpoint(co, st);
      if (!stop) stop = over(0, st.next);
    }
  } finally {
    await runner?.close();
  }
  progress(0, true);
  if (tty) process.stderr.write('\n');

  const ms = performance.now() - t0;
  const smcs = st.smcs - startSmcs;
  const rate = ms > 0 ? Math.round((smcs * 1000) / ms) : 0;
  const fileOf = (f: Finding): string | undefined =>
    dir === undefined ? undefined : join(dir.dir, `finding-${pad3(f.id)}.jsonl`);
  const summaryJson = {
    profile: profile.name,
    seed,
    spmc,
    guided: co.guided,
    runs: st.next,
    smcs: st.smcs,
    thisSession: { runs: st.next - startRuns, smcs, ms: Math.round(ms), callsPerSecond: rate },
    coverage: st.coverage.size,
    corpus: st.corpus.length,
    findings: st.findings.map((f) => ({
      id: f.id,
      invariant: f.invariant,
      class: f.cls,
      kind: f.kind,
      call: f.call,
      site: f.site,
      detail: f.detail,
      fixes: f.fixes,
      sequence: f.index,
      ...(dir === undefined ? {} : { replay: fileOf(f) }),
    })),
  };
  const table = [
    '| # | invariant | class | kind | call | site | fixed by | replay | detail |',
    '|---|---|---|---|---|---|---|---|---|',
    ...st.findings.map((f) => findingRow(f, fileOf(f))),
  ].join('\n');
  const head = `fuzz ${profile.name}${co.hostile ? ', hostile SPMC' : ''}${co.guided ? '' : ', no guidance'} seed ${seed}: ${st.next} sequences, ${st.smcs} host SMCs (this session ${smcs} in ${(ms / 1000).toFixed(1)} s, ${rate} calls/s; invariants after every call); coverage ${st.coverage.size}, corpus ${st.corpus.length}`;
  const text = `${head}\n${st.findings.length === 0 ? 'no invariant violated\n' : `${st.findings.length} distinct finding(s):\n\n${table}\n`}${
    st.next > startRuns
      ? `reproduce this campaign: ffasim fuzz --seed ${seed} --runs ${st.next}${co.hostile ? ' --spmc hostile' : ''}${co.guided ? '' : ' --no-guidance'} …\n`
      : ''
  }`;
  dir?.summary(`# ffasim fuzz campaign\n\n${text}`, `${JSON.stringify(summaryJson, null, 1)}\n`);
  if (format === 'junit') {
    writeOutput(toJUnit('ffasim fuzz', fuzzCases(co, st, fileOf), { seconds: ms / 1000 }), undefined);
  } else if (format === 'json') {
    const replays =
      dir === undefined ? { replays: st.findings.map((f) => findingReplayText(co, f)) } : { out: dir.dir };
    writeOutput(
      `${JSON.stringify({ ...summaryJson, ms: Math.round(ms), callsPerSecond: rate, ...replays })}\n`,
      undefined,
    );
  } else {
    let out = text;
    if (dir === undefined && st.findings.length > 0) {
      out +=
        '\n# nothing was written: pass --out DIR to keep each finding as DIR/finding-NNN.jsonl (+ .md) and resume later\n';
      for (const f of st.findings)
        out += `\n# ---- finding ${pad3(f.id)} (save as a file and run: ffasim replay FILE) ----\n${findingReplayText(co, f)}`;
    }
    writeOutput(out, undefined);
  }
  return st.findings.length === 0 ? 0 : 1;
}
