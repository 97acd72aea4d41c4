/**
 * Typed FF-A calls and results for every interface up to 1.2 (abi.md §2–§10), decoded from and encoded to
 * register files. The argument layout of each call is one table row ({@link CALL_SPECS}); the decoder, the
 * encoder, strict MBZ checking and the TypeScript union type are all derived from that table.
 *
 * Decoding untrusted registers never throws: it returns a typed value or a located error (register, bits, why).
 * SMC32 calls read only w-registers (upper halves ignored, abi.md §1.2); `strict` reports every non-zero bit the
 * call does not define (upper halves of SMC32 arguments, unused registers, reserved bit fields, x8–x17).
 */
import { isSmc64 } from '../smccc/fid.ts';
import { RegisterFile, u64Of } from '../smccc/regs.ts';
import { type FfaErrorName, ffaErrorName } from './errors.ts';
import { FFA, FFA_FUNCTIONS, ffaFunctionById } from './ids.ts';
import { fail, ok, type Result } from './result.ts';
import { checkAnswerRules, checkCallRules } from './strict.ts';
import { uuidFormat, uuidFromW4, uuidFromX2, uuidParse, uuidToW4, uuidToX2 } from './uuid.ts';

/**
 * Field kinds: `w` a bit field of a w-register (number); `x` a full x-register (bigint); `xw` x for SMC64, w for
 * SMC32 (bigint); `handle` lo/hi in two w-registers (bigint); `uuid4` w-registers reg..reg+3; `uuid2` x-registers
 * reg, reg+1; `payload` `count` registers (x for SMC64, w for SMC32; bigint[]).
 */
export type FieldKind = 'w' | 'x' | 'xw' | 'handle' | 'uuid4' | 'uuid2' | 'payload';

export interface CallField {
  readonly name: string;
  readonly kind: FieldKind;
  readonly reg: number;
  /** `w`: bit offset and width (default 0, 32). `payload`: register count. */
  readonly lo?: number;
  readonly width?: number;
  readonly count?: number;
}

const w = <N extends string>(name: N, reg: number, lo = 0, width = 32) => ({
  name,
  kind: 'w' as const,
  reg,
  lo,
  width,
});
const xw = <N extends string>(name: N, reg: number) => ({ name, kind: 'xw' as const, reg });
const handle = (reg: number) => ({ name: 'handle' as const, kind: 'handle' as const, reg });
const uuid4 = (reg: number) => ({ name: 'uuid' as const, kind: 'uuid4' as const, reg });
const uuid2 = (reg: number) => ({ name: 'uuid' as const, kind: 'uuid2' as const, reg });
const payload = (reg: number, count: number) => ({
  name: 'payload' as const,
  kind: 'payload' as const,
  reg,
  count,
});

const memSend = [w('totalLength', 1), w('fragmentLength', 2), xw('address', 3), w('pageCount', 4)] as const;

/**
 * Argument layout of every FF-A call (abi.md §2 table and the per-call sections). Reserved bits are everything
 * not listed here.
 */
