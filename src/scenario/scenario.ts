/**
 * Scenarios: a named flow run against a fresh world, with expectations. A scenario is a TypeScript function
 * that receives the world (host driver API, raw `smc`, memory, SPMC handlers); its expectations decide the exit
 * code of `ffasim run` (0 all held, 1 one failed).
 */
import type { HostDriver } from '../host/index.ts';
import { createProfile, type Profile } from '../hyp/profiles.ts';
import type { TraceBus } from '../trace/events.ts';
import { defaultWorldConfig, type WorldConfig } from '../world/config.ts';
import { createWorld, type World, type WorldOptions } from '../world/world.ts';

export interface ScenarioContext {
  world: World;
  host: HostDriver;
  profile: Profile;
  /** The run's seed (for scenarios that choose values). */
  seed: number;
  /** Records an expectation; a false one fails the run. Returns `cond`. */
  expect(cond: boolean, what: string): boolean;
  /** Starts a named step (a heading in every trace format). */
  step(title: string): void;
}

export interface Scenario {
  name: string;
  /** One line for `ffasim run --list`. */
  description: string;
  /** Profile the scenario is written for, used when the user names none. */
  profile?: string;
  /** Bug scenarios: the profile change that fixes the bug (run with it to see the fix). */
  fixedBy?: string;
  /** Adjusts the world before it is built (page size, quirks, …). */
  world?: (cfg: WorldConfig) => void;
  /** Extra world options (handlers, SPMC quirk functions, host quirks). */
  options?: () => Omit<WorldOptions, 'config' | 'profile' | 'trace'>;
  run(ctx: ScenarioContext): void;
}

export interface RunOptions {
  profile?: Profile;
  /**
   * The profile whose changes decide the scenario's expectations (default: `profile`). `ffasim check` passes the
   * named profile's published change list here, so a change removed with `--without` shows as a failed rule.
   */
  expectProfile?: Profile;
  config?: WorldConfig;
  seed?: number;
  /** Record a trace (default true), or into this bus. */
  trace?: boolean | TraceBus;
  /** Called with the fresh world before the scenario runs (the CLI attaches the invariant checks here). */
  prepare?: (world: World) => void;
}

export interface RunResult {
  scenario: Scenario;
  world: World;
  profile: Profile;
  seed: number;
  expectations: { what: string; held: boolean }[];
  failures: string[];
  /** An exception that escaped the scenario (a bug in the scenario or the model). */
  crash?: string;
}

/** Runs a scenario on a fresh world. Never throws for a failed expectation; reports a crash as `crash`. */
export function runScenario(s: Scenario, o: RunOptions = {}): RunResult {
  const profile = o.profile ?? createProfile(s.profile);
  const config = o.config ?? defaultWorldConfig();
  s.world?.(config);
  const world = createWorld({ ...(s.options?.() ?? {}), config, profile, trace: o.trace ?? true });
  o.prepare?.(world);
  const seed = o.seed ?? 1;
  const res: RunResult = { scenario: s, world, profile, seed, expectations: [], failures: [] };
  const ctx: ScenarioContext = {
    world,
    host: world.host,
    profile: o.expectProfile ?? profile,
    seed,
    expect(cond, what) {
      res.expectations.push({ what, held: cond });
      if (!cond) res.failures.push(what);
      world.trace?.emit({ kind: 'check', id: 'expect', verdict: cond ? 'pass' : 'fail', detail: what });
      return cond;
    },
    step(title) {
      world.trace?.emit({ kind: 'step', text: title });
    },
  };
  try {
    s.run(ctx);
  } catch (e) {
    res.crash = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    res.failures.push(`scenario crashed: ${res.crash}`);
  }
  return res;
}
