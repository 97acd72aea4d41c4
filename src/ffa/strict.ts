/**
 * Strict decoding (`ffasim decode --strict`; `decodeCall`/`decodeResult`/descriptor parsers with `strict`): every
 * MBZ, reserved and alignment rule of abi.md that the bytes or registers alone can decide. {@link STRICT_RULES} is
 * the catalogue (docs/decode.md lists it, a test keeps the two equal); the register rules that depend on a field's
 * value are data here ({@link CALL_RULES}, {@link RESULT_RULES}); the descriptor rules live with the parsers in
 * desc/. Strict checks only ever add errors: the model proxy and SPMC parse leniently and never set `strict`.
 */
import type { RegisterFile } from '../smccc/regs.ts';
import { fail, type Result } from './result.ts';

/** One strict rule: a stable id, where abi.md states it, the error code it reports and what it checks. */
export interface StrictRule {
  readonly id: string;
  /** abi.md section(s). */
  readonly section: string;
  readonly code: string;
  /** What it checks, in one line. */
  readonly text: string;
}

const rule = (id: string, section: string, code: string, text: string): StrictRule => ({
  id,
  section,
  code,
  text,
});

/** Every strict rule, in the order docs/decode.md lists them. */
export const STRICT_RULES: readonly StrictRule[] = [
  // Registers of a call.
  rule('call/x0-upper', '§1.1, §1.2', 'CALL_MBZ_NONZERO', 'x0[63:32] is zero (the FID is a 32-bit value)'),
  rule('call/fid-reserved', '§1.1', 'CALL_MBZ_NONZERO', 'function ID bits [23:17] are zero'),
  rule(
    'call/undefined-bits',
    '§1.2, §2, §3.3, §6.1, §6.2, §8.1, §8.2, §9.1, §10',
    'CALL_MBZ_NONZERO',
    "bits the call's row does not define are zero: unused registers (x8–x17 below REQ2/RESP2/CONSOLE_LOG_64), " +
      'VERSION w1[31], RXTX_MAP w3[31:6], RXTX_UNMAP w1[15:0], FRAG_RX/TX w4[15:0], MSG_SEND2 w1[15:0], ' +
      'BITMAP_CREATE w1[31:16], UNBIND w2, MEM_PERM_GET w2, RESP2 x2/x3, …',
  ),
  rule('call/smc32-upper', '§1.2', 'CALL_MBZ_NONZERO', 'upper halves of SMC32 arguments are zero'),
  rule('call/features-feature-id', '§4.1', 'CALL_MBZ_NONZERO', 'FEATURES with w1[31] = 0: w1[30:8] are zero'),
  rule('call/partition-info-flags', '§5.2', 'CALL_MBZ_NONZERO', 'PARTITION_INFO_GET w5[31:1] are zero'),
  rule(
    'call/partition-info-regs-tag',
    '§5.3',
    'CALL_MBZ_NONZERO',
    'PARTITION_INFO_GET_REGS: the tag x3[31:16] is zero when the start index x3[15:0] is 0',
  ),
  rule('call/rxtx-map-align', '§6.1', 'CALL_MISALIGNED', 'RXTX_MAP TX and RX addresses are 4 KiB aligned'),
  rule(
    'call/direct-flags',
    '§7.1',
    'CALL_MBZ_NONZERO',
    'DIRECT_REQ/RESP w2: [30:8] are zero; all of w2 is zero for a partition message (w2[31] = 0)',
  ),
  rule('call/msg-wait-flags', '§7.3', 'CALL_MBZ_NONZERO', 'MSG_WAIT w2[31:1] are zero (bit 0: retain RX)'),
  rule(
    'call/msg-send2-flags',
    '§8.1',
    'CALL_MBZ_NONZERO',
    'MSG_SEND2 w2: every bit but 1 (delay SRI) is zero',
  ),
  rule('call/notification-bind-flags', '§8.2', 'CALL_MBZ_NONZERO', 'NOTIFICATION_BIND w2[31:1] are zero'),
  rule(
    'call/notification-set-flags',
    '§8.2',
    'CALL_MBZ_NONZERO',
    'NOTIFICATION_SET w2[15:2] are zero, and w2[31:16] (vCPU ID) is zero unless w2[0] (per-vCPU) is set',
  ),
  rule(
    'call/notification-get-flags',
    '§8.2',
    'CALL_MBZ_NONZERO',
    'NOTIFICATION_GET w2[31:4] are zero (HF; the crate reads them as SBZ)',
  ),
  rule(
    'call/mem-send-length',
    '§9.5 #3',
    'CALL_MISALIGNED',
    'DONATE/LEND/SHARE total (w1) and fragment (w2) lengths are multiples of 16',
  ),
  rule(
    'call/frag-tx-length',
    '§9.1',
    'CALL_MISALIGNED',
    'MEM_FRAG_TX fragment length (w3) is a non-zero multiple of 16',
  ),
  rule('call/reclaim-flags', '§9.1, §9.4', 'CALL_MBZ_NONZERO', 'MEM_RECLAIM w3[31:2] are zero'),
  rule('call/mem-perm-get-align', '§10', 'CALL_MISALIGNED', 'MEM_PERM_GET base VA is 4 KiB aligned'),
  rule('call/mem-perm-set-perms', '§10', 'CALL_MBZ_NONZERO', 'MEM_PERM_SET permissions w3[31:3] are zero'),
  // Registers of an answer (a `ret` next to its call).
  rule(
    'ret/version',
    '§2, §3.2, §3.3',
    'RESULT_MBZ_NONZERO',
    'FFA_VERSION answer: w1–w7 are zero; w0[31] is zero unless w0 is NOT_SUPPORTED',
  ),
  rule('ret/error', '§3.2', 'RESULT_MBZ_NONZERO', 'FFA_ERROR: w4–w7 are zero'),
  rule(
    'ret/success-unused',
    '§2, §3.2, §5.1, §5.2, §9.1, §10',
    'RESULT_MBZ_NONZERO',
    'FFA_SUCCESS: result registers the answer does not use are zero (w2–w7 of a plain "ok"; w4–w7 after a ' +
      'handle; ID_GET w2[31:16]; PARTITION_INFO_GET w3 in count-only mode)',
  ),
  rule(
    'ret/features',
    '§4.2',
    'RESULT_MBZ_NONZERO',
    'FFA_FEATURES answer: w1 is zero; RXTX_MAP w2[15:2], w3; DONATE/LEND/SHARE w2[31:1], w3; ' +
      'RETRIEVE_REQ w2[31:3], w3[31:8]; other IDs w2 (function IDs) and w3–w7 are zero',
  ),
  rule('ret/mem-perm-get', '§10', 'RESULT_MBZ_NONZERO', 'MEM_PERM_GET answer: w2[31:3] are zero'),
  rule(
    'ret/mem-perm-get-encoding',
    '§10',
    'RESULT_RESERVED_VALUE',
    'MEM_PERM_GET answer: data access w2[1:0] = 0b10 is reserved',
  ),
  rule('ret/direct-resp-flags', '§7.1', 'RESULT_MBZ_NONZERO', 'DIRECT_RESP answer: w2 as call/direct-flags'),
  rule('ret/direct-resp2-mbz', '§7.2', 'RESULT_MBZ_NONZERO', 'DIRECT_RESP2 answer: x2 and x3 are zero'),
  rule('ret/frag', '§9.1', 'RESULT_MBZ_NONZERO', 'MEM_FRAG_RX/TX answer: w4[15:0] and w5–w7 are zero'),
  rule('ret/retrieve-resp', '§9.1', 'RESULT_MBZ_NONZERO', 'MEM_RETRIEVE_RESP: w3–w7 are zero'),
  // Descriptors.
  rule(
    'desc/reserved-fields',
    '§6.1, §9.2',
    'DESC_MBZ_NONZERO',
    'reserved fields are zero: v1.0 header bytes 3 and 24–27, v1.1+ header 36–47, EMAD reserved 8 bytes, ' +
      'composite 8–15, constituent 12–15, endpoint RX/TX descriptor 2–3 and 12–15',
  ),
  rule('desc/emad-offset-align', '§9.2, §9.5 #4', 'DESC_MISALIGNED', 'EMAD array offset is a multiple of 16'),
  rule(
    'desc/attributes-reserved',
    '§9.3',
    'DESC_MBZ_NONZERO',
    'memory region attributes: [15:7] (v1.1+) or [7:6] (v1.0) are zero',
  ),
  rule(
    'desc/attributes-ns',
    '§9.3',
    'DESC_MBZ_NONZERO',
    'NS bit (attributes bit 6) is zero in a send or a retrieve request',
  ),
  rule(
    'desc/attributes-encoding',
    '§9.3',
    'DESC_RESERVED_VALUE',
    'no reserved attribute encoding: memory type 0b11; normal memory with shareability 0b01 or cacheability ' +
      '0b00/0b10',
  ),
  rule(
    'desc/flags',
    '§9.4',
    'DESC_MBZ_NONZERO',
    'transaction flags: send [31:2], retrieve request [31:11] ' +
      '(1.2) or [31:10] (1.0/1.1), retrieve response [31:5] are zero',
  ),
  rule(
    'desc/flags-alignment-hint',
    '§9.4',
    'DESC_MBZ_NONZERO',
    'retrieve request: the alignment hint flags[8:5] are zero while hint-valid flags[9] is 0',
  ),
  rule('desc/permissions-reserved', '§9.2', 'DESC_MBZ_NONZERO', 'EMAD permissions [7:4] are zero'),
  rule(
    'desc/permissions-encoding',
    '§9.2',
    'DESC_RESERVED_VALUE',
    'EMAD data access [1:0] and instruction access [3:2] are not the reserved 0b11',
  ),
  rule(
    'desc/access-flags',
    '§9.2',
    'DESC_MBZ_NONZERO',
    'EMAD flags byte: zero in a send; bits [7:1] zero in a retrieve request or response',
  ),
  rule(
    'desc/hyp-retrieve-zero',
    '§9.1',
    'DESC_MBZ_NONZERO',
    'hypervisor retrieve request: every header field but the handle is zero',
  ),
  rule('desc/relinquish-flags', '§9.2', 'DESC_MBZ_NONZERO', 'relinquish descriptor flags [31:2] are zero'),
  rule(
    'desc/partition-properties',
    '§5.2',
    'DESC_MBZ_NONZERO',
    'partition properties: [31:3] (v1.0) or [31:11] (v1.1+) are zero; with ID type [5:4] ≠ 0b00 bits [3:0] ' +
      'and [10:6] are zero too',
  ),
  rule(
    'desc/partition-vm-messages',
    '§5.2',
    'DESC_MBZ_NONZERO',
    'partition properties bits 6 and 7 (VM created/destroyed) are zero unless the partition is an SP (ID ' +
      'bit 15) that receives direct requests (bit 0)',
  ),
  rule(
    'desc/partition-exec-ctx',
    '§5.2',
    'DESC_MBZ_NONZERO',
    'partition descriptor bytes 2–3 are zero when the ID type [5:4] is 0b01 or 0b11',
  ),
  rule(
    'desc/rxtx-composite-align',
    '§6.1',
    'DESC_MISALIGNED',
    'endpoint RX/TX descriptor: RX and TX composite offsets are multiples of 8',
  ),
];