export const CALL_SPECS = {
  FFA_ERROR: [w('targetInfo', 1), w('code', 2), w('errorArgument', 3)],
  FFA_SUCCESS: [w('targetInfo', 1), payload(2, 6)],
  FFA_INTERRUPT: [w('targetInfo', 1), w('interruptId', 2)],
  FFA_VERSION: [w('requested', 1, 0, 31)], // bit 31 MBZ (abi.md §3.3)
  FFA_FEATURES: [w('id', 1), w('inputProperties', 2)],
  FFA_RX_RELEASE: [w('vmId', 1, 0, 16)],
  FFA_RXTX_MAP: [xw('tx', 1), xw('rx', 2), w('pageCount', 3, 0, 6)], // w3[31:6] MBZ
  FFA_RXTX_UNMAP: [w('endpointId', 1, 16, 16)], // w1[15:0] MBZ
  FFA_PARTITION_INFO_GET: [uuid4(1), w('flags', 5)],
  FFA_ID_GET: [],
  FFA_MSG_POLL: [],
  FFA_MSG_WAIT: [w('flags', 2)],
  FFA_YIELD: [w('timeoutLo', 2), w('timeoutHi', 3)],
  FFA_RUN: [w('targetInfo', 1)],
  FFA_MSG_SEND: [w('senderReceiver', 1), w('length', 3), w('flags', 4)],
  FFA_MSG_SEND_DIRECT_REQ: [w('receiver', 1, 0, 16), w('sender', 1, 16, 16), w('flags', 2), payload(3, 5)],
  FFA_MSG_SEND_DIRECT_RESP: [w('receiver', 1, 0, 16), w('sender', 1, 16, 16), w('flags', 2), payload(3, 5)],
  FFA_MEM_DONATE: memSend,
  FFA_MEM_LEND: memSend,
  FFA_MEM_SHARE: memSend,
  FFA_MEM_RETRIEVE_REQ: memSend,
  FFA_MEM_RETRIEVE_RESP: [w('totalLength', 1), w('fragmentLength', 2)],
  FFA_MEM_RELINQUISH: [],
  FFA_MEM_RECLAIM: [handle(1), w('flags', 3)],
  FFA_MEM_OP_PAUSE: [handle(1)],
  FFA_MEM_OP_RESUME: [handle(1)],
  FFA_MEM_FRAG_RX: [handle(1), w('offset', 3), w('senderId', 4, 16, 16)],
  FFA_MEM_FRAG_TX: [handle(1), w('length', 3), w('senderId', 4, 16, 16)],
  FFA_NORMAL_WORLD_RESUME: [],
  FFA_NOTIFICATION_BITMAP_CREATE: [w('vmId', 1, 0, 16), w('vcpuCount', 2)],
  FFA_NOTIFICATION_BITMAP_DESTROY: [w('vmId', 1, 0, 16)],
  FFA_NOTIFICATION_BIND: [
    w('receiver', 1, 0, 16),
    w('sender', 1, 16, 16),
    w('flags', 2),
    w('bitmapLo', 3),
    w('bitmapHi', 4),
  ],
  FFA_NOTIFICATION_UNBIND: [
    w('receiver', 1, 0, 16),
    w('sender', 1, 16, 16),
    w('bitmapLo', 3),
    w('bitmapHi', 4),
  ],
  FFA_NOTIFICATION_SET: [
    w('receiver', 1, 0, 16),
    w('sender', 1, 16, 16),
    w('flags', 2),
    w('bitmapLo', 3),
    w('bitmapHi', 4),
  ],
  FFA_NOTIFICATION_GET: [w('receiver', 1, 0, 16), w('vcpu', 1, 16, 16), w('flags', 2)],
  FFA_NOTIFICATION_INFO_GET: [],
  FFA_RX_ACQUIRE: [w('vmId', 1, 0, 16)],
  FFA_SPM_ID_GET: [],
  FFA_MSG_SEND2: [w('senderVmId', 1, 16, 16), w('flags', 2)],
  FFA_SECONDARY_EP_REGISTER: [xw('entryPoint', 1)],
  FFA_MEM_PERM_GET: [xw('baseVa', 1)],
  FFA_MEM_PERM_SET: [xw('baseVa', 1), w('pageCount', 2), w('permissions', 3)],
  FFA_CONSOLE_LOG: [w('count', 1, 0, 8), payload(2, 16)],
  FFA_PARTITION_INFO_GET_REGS: [uuid2(1), w('startIndex', 3, 0, 16), w('tag', 3, 16, 16)],
  FFA_EL3_INTR_HANDLE: [],
  FFA_MSG_SEND_DIRECT_REQ2: [w('receiver', 1, 0, 16), w('sender', 1, 16, 16), uuid2(2), payload(4, 14)],
  FFA_MSG_SEND_DIRECT_RESP2: [w('receiver', 1, 0, 16), w('sender', 1, 16, 16), payload(4, 14)],
} as const satisfies Readonly<Record<string, readonly CallField[]>>;

