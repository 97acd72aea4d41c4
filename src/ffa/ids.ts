/**
 * Every FF-A function ID up to v1.2, plus the v1.3 IDs the sources define (marked `since: '1.3'`).
 * Source: abi.md §2 (checked there against Linux `arm_ffa.h`, Hafnium `ffa.h`, TF-A `ffa_svc.h`, OP-TEE, the ACS
 * and the arm-ffa crate). Registers: `args` are the argument registers the caller fills (beyond w0), `results`
 * the registers of a successful answer.
 */

/** An FF-A minor version as written in tables. */
export type FfaMinor = '1.0' | '1.1' | '1.2' | '1.3';

/** One row of the function table. */
export interface FfaFunction {
  /** Spec name, verbatim (`FFA_MEM_SHARE`). */
  readonly name: string;
  /** Function number (bits [15:0]). */
  readonly num: number;
  /** SMC32 ID, or undefined when there is none. */
  readonly id32: number | undefined;
  /** SMC64 ID, or undefined when there is none. */
  readonly id64: number | undefined;
  /** Version that introduced the ID. */
  readonly since: FfaMinor;
  /** Version after which the ID is legacy (MSG_POLL/MSG_SEND: "1.0 only"). */
  readonly until?: FfaMinor;
  /** Version that introduced the SMC64 form, when later than `since` (FFA_ERROR_64 …: v1.3). */
  readonly since64?: FfaMinor;
  /** Argument registers (named). */
  readonly args: string;
  /** Result registers of the success answer. */
  readonly results: string;
}

const F32 = 0x8400_0000;
const F64 = 0xc400_0000;

function fn(
  name: string,
  num: number,
  conv: '32' | '64' | 'both' | '32+64@1.3',
  since: FfaMinor,
  args: string,
  results: string,
  until?: FfaMinor,
): FfaFunction {
  const has32 = conv !== '64';
  const has64 = conv !== '32';
  return {
    name,
    num,
    id32: has32 ? (F32 | num) >>> 0 : undefined,
    id64: has64 ? (F64 | num) >>> 0 : undefined,
    since,
    ...(conv === '32+64@1.3' ? { since64: '1.3' as const } : {}),
    ...(until === undefined ? {} : { until }),
    args,
    results,
  };
}

