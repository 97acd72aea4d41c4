/**
 * Kernel-mode fuzzing with crash isolation (issue 12 item 4): the real ffa.c runs in a worker process
 * (./fuzz-worker.ts); a sanitizer report, an abort or a signal ends that worker, not ffasim. The parent knows
 * the sequence that was running, reads the report (kind, the ffa.c function and file:line), shrinks the sequence
 * by re-running candidates in fresh workers, records the shrunk one's replay lines (streamed up to the fatal
 * call) and goes on with a new worker. Invariant violations the worker sees (I1–I7, liveness) become findings
 * the same way, without a crash. Sequences are numbered and drawn from (seed, index) alone.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { classify, type FindingClass, freshInput, type SeqInput } from '../check/campaign.ts';
import type { Action, ReplayLine } from '../check/fuzz.ts';
import type { Violation } from '../check/invariants.ts';
import { FFA } from '../ffa/ids.ts';
import { type HostileLie, hashWords, seededPrng } from '../spmc/hostile.ts';
import type { WorldConfig } from '../world/config.ts';
import { asanEnv, type BuildOptions, type KernelBuild } from './build.ts';
import type { FfaCoverage } from './coverage.ts';

/**
 * One numbered sequence of a kernel campaign: host actions, with `fuzz --spmc hostile` how EL3 lies (a plan while
 * fuzzing, the exact lies once a finding is recorded), and the driver start's version when it is not 1.2.
 */
export interface KernelInput extends SeqInput {
  /** The first FFA_VERSION's request when it is a downgrade before negotiation (1.0 or 1.1). */
  version?: number;
}

/** Every FF-A function ID the ABI table knows: FFA_FEATURES probes ask the hyp about each. */
const FIDS = [...new Set(Object.values(FFA) as number[])].sort((a, b) => a - b);

/**
 * The calls the model campaign's generator leaves to its rule keys, which real code has no equivalent of: FFA_FEATURES
 * of any FF-A function (the hyp's supported-call filter), and PARTITION_INFO_GET with its count-only flag and
 * with a UUID no partition has.
 */
function probe(r: { next(): number }): Action {
  switch (r.next() % 3) {
    case 0:
      return { op: 'raw', fid: FFA.FEATURES, args: [FIDS[r.next() % FIDS.length]!] };
    case 1:
      return { op: 'raw', fid: FFA.PARTITION_INFO_GET, args: [0, 0, 0, 0, 1] };
    default:
      return {
        op: 'raw',
        fid: FFA.PARTITION_INFO_GET,
        args: [0x5eed_0000 | (r.next() & 0xffff), 1, 2, 3, 0],
      };
  }
}

/**
 * The sequence of campaign index `i`: a function of (seed, i) alone, so any worker draws the same one. It is the
 * model campaign's fresh sequence (src/check/campaign.ts `freshInput`: the same actions, the same lies with
 * `hostile`), plus in one sequence in four a probe or two, and in one in eight a driver start that asks for
 * FF-A 1.0 or 1.1 (the hyp's downgrade before negotiation).
 */
export function sequenceAt(seed: number, i: number, maxLength: number, hostile = false): KernelInput {
  const r = seededPrng(hashWords(seed, i, 0x6b65_726e));
  const input: KernelInput = freshInput({ hostile, maxLength }, r.next());
  if (r.next() % 4 === 0)
    for (let k = 1 + (r.next() % 2); k > 0; k--)
      input.actions.splice(r.next() % (input.actions.length + 1), 0, probe(r));
  if (r.next() % 8 === 0) input.version = r.next() % 2 === 0 ? 0x10000 : 0x10001;
  return input;
}

/** What the parent tells a worker once, as its first line. */
export interface WorkerSetup {
  tree: string;
  build: Omit<BuildOptions, 'log'>;
  profile: { base: string; with: string[]; without: string[] };
  config: WorldConfig;
  ignore: string[];
  seed: number;
  maxLength: number;
  /** EL3 lies (`fuzz --spmc hostile`): each sequence with its own plan (see {@link sequenceAt}). */
  hostile?: boolean;
}

