/**
 * `ffasim diff --kernel <tree>`: the model proxy and a kernel tree's real ffa.c, call by call, over built-in
 * scenarios, replay files and a seeded fuzz batch (src/check/differential.ts). Exit 1 on a divergence, 0 when
 * none, 2 on bad input. The profile defaults to what `kernel identify` says the tree behaves like.
 */

import { profileDelta } from '../check/campaign.ts';
import {
  type CallRecord,
  type DiffSide,
  type DiffSubject,
  type Divergence,
  type DivergenceReport,
  diffSubject,
  divergenceJSON,
  divergenceText,
  type SubjectResult,
} from '../check/differential.ts';
import type { Profile } from '../hyp/profiles.ts';
import type { buildKernel as BuildKernel, KernelBuild } from '../kernel/build.ts';
import type { beginCoverage as BeginCoverage, CoverageSession } from '../kernel/coverage.ts';
import type { KernelHyp as KernelHypClass } from '../kernel/hyp.ts';
import { BUILTIN_SCENARIOS } from '../scenario/builtin/index.ts';
import { parseReplay, type ReplayAction } from '../scenario/replay.ts';
import { RegisterFile } from '../smccc/regs.ts';
import type { WorldConfig } from '../world/config.ts';
import { defaultWorldConfig } from '../world/config.ts';
import {
  emptyInput,
  intOption,
  loadWorld,
  profileFrom,
  readInput,
  UsageError,
  warn,
  writeOutput,
} from './common.ts';
import { type HypFactory, type KernelCliOpts, kernelMode } from './kernel-opt.ts';
import { resolveScenario, seedFrom } from './run-cmd.ts';

export interface DiffOpts extends KernelCliOpts {
  profile?: string;
  with?: string[];
  without?: string[];
  world?: string;
  fuzz?: string;
  seed: string;
  maxLength?: string;
  json?: boolean;
  out?: string;
  /** A BullMQ queue (`redis://HOST:PORT`): one job per subject, run by `ffasim worker` processes. */
  queue?: string;
}

/**
 * One subject of a `diff --queue` sweep, as plain data: the tree as the worker's machine names it (a path there,
 * or `debian:<version>`, fetched into that machine's cache), the profile, and a built-in scenario, a replay
 * file's actions or a seeded fuzz batch.
 */
export interface DiffJob {
  kernel: string;
  profile: { base: string; with: string[]; without: string[] };
  subject:
    | { kind: 'scenario'; name: string; seed?: number; config?: WorldConfig }
    | { kind: 'replay'; name: string; actions: ReplayAction[]; config: WorldConfig }
    | { kind: 'fuzz'; seed: number; runs: number; maxLength?: number; config?: WorldConfig };
}

/** A call record as JSON carries it: register files as their x0–x17 hex. */
type WireRecord = Omit<CallRecord, 'in' | 'out' | 'el3'> & {
  in: string[];
  out?: string[];
  el3: { call: string[]; ret: string[] }[];
};
/** A subject's result with its call records as `C` (JSON leaves out an undefined record). */
type WithRecords<C> = Omit<SubjectResult, 'divergences'> & {
  divergences: (Omit<DivergenceReport, 'divergence'> & {
    divergence: Omit<Divergence, 'a' | 'b'> & { a: C | undefined; b: C | undefined };
  })[];
};

/** A diff job's answer: which code the worker ran, and the subject's result (registers as hex). */
export interface DiffJobResult {
  tree: string;
  code: string;
  result: WithRecords<WireRecord>;
}

function recordToWire(c: CallRecord): WireRecord {
  const { out, ...rest } = c;
  return {
    ...rest,
    in: c.in.toHex(),
    ...(out === undefined ? {} : { out: out.toHex() }),
    el3: c.el3.map((e) => ({ call: e.call.toHex(), ret: e.ret.toHex() })),
  };
}

function recordFromWire(c: WireRecord): CallRecord {
  const regs = (hex: readonly string[]) => RegisterFile.of(hex.map((h) => BigInt(h)));
  const { out, ...rest } = c;
  return {
    ...rest,
    in: regs(c.in),
    out: out === undefined ? undefined : regs(out),
    el3: c.el3.map((e) => ({ call: regs(e.call), ret: regs(e.ret) })),
  };
}