/** The function table, ordered by function number. */
export const FFA_FUNCTIONS: readonly FfaFunction[] = [
  fn('FFA_ERROR', 0x60, '32+64@1.3', '1.0', 'w1 target info; w2 error code; w3 error argument', '—'),
  fn('FFA_SUCCESS', 0x61, 'both', '1.0', 'w1 target info; w2–w7 (x2–x17 at 1.2 SMC64) payload', '—'),
  fn('FFA_INTERRUPT', 0x62, '32+64@1.3', '1.0', 'w1 target info; w2 interrupt ID', '—'),
  fn('FFA_VERSION', 0x63, '32', '1.0', 'w1 requested version', 'w0 version or NOT_SUPPORTED'),
  fn('FFA_FEATURES', 0x64, '32', '1.0', 'w1 FID or feature ID; w2 input properties', 'w2, w3 properties'),
  fn('FFA_RX_RELEASE', 0x65, '32', '1.0', 'w1[15:0] VM ID (hypervisor only)', 'SUCCESS'),
  fn('FFA_RXTX_MAP', 0x66, 'both', '1.0', 'x1 TX address; x2 RX address; w3[5:0] page count', 'SUCCESS'),
  fn('FFA_RXTX_UNMAP', 0x67, '32', '1.0', 'w1[31:16] endpoint ID', 'SUCCESS'),
  fn('FFA_PARTITION_INFO_GET', 0x68, '32', '1.0', 'w1–w4 UUID; w5 flags', 'w2 count; w3 descriptor size'),
  fn('FFA_ID_GET', 0x69, '32', '1.0', '—', 'w2[15:0] ID'),
  fn('FFA_MSG_POLL', 0x6a, '32', '1.0', '—', 'message or RETRY', '1.0'),
  fn('FFA_MSG_WAIT', 0x6b, '32+64@1.3', '1.0', 'w2 flags (1.2: bit0 retain RX)', 'next message'),
  fn('FFA_YIELD', 0x6c, '32+64@1.3', '1.0', 'w2/w3 timeout', 'resumed by FFA_RUN'),
  fn(
    'FFA_RUN',
    0x6d,
    '32+64@1.3',
    '1.0',
    'w1 target info',
    'MSG_WAIT, YIELD, INTERRUPT, DIRECT_RESP or ERROR',
  ),
  fn('FFA_MSG_SEND', 0x6e, '32', '1.0', 'w1 sender/receiver; w3 length; w4 flags', 'SUCCESS', '1.0'),
  fn(
    'FFA_MSG_SEND_DIRECT_REQ',
    0x6f,
    'both',
    '1.0',
    'w1 sender/receiver; w2 flags; w3–w7 payload',
    'DIRECT_RESP',
  ),
  fn('FFA_MSG_SEND_DIRECT_RESP', 0x70, 'both', '1.0', 'w1 sender/receiver; w2 flags; w3–w7 payload', '—'),
  fn(
    'FFA_MEM_DONATE',
    0x71,
    'both',
    '1.0',
    'w1 total; w2 fragment; x3 buffer; w4 pages',
    'w2/w3 handle or FRAG_RX',
  ),
  fn(
    'FFA_MEM_LEND',
    0x72,
    'both',
    '1.0',
    'w1 total; w2 fragment; x3 buffer; w4 pages',
    'w2/w3 handle or FRAG_RX',
  ),
  fn(
    'FFA_MEM_SHARE',
    0x73,
    'both',
    '1.0',
    'w1 total; w2 fragment; x3 buffer; w4 pages',
    'w2/w3 handle or FRAG_RX',
  ),
  fn(
    'FFA_MEM_RETRIEVE_REQ',
    0x74,
    'both',
    '1.0',
    'w1 total; w2 fragment; x3 buffer; w4 pages',
    'MEM_RETRIEVE_RESP',
  ),
  fn('FFA_MEM_RETRIEVE_RESP', 0x75, '32', '1.0', 'w1 total; w2 fragment', '—'),
  fn('FFA_MEM_RELINQUISH', 0x76, '32', '1.0', 'descriptor in TX', 'SUCCESS'),
  fn('FFA_MEM_RECLAIM', 0x77, '32', '1.0', 'w1/w2 handle; w3 flags', 'SUCCESS'),
  fn('FFA_MEM_OP_PAUSE', 0x78, '32', '1.0', 'w1/w2 handle', '—'),
  fn('FFA_MEM_OP_RESUME', 0x79, '32', '1.0', 'w1/w2 handle', '—'),
  fn('FFA_MEM_FRAG_RX', 0x7a, '32', '1.0', 'w1/w2 handle; w3 offset; w4[31:16] sender', 'MEM_FRAG_TX'),
  fn(
    'FFA_MEM_FRAG_TX',
    0x7b,
    '32',
    '1.0',
    'w1/w2 handle; w3 length; w4[31:16] sender',
    'MEM_FRAG_RX or SUCCESS',
  ),
  fn('FFA_NORMAL_WORLD_RESUME', 0x7c, '32+64@1.3', '1.0', '—', '—'),
  fn('FFA_NOTIFICATION_BITMAP_CREATE', 0x7d, '32', '1.1', 'w1[15:0] VM ID; w2 vCPU count', 'SUCCESS'),
  fn('FFA_NOTIFICATION_BITMAP_DESTROY', 0x7e, '32', '1.1', 'w1[15:0] VM ID', 'SUCCESS'),
  fn('FFA_NOTIFICATION_BIND', 0x7f, '32', '1.1', 'w1 sender/receiver; w2 flags; w3/w4 bitmap', 'SUCCESS'),
  fn('FFA_NOTIFICATION_UNBIND', 0x80, '32', '1.1', 'w1 sender/receiver; w3/w4 bitmap', 'SUCCESS'),
  fn('FFA_NOTIFICATION_SET', 0x81, '32', '1.1', 'w1 sender/receiver; w2 flags; w3/w4 bitmap', 'SUCCESS'),
  fn('FFA_NOTIFICATION_GET', 0x82, '32', '1.1', 'w1 vCPU/receiver; w2 flags', 'w2–w7 bitmaps'),
  fn('FFA_NOTIFICATION_INFO_GET', 0x83, 'both', '1.1', '—', 'x2 flags/counts; x3–x7 IDs'),
  fn('FFA_RX_ACQUIRE', 0x84, '32', '1.1', 'w1[15:0] VM ID', 'SUCCESS'),
  fn('FFA_SPM_ID_GET', 0x85, '32', '1.1', '—', 'w2[15:0] SPMC ID'),
  fn('FFA_MSG_SEND2', 0x86, '32', '1.1', 'w1[31:16] sender VM ID; w2 flags', 'SUCCESS'),
  fn('FFA_SECONDARY_EP_REGISTER', 0x87, 'both', '1.1', 'x1 entry point', 'SUCCESS'),
  fn('FFA_MEM_PERM_GET', 0x88, 'both', '1.1', 'x1 base VA', 'w2 permissions'),
  fn('FFA_MEM_PERM_SET', 0x89, 'both', '1.1', 'x1 base VA; w2 pages; w3 permissions', 'SUCCESS'),
  fn('FFA_CONSOLE_LOG', 0x8a, 'both', '1.2', 'w1[7:0] count; w2–w7 / x2–x17 chars', 'SUCCESS'),
  fn(
    'FFA_PARTITION_INFO_GET_REGS',
    0x8b,
    '64',
    '1.2',
    'x1/x2 UUID; x3 start index, tag',
    'x2 metadata; x3–x17',
  ),
  fn('FFA_EL3_INTR_HANDLE', 0x8c, '32', '1.2', '—', '—'),
  fn(
    'FFA_MSG_SEND_DIRECT_REQ2',
    0x8d,
    '64',
    '1.2',
    'x1 sender/receiver; x2/x3 UUID; x4–x17 payload',
    'DIRECT_RESP2',
  ),
  fn('FFA_MSG_SEND_DIRECT_RESP2', 0x8e, '64', '1.2', 'x1 sender/receiver; x4–x17 payload', '—'),
  fn('FFA_NS_RES_INFO_GET', 0x8f, '64', '1.3', 'x1[15:0] target; x2 flags', 'RX descriptors'),
  fn('FFA_ABORT', 0x90, 'both', '1.3', '—', '—'),
  fn('FFA_NOTIFICATION_BIND2', 0x94, '64', '1.3', 'x1 sender/receiver; x2 flags; x3.. bitmaps', 'SUCCESS'),
  fn('FFA_NOTIFICATION_UNBIND2', 0x95, '64', '1.3', 'x1 sender/receiver; x3.. bitmaps', 'SUCCESS'),
  fn('FFA_NOTIFICATION_SET2', 0x96, '64', '1.3', 'x1 sender/receiver; x2 flags; x3.. bitmaps', 'SUCCESS'),
  fn('FFA_NOTIFICATION_GET2', 0x97, '64', '1.3', 'x1 vCPU/receiver; x2 flags; x8.. masks', 'SUCCESS'),
];