/** A sanitizer report or another fatal end of the real code, read from the worker's stderr. */
export interface CrashReport {
  /** `AddressSanitizer: heap-buffer-overflow`, `UndefinedBehaviorSanitizer: …`, `signal SIGSEGV`, … */
  kind: string;
  /** The ffa.c function and line the report points at (the first frame in ffa.c), when it names one. */
  func?: string;
  file?: string;
  line?: number;
  /** The report as printed (trimmed to its first 80 lines). */
  text: string;
}

export interface KernelFinding {
  /** `crash` (the worker died), the invariant the worker saw broken, or a WARN_ON of the real code that fired. */
  kind: 'crash' | 'invariant' | 'warn';
  /** Dedup key: crash kind + ffa.c site, the invariant + its detail's first words, or the WARN_ON's site. */
  signature: string;
  title: string;
  /**
   * What the finding means (docs/fuzz.md "Finding classes"): a crash, an I5/I6 break or a WARN_ON with no lie
   * told must hold whatever EL3 does; I1/I7, or a WARN_ON after EL3 lied (the code asserting an honest SPMD),
   * presuppose an honest SPMC.
   */
  cls: FindingClass;
  index: number;
  actions: Action[];
  /** The driver start's version when it was not 1.2. */
  version?: number;
  /** The lies EL3 told in the recorded run (`fuzz --spmc hostile`): the replay file's `spmc.hostile.lies`. */
  lies?: HostileLie[];
  replay: ReplayLine[];
  crash?: CrashReport;
  violation?: Violation;
  /** The WARN_ON as the shim reported it (`func (ffa.c:line): WARN_ON(cond)`). */
  warn?: string;
}

/** What one sequence showed: a violation, or a WARN_ON of the real code (a finding of its own). */
export interface SeqOutcome {
  violation?: Violation;
  warn?: string;
}

export interface KernelCampaignOptions {
  build: KernelBuild;
  setup: WorkerSetup;
  runs?: number;
  timeMs?: number;
  /** Sequences per worker request. */
  batch?: number;
  coverage?: boolean;
  /** Shrinking budget per finding: candidate runs. */
  shrinkRuns?: number;
  progress?: (p: { runs: number; smcs: number; findings: number; ms: number }) => void;
  /** Stop at the first finding (the model fuzzer's behaviour). */
  stopAtFirst?: boolean;
}

export interface KernelCampaignReport {
  runs: number;
  smcs: number;
  ms: number;
  /** Workers started (one, plus one per crash and per crashing shrink candidate). */
  workers: number;
  findings: KernelFinding[];
  coverage?: FfaCoverage;
}

const here = dirname(fileURLToPath(import.meta.url));

/** The worker's entry: beside this module (lib/ or, run through tsx, src/). */
function workerEntry(): { args: string[] } {
  const js = join(here, 'fuzz-worker.js');
  if (existsSync(js)) return { args: [js] };
  // From the sources (tests, a checkout run through tsx): tsx as resolved from here, whatever the cwd.
  return { args: ['--import', import.meta.resolve('tsx'), join(here, 'fuzz-worker.ts')] };
}

/** Parses a worker's stderr for the fatal report (ASan, UBSan, a signal); undefined when there is none. */
export function parseCrash(stderr: string, signal: string | null): CrashReport | undefined {
  const lines = stderr.split('\n');
  const text = lines.slice(0, 80).join('\n').trim();
  const frame = (from: number): Pick<CrashReport, 'func' | 'file' | 'line'> => {
    for (let i = from; i < lines.length; i++) {
      const m = /#\d+ 0x[0-9a-f]+ in (\S+) (\S*ffa\.c):(\d+)/.exec(lines[i]!);
      if (m !== null) return { func: m[1]!, file: m[2]!, line: Number(m[3]) };
    }
    return {};
  };
  for (let i = 0; i < lines.length; i++) {
    const asan = /ERROR: AddressSanitizer: ([\w-]+)/.exec(lines[i]!);
    if (asan !== null) return { kind: `AddressSanitizer: ${asan[1]}`, ...frame(i), text };
    const ubsan = /(\S*ffa\.c):(\d+):\d+: runtime error: (.*)$/.exec(lines[i]!);
    if (ubsan !== null) {
      const f = frame(i);
      return {
        kind: `UndefinedBehaviorSanitizer: ${ubsan[3]!.replace(/0x[0-9a-f]+|\d+/g, 'N')}`,
        ...(f.func === undefined ? {} : { func: f.func }),
        file: ubsan[1]!,
        line: Number(ubsan[2]),
        text,
      };
    }
  }
  if (signal !== null) return { kind: `signal ${signal}`, ...frame(0), text };
  return undefined;
}

