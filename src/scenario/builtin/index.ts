/** The built-in scenarios, in `ffasim run --list` order. */
import type { Scenario } from '../scenario.ts';
import { boot } from './boot.ts';
import { BUG_SCENARIOS } from './bugs.ts';
import {
  directReq2,
  fragmentedShare,
  partitionDiscovery,
  shareLendReclaim,
  versionDowngrade,
} from './flows.ts';
import { reclaimUnknown } from './reclaim.ts';
import { virtioMsg } from './virtio-msg.ts';

export const BUILTIN_SCENARIOS: readonly Scenario[] = [
  boot,
  shareLendReclaim,
  fragmentedShare,
  versionDowngrade,
  partitionDiscovery,
  directReq2,
  reclaimUnknown,
  virtioMsg,
  ...BUG_SCENARIOS,
];

/** A built-in scenario by name, or undefined. */
export function builtinScenario(name: string): Scenario | undefined {
  return BUILTIN_SCENARIOS.find((s) => s.name === name);
}