/** The TypeScript type of a field's value, by kind. */
type FieldValue<K> = K extends 'w'
  ? number
  : K extends 'uuid4' | 'uuid2'
    ? string
    : K extends 'payload'
      ? bigint[]
      : bigint;
type ArgsOf<F extends readonly { name: string; kind: FieldKind }[]> = {
  [E in F[number] as E['name']]: FieldValue<E['kind']>;
};

/** Spec names of every call this module types. */
export type FfaCallName = keyof typeof CALL_SPECS;

/**
 * A decoded call: a discriminated union on `name` (spec names verbatim), each variant with its typed, named
 * arguments — numbers for bit fields, bigints for x-registers and handles, UUID text, payload arrays — plus the
 * exact w0 and the convention.
 */
export type FfaCall = {
  [N in FfaCallName]: {
    readonly name: N;
    readonly fid: number;
    readonly smc64: boolean;
    readonly args: Readonly<ArgsOf<(typeof CALL_SPECS)[N]>>;
  };
}[FfaCallName];

/** Arguments of one call variant. */
export type FfaCallArgs<N extends FfaCallName> = Extract<FfaCall, { name: N }>['args'];

type AnyArgs = Readonly<Record<string, number | bigint | string | bigint[]>>;

/** Fields of a call whose layout is fixed by the convention (CONSOLE_LOG payload length). */
export function fieldsFor(name: string, smc64: boolean): readonly CallField[] {
  const spec = (CALL_SPECS as Readonly<Record<string, readonly CallField[]>>)[name] ?? [];
  if (name === 'FFA_CONSOLE_LOG' && !smc64) return [w('count', 1, 0, 8), payload(2, 6)];
  if (name === 'FFA_SUCCESS' && smc64) return [w('targetInfo', 1), payload(2, 16)];
  return spec;
}

/** Which bits of each register the call defines: mask per w-register half and whether x is wholly used. */
function usedBits(fields: readonly CallField[], smc64: boolean): { lo: number[]; hi: number[] } {
  const lo = new Array<number>(18).fill(0);
  const hi = new Array<number>(18).fill(0);
  lo[0] = 0xffff_ffff;
  hi[0] = 0xffff_ffff; // x0 is the function ID itself (its upper half is checked separately)
  for (const f of fields) {
    switch (f.kind) {
      case 'w': {
        const width = f.width ?? 32;
        const m = width === 32 ? 0xffff_ffff : ((1 << width) - 1) << (f.lo ?? 0);
        lo[f.reg] = (lo[f.reg]! | m) >>> 0;
        break;
      }
      case 'x':
        lo[f.reg] = 0xffff_ffff;
        hi[f.reg] = 0xffff_ffff;
        break;
      case 'xw':
        lo[f.reg] = 0xffff_ffff;
        if (smc64) hi[f.reg] = 0xffff_ffff;
        break;
      case 'handle':
        lo[f.reg] = 0xffff_ffff;
        lo[f.reg + 1] = 0xffff_ffff;
        break;
      case 'uuid4':
        for (let i = 0; i < 4; i++) lo[f.reg + i] = 0xffff_ffff;
        break;
      case 'uuid2':
        for (let i = 0; i < 2; i++) {
          lo[f.reg + i] = 0xffff_ffff;
          hi[f.reg + i] = 0xffff_ffff;
        }
        break;
      case 'payload':
        for (let i = 0; i < (f.count ?? 0); i++) {
          lo[f.reg + i] = 0xffff_ffff;
          if (smc64) hi[f.reg + i] = 0xffff_ffff;
        }
        break;
    }
  }
  return { lo, hi };
}

const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;

