/**
 * `ffasim diff --kernel <tree>`: the model proxy and a kernel tree's real ffa.c, call by call, over built-in
 * scenarios, replay files and a seeded fuzz batch (src/check/differential.ts). Exit 1 on a divergence, 0 when
 * none, 2 on bad input. The profile defaults to what `kernel identify` says the tree behaves like.
 */
import {
  type DiffSide,
  type DiffSubject,
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
import { parseReplay } from '../scenario/replay.ts';
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
  const divergences = results.flatMap((r) => r.divergences);
  if (o.json === true) {
    writeOutput(
      `${JSON.stringify(
        {
          tree,
          code: k.build.label,
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