/** Lookup by full 32-bit function ID (both conventions). */
const BY_ID = new Map<number, { fn: FfaFunction; smc64: boolean }>();
for (const f of FFA_FUNCTIONS) {
  if (f.id32 !== undefined) BY_ID.set(f.id32, { fn: f, smc64: false });
  if (f.id64 !== undefined) BY_ID.set(f.id64, { fn: f, smc64: true });
}
const BY_NAME = new Map<string, FfaFunction>(FFA_FUNCTIONS.map((f) => [f.name, f]));

/** The table row for a full function ID, or undefined. */
export function ffaFunctionById(id: number): { fn: FfaFunction; smc64: boolean } | undefined {
  return BY_ID.get(id >>> 0);
}

/** The table row for a spec name (`FFA_MEM_SHARE`), or undefined. */
export function ffaFunctionByName(name: string): FfaFunction | undefined {
  return BY_NAME.get(name);
}

/** Display name of a function ID: `FFA_MEM_SHARE_64` style for SMC64 forms, or `unknown(0x…)`. */
export function ffaName(id: number): string {
  const hit = BY_ID.get(id >>> 0);
  if (hit === undefined) return `0x${(id >>> 0).toString(16).padStart(8, '0')}`;
  if (!hit.smc64) return hit.fn.name;
  // Functions that exist only as SMC64 keep their plain name.
  return hit.fn.id32 === undefined ? hit.fn.name : `${hit.fn.name}_64`;
}