const BY_ID: ReadonlyMap<string, StrictRule> = new Map(STRICT_RULES.map((r) => [r.id, r]));

/** The catalogue entry of a rule id; an id not in {@link STRICT_RULES} is a programming error. */
export function strictRule(id: string): StrictRule {
  const r = BY_ID.get(id);
  if (r === undefined) throw new Error(`strict rule '${id}' is not in STRICT_RULES`);
  return r;
}

const hex = (v: number | bigint): string => `0x${v.toString(16)}`;

/** The highest and lowest set bit of a non-zero 32-bit mask. */
function span(bad: number): [number, number] {
  return [31 - Math.clz32(bad), 31 - Math.clz32(bad & -bad)];
}

/** A reserved-bits rule over one w-register; `mask` gives the reserved bits (0: none) for these registers. */
export interface RegMbzRule {
  readonly rule: string;
  readonly calls: readonly string[];
  readonly reg: number;
  readonly mask: (r: RegisterFile) => number;
  readonly why: string;
}

/** An alignment rule: the register's value (x for SMC64 when `xw`, else w) is a multiple of `multiple`. */
export interface RegAlignRule {
  readonly rule: string;
  readonly calls: readonly string[];
  readonly regs: readonly number[];
  readonly xw?: boolean;
  readonly multiple: number;
  readonly nonZero?: boolean;
  readonly why: string;
}