/** Decodes a call's registers. Never throws. */
export function decodeCall(regs: RegisterFile, opts: { strict?: boolean } = {}): Result<FfaCall> {
  const w0 = regs.w(0);
  const num = w0 & 0xffff;
  if ((w0 & 0x8000_0000) === 0 || ((w0 >>> 24) & 0x3f) !== 4 || num < 0x60 || num > 0xff) {
    return fail(
      'CALL_NOT_FFA',
      'Call.NotFfa',
      { kind: 'register', reg: 0 },
      'not an FF-A function ID (fast call, owner 4, number 0x60–0xFF)',
      'an FF-A ID',
      hex(w0),
    );
  }
  // Strict: reserved FID bits are reported as such, not as an unknown ID (no function has them set).
  if (opts.strict === true && (w0 & 0x00fe_0000) !== 0) {
    return fail(
      'CALL_MBZ_NONZERO',
      'Call.MbzNonZero',
      { kind: 'register', reg: 0, bits: [23, 17] },
      'function ID bits [23:17] are reserved',
      '0',
      hex((w0 >>> 17) & 0x7f),
      'call/fid-reserved',
    );
  }
  const hit = ffaFunctionById(w0 & ~0x10000);
  if (hit === undefined) {
    return fail(
      'CALL_UNKNOWN_ID',
      'Call.UnknownId',
      { kind: 'register', reg: 0 },
      'no FF-A function has this ID',
      'a defined FF-A ID',
      hex(w0),
    );
  }
  const smc64 = isSmc64(w0);
  const fields = fieldsFor(hit.fn.name, smc64);
  const args: Record<string, number | bigint | string | bigint[]> = {};
  for (const f of fields) {
    switch (f.kind) {
      case 'w': {
        const width = f.width ?? 32;
        const v = regs.w(f.reg) >>> (f.lo ?? 0);
        args[f.name] = width === 32 ? v >>> 0 : v & ((1 << width) - 1);
        break;
      }
      case 'x':
        args[f.name] = regs.x(f.reg);
        break;
      case 'xw':
        args[f.name] = smc64 ? regs.x(f.reg) : BigInt(regs.w(f.reg));
        break;
      case 'handle':
        args[f.name] = u64Of(regs.w(f.reg), regs.w(f.reg + 1));
        break;
      case 'uuid4':
        args[f.name] = uuidFormat(
          uuidFromW4(regs.w(f.reg), regs.w(f.reg + 1), regs.w(f.reg + 2), regs.w(f.reg + 3)),
        );
        break;
      case 'uuid2':
        args[f.name] = uuidFormat(uuidFromX2(regs.x(f.reg), regs.x(f.reg + 1)));
        break;
      case 'payload': {
        const out: bigint[] = [];
        for (let i = 0; i < (f.count ?? 0); i++)
          out.push(smc64 ? regs.x(f.reg + i) : BigInt(regs.w(f.reg + i)));
        args[f.name] = out;
        break;
      }
    }
  }
  if (opts.strict) {
    if (regs.hi(0) !== 0) {
      return fail(
        'CALL_MBZ_NONZERO',
        'Call.MbzNonZero',
        { kind: 'register', reg: 0, bits: [63, 32] },
        'upper half of x0 must be zero',
        '0',
        hex(regs.hi(0)),
        'call/x0-upper',
      );
    }

    const used = usedBits(fields, smc64);
    for (let r = 1; r < 18; r++) {
      const loBad = (regs.w(r) & ~used.lo[r]!) >>> 0;
      if (loBad !== 0) {
        const bit = 31 - Math.clz32(loBad);
        const low = 31 - Math.clz32(loBad & -loBad);
        return fail(
          'CALL_MBZ_NONZERO',
          'Call.MbzNonZero',
          { kind: 'register', reg: r, bits: [bit, low] },
          `x${r} bits not defined by ${hit.fn.name} must be zero`,
          '0',
          hex(loBad),
          'call/undefined-bits',
        );
      }
      const hiBad = (regs.hi(r) & ~used.hi[r]!) >>> 0;
      if (hiBad !== 0) {
        return fail(
          'CALL_MBZ_NONZERO',
          'Call.MbzNonZero',
          { kind: 'register', reg: r, bits: [63, 32] },
          smc64 ? `x${r}[63:32] not defined by ${hit.fn.name}` : 'upper half of an SMC32 argument',
          '0',
          hex(hiBad),
          smc64 ? 'call/undefined-bits' : 'call/smc32-upper',
        );
      }
    }
    const bad = checkCallRules<FfaCall>(hit.fn.name, regs, smc64);
    if (bad !== undefined) return bad;
  }
  // The table row named hit.fn.name defines exactly these fields, so the variant matches.
  return ok({ name: hit.fn.name, fid: w0, smc64, args } as unknown as FfaCall);
}

