/** `ffasim run`: scenarios → trace in a chosen format; exit 1 when an expectation failed. */

import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type AcrossReport, acrossProfiles, acrossToText } from '../check/across.ts';
import { runWithInvariants } from '../check/invariants.ts';
import { CHANGES, createProfile } from '../hyp/profiles.ts';
import { BUILTIN_SCENARIOS, builtinScenario } from '../scenario/builtin/index.ts';
import { ReplayRecorder, replayScenario } from '../scenario/replay.ts';
import type { RunResult, Scenario } from '../scenario/scenario.ts';
import { runToJSONL } from '../scenario/trace.ts';
import { toMermaid } from '../trace/mermaid.ts';
import { toPerfetto } from '../trace/perfetto.ts';
import { toText } from '../trace/text.ts';
import type { WorldConfig } from '../world/config.ts';
import type { World } from '../world/world.ts';
import {
  emptyInput,
  intOption,
  loadWorld,
  profileFrom,
  profilesFrom,
  readInput,
  UsageError,
  warn,
  writeOutput,
} from './common.ts';
import { type HypFactory, type KernelCliOpts, kernelMode, startCoverage } from './kernel-opt.ts';
import { unknownName } from './suggest.ts';

/** Kernel mode (KernelCliOpts): the hyp is a tree's real ffa.c (docs/kernel-mode.md). */
interface RunOpts extends KernelCliOpts {
  profile?: string;
  with?: string[];
  without?: string[];
  world?: string;
  list?: boolean;
  format: 'text' | 'jsonl' | 'mermaid' | 'perfetto' | 'replay';
  out?: string;
  explain?: boolean;
  regs?: boolean;
  seed: string;
  json?: boolean;
  allowEmpty?: boolean;
}

/**
 * A built-in name, a replay file (checked against `world` when --world gives one; no actions is an error unless
 * `allowEmpty`) or a scenario module. @throws UsageError for an unknown name, with the closest built-in ones.
 */
export async function resolveScenario(
  name: string,
  o: { world?: WorldConfig | undefined; allowEmpty?: boolean | undefined } = {},
): Promise<Scenario> {
  const b = builtinScenario(name);
  if (b !== undefined) return b;
  if (name.endsWith('.jsonl')) {
    const r = replayScenario(readInput(name).toString('utf8'), name, o.world ? { world: o.world } : {});
    if (!r.ok) throw new UsageError(r.error);
    if (r.file.actions.length === 0 && o.allowEmpty !== true) throw emptyInput(name);
    for (const w of r.file.warnings) warn(w);
    return r.value;
  }
  if (/\.(m?[jt]s)$/.test(name)) {
    let mod: Record<string, unknown>;
    if (/\.m?ts$/.test(name)) await typeScriptLoader(name);
    try {
      mod = (await import(pathToFileURL(resolve(name)).href)) as Record<string, unknown>;
    } catch (e) {
      throw new UsageError(`cannot load scenario module ${name}: ${(e as Error).message}`);
    }
    const s = (mod.default ?? mod.scenario) as Scenario | ((ctx: unknown) => void) | undefined;
    if (typeof s === 'function')
      return { name, description: `user scenario ${name}`, run: s as Scenario['run'] };
    if (s !== undefined && typeof s === 'object' && typeof s.run === 'function')
      return checkScenario(name, s);
    throw new UsageError(
      `${name}: export a scenario object ({ name, description, run }) or a function as default`,
    );
  }
  throw new UsageError(
    unknownName(
      'scenario',
      name,
      BUILTIN_SCENARIOS.map((s) => s.name),
      { hint: "see 'ffasim run --list'; or give a .jsonl replay file or a .ts/.js module" },
    ),
  );
}

const SCENARIO_KEYS = ['name', 'description', 'profile', 'fixedBy', 'world', 'options', 'run'];

/**
 * A module's scenario object, checked as the world and replay files are: unknown keys (a misspelt `profile` would
 * silently run the default), wrong types and unknown profile or change names are usage errors naming the module.
 */
