/** `ffasim run`: scenarios → trace in a chosen format; exit 1 when an expectation failed. */

import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type AcrossReport, acrossProfiles, acrossToText } from '../check/across.ts';
import { runWithInvariants } from '../check/invariants.ts';
import { createProfile } from '../hyp/profiles.ts';
import { BUILTIN_SCENARIOS, builtinScenario } from '../scenario/builtin/index.ts';
import { ReplayRecorder, replayScenario } from '../scenario/replay.ts';
import type { RunResult, Scenario } from '../scenario/scenario.ts';
import { runToJSONL } from '../scenario/trace.ts';
import { toMermaid } from '../trace/mermaid.ts';
import { toPerfetto } from '../trace/perfetto.ts';
import { toText } from '../trace/text.ts';
import type { WorldConfig } from '../world/config.ts';
import type { World } from '../world/world.ts';
import { loadWorld, profileFrom, profilesFrom, readInput, UsageError, writeOutput } from './common.ts';

interface RunOpts {
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
}

export async function resolveScenario(name: string): Promise<Scenario> {
  const b = builtinScenario(name);
  if (b !== undefined) return b;
  if (name.endsWith('.jsonl')) {
    const r = replayScenario(readInput(name).toString('utf8'), name);
    if (!r.ok) throw new UsageError(r.error);
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
    if (s !== undefined && typeof s === 'object' && typeof s.run === 'function') return s;
    throw new UsageError(
      `${name}: export a scenario object ({ name, description, run }) or a function as default`,
    );
  }
  throw new UsageError(`unknown scenario '${name}' (see 'ffasim run --list')`);
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

/** `--seed` as a number. @throws UsageError when it is not a non-negative integer. */
export function seedFrom(text: string): number {
  const seed = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(seed))
    throw new UsageError(`--seed must be a non-negative integer, got '${text}'`);
  return seed;
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
  const explicit = o.profile !== 'ffa-1.2' || (o.with?.length ?? 0) > 0 || (o.without?.length ?? 0) > 0;
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
    const w = BUILTIN_SCENARIOS.reduce((m, s) => Math.max(m, s.name.length), 0);
    writeOutput(BUILTIN_SCENARIOS.map((s) => `${s.name.padEnd(w)}  ${s.description}\n`).join(''), undefined);
    return 0;
  }
  const config = loadWorld(o.world);
  const across = profilesFrom(o);
  if (across !== undefined) {
    // One flow on several profiles: where their answers differ, call by call (exit 0 whatever differs).
    const seed = seedFrom(o.seed);
    let text = '';
    const reports: AcrossReport[] = [];
    for (const name of names) {
      const r = acrossProfiles(await resolveScenario(name), across, { seed, ...(config ? { config } : {}) });
      reports.push(r);
      text += acrossToText(r);
    }
    writeOutput(o.json ? `${JSON.stringify(reports.length === 1 ? reports[0] : reports)}\n` : text, o.out);
    return 0;
  }
  if (o.json) throw new UsageError('--json goes with --profile all or a,b,c; for a trace use --format jsonl');
  if (o.format === 'replay' && names.length > 1)
    throw new UsageError('--format replay records one scenario at a time (a replay file has one header)');
  let out = '';
  let failed = false;
  for (const name of names) {
    let recorder: ReplayRecorder | undefined;
    const s = await resolveScenario(name);
    const r = runChosen(s, o, config, (w) => {
      if (o.format === 'replay') recorder = new ReplayRecorder(w);
    });
    if (r.failures.length > 0) failed = true;
    out += recorder === undefined ? render(r, o) : recorded(r, recorder);
  }
  writeOutput(out, o.out);
  return failed ? 1 : 0;
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
      const head = `ffasim run ${r.scenario.name} · profile ${r.profile.name} · ${cfg.pageSize / 1024} KiB pages · SPMC FF-A ${cfg.spmc.version}\n`;
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