/**
 * Encodes a call.
 * @throws RangeError for an unknown name, a missing field or a value that does not fit its field.
 */
export function encodeCall(call: FfaCall): RegisterFile {
  const f = FFA_FUNCTIONS.find((x) => x.name === call.name);
  if (f === undefined) throw new RangeError(`unknown FF-A call ${call.name}`);
  const id = call.smc64 ? f.id64 : f.id32;
  if (id === undefined) throw new RangeError(`${call.name} has no ${call.smc64 ? 'SMC64' : 'SMC32'} form`);
  const r = new RegisterFile().setW(0, call.fid !== 0 && (call.fid & ~0x10000) === id ? call.fid : id);
  const callArgs = call.args as AnyArgs;
  for (const fl of fieldsFor(call.name, call.smc64)) {
    const v = callArgs[fl.name];
    if (v === undefined) throw new RangeError(`${call.name}: missing field ${fl.name}`);
    switch (fl.kind) {
      case 'w': {
        const width = fl.width ?? 32;
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0 || n >= 2 ** width)
          throw new RangeError(`${call.name}.${fl.name} does not fit ${width} bits`);
        r.setW(fl.reg, (r.w(fl.reg) | (width === 32 ? n : n << (fl.lo ?? 0))) >>> 0);
        break;
      }
      case 'x':
        r.setX(fl.reg, BigInt(v as bigint));
        break;
      case 'xw':
        if (!call.smc64 && BigInt(v as bigint) > 0xffff_ffffn)
          throw new RangeError(`${call.name}.${fl.name} does not fit w${fl.reg}`);
        r.setX(fl.reg, BigInt(v as bigint));
        break;
      case 'handle': {
        const h = BigInt(v as bigint);
        r.setW(fl.reg, Number(h & 0xffff_ffffn));
        r.setW(fl.reg + 1, Number((h >> 32n) & 0xffff_ffffn));
        break;
      }
      case 'uuid4': {
        const u = uuidParse(String(v));
        if (u === undefined) throw new RangeError(`${call.name}.uuid is not a UUID`);
        uuidToW4(u).forEach((word, i) => {
          r.setW(fl.reg + i, word);
        });
        break;
      }
      case 'uuid2': {
        const u = uuidParse(String(v));
        if (u === undefined) throw new RangeError(`${call.name}.uuid is not a UUID`);
        const [lo, hi] = uuidToX2(u);
        r.setX(fl.reg, lo);
        r.setX(fl.reg + 1, hi);
        break;
      }
      case 'payload': {
        const p = v as bigint[];
        if (!Array.isArray(p) || p.length > (fl.count ?? 0))
          throw new RangeError(`${call.name}.payload has more than ${fl.count} words`);
        p.forEach((word, i) => {
          if (!call.smc64 && word > 0xffff_ffffn)
            throw new RangeError(`${call.name}.payload[${i}] does not fit 32 bits`);
          r.setX(fl.reg + i, word);
        });
        break;
      }
    }
  }
  return r;
}

