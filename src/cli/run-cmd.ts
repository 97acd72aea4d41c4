/** `ffasim run`: scenarios → trace in a chosen format; exit 1 when an expectation failed. */

import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runWithInvariants } from '../check/invariants.ts';
import { BUILTIN_SCENARIOS, builtinScenario } from '../scenario/builtin/index.ts';
import { replayScenario } from '../scenario/replay.ts';
import type { RunResult, Scenario } from '../scenario/scenario.ts';
import { runToJSONL } from '../scenario/trace.ts';
import { toMermaid } from '../trace/mermaid.ts';
import { toPerfetto } from '../trace/perfetto.ts';
import { toText } from '../trace/text.ts';
import type { WorldConfig } from '../world/config.ts';
import { loadWorld, profileFrom, readInput, UsageError, writeOutput } from './common.ts';

interface RunOpts {
  profile?: string;
  with?: string[];
  without?: string[];
  world?: string;
  list?: boolean;
  format: 'text' | 'jsonl' | 'mermaid' | 'perfetto';
  out?: string;
  explain?: boolean;
  regs?: boolean;
  seed: string;
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

/**
 * Runs a scenario as the command line asks, with the invariant checks: the scenario's own era profile unless
 * --profile/--with/--without say otherwise. Shared by `run` and `view`.
 */
export function runChosen(
  s: Scenario,
  o: { profile?: string; with?: string[]; without?: string[]; seed: string },
  config: WorldConfig | undefined,
): RunResult {
  const seed = Number(o.seed);
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new UsageError(`--seed must be a non-negative integer, got '${o.seed}'`);
  const explicit = o.profile !== 'ffa-1.2' || (o.with?.length ?? 0) > 0 || (o.without?.length ?? 0) > 0;
  const profile =
    explicit || s.profile === undefined ? profileFrom(o) : profileFrom({ ...o, profile: s.profile });
  return runWithInvariants(s, { profile, seed, ...(config ? { config: structuredClone(config) } : {}) });
}

export async function runRunCommand(names: string[], o: RunOpts): Promise<number> {
  if (o.list) {
    const w = BUILTIN_SCENARIOS.reduce((m, s) => Math.max(m, s.name.length), 0);
    writeOutput(BUILTIN_SCENARIOS.map((s) => `${s.name.padEnd(w)}  ${s.description}\n`).join(''), undefined);
    return 0;
  }
  const config = loadWorld(o.world);
  let out = '';
  let failed = false;
  for (const name of names) {
    const r = runChosen(await resolveScenario(name), o, config);
    if (r.failures.length > 0) failed = true;
    out += render(r, o);
  }
  writeOutput(out, o.out);
  return failed ? 1 : 0;
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