const site = (c: CrashReport): string =>
  c.func === undefined ? '' : ` in ${c.func} (${c.file?.slice(c.file.lastIndexOf('/') + 1)}:${c.line})`;

const crashSignature = (c: CrashReport): string => `${c.kind}${site(c)}`;
/** The invariant and its detail's words, numbers as N but an ffa.c line kept (the decision site). */
const violationSignature = (v: Violation): string =>
  `${v.invariant}: ${v.detail.replace(/(?<!ffa\.c:)(0x[0-9a-f]+|\d+)/g, 'N').slice(0, 120)}`;
/** A violation's signature, else a WARN_ON's (its site), else '' (nothing happened). */
const outcomeSignature = (o: SeqOutcome): string =>
  o.violation !== undefined ? violationSignature(o.violation) : o.warn !== undefined ? `WARN ${o.warn}` : '';

type Answer = Record<string, unknown>;

/** One worker process: requests in, answers out; `dead` once it has ended. */
class Worker {
  private readonly child;
  private buf = '';
  private stderr = '';
  private waiting: ((a: Answer | undefined) => void) | undefined;
  private readonly queue: Answer[] = [];
  private ended: { code: number | null; signal: string | null } | undefined;
  /** Answers received in the current request (the at/line markers before a death). */
  readonly marks: Answer[] = [];

  constructor(build: KernelBuild, setup: WorkerSetup) {
    const env = {
      ...process.env,
      ...(build.sanitize.includes('address') ? asanEnv(build) : {}),
      UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
      FFASIM_KERNEL_CHILD: '1',
    };
    this.child = spawn(process.execPath, workerEntry().args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.setEncoding('utf8');
    this.child.stderr.setEncoding('utf8');
    this.child.stdout.on('data', (d: string) => {
      this.buf += d;
      for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        if (line.trim() === '') continue;
        this.deliver(JSON.parse(line) as Answer);
      }
    });
    this.child.stderr.on('data', (d: string) => {
      if (this.stderr.length < 1 << 20) this.stderr += d;
    });
    this.child.on('exit', (code, signal) => {
      this.ended = { code, signal };
      const w = this.waiting;
      this.waiting = undefined;
      w?.(undefined);
    });
    this.child.stdin.on('error', () => {});
    this.child.stdin.write(`${JSON.stringify(setup)}\n`);
  }

  private deliver(a: Answer): void {
    const w = this.waiting;
    if (w !== undefined) {
      this.waiting = undefined;
      w(a);
    } else this.queue.push(a);
  }