function checkScenario(file: string, s: Scenario): Scenario {
  const o = s as unknown as Record<string, unknown>;
  const bad = (msg: string): never => {
    throw new UsageError(`${file}: scenario ${msg}`);
  };
  for (const k of Object.keys(o)) if (!SCENARIO_KEYS.includes(k)) bad(unknownName('key', k, SCENARIO_KEYS));
  if (typeof o.name !== 'string' || o.name === '') bad('name must be a non-empty string');
  if ('description' in o && typeof o.description !== 'string') bad('description must be a string');
  for (const k of ['world', 'options'])
    if (k in o && o[k] !== undefined && typeof o[k] !== 'function') bad(`${k} must be a function`);
  if (o.profile !== undefined) {
    if (typeof o.profile !== 'string') bad('profile must be a profile name');
    try {
      profileFrom({ profile: o.profile as string });
    } catch (e) {
      bad(`profile: ${(e as Error).message}`);
    }
  }
  const changes = CHANGES.map((c) => c.id);
  if (o.fixedBy !== undefined && !changes.includes(String(o.fixedBy)))
    bad(`fixedBy: ${unknownName('change', String(o.fixedBy), changes, { hint: "see 'ffasim profiles'" })}`);
  return s;
}

let tsLoader: Promise<void> | undefined;

/**
 * Registers a TypeScript loader for a `.ts` scenario module: none is needed where Node strips types itself
 * (22.6+ with type stripping on); otherwise tsx, an optional peer dependency, from ffasim's own install or from
 * the user's project (the current directory). ffasim itself never needs tsx at run time.
 * @throws UsageError naming what to install when no loader is found.
 */
function typeScriptLoader(name: string): Promise<void> {
  tsLoader ??= (async () => {
    if ((process.features as { typescript?: unknown }).typescript) return;
    const candidates = [
      () => import.meta.resolve('tsx/esm/api'),
      () => pathToFileURL(createRequire(resolve('package.json')).resolve('tsx/esm/api')).href,
    ];
    for (const where of candidates) {
      let url: string;
      try {
        url = where();
      } catch {
        continue;
      }
      const api = (await import(url)) as { register: () => unknown };
      api.register();
      return;
    }
    throw new UsageError(
      `${name}: a TypeScript scenario needs a loader: install tsx in your project (npm i -D tsx), use Node 22.6+ with type stripping, or write the scenario as .mjs`,
    );
  })();
  return tsLoader;
}

/** `--seed` as a number. @throws UsageError when it is not an integer in 0..2^32-1 (decimal or 0x-hex). */
export function seedFrom(text: string): number {
  return intOption('--seed', text, 0, 0xffff_ffff);
}

/**
 * Runs a scenario as the command line asks, with the invariant checks: the scenario's own era profile unless
 * --profile/--with/--without say otherwise. Shared by `run` and `view`.
 */
export function runChosen(
  s: Scenario,
  o: { profile?: string; with?: string[]; without?: string[]; seed: string },
  config: WorldConfig | undefined,
  prepare?: (w: World) => void,
): RunResult {
  const seed = seedFrom(o.seed);
  const explicit = o.profile !== undefined || (o.with?.length ?? 0) > 0 || (o.without?.length ?? 0) > 0;
  const profile =
    explicit || s.profile === undefined ? profileFrom(o) : profileFrom({ ...o, profile: s.profile });
  return runWithInvariants(s, {
    profile,
    seed,
    ...(config ? { config: structuredClone(config) } : {}),
    ...(prepare ? { prepare } : {}),
  });
}

