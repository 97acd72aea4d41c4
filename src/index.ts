/**
 * ffasim's library entry point: build a world, drive it through the host driver or raw SMCs, read traces and
 * page states, plug in partition handlers. Documented in docs/api.md.
 */
// The ABI codecs (also the `ffasim/codecs` entry point on their own).
export * from './codecs.ts';
export { HostDriver, type HostQuirks, type HostResult, type MemSendOptions } from './host/index.ts';
export { VirtioMsgDevice, VirtioMsgFfaDriver, type VirtioResult } from './host/virtio-driver.ts';
export { CHANGES, createProfile, DEFAULT_PROFILE, PROFILES, type Profile } from './hyp/profiles.ts';
export type { StateRange } from './mem/stage2.ts';
export { parseReplay, runAction } from './scenario/replay.ts';
export { runScenario, type Scenario, type ScenarioContext } from './scenario/scenario.ts';
export type { DirectHandler, PartitionContext, SPMCQuirks } from './spmc/types.ts';
export {
  createVirtioMsgBus,
  type DeviceIO,
  VIRTIO_CONSOLE_F_SIZE,
  VIRTIO_F_VERSION_1,
  VIRTIO_ID_CONSOLE,
  VIRTIO_STATUS,
  type VirtioBusOptions,
  VirtioConsole,
  type VirtioDevice,
  VirtioMsgBus,
} from './spmc/virtio-device.ts';
export { TraceBus, type TraceEvent } from './trace/events.ts';
export { toJSONL } from './trace/jsonl.ts';
export { toText } from './trace/text.ts';
// virtio-msg over FF-A (docs/virtio-msg.md): the codec, the device side for partitions, the host driver.
export * from './virtio/index.ts';
export { defaultWorldConfig, parseWorldConfig, type WorldConfig } from './world/config.ts';
export { createWorld, World, type WorldOptions } from './world/world.ts';