  /** The next answer, or undefined once the worker has ended. */
  next(): Promise<Answer | undefined> {
    const q = this.queue.shift();
    if (q !== undefined) return Promise.resolve(q);
    if (this.ended !== undefined) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  send(req: Answer): void {
    this.marks.length = 0;
    this.child.stdin.write(`${JSON.stringify(req)}\n`);
  }

  /** After the worker ended: how (after its stderr has been read to the end). */
  async death(): Promise<{ code: number | null; signal: string | null; stderr: string }> {
    if (this.child.stderr.readable) await new Promise((r) => this.child.stderr.once('close', r));
    return { ...(this.ended ?? { code: null, signal: null }), stderr: this.stderr };
  }

  kill(): void {
    if (this.ended === undefined) this.child.kill('SIGKILL');
  }
}

/** Runs a campaign; resolves when the budget is spent (or at the first finding with `stopAtFirst`). */
export async function kernelCampaign(o: KernelCampaignOptions): Promise<KernelCampaignReport> {
  const t0 = performance.now();
  const batch = o.batch ?? 32;
  const runsBudget = o.runs ?? (o.timeMs === undefined ? 2000 : Number.MAX_SAFE_INTEGER);
  const report: KernelCampaignReport = { runs: 0, smcs: 0, ms: 0, workers: 0, findings: [] };
  const seen = new Set<string>();
  let worker: Worker | undefined;
  const fresh = async (): Promise<Worker> => {
    const w = new Worker(o.build, o.setup);
    report.workers++;
    const ready = await w.next();
    if (ready === undefined || ready.ready !== true) {
      const d = await w.death();
      throw new Error(
        `the kernel fuzz worker did not start (exit ${d.code ?? d.signal}):\n${d.stderr.trim()}`,
      );
    }
    if (o.coverage === true) {
      // The first worker's measurement starts with the conformance suite (check + fuzz, issue 12 item 7).
      w.send({ op: 'coverage-start', withCheck: report.workers === 1 });
      await w.next();
    }
    return w;
  };
  const elapsed = (): number => performance.now() - t0;
  const outOfTime = (): boolean => o.timeMs !== undefined && elapsed() >= o.timeMs;
  let coverage: FfaCoverage | undefined;
  const collectCoverage = async (w: Worker): Promise<void> => {
    if (o.coverage !== true) return;
    w.send({ op: 'coverage' });
    const a = await w.next();
    const c = a?.coverage as FfaCoverage | null | undefined;
    if (c) {
      const { mergeCoverage } = await import('./coverage.ts');
      coverage = coverage === undefined ? c : mergeCoverage(coverage, c);
    }
  };

  /** Runs one sequence in `w`; what happened (the worker may have died). */
  const runOne = async (
    w: Worker,
    input: KernelInput,
    record: boolean,
  ): Promise<
    SeqOutcome & { crash?: CrashReport; lines: ReplayLine[]; lies?: HostileLie[]; dead: boolean }
  > => {
    w.send({ op: 'one', input, record });
    const lines: ReplayLine[] = [];
    const lies: HostileLie[] = [];
    for (;;) {
      const a = await w.next();
      if (a === undefined) {
        const d = await w.death();
        const crash = parseCrash(d.stderr, d.signal) ?? {
          kind: `worker exit ${d.code}`,
          text: d.stderr.trim().split('\n').slice(0, 80).join('\n'),
        };
        return { crash, lines, ...(lies.length === 0 ? {} : { lies }), dead: true };
      }
      if (a.line !== undefined) lines.push(a.line as ReplayLine);
      else if (a.lie !== undefined) lies.push(a.lie as HostileLie);
      else if (a.one !== undefined) {
        const one = a.one as SeqOutcome & { smcs: number; lies?: HostileLie[] };
        return {
          ...(one.violation === undefined ? {} : { violation: one.violation }),
          ...(one.warn === undefined ? {} : { warn: one.warn }),
          ...(one.lies === undefined ? {} : { lies: one.lies }),
          lines,
          dead: false,
        };
      }
    }
  };

  /** Greedy shrink: drop one action at a time while the same signature still shows (each crash: a new worker). */
  const shrink = async (input: KernelInput, signature: string): Promise<KernelInput> => {
    let best = input;
    let budget = o.shrinkRuns ?? 64;
    let progress = true;
    while (progress && budget > 0) {
      progress = false;
      for (let k = best.actions.length - 1; k >= 0 && budget > 0; k--) {
        const cand = { ...best, actions: [...best.actions.slice(0, k), ...best.actions.slice(k + 1)] };
        budget--;
        worker ??= await fresh();
        const r = await runOne(worker, cand, false);
        // A dead worker's counters die with it: coverage counts the runs of workers that ended normally.
        if (r.dead) worker = undefined;
        const sig = r.crash !== undefined ? crashSignature(r.crash) : outcomeSignature(r);
        if (sig === signature) {
          best = cand;
          progress = true;
        }
      }
    }
    return best;
  };

  const addFinding = async (
    index: number,
    input: KernelInput,
    what: SeqOutcome & { crash?: CrashReport },
  ): Promise<void> => {
    const signature = what.crash !== undefined ? crashSignature(what.crash) : outcomeSignature(what);
    if (seen.has(signature)) return;
    seen.add(signature);
    const shrunk = await shrink(input, signature);
    worker ??= await fresh();
    const rec = await runOne(worker, shrunk, true);
    if (rec.dead) worker = undefined;
    const crash = rec.crash ?? what.crash;
    const violation = rec.violation ?? what.violation;
    const warn = rec.warn ?? what.warn;
    const lied = rec.lies !== undefined && rec.lies.length > 0;
    report.findings.push({
      kind: what.crash !== undefined ? 'crash' : what.violation !== undefined ? 'invariant' : 'warn',
      signature,
      cls:
        what.crash !== undefined
          ? 'holds-when-el3-lies'
          : violation !== undefined && what.violation !== undefined
            ? classify(violation).cls
            : lied
              ? 'presupposes-honest-spmc'
              : 'holds-when-el3-lies',
      title:
        what.crash !== undefined
          ? `${crash!.kind}${site(crash!)}`
          : what.violation !== undefined
            ? `${violation!.invariant}: ${violation!.detail}`
            : `WARN_ON in ${warn}`,
      index,
      actions: shrunk.actions,
      ...(shrunk.version === undefined ? {} : { version: shrunk.version }),
      ...(rec.lies === undefined || rec.lies.length === 0 ? {} : { lies: rec.lies }),
      replay: rec.lines,
      ...(what.crash !== undefined && crash !== undefined ? { crash } : {}),
      ...(what.violation !== undefined && violation !== undefined ? { violation } : {}),
      ...(what.crash === undefined && what.violation === undefined && warn !== undefined ? { warn } : {}),
    });
  };

  try {
    let next = 0;
    while (next < runsBudget && !outOfTime()) {
      if (o.stopAtFirst === true && report.findings.length > 0) break;
      worker ??= await fresh();
      const count = Math.min(batch, runsBudget - next);
      worker.send({ op: 'batch', from: next, count });
      let at = next - 1;
      const found: (SeqOutcome & { i: number; input: KernelInput })[] = [];
      let done = false;
      for (;;) {
        const a = await worker.next();
        if (a === undefined) break;
        if (typeof a.at === 'number') at = a.at;
        else if (a.finding !== undefined) found.push(a.finding as (typeof found)[number]);
        else if (a.batch !== undefined) {
          report.smcs += (a.batch as { smcs: number }).smcs;
          done = true;
          break;
        }
      }
      for (const f of found) await addFinding(f.i, f.input, f);
      if (done) {
        report.runs += count;
        next += count;
      } else {
        // The worker died in sequence `at`: a crash finding; the sequences before it ran.
        const dead = worker!;
        worker = undefined;
        const d = await dead.death();
        report.runs += at - next + 1;
        const crash = parseCrash(d.stderr, d.signal) ?? {
          kind: `worker exit ${d.code}`,
          text: d.stderr.trim().split('\n').slice(0, 80).join('\n'),
        };
        await addFinding(at, sequenceAt(o.setup.seed, at, o.setup.maxLength, o.setup.hostile), { crash });
        next = at + 1;
      }
      o.progress?.({ runs: report.runs, smcs: report.smcs, findings: report.findings.length, ms: elapsed() });
    }
    if (worker !== undefined) {
      await collectCoverage(worker);
      worker.send({ op: 'exit' });
      await worker.next();
    }
  } finally {
    worker?.kill();
  }
  report.ms = elapsed();
  if (coverage !== undefined) report.coverage = coverage;
  return report;
}