/** `r` with each divergence's two call records mapped by `f` (to the wire and back). */
function mapRecords<A, B>(r: WithRecords<A>, f: (c: A) => B): WithRecords<B> {
  return {
    ...r,
    divergences: r.divergences.map((x) => {
      const { a, b, ...d } = x.divergence;
      return {
        ...x,
        divergence: { ...d, a: a === undefined ? undefined : f(a), b: b === undefined ? undefined : f(b) },
      };
    }),
  };
}

/** Fuzz sequences run when no subject is named (every built-in scenario plus this batch). */
export const DEFAULT_FUZZ_RUNS = 100;

export async function runDiffCommand(names: string[], o: DiffOpts): Promise<number> {
  if (o.kernel === undefined)
    throw new UsageError(
      'diff compares the model with a real ffa.c: give --kernel <tree> (a path or debian:<version>)',
    );
  if (o.coverage === true) throw new UsageError('--coverage goes with check and fuzz, not diff');
  if (o.stackInit !== undefined && o.stackInit !== 'pattern')
    throw new UsageError(
      `--stack-init ${o.stackInit}: diff needs the pattern fill to tell uninitialised registers (H16) from values`,
    );
  const config = loadWorld(o.world);
  const seed = seedFrom(o.seed);
  const fuzzRuns = o.fuzz === undefined ? undefined : intOption('--fuzz', o.fuzz, 1, 1_000_000);
  const maxLength = o.maxLength === undefined ? undefined : intOption('--max-length', o.maxLength, 0, 256);
  // Subjects first: a typo in a scenario name is a usage error before any building.
  const subjects: DiffSubject[] = [];
  for (const name of names) subjects.push(await subjectFor(name, config));
  if (names.length === 0 || fuzzRuns !== undefined) {
    if (names.length === 0)
      for (const s of BUILTIN_SCENARIOS)
        subjects.push({ kind: 'scenario', scenario: s, seed, ...(config ? { config } : {}) });
    subjects.push({
      kind: 'fuzz',
      seed,
      runs: fuzzRuns ?? DEFAULT_FUZZ_RUNS,
      ...(maxLength === undefined ? {} : { maxLength }),
      ...(config ? { config } : {}),
    });
  }
  if (o.queue !== undefined) return diffOnQueue(o.queue, o, subjects);
  const k = await kernelMode({ ...o, stackInit: 'pattern' }, config?.pageSize ?? 4096);
  if (typeof k === 'number') return k;
  if (k === undefined) throw new UsageError('--kernel is required');
  const { tree } = k.build;
  let profile: Profile;
  let identified = '';
  if (o.profile === undefined && (o.with?.length ?? 0) === 0 && (o.without?.length ?? 0) === 0) {
    const { identifyIsolated } = await import('./kernel-identify-cmd.ts');
    const id = await identifyIsolated(o.kernel);
    if (typeof id === 'number') return id;
    profile = profileFrom({ profile: id.best });
    identified = ` (identify: ${id.best})`;
  } else profile = profileFrom(o);
  const model: DiffSide = { label: `model ${profile.name}`, profile };
  const { buildKernel } = await import('../kernel/build.ts');
  const { beginCoverage } = await import('../kernel/coverage.ts');
  const { KernelHyp } = await import('../kernel/hyp.ts');
  const lines = linesHypFor(k.build, k.hyp, { buildKernel, beginCoverage, KernelHyp });
  const real: DiffSide = {
    label: k.build.label,
    profile,
    hyp: k.hyp,
    linesHyp: lines.hyp,
  };
  let results: SubjectResult[];
  try {
    results = subjects.map((s) => diffSubject(s, model, real));
  } finally {
    lines.done();
  }
  return report(o, results, { tree, code: k.build.label, profile, model, real, identified });
}

