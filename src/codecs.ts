/**
 * `ffasim/codecs`: the ABI alone — register files, function IDs, typed calls and results, errors, versions,
 * UUIDs and descriptors — without the world, the proxy or the secure world. For tools that only decode or build
 * FF-A traffic (docs/api.md, "Codecs alone").
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
export * from './smccc/index.ts';