const always = (m: number) => (): number => m;

/** Value-dependent register rules of calls (the fixed reserved bits come from CALL_SPECS: call/undefined-bits). */
export const CALL_RULES: { readonly mbz: readonly RegMbzRule[]; readonly align: readonly RegAlignRule[] } = {
  mbz: [
    {
      rule: 'call/features-feature-id',
      calls: ['FFA_FEATURES'],
      reg: 1,
      mask: (r) => ((r.w(1) & 0x8000_0000) !== 0 ? 0 : 0x7fff_ff00),
      why: 'a feature ID (w1[31] = 0) has w1[30:8] reserved',
    },
    {
      rule: 'call/partition-info-flags',
      calls: ['FFA_PARTITION_INFO_GET'],
      reg: 5,
      mask: always(0xffff_fffe),
      why: 'PARTITION_INFO_GET flags w5[31:1] are reserved',
    },
    {
      rule: 'call/partition-info-regs-tag',
      calls: ['FFA_PARTITION_INFO_GET_REGS'],
      reg: 3,
      mask: (r) => ((r.w(3) & 0xffff) === 0 ? 0xffff_0000 : 0),
      why: 'the UUID-info tag must be zero when the start index is 0',
    },
    {
      rule: 'call/direct-flags',
      calls: ['FFA_MSG_SEND_DIRECT_REQ', 'FFA_MSG_SEND_DIRECT_RESP'],
      reg: 2,
      mask: (r) => ((r.w(2) & 0x8000_0000) !== 0 ? 0x7fff_ff00 : 0x7fff_ffff),
      why: 'direct message flags: w2[30:8] reserved; a partition message (w2[31] = 0) has w2 = 0',
    },
    {
      rule: 'call/msg-wait-flags',
      calls: ['FFA_MSG_WAIT'],
      reg: 2,
      mask: always(0xffff_fffe),
      why: 'MSG_WAIT flags w2[31:1] are reserved',
    },
    {
      rule: 'call/msg-send2-flags',
      calls: ['FFA_MSG_SEND2'],
      reg: 2,
      mask: always(0xffff_fffd),
      why: 'MSG_SEND2 flags: only bit 1 (delay SRI) is defined',
    },
    {
      rule: 'call/notification-bind-flags',
      calls: ['FFA_NOTIFICATION_BIND'],
      reg: 2,
      mask: always(0xffff_fffe),
      why: 'NOTIFICATION_BIND flags w2[31:1] are reserved',
    },
    {
      rule: 'call/notification-set-flags',
      calls: ['FFA_NOTIFICATION_SET'],
      reg: 2,
      mask: (r) => ((r.w(2) & 1) !== 0 ? 0x0000_fffc : 0xffff_fffc),
      why: 'NOTIFICATION_SET flags w2[15:2] are reserved; the vCPU ID w2[31:16] is 0 unless per-vCPU',
    },
    {
      rule: 'call/notification-get-flags',
      calls: ['FFA_NOTIFICATION_GET'],
      reg: 2,
      mask: always(0xffff_fff0),
      why: 'NOTIFICATION_GET flags w2[31:4] are reserved',
    },
    {
      rule: 'call/reclaim-flags',
      calls: ['FFA_MEM_RECLAIM'],
      reg: 3,
      mask: always(0xffff_fffc),
      why: 'MEM_RECLAIM flags w3[31:2] are reserved',
    },
    {
      rule: 'call/mem-perm-set-perms',
      calls: ['FFA_MEM_PERM_SET'],
      reg: 3,
      mask: always(0xffff_fff8),
      why: 'MEM_PERM_SET permissions w3[31:3] are reserved',
    },
  ],
  align: [
    {
      rule: 'call/rxtx-map-align',
      calls: ['FFA_RXTX_MAP'],
      regs: [1, 2],
      xw: true,
      multiple: 4096,
      why: 'RX/TX buffer addresses are 4 KiB aligned',
    },
    {
      rule: 'call/mem-send-length',
      calls: ['FFA_MEM_DONATE', 'FFA_MEM_LEND', 'FFA_MEM_SHARE'],
      regs: [1, 2],
      multiple: 16,
      why: 'descriptor lengths are multiples of 16',
    },
    {
      rule: 'call/frag-tx-length',
      calls: ['FFA_MEM_FRAG_TX'],
      regs: [3],
      multiple: 16,
      nonZero: true,
      why: 'a fragment is a non-zero multiple of 16 bytes',
    },
    {
      rule: 'call/mem-perm-get-align',
      calls: ['FFA_MEM_PERM_GET'],
      regs: [1],
      xw: true,
      multiple: 4096,
      why: 'the base VA is 4 KiB aligned',
    },
  ],
};

