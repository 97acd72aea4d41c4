/**
 * ffasim's library entry point: build a world, drive it through the host driver or raw SMCs, read traces and
 * page states, plug in partition handlers. Documented in docs/api.md.
 */
export {
  decodeCall,
  decodeResult,
  encodeCall,
  encodeResult,
  type FfaCall,
  type FfaResult,
  makeCall,
} from './ffa/calls.ts';
export * as desc from './ffa/desc/index.ts';
export { FFA_ERROR_CODES, type FfaErrorName, ffaErrorName } from './ffa/errors.ts';
export { formatCall, formatResult } from './ffa/format.ts';
export { FFA, FFA_FUNCTIONS, ffaFunctionById, ffaName } from './ffa/ids.ts';
export { uuidFormat, uuidParse } from './ffa/uuid.ts';
export {
  FFA_VERSION_1_0,
  FFA_VERSION_1_1,
  FFA_VERSION_1_2,
  FFA_VERSION_1_3,
  formatVersion,
  parseVersion,
} from './ffa/version.ts';
export { HostDriver, type HostQuirks, type HostResult, type MemSendOptions } from './host/index.ts';
export { CHANGES, createProfile, DEFAULT_PROFILE, PROFILES, type Profile } from './hyp/profiles.ts';
export type { StateRange } from './mem/stage2.ts';
export { parseReplay, runAction } from './scenario/replay.ts';
export { runScenario, type Scenario, type ScenarioContext } from './scenario/scenario.ts';
export { RegisterFile } from './smccc/regs.ts';
export type { DirectHandler, PartitionContext, SPMCQuirks } from './spmc/types.ts';
export { TraceBus, type TraceEvent } from './trace/events.ts';
export { toJSONL } from './trace/jsonl.ts';
export { toText } from './trace/text.ts';
export { defaultWorldConfig, parseWorldConfig, type WorldConfig } from './world/config.ts';
export { createWorld, World, type WorldOptions } from './world/world.ts';