/** A call built from a name and fields, defaults 0 (for tests, scenarios and the fuzzer). */
export function makeCall<N extends FfaCallName>(
  name: N,
  args: Partial<FfaCallArgs<N>> = {},
  smc64 = false,
): Extract<FfaCall, { name: N }> {
  const f = FFA_FUNCTIONS.find((x) => x.name === name);
  if (f === undefined) throw new RangeError(`unknown FF-A call ${name}`);
  const id = (smc64 ? f.id64 : f.id32) ?? f.id64 ?? f.id32 ?? 0;
  const full: Record<string, number | bigint | string | bigint[]> = {};
  for (const fl of fieldsFor(name, isSmc64(id))) {
    const dflt =
      fl.kind === 'w'
        ? 0
        : fl.kind === 'payload'
          ? []
          : fl.kind === 'uuid4' || fl.kind === 'uuid2'
            ? '00000000-0000-0000-0000-000000000000'
            : 0n;
    full[fl.name] = (args as AnyArgs)[fl.name] ?? dflt;
  }
  return { name, fid: id, smc64: isSmc64(id), args: full } as unknown as Extract<FfaCall, { name: N }>;
}

// =============================================================================================
// Results

/** A decoded answer. */
export type FfaResult =
  | {
      kind: 'SUCCESS';
      smc64: boolean;
      targetInfo: number;
      /** x2…x17 (w2…w7 for SUCCESS_32). */
      args: bigint[];
      /** The payload read for the call it answers, when known. */
      payload?: Record<string, number | bigint>;
    }
  | { kind: 'ERROR'; code: number; error: FfaErrorName | undefined; targetInfo: number }
  | { kind: 'VERSION'; version: number; notSupported: boolean }
  | { kind: 'MEM_FRAG_RX'; handle: bigint; offset: number; senderId: number }
  | { kind: 'MEM_FRAG_TX'; handle: bigint; length: number; senderId: number }
  | { kind: 'MEM_RETRIEVE_RESP'; totalLength: number; fragmentLength: number }
  | {
      kind: 'DIRECT_RESP';
      smc64: boolean;
      sender: number;
      receiver: number;
      flags: number;
      payload: bigint[];
    }
  | { kind: 'DIRECT_RESP2'; sender: number; receiver: number; payload: bigint[] }
  | { kind: 'INTERRUPT'; targetInfo: number; interruptId: number }
  | { kind: 'YIELD'; targetInfo: number }
  | { kind: 'MSG_WAIT'; flags: number }
  | { kind: 'MEM_OP_PAUSE'; handle: bigint }
  | { kind: 'SMCCC_NOT_SUPPORTED' }
  | { kind: 'UNKNOWN'; w0: number };

/** Payload of a SUCCESS answering a given call (abi.md per-call result tables). */
function successPayload(call: string, r: RegisterFile): Record<string, number | bigint> | undefined {
  switch (call) {
    case 'FFA_MEM_SHARE':
    case 'FFA_MEM_LEND':
    case 'FFA_MEM_DONATE':
    case 'FFA_MEM_FRAG_TX':
      return { handle: u64Of(r.w(2), r.w(3)) };
    case 'FFA_PARTITION_INFO_GET':
      return { count: r.w(2), size: r.w(3) };
    case 'FFA_ID_GET':
    case 'FFA_SPM_ID_GET':
      return { id: r.w(2) & 0xffff };
    case 'FFA_FEATURES':
      return { w2: r.w(2), w3: r.w(3) };
    case 'FFA_MEM_PERM_GET':
      return { permissions: r.w(2) };
    case 'FFA_PARTITION_INFO_GET_REGS': {
      const x2 = r.x(2);
      return {
        lastIndex: Number(x2 & 0xffffn),
        currentIndex: Number((x2 >> 16n) & 0xffffn),
        tag: Number((x2 >> 32n) & 0xffffn),
        descriptorSize: Number((x2 >> 48n) & 0xffffn),
      };
    }
    case 'FFA_NOTIFICATION_GET':
      return {
        fromSpLo: r.w(2),
        fromSpHi: r.w(3),
        fromVmLo: r.w(4),
        fromVmHi: r.w(5),
        spmFramework: r.w(6),
        hypFramework: r.w(7),
      };
    default:
      return undefined;
  }
}