function mbzFail<T>(code: string, name: string, r: RuleLike, reg: number, bad: number): Result<T> {
  return fail(code, name, { kind: 'register', reg, bits: span(bad) }, r.why, '0', hex(bad >>> 0), r.rule);
}

interface RuleLike {
  readonly rule: string;
  readonly why: string;
}

/** The first value-dependent strict violation of a call, or undefined. */
export function checkCallRules<T>(name: string, regs: RegisterFile, smc64: boolean): Result<T> | undefined {
  for (const r of CALL_RULES.mbz) {
    if (!r.calls.includes(name)) continue;
    const bad = (regs.w(r.reg) & r.mask(regs)) >>> 0;
    if (bad !== 0) return mbzFail('CALL_MBZ_NONZERO', 'Call.MbzNonZero', r, r.reg, bad);
  }
  for (const r of CALL_RULES.align) {
    if (!r.calls.includes(name)) continue;
    for (const reg of r.regs) {
      const v = r.xw === true && smc64 ? regs.x(reg) : BigInt(regs.w(reg));
      const m = BigInt(r.multiple);
      if (v % m !== 0n || (r.nonZero === true && v === 0n)) {
        return fail(
          'CALL_MISALIGNED',
          'Call.Misaligned',
          { kind: 'register', reg },
          r.why,
          `${r.nonZero === true ? 'a non-zero ' : 'a '}multiple of ${r.multiple}`,
          hex(v),
          r.rule,
        );
      }
    }
  }
  return undefined;
}