/** The report of a diff, from this process or from queue jobs: text or JSON. Exit 1 on a divergence. */
function report(
  o: DiffOpts,
  results: readonly SubjectResult[],
  r: { tree: string; code: string; profile: Profile; model: DiffSide; real: DiffSide; identified: string },
): number {
  const { tree, profile, model, real, identified } = r;
  const divergences = results.flatMap((x) => x.divergences);
  if (o.json === true) {
    writeOutput(
      `${JSON.stringify(
        {
          tree,
          code: r.code,
          profile: profile.name,
          ...(identified === '' ? {} : { identified: profile.base }),
          subjects: results.map((r) => ({
            subject: r.subject,
            calls: r.calls,
            ...(r.sequences === undefined ? {} : { sequences: r.sequences }),
            ...(r.stopped === undefined ? {} : { stopped: r.stopped }),
            divergences: r.divergences.length,
          })),
          divergences: divergences.map(divergenceJSON),
        },
        null,
        2,
      )}\n`,
      o.out,
    );
  } else {
    let s = `ffasim diff · ${model.label}${identified} vs ${real.label} (${tree})\n`;
    for (const r of results) {
      const n = r.divergences.length;
      const seq =
        (r.sequences === undefined ? '' : `, ${r.sequences} sequences`) +
        (r.stopped === undefined
          ? ''
          : `, ${r.stopped} stopped on the real code before a call the model says accesses past a hyp buffer`);
      s += `  ${n === 0 ? 'same' : 'DIFF'}  ${r.subject}: ${r.calls} host calls${seq}${n === 0 ? '' : `, ${n} divergence(s)`}\n`;
    }
    for (const d of divergences) s += `\n${divergenceText(d, model, real)}`;
    s += `\n${divergences.length} divergence(s) over ${results.length} subject(s)\n`;
    writeOutput(s, o.out);
  }
  return divergences.length > 0 ? 1 : 0;
}

/**
 * `diff --queue URL`: each subject a job for `ffasim worker` processes, which build (or find in their cache) the
 * tree and run the subject on both sides; the report as one process writes it. The profile must be named: the
 * tree may not be on this machine, so `identify` cannot run here.
 */
async function diffOnQueue(url: string, o: DiffOpts, subjects: readonly DiffSubject[]): Promise<number> {
  if (o.profile === undefined && (o.with?.length ?? 0) === 0 && (o.without?.length ?? 0) === 0)
    throw new UsageError(
      '--queue: name the profile (--profile P): identify needs the tree on this machine (ffasim kernel identify)',
    );
  // A sanitizer build runs in a child with the runtime preloaded (src/kernel/run.ts): not inside a worker's jobs.
  if (o.coverage === true || o.stackInit !== undefined || o.sanitize !== undefined)
    throw new UsageError(
      '--queue: the workers build the tree as diff does by default (pattern stack fill, no sanitizers, no coverage)',
    );
  const profile = profileFrom(o);
  const jobs: DiffJob[] = subjects.map((s) => ({
    kernel: o.kernel!,
    profile: { base: profile.base, ...profileDelta(profile) },
    subject: jobSubject(s),
  }));
  const { runDiffJobs } = await import('./queue.ts');
  const answers = await runDiffJobs(url, jobs);
  const first = answers[0]!;
  for (const a of answers)
    if (a.code !== first.code)
      throw new UsageError(`--queue: workers ran different code for ${o.kernel} (${first.code}, ${a.code})`);
  const model: DiffSide = { label: `model ${profile.name}`, profile };
  const real: DiffSide = { label: first.code, profile };
  return report(
    o,
    answers.map((a) => mapRecords(a.result, recordFromWire)),
    { tree: first.tree, code: first.code, profile, model, real, identified: '' },
  );
}

/** A subject as job data: a built-in scenario by name, a replay's actions, a fuzz batch. */
function jobSubject(s: DiffSubject): DiffJob['subject'] {
  switch (s.kind) {
    case 'scenario': {
      const builtin = BUILTIN_SCENARIOS.find((b) => b === s.scenario);
      if (builtin === undefined)
        throw new UsageError(
          `--queue: scenario ${s.scenario.name} is a module on this machine; queue built-in scenarios and replay files`,
        );
      return {
        kind: 'scenario',
        name: builtin.name,
        ...(s.seed === undefined ? {} : { seed: s.seed }),
        ...(s.config === undefined ? {} : { config: s.config }),
      };
    }
    case 'replay':
      if (s.options !== undefined)
        throw new UsageError(`--queue: ${s.name} needs world options a job cannot carry`);
      return {
        kind: 'replay',
        name: s.name,
        actions: [...s.actions],
        config: s.config ?? defaultWorldConfig(),
      };
    case 'fuzz':
      return {
        kind: 'fuzz',
        seed: s.seed,
        runs: s.runs,
        ...(s.maxLength === undefined ? {} : { maxLength: s.maxLength }),
        ...(s.config === undefined ? {} : { config: s.config }),
      };
  }
}

/** Built trees of this worker, by tree spec and page size (a worker runs many jobs of one sweep). */
const workerBuilds = new Map<string, Exclude<Awaited<ReturnType<typeof kernelMode>>, number | undefined>>();