/** Named constants for the IDs the model uses (SMC32 unless suffixed 64). */
export const FFA = {
  ERROR: 0x8400_0060,
  SUCCESS: 0x8400_0061,
  SUCCESS64: 0xc400_0061,
  INTERRUPT: 0x8400_0062,
  VERSION: 0x8400_0063,
  FEATURES: 0x8400_0064,
  RX_RELEASE: 0x8400_0065,
  RXTX_MAP: 0x8400_0066,
  RXTX_MAP64: 0xc400_0066,
  RXTX_UNMAP: 0x8400_0067,
  PARTITION_INFO_GET: 0x8400_0068,
  ID_GET: 0x8400_0069,
  MSG_POLL: 0x8400_006a,
  MSG_WAIT: 0x8400_006b,
  YIELD: 0x8400_006c,
  RUN: 0x8400_006d,
  MSG_SEND: 0x8400_006e,
  MSG_SEND_DIRECT_REQ: 0x8400_006f,
  MSG_SEND_DIRECT_REQ64: 0xc400_006f,
  MSG_SEND_DIRECT_RESP: 0x8400_0070,
  MSG_SEND_DIRECT_RESP64: 0xc400_0070,
  MEM_DONATE: 0x8400_0071,
  MEM_DONATE64: 0xc400_0071,
  MEM_LEND: 0x8400_0072,
  MEM_LEND64: 0xc400_0072,
  MEM_SHARE: 0x8400_0073,
  MEM_SHARE64: 0xc400_0073,
  MEM_RETRIEVE_REQ: 0x8400_0074,
  MEM_RETRIEVE_REQ64: 0xc400_0074,
  MEM_RETRIEVE_RESP: 0x8400_0075,
  MEM_RELINQUISH: 0x8400_0076,
  MEM_RECLAIM: 0x8400_0077,
  MEM_OP_PAUSE: 0x8400_0078,
  MEM_OP_RESUME: 0x8400_0079,
  MEM_FRAG_RX: 0x8400_007a,
  MEM_FRAG_TX: 0x8400_007b,
  NORMAL_WORLD_RESUME: 0x8400_007c,
  NOTIFICATION_BITMAP_CREATE: 0x8400_007d,
  NOTIFICATION_BITMAP_DESTROY: 0x8400_007e,
  NOTIFICATION_BIND: 0x8400_007f,
  NOTIFICATION_UNBIND: 0x8400_0080,
  NOTIFICATION_SET: 0x8400_0081,
  NOTIFICATION_GET: 0x8400_0082,
  NOTIFICATION_INFO_GET: 0x8400_0083,
  NOTIFICATION_INFO_GET64: 0xc400_0083,
  RX_ACQUIRE: 0x8400_0084,
  SPM_ID_GET: 0x8400_0085,
  MSG_SEND2: 0x8400_0086,
  SECONDARY_EP_REGISTER: 0x8400_0087,
  SECONDARY_EP_REGISTER64: 0xc400_0087,
  MEM_PERM_GET: 0x8400_0088,
  MEM_PERM_GET64: 0xc400_0088,
  MEM_PERM_SET: 0x8400_0089,
  MEM_PERM_SET64: 0xc400_0089,
  CONSOLE_LOG: 0x8400_008a,
  CONSOLE_LOG64: 0xc400_008a,
  PARTITION_INFO_GET_REGS: 0xc400_008b,
  EL3_INTR_HANDLE: 0x8400_008c,
  MSG_SEND_DIRECT_REQ2: 0xc400_008d,
  MSG_SEND_DIRECT_RESP2: 0xc400_008e,
} as const;