export async function runRunCommand(names: string[], o: RunOpts): Promise<number> {
  if (o.list) {
    if (names.length !== 1 || names[0] !== 'boot')
      throw new UsageError(
        `--list lists the built-in scenarios: give it no scenario (got ${names.join(' ')})`,
      );
    const w = BUILTIN_SCENARIOS.reduce((m, s) => Math.max(m, s.name.length), 0);
    writeOutput(BUILTIN_SCENARIOS.map((s) => `${s.name.padEnd(w)}  ${s.description}\n`).join(''), undefined);
    return 0;
  }
  const config = loadWorld(o.world);
  const across = profilesFrom(o);
  if (across !== undefined && o.kernel !== undefined)
    throw new UsageError('--kernel runs one hyp: it does not go with --profile all or a,b,c');
  // Options that shape a trace do nothing to a comparison or another format: say so rather than ignore them.
  const traceOnly = [o.explain ? '--explain' : '', o.regs ? '--regs' : ''].filter((x) => x !== '');
  const notForAcross = [...traceOnly, ...(o.format === 'text' ? [] : [`--format ${o.format}`])];
  if (across !== undefined && notForAcross.length > 0)
    throw new UsageError(
      `--profile ${o.profile} prints a comparison (text, or --json), not a trace: drop ${notForAcross.join(', ')}`,
    );
  if (traceOnly.length > 0 && o.format !== 'text')
    throw new UsageError(
      `${traceOnly.join(' and ')} work with --format text only (got --format ${o.format})`,
    );
  const scenarioOpts = { world: config, allowEmpty: o.allowEmpty };
  if (across !== undefined) {
    // One flow on several profiles: where their answers differ, call by call (exit 0 whatever differs).
    const seed = seedFrom(o.seed);
    let text = '';
    const reports: AcrossReport[] = [];
    for (const name of names) {
      const r = acrossProfiles(await resolveScenario(name, scenarioOpts), across, {
        seed,
        ...(config ? { config } : {}),
      });
      reports.push(r);
      text += acrossToText(r);
    }
    writeOutput(o.json ? `${JSON.stringify(reports.length === 1 ? reports[0] : reports)}\n` : text, o.out);
    return 0;
  }
  if (o.json) throw new UsageError('--json goes with --profile all or a,b,c; for a trace use --format jsonl');
  // --coverage: each host call's ffa.c lines go on its decision event (--explain shows them), the totals to stderr.
  let callLines: (() => number[]) | undefined;
  const k = await kernelMode(
    o,
    config?.pageSize ?? 4096,
    {},
    o.coverage === true ? { callLines: () => callLines?.() ?? [] } : {},
  );
  if (typeof k === 'number') return k;
  const kernel = k?.hyp;
  const coverage = k !== undefined && o.coverage === true ? await startCoverage(k) : undefined;
  callLines = coverage?.lines;
  if (o.format === 'replay' && names.length > 1)
    throw new UsageError('--format replay records one scenario at a time (a replay file has one header)');
  let out = '';
  let failed = false;
  for (const name of names) {
    let recorder: ReplayRecorder | undefined;
    const s = withHyp(await resolveScenario(name, scenarioOpts), kernel);
    const r = runChosen(s, o, config, (w) => {
      if (o.format === 'replay') recorder = new ReplayRecorder(w);
    });
    if (r.failures.length > 0) failed = true;
    out += recorder === undefined ? render(r, o) : recorded(r, recorder);
  }
  writeOutput(out, o.out);
  // After the trace, on stderr: stdout may be a JSONL or Perfetto trace.
  if (coverage !== undefined) process.stderr.write(coverage.finish());
  return failed ? 1 : 0;
}

/** The scenario with the kernel-mode hyp added to its world options. */
export function withHyp(s: Scenario, hyp: HypFactory | undefined): Scenario {
  if (hyp === undefined) return s;
  const own = s.options;
  return { ...s, options: () => ({ ...(own?.() ?? {}), hyp }) };
}

/** The run's host actions as a replay file, with the world and the profile as a header line. */
function recorded(r: RunResult, rec: ReplayRecorder): string {
  const base = createProfile(r.profile.base).changes;
  const unrecorded =
    r.scenario.options !== undefined ? ' (its partition handlers and quirk functions are not recorded)' : '';
  return rec.toText({
    world: r.world.config,
    profile: r.profile.base,
    with: r.profile.changes.filter((c) => !base.includes(c)),
    without: base.filter((c) => !r.profile.has(c)),
    note: `ffasim run ${r.scenario.name} on ${r.profile.name}${unrecorded}`,
  });
}

function render(r: RunResult, o: RunOpts): string {
  const events = r.world.trace?.events ?? [];
  const cfg = r.world.config;
  switch (o.format) {
    case 'jsonl':
      return runToJSONL(r);
    case 'mermaid':
      return toMermaid(events);
    case 'perfetto':
      return `${JSON.stringify(toPerfetto(events))}\n`;
    default: {
      const color = o.out === undefined && process.stdout.isTTY === true;
      const hyp = r.world.hyp.name === undefined ? '' : ` · hyp ${r.world.hyp.name} (real code)`;
      const head = `ffasim run ${r.scenario.name} · profile ${r.profile.name}${hyp} · ${cfg.pageSize / 1024} KiB pages · SPMC FF-A ${cfg.spmc.version}\n`;
      const held = r.expectations.filter((x) => x.held).length;
      const summary =
        `\n${r.scenario.name}: ${held}/${r.expectations.length} expectations held, ${r.world.calls} host SMCs, ` +
        `${events.filter((e) => e.kind === 'hop').length} hops, ${events.filter((e) => e.kind === 'pages').length} page-state changes, ` +
        `${events.filter((e) => e.kind === 'check' && e.id !== 'expect' && e.verdict === 'fail').length} invariant violation(s)` +
        (r.failures.length > 0 ? `\nFAILED:\n${r.failures.map((f) => `  - ${f}`).join('\n')}` : '') +
        '\n';
      return head + toText(events, { color, explain: o.explain === true, regs: o.regs === true }) + summary;
    }
  }
}