// =============================================================================================
// Answers

/** What the decoder knows about the call an answer is for. */
export interface AnswerContext {
  /** Spec name of the call, when known. */
  readonly call?: string;
  /** The call's registers, when known (FEATURES and PARTITION_INFO_GET answers depend on them). */
  readonly regs?: RegisterFile;
}

/** Calls whose success answer is a plain "ok": w2–w7 all zero (abi.md §3.2). */
const PLAIN_OK = new Set([
  'FFA_RX_RELEASE',
  'FFA_RXTX_MAP',
  'FFA_RXTX_UNMAP',
  'FFA_MEM_RELINQUISH',
  'FFA_MEM_RECLAIM',
  'FFA_NOTIFICATION_BITMAP_CREATE',
  'FFA_NOTIFICATION_BITMAP_DESTROY',
  'FFA_NOTIFICATION_BIND',
  'FFA_NOTIFICATION_UNBIND',
  'FFA_NOTIFICATION_SET',
  'FFA_RX_ACQUIRE',
  'FFA_MSG_SEND2',
  'FFA_SECONDARY_EP_REGISTER',
  'FFA_MEM_PERM_SET',
  'FFA_CONSOLE_LOG',
]);

const FID_NUM = (fid: number): number => fid & 0xffff;

/** Reserved bits of w1…w7 (index = register) of an FFA_FEATURES answer for the queried w1 (abi.md §4.2). */
function featuresMasks(queried: number): number[] {
  const m = [0, 0xffff_ffff, 0, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff];
  if ((queried & 0x8000_0000) === 0) return m; // feature ID: w2 = the interrupt ID
  switch (FID_NUM(queried)) {
    case 0x66: // RXTX_MAP: [1:0] size/alignment, [31:16] max pages (1.2)
      m[2] = 0x0000_fffc;
      break;
    case 0x71: // DONATE, LEND, SHARE: ≤1.1 bit 0 dynamic buffers
    case 0x72:
    case 0x73:
      m[2] = 0xffff_fffe;
      break;
    case 0x74: // RETRIEVE_REQ: w2[2:0], w3[7:0] outstanding retrievals
      m[2] = 0xffff_fff8;
      m[3] = 0xffff_ff00;
      break;
    default:
      m[2] = 0xffff_ffff;
  }
  return m;
}