/**
 * Decodes an answer, read for the call it answers when that is given (its decoded form or its function ID).
 * Never throws; error codes are compared on the low 32 bits as s32 (abi.md §13 #3). `strict` reports the answer's
 * reserved bits (strict.ts `ret/*` rules; FEATURES and PARTITION_INFO_GET answers need the call's `callRegs`).
 */
export function decodeResult(
  regs: RegisterFile,
  forCall?: FfaCall | number,
  opts: { strict?: boolean; callRegs?: RegisterFile } = {},
): Result<FfaResult> {
  const callName = typeof forCall === 'number' ? ffaFunctionById(forCall & ~0x10000)?.fn.name : forCall?.name;
  if (opts.strict === true) {
    const bad = checkAnswerRules<FfaResult>(regs, {
      ...(callName === undefined ? {} : { call: callName }),
      ...(opts.callRegs === undefined ? {} : { regs: opts.callRegs }),
    });
    if (bad !== undefined) return bad;
  }
  const w0 = regs.w(0);
  if (callName === 'FFA_VERSION') {
    return ok({ kind: 'VERSION', version: w0, notSupported: w0 === 0xffff_ffff });
  }
  if (regs.x(0) === 0xffff_ffff_ffff_ffffn) return ok({ kind: 'SMCCC_NOT_SUPPORTED' });
  switch (w0) {
    case FFA.SUCCESS:
    case FFA.SUCCESS64: {
      const smc64 = w0 === FFA.SUCCESS64;
      const args: bigint[] = [];
      for (let i = 2; i < (smc64 ? 18 : 8); i++) args.push(smc64 ? regs.x(i) : BigInt(regs.w(i)));
      const payload = callName === undefined ? undefined : successPayload(callName, regs);
      return ok({ kind: 'SUCCESS', smc64, targetInfo: regs.w(1), args, ...(payload ? { payload } : {}) });
    }
    case FFA.ERROR:
      return ok({
        kind: 'ERROR',
        code: regs.w(2) | 0,
        error: ffaErrorName(regs.w(2)),
        targetInfo: regs.w(1),
      });
    case FFA.MEM_FRAG_RX:
      return ok({
        kind: 'MEM_FRAG_RX',
        handle: u64Of(regs.w(1), regs.w(2)),
        offset: regs.w(3),
        senderId: regs.w(4) >>> 16,
      });
    case FFA.MEM_FRAG_TX:
      return ok({
        kind: 'MEM_FRAG_TX',
        handle: u64Of(regs.w(1), regs.w(2)),
        length: regs.w(3),
        senderId: regs.w(4) >>> 16,
      });
    case FFA.MEM_RETRIEVE_RESP:
      return ok({ kind: 'MEM_RETRIEVE_RESP', totalLength: regs.w(1), fragmentLength: regs.w(2) });
    case FFA.MSG_SEND_DIRECT_RESP:
    case FFA.MSG_SEND_DIRECT_RESP64: {
      const smc64 = w0 === FFA.MSG_SEND_DIRECT_RESP64;
      const p: bigint[] = [];
      for (let i = 3; i < 8; i++) p.push(smc64 ? regs.x(i) : BigInt(regs.w(i)));
      return ok({
        kind: 'DIRECT_RESP',
        smc64,
        sender: regs.w(1) >>> 16,
        receiver: regs.w(1) & 0xffff,
        flags: regs.w(2),
        payload: p,
      });
    }
    case FFA.MSG_SEND_DIRECT_RESP2: {
      const p: bigint[] = [];
      for (let i = 4; i < 18; i++) p.push(regs.x(i));
      return ok({ kind: 'DIRECT_RESP2', sender: regs.w(1) >>> 16, receiver: regs.w(1) & 0xffff, payload: p });
    }
    case FFA.INTERRUPT:
      return ok({ kind: 'INTERRUPT', targetInfo: regs.w(1), interruptId: regs.w(2) });
    case FFA.YIELD:
      return ok({ kind: 'YIELD', targetInfo: regs.w(1) });
    case FFA.MSG_WAIT:
      return ok({ kind: 'MSG_WAIT', flags: regs.w(2) });
    case FFA.MEM_OP_PAUSE:
      return ok({ kind: 'MEM_OP_PAUSE', handle: u64Of(regs.w(1), regs.w(2)) });
    default:
      return ok({ kind: 'UNKNOWN', w0 });
  }
}

