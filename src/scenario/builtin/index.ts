/** The built-in scenarios, in `ffasim run --list` order. */
import type { Scenario } from '../scenario.ts';
import { boot } from './boot.ts';

export const BUILTIN_SCENARIOS: readonly Scenario[] = [boot];

/** A built-in scenario by name, or undefined. */
export function builtinScenario(name: string): Scenario | undefined {
  return BUILTIN_SCENARIOS.find((s) => s.name === name);
}