/** Reserved bits of w1…w7 of an FFA_SUCCESS answering `call`, or undefined when abi.md does not fix them. */
function successMasks(ctx: AnswerContext): { rule: string; masks: number[] } | undefined {
  const c = ctx.call;
  if (c === undefined) return undefined;
  const F = 0xffff_ffff;
  const none = (from: number): number[] => [0, 0, 0, 0, 0, 0, 0, 0].map((_, i) => (i >= from ? F : 0));
  if (PLAIN_OK.has(c)) return { rule: 'ret/success-unused', masks: none(2) };
  switch (c) {
    case 'FFA_MEM_DONATE':
    case 'FFA_MEM_LEND':
    case 'FFA_MEM_SHARE':
    case 'FFA_MEM_FRAG_TX':
      return { rule: 'ret/success-unused', masks: none(4) };
    case 'FFA_ID_GET':
    case 'FFA_SPM_ID_GET': {
      const m = none(3);
      m[2] = 0xffff_0000;
      return { rule: 'ret/success-unused', masks: m };
    }
    case 'FFA_PARTITION_INFO_GET': {
      const m = none(4);
      if (ctx.regs !== undefined && (ctx.regs.w(5) & 1) !== 0) m[3] = F; // count only: no size
      return { rule: 'ret/success-unused', masks: m };
    }
    case 'FFA_MEM_PERM_GET': {
      const m = none(3);
      m[2] = 0xffff_fff8;
      return { rule: 'ret/mem-perm-get', masks: m };
    }
    case 'FFA_FEATURES':
      return ctx.regs === undefined
        ? undefined
        : { rule: 'ret/features', masks: featuresMasks(ctx.regs.w(1)) };
    default:
      return undefined;
  }
}

/** Reserved w-register bits of answers whose w0 is not FFA_SUCCESS, by w0. */
const ANSWER_MASKS: Readonly<Record<number, { rule: string; why: string; masks: number[] }>> = {
  2214592608: {
    rule: 'ret/error',
    why: 'FFA_ERROR carries only w1 (target info), w2 (code) and w3',
    masks: [0, 0, 0, 0, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff],
  },
  2214592634: {
    rule: 'ret/frag',
    why: 'MEM_FRAG_RX: w4[15:0] and w5–w7 are reserved',
    masks: [0, 0, 0, 0, 0xffff, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff],
  },
  2214592635: {
    rule: 'ret/frag',
    why: 'MEM_FRAG_TX: w4[15:0] and w5–w7 are reserved',
    masks: [0, 0, 0, 0, 0xffff, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff],
  },
  2214592629: {
    rule: 'ret/retrieve-resp',
    why: 'MEM_RETRIEVE_RESP carries only w1 (total) and w2 (fragment length)',
    masks: [0, 0, 0, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff],
  },
};