/**
 * Encodes a result.
 * @throws RangeError for an UNKNOWN result (there is nothing to encode).
 */
export function encodeResult(r: FfaResult): RegisterFile {
  const out = new RegisterFile();
  const setHandle = (h: bigint): void => {
    out.setW(1, Number(h & 0xffff_ffffn)).setW(2, Number((h >> 32n) & 0xffff_ffffn));
  };
  switch (r.kind) {
    case 'SUCCESS':
      out.setW(0, r.smc64 ? FFA.SUCCESS64 : FFA.SUCCESS).setW(1, r.targetInfo);
      r.args.forEach((v, i) => {
        out.setX(i + 2, v);
      });
      return out;
    case 'ERROR':
      return out
        .setW(0, FFA.ERROR)
        .setW(1, r.targetInfo)
        .setW(2, r.code >>> 0);
    case 'VERSION':
      return out.setW(0, r.version);
    case 'MEM_FRAG_RX':
      out.setW(0, FFA.MEM_FRAG_RX);
      setHandle(r.handle);
      return out.setW(3, r.offset).setW(4, (r.senderId << 16) >>> 0);
    case 'MEM_FRAG_TX':
      out.setW(0, FFA.MEM_FRAG_TX);
      setHandle(r.handle);
      return out.setW(3, r.length).setW(4, (r.senderId << 16) >>> 0);
    case 'MEM_RETRIEVE_RESP':
      return out.setW(0, FFA.MEM_RETRIEVE_RESP).setW(1, r.totalLength).setW(2, r.fragmentLength);
    case 'DIRECT_RESP':
      out
        .setW(0, r.smc64 ? FFA.MSG_SEND_DIRECT_RESP64 : FFA.MSG_SEND_DIRECT_RESP)
        .setW(1, ((r.sender << 16) | r.receiver) >>> 0)
        .setW(2, r.flags);
      r.payload.forEach((v, i) => {
        out.setX(3 + i, v);
      });
      return out;
    case 'DIRECT_RESP2':
      out.setW(0, FFA.MSG_SEND_DIRECT_RESP2).setW(1, ((r.sender << 16) | r.receiver) >>> 0);
      r.payload.forEach((v, i) => {
        out.setX(4 + i, v);
      });
      return out;
    case 'INTERRUPT':
      return out.setW(0, FFA.INTERRUPT).setW(1, r.targetInfo).setW(2, r.interruptId);
    case 'YIELD':
      return out.setW(0, FFA.YIELD).setW(1, r.targetInfo);
    case 'MSG_WAIT':
      return out.setW(0, FFA.MSG_WAIT).setW(2, r.flags);
    case 'MEM_OP_PAUSE':
      out.setW(0, FFA.MEM_OP_PAUSE);
      setHandle(r.handle);
      return out;
    case 'SMCCC_NOT_SUPPORTED':
      return out.setX(0, -1n);
    case 'UNKNOWN':
      throw new RangeError('an UNKNOWN result has nothing to encode');
  }
}