/** A worker's side of a diff job: the tree built here, the subject through the model and the real code. */
export async function runDiffJob(d: DiffJob): Promise<DiffJobResult> {
  const config = d.subject.config;
  const pageSize = config?.pageSize ?? 4096;
  const key = `${d.kernel}\u0000${pageSize}`;
  let k = workerBuilds.get(key);
  if (k === undefined) {
    const m = await kernelMode({ kernel: d.kernel, stackInit: 'pattern' }, pageSize);
    // No sanitizers, so no re-exec under their runtime (a number): the build runs in this worker.
    if (m === undefined || typeof m === 'number')
      throw new Error(`diff job: no in-process build of ${d.kernel}`);
    k = m;
    workerBuilds.set(key, k);
  }
  const profile = profileFrom({ profile: d.profile.base, with: d.profile.with, without: d.profile.without });
  const { buildKernel } = await import('../kernel/build.ts');
  const { beginCoverage } = await import('../kernel/coverage.ts');
  const { KernelHyp } = await import('../kernel/hyp.ts');
  const lines = linesHypFor(k.build, k.hyp, { buildKernel, beginCoverage, KernelHyp });
  const s = d.subject;
  let subject: DiffSubject;
  if (s.kind === 'scenario') {
    const scenario = BUILTIN_SCENARIOS.find((b) => b.name === s.name);
    if (scenario === undefined) throw new Error(`diff job: no built-in scenario ${s.name}`);
    subject = { ...s, kind: 'scenario', scenario };
  } else subject = s;
  try {
    const result = diffSubject(
      subject,
      { label: `model ${profile.name}`, profile },
      { label: k.build.label, profile, hyp: k.hyp, linesHyp: lines.hyp },
    );
    return { tree: k.build.tree, code: k.build.label, result: mapRecords(result, recordToWire) };
  } finally {
    lines.done();
  }
}

/**
 * The tree's ffa.c built with gcov, for each report's final run: its decision events carry the lines each host
 * call ran (the "ffa.c … decided" line of a report). One measurement runs at a time (libgcov's output directory
 * is per process), so a world of another page size ends the current one and starts its own build's. Where gcov
 * cannot be had, that world gets the plain build and the report goes without the lines (a warning says why).
 */
function linesHypFor(
  build: KernelBuild,
  plain: HypFactory,
  m: {
    buildKernel: typeof BuildKernel;
    beginCoverage: typeof BeginCoverage;
    KernelHyp: typeof KernelHypClass;
  },
): { hyp: HypFactory; done: () => void } {
  const { buildKernel, beginCoverage, KernelHyp } = m;
  const builds = new Map<number, KernelBuild>();
  let cur: { pageSize: number; build: KernelBuild; session: CoverageSession } | undefined;
  let failed = false;
  return {
    hyp: (ctx) => {
      const ps = ctx.stage2.pageSize;
      if (failed) return plain(ctx);
      try {
        if (cur?.pageSize !== ps) {
          cur?.session.finish();
          cur = undefined;
          const b =
            builds.get(ps) ??
            buildKernel(build.tree, {
              sanitize: build.sanitize,
              stackInit: build.stackInit,
              pageSize: ps,
              coverage: true,
            });
          builds.set(ps, b);
          cur = { pageSize: ps, build: b, session: beginCoverage(b) };
        }
        const c = cur;
        return new KernelHyp(ctx, c.build, { callLines: () => c.session.lines() });
      } catch (e) {
        failed = true;
        warn(
          `reports go without the ffa.c lines that decided: ${e instanceof Error ? e.message : String(e)}`,
        );
        return plain(ctx);
      }
    },
    done: () => {
      cur?.session.finish();
      cur = undefined;
    },
  };
}

/** A command-line subject: a replay file (its actions) or a scenario (built-in or module). */
async function subjectFor(name: string, config: WorldConfig | undefined): Promise<DiffSubject> {
  if (name.endsWith('.jsonl')) {
    const r = parseReplay(readInput(name).toString('utf8'), name, config ? { world: config } : {});
    if (!r.ok) throw new UsageError(r.error);
    if (r.value.actions.length === 0) throw emptyInput(name);
    for (const w of r.value.warnings) warn(w);
    if (r.value.profile !== undefined)
      warn(
        `${name}: its header names profile ${r.value.profile}; diff compares on --profile (or identify's)`,
      );
    return {
      kind: 'replay',
      name,
      actions: r.value.actions,
      config: config ?? r.value.world ?? defaultWorldConfig(),
    };
  }
  return { kind: 'scenario', scenario: await resolveScenario(name), ...(config ? { config } : {}) };
}