function firstMasked<T>(
  regs: RegisterFile,
  masks: readonly number[],
  rl: RuleLike,
  wide: boolean,
): Result<T> | undefined {
  for (let r = 1; r < 8; r++) {
    const m = masks[r] ?? 0;
    const bad = (regs.w(r) & m) >>> 0;
    if (bad !== 0) return mbzFail('RESULT_MBZ_NONZERO', 'Result.MbzNonZero', rl, r, bad);
    // An SMC64 answer's register that is reserved as a whole is reserved as an x-register.
    if (wide && m === 0xffff_ffff && regs.hi(r) !== 0) {
      return fail(
        'RESULT_MBZ_NONZERO',
        'Result.MbzNonZero',
        { kind: 'register', reg: r, bits: [63, 32] },
        rl.why,
        '0',
        hex(regs.hi(r)),
        rl.rule,
      );
    }
  }
  return undefined;
}

/**
 * The first strict violation of an answer, or undefined. Only the w-views are checked (and a wholly reserved
 * register of an SMC64 answer): the upper halves of SMC32 results differ between implementations (abi.md §13 #3).
 */
export function checkAnswerRules<T>(regs: RegisterFile, ctx: AnswerContext): Result<T> | undefined {
  const w0 = regs.w(0);
  if (ctx.call === 'FFA_VERSION') {
    if (w0 !== 0xffff_ffff && (w0 & 0x8000_0000) !== 0)
      return mbzFail(
        'RESULT_MBZ_NONZERO',
        'Result.MbzNonZero',
        { rule: 'ret/version', why: 'a version word has bit 31 clear (0xFFFFFFFF is NOT_SUPPORTED)' },
        0,
        0x8000_0000,
      );
    return firstMasked(
      regs,
      [0, ...new Array<number>(7).fill(0xffff_ffff)],
      {
        rule: 'ret/version',
        why: 'FFA_VERSION answers in w0 alone',
      },
      false,
    );
  }
  if (w0 === 0x8400_0061 || w0 === 0xc400_0061) {
    const s = successMasks(ctx);
    if (s === undefined) return undefined;
    const why =
      s.rule === 'ret/features'
        ? `bits FFA_FEATURES does not define for this query`
        : `result bits ${ctx.call} does not define`;
    const bad = firstMasked<T>(regs, s.masks, { rule: s.rule, why }, w0 === 0xc400_0061);
    if (bad !== undefined) return bad;
    if (ctx.call === 'FFA_MEM_PERM_GET' && (regs.w(2) & 3) === 2) {
      return fail(
        'RESULT_RESERVED_VALUE',
        'Result.ReservedValue',
        { kind: 'register', reg: 2, bits: [1, 0] },
        'data access 0b10 is reserved',
        '0b00, 0b01 or 0b11',
        '0b10',
        'ret/mem-perm-get-encoding',
      );
    }
    return undefined;
  }
  if (w0 === 0x8400_0070 || w0 === 0xc400_0070) {
    const m = (regs.w(2) & 0x8000_0000) !== 0 ? 0x7fff_ff00 : 0x7fff_ffff;
    const bad = (regs.w(2) & m) >>> 0;
    if (bad !== 0)
      return mbzFail(
        'RESULT_MBZ_NONZERO',
        'Result.MbzNonZero',
        {
          rule: 'ret/direct-resp-flags',
          why: 'direct message flags: w2[30:8] reserved; a partition message (w2[31] = 0) has w2 = 0',
        },
        2,
        bad,
      );
    return undefined;
  }
  if (w0 === 0xc400_008e) {
    for (const r of [2, 3]) {
      if (regs.x(r) !== 0n) {
        return fail(
          'RESULT_MBZ_NONZERO',
          'Result.MbzNonZero',
          { kind: 'register', reg: r },
          `DIRECT_RESP2 x${r} is reserved`,
          '0',
          hex(regs.x(r)),
          'ret/direct-resp2-mbz',
        );
      }
    }
    return undefined;
  }
  const a = ANSWER_MASKS[w0];
  return a === undefined ? undefined : firstMasked(regs, a.masks, a, false);
}
