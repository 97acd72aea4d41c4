/**
 * The SPMC: the FF-A secure partition manager the pKVM proxy forwards to, seen from the NS physical instance
 * (endpoint 0). Hafnium-like by default (abi.md is the reference for every rule; section numbers below).
 * `smc` takes the caller's register file and returns a new one; protocol failures are FFA_ERROR register files
 * (32-bit codes zero-extended, the Hafnium convention of abi.md §3.2), never exceptions. Every rejection and
 * special answer names its rule (./rules.ts: reason and source) in a `decision` event when a trace is attached.
 */
import {
  buildPartitionInfo,
  Cursor,
  DescBuffer,
  headerSize,
  memTransaction,
  parseMemWith,
  parseSend2Header,
  writeMemTransaction,
} from '../ffa/desc/index.ts';
import type { DescVersion, MemTransaction, PartitionInfo } from '../ffa/desc/types.ts';
import { FFA_ERROR_CODES, type FfaErrorName } from '../ffa/errors.ts';
import { FFA, type FfaMinor, ffaFunctionById } from '../ffa/ids.ts';
import {
  uuidEquals,
  uuidFormat,
  uuidFromW4,
  uuidFromX2,
  uuidIsNil,
  uuidParse,
  uuidToX2,
} from '../ffa/uuid.ts';
import { FFA_VERSION_1_2, type VersionWord, versionMajor, versionMinor } from '../ffa/version.ts';
import type { PhysMem } from '../mem/phys.ts';
import { isSmc64 } from '../smccc/fid.ts';
import { hi32, lo32, RegisterFile, u64Of } from '../smccc/regs.ts';
import { type Component, hopRegs, type TraceSink } from '../trace/events.ts';
import { emitRule, type RuleArg, type RuleContext, type SecureRuleId } from './rules.ts';
import type { PartitionConfig, PartitionContext, SPMCOptions, SPMCQuirks, SPMCTransaction } from './types.ts';

const PAGE = 4096;

/**
 * Map key of a handle: handles the SPMC allocates are small, and a bigint key makes every Map lookup hash a
 * bigint; numbers below 2^53 stay numbers, anything larger (only ever looked up, never allocated) a string.
 */
function hkey(h: bigint): number | string {
  return h < 0x20_0000_0000_0000n ? Number(h) : `h${h.toString(16)}`;
}
const EMPTY = new Uint8Array(0);
/** Schedule Receiver Interrupt ID reported to NS callers (an SGI; LX maps it as such). */
const SRI_INTID = 8;

interface Partition {
  cfg: PartitionConfig;
  uuids: Uint8Array[];
  /** A request interrupted by YIELD/INTERRUPT, resumed with FFA_RUN. */
  pending?: { req: RegisterFile; resumed: number; uuid: string | undefined } | undefined;
  /** FFA_MSG_SEND2 inbox (one message, owned until the partition reads it). */
  inbox?: Uint8Array | undefined;
}

/** Why a send is refused: the error, its rule (./rules.ts) and the values its text shows. */
interface Refusal {
  code: FfaErrorName;
  rule: SecureRuleId;
  a?: RuleArg;
  b?: RuleArg;
}

interface Tx {
  handle: bigint;
  kind: 'share' | 'lend' | 'donate';
  /** Bytes received so far (fragments appended). */
  buf: Uint8Array;
  received: number;
  total: number;
  fragments: number;
  version: DescVersion;
  parsed?: MemTransaction;
  complete: boolean;
  retrievedBy: number[];
}

/** The version that introduced this ID in this convention (SMC64 forms of some IDs came later, abi.md §2). */
function introducedIn(
  hit: { fn: { since: FfaMinor; since64?: FfaMinor }; smc64: boolean } | undefined,
): FfaMinor {
  if (hit === undefined) return '1.3';
  return hit.smc64 && hit.fn.since64 !== undefined ? hit.fn.since64 : hit.fn.since;
}

const MINORS: readonly FfaMinor[] = ['1.0', '1.1', '1.2', '1.3'];
const minorName = (v: VersionWord): FfaMinor => MINORS[Math.min(versionMinor(v), 3)] ?? '1.0';

function descVersionOf(v: VersionWord): DescVersion {
  const m = versionMinor(v);
  return m === 0 ? '1.0' : m === 1 ? '1.1' : '1.2';
}

type Bitmap = {
  vcpus: number;
  bound: Map<number, number>;
  pending: bigint;
  pendingFrom: Map<number, number>;
};

/** What {@link SPMC.snapshot} returns (opaque to callers). */
export interface SPMCSnapshot {
  readonly ns: VersionWord | undefined;
  readonly locked: boolean;
  readonly rxtx: { tx: number; rx: number; pages: number } | undefined;
  readonly rxFull: boolean;
  readonly txs: readonly (readonly [number | string, Tx])[];
  readonly nextHandle: bigint;
  readonly responses: readonly (readonly [number | string, Uint8Array])[];
  readonly bitmaps: readonly (readonly [number, Bitmap])[];
  readonly parts: readonly { pending: Partition['pending']; inbox: Uint8Array | undefined }[];
}

/**
 * A transaction record another SPMC state may hold: the parsed descriptor is never modified once set and is
 * shared; what changes later (bytes still being received, retrievals) is copied.
 */
function copyTx(t: Tx): Tx {
  return { ...t, buf: t.complete ? t.buf : t.buf.slice(), retrievedBy: [...t.retrievedBy] };
}

function copyBitmap(b: Bitmap): Bitmap {
  return { vcpus: b.vcpus, bound: new Map(b.bound), pending: b.pending, pendingFrom: new Map(b.pendingFrom) };
}

/** A complete transaction as {@link SPMC.completeTransactions} shows it (a view: do not modify). */
export interface HeldTransaction {
  readonly handle: bigint;
  readonly kind: 'share' | 'lend' | 'donate';
  readonly constituents: readonly { readonly address: bigint; readonly pageCount: number }[];
  /** Retrievals partitions hold (with multiplicity) when the list was built. */
  readonly retrieved: number;
}

export class SPMC {
  readonly version: VersionWord;
  readonly spmcId: number;
  private readonly mem: PhysMem;
  private readonly trace: TraceSink | undefined;
  private readonly q: SPMCQuirks;
  private readonly o: SPMCOptions;
  /** What rule texts may depend on (the version-lock policy). */
  private readonly ruleCtx: RuleContext;
  private readonly parts: Partition[];
  /** Version the NS endpoint negotiated (undefined until its first call). */
  private ns: VersionWord | undefined;
  private locked = false;
  private rxtx: { tx: number; rx: number; pages: number } | undefined;
  private rxFull = false;
  private readonly txs = new Map<number | string, Tx>();
  /** Bumped whenever the set or content of transactions changes (lets invariant checks skip idle calls). */
  txChanges = 0;
  /** {@link completeTransactions}' list and the {@link txChanges} it was built at. */
  private held: readonly HeldTransaction[] = [];
  private heldAt = -1;
  private nextHandle = 1n;
  /** Pending hypervisor retrieve responses served through FRAG_RX. */
  private readonly responses = new Map<number | string, Uint8Array>();
  /** Reused buffers for whole-descriptor sends and retrieve responses (see buildMemTransactionInto). */
  private scratch = new Uint8Array(8192);
  /** A view over `scratch`, kept beside it: the descriptor parser reads a whole-descriptor send through it. */
  private scratchView = new DataView(this.scratch.buffer);
  private readonly out = new DescBuffer(8192);
  /** A retrieve request's header words (48 bytes: 12 words). */
  private readonly hdrWords = new Uint32Array(12);
  private readonly bitmaps = new Map<
    number,
    { vcpus: number; bound: Map<number, number>; pending: bigint; pendingFrom: Map<number, number> }
  >();

  constructor(o: SPMCOptions) {
    this.o = o;
    this.mem = o.mem;
    this.version = o.version ?? FFA_VERSION_1_2;
    this.spmcId = o.spmcId ?? 0x8000;
    this.trace = o.trace;
    this.q = o.quirks ?? {};
    this.ruleCtx = { versionLock: o.versionLock ?? 'hafnium' };
    this.parts = o.partitions.map((cfg) => ({
      cfg,
      uuids: cfg.uuids.map((u) => uuidParse(u) ?? new Uint8Array(16)),
    }));
  }

  // ===========================================================================================
  // Snapshot (World.snapshot: the fuzzer restores a booted world instead of booting one per sequence)

  /**
   * The SPMC's state: NS endpoint version and lock, mailboxes, transactions, pending responses, notification
   * bitmaps and the partitions' pending requests and inboxes. Partition handlers are not part of it (the world
   * snapshots only when they are the stateless defaults).
   */
  snapshot(): SPMCSnapshot {
    return {
      ns: this.ns,
      locked: this.locked,
      rxtx: this.rxtx === undefined ? undefined : { ...this.rxtx },
      rxFull: this.rxFull,
      txs: [...this.txs].map(([k, t]) => [k, copyTx(t)] as const),
      nextHandle: this.nextHandle,
      responses: [...this.responses],
      bitmaps: [...this.bitmaps].map(([k, b]) => [k, copyBitmap(b)] as const),
      parts: this.parts.map((p) => ({
        pending: p.pending === undefined ? undefined : { ...p.pending, req: p.pending.req.clone() },
        inbox: p.inbox?.slice(),
      })),
    };
  }

  /** Puts back a {@link snapshot} of this SPMC (its own or a twin's with the same partitions). */
  restore(s: SPMCSnapshot): void {
    this.ns = s.ns;
    this.locked = s.locked;
    this.rxtx = s.rxtx === undefined ? undefined : { ...s.rxtx };
    this.rxFull = s.rxFull;
    this.txs.clear();
    for (const [k, t] of s.txs) this.txs.set(k, copyTx(t));
    this.nextHandle = s.nextHandle;
    this.responses.clear();
    for (const [k, r] of s.responses) this.responses.set(k, r); // never written after creation: shared
    this.bitmaps.clear();
    for (const [k, b] of s.bitmaps) this.bitmaps.set(k, copyBitmap(b));
    s.parts.forEach((sp, i) => {
      const p = this.parts[i]!;
      p.pending = sp.pending === undefined ? undefined : { ...sp.pending, req: sp.pending.req.clone() };
      p.inbox = sp.inbox?.slice();
    });
    this.txChanges++; // a change like any other: the counter moves on, never back
  }

  // ===========================================================================================
  // Introspection (invariant checks, traces)

  /** Every transaction the secure world holds or could retrieve. */
  transactions(): SPMCTransaction[] {
    const out: SPMCTransaction[] = [];
    for (const t of [...this.txs.values()].sort((a, b) => (a.handle < b.handle ? -1 : 1))) {
      const p = t.parsed;
      out.push({
        handle: t.handle,
        sender: p?.sender ?? 0,
        kind: t.kind,
        receivers: (p?.emads ?? []).map((e) => ({
          id: e.access.endpointId,
          permissions: e.access.permissions,
        })),
        constituents: p?.composite?.constituents.map((c) => ({ ...c })) ?? this.partialConstituents(t),
        complete: t.complete,
        retrievedBy: [...t.retrievedBy],
      });
    }
    return out;
  }

  /**
   * The complete transactions in handle order, as read-only views of the SPMC's own records — what the invariant
   * checker reads after every host call. Unlike {@link transactions} nothing is copied: the list is rebuilt only
   * when {@link txChanges} moved, and each view shares the parsed (immutable) constituent list.
   */
  completeTransactions(): readonly HeldTransaction[] {
    if (this.heldAt === this.txChanges) return this.held;
    const out: HeldTransaction[] = [];
    for (const t of this.txs.values()) {
      if (!t.complete) continue;
      out.push({
        handle: t.handle,
        kind: t.kind,
        constituents: t.parsed?.composite?.constituents ?? this.partialConstituents(t),
        retrieved: t.retrievedBy.length,
      });
    }
    out.sort((a, b) => (a.handle < b.handle ? -1 : 1));
    this.held = out;
    this.heldAt = this.txChanges;
    return out;
  }

  /** Version the NS endpoint negotiated. */
  nsVersion(): VersionWord | undefined {
    return this.ns;
  }

  /** Who owns the NS endpoint's RX buffer. */
  rxOwner(): 'spmc' | 'ns' | 'unmapped' {
    return this.rxtx === undefined ? 'unmapped' : this.rxFull ? 'ns' : 'spmc';
  }

  /** The NS endpoint's registered buffers. */
  mailboxes(): { tx: number; rx: number; pages: number } | undefined {
    return this.rxtx === undefined ? undefined : { ...this.rxtx };
  }

  partition(id: number): PartitionConfig | undefined {
    return this.parts.find((p) => p.cfg.id === id)?.cfg;
  }

  /** Constituents of a transaction still being received (for the invariant checker: pages already sent). */
  private partialConstituents(t: Tx): { address: bigint; pageCount: number }[] {
    const c = this.constituentsStart(t);
    if (c === undefined) return [];
    const out: { address: bigint; pageCount: number }[] = [];
    const v = new DataView(t.buf.buffer, t.buf.byteOffset, t.received);
    for (let at = c; at + 16 <= t.received; at += 16)
      out.push({ address: v.getBigUint64(at, true), pageCount: v.getUint32(at + 8, true) });
    return out;
  }

  private constituentsStart(t: Tx): number | undefined {
    const H = headerSize(t.version);
    if (t.received < H) return undefined;
    const v = new DataView(t.buf.buffer, t.buf.byteOffset, t.received);
    const emadOff = t.version === '1.0' ? 32 : v.getUint32(32, true);
    if (emadOff + 8 > t.received) return undefined;
    const comp = v.getUint32(emadOff + 4, true);
    return comp + 16 <= t.received ? comp + 16 : undefined;
  }

  // ===========================================================================================
  // Entry

  /** One SMC from the NS physical instance (endpoint 0). Never throws. */
  smc(regs: RegisterFile): RegisterFile {
    const fid = (regs.w(0) & ~0x10000) >>> 0; // SVE hint stripped (abi.md §1.1)
    const hit = ffaFunctionById(fid);
    if (hit === undefined) return this.reject('NOT_SUPPORTED', 'spmc/dispatch/unknown-fid', fid);
    if (fid !== FFA.VERSION) {
      if (this.ns === undefined) this.ns = this.version;
      if (this.o.versionLock !== 'none') this.locked = true;
    }
    const ns = this.ns ?? this.version;
    // IDs newer than the caller's version, or SMC64 forms introduced later, do not exist for it (abi.md §2).
    const since = introducedIn(hit);
    if (since > minorName(ns) && fid !== FFA.VERSION)
      return this.reject('NOT_SUPPORTED', 'spmc/dispatch/newer-than-caller', fid, since);
    switch (fid) {
      case FFA.VERSION:
        return this.version_(regs);
      case FFA.FEATURES:
        return this.features(regs);
      case FFA.ID_GET:
        return this.success(0);
      case FFA.SPM_ID_GET:
        return this.success(this.spmcId);
      case FFA.RXTX_MAP:
      case FFA.RXTX_MAP64:
        return this.rxtxMap(regs, fid === FFA.RXTX_MAP64);
      case FFA.RXTX_UNMAP:
        return this.rxtxUnmap(regs);
      case FFA.RX_RELEASE:
        return this.rxRelease(regs);
      case FFA.RX_ACQUIRE:
        return this.reject('INVALID_PARAMETERS', 'spmc/rx-acquire/no-vms'); // no VMs behind this NS endpoint
      case FFA.PARTITION_INFO_GET:
        return this.partitionInfoGet(regs);
      case FFA.PARTITION_INFO_GET_REGS:
        return this.partitionInfoGetRegs(regs);
      case FFA.MSG_SEND_DIRECT_REQ:
      case FFA.MSG_SEND_DIRECT_REQ64:
        return this.directReq(regs, false);
      case FFA.MSG_SEND_DIRECT_REQ2:
        return this.directReq(regs, true);
      case FFA.RUN:
        return this.run(regs);
      case FFA.MEM_SHARE:
      case FFA.MEM_SHARE64:
        return this.memSend(regs, 'share', !isSmc64(fid));
      case FFA.MEM_LEND:
      case FFA.MEM_LEND64:
        return this.memSend(regs, 'lend', !isSmc64(fid));
      case FFA.MEM_DONATE:
      case FFA.MEM_DONATE64:
        return this.memSend(regs, 'donate', !isSmc64(fid));
      case FFA.MEM_FRAG_TX:
        return this.fragTx(regs);
      case FFA.MEM_RETRIEVE_REQ:
      case FFA.MEM_RETRIEVE_REQ64:
        return this.retrieveReq(regs, !isSmc64(fid));
      case FFA.MEM_FRAG_RX:
        return this.fragRx(regs);
      case FFA.MEM_RECLAIM:
        return this.reclaim(regs);
      case FFA.NOTIFICATION_BITMAP_CREATE:
      case FFA.NOTIFICATION_BITMAP_DESTROY:
      case FFA.NOTIFICATION_BIND:
      case FFA.NOTIFICATION_UNBIND:
      case FFA.NOTIFICATION_SET:
      case FFA.NOTIFICATION_GET:
      case FFA.NOTIFICATION_INFO_GET:
      case FFA.NOTIFICATION_INFO_GET64:
        return this.notification(regs, fid);
      case FFA.MSG_SEND2:
        return this.msgSend2(regs);
      default:
        // ERROR/SUCCESS/INTERRUPT as calls, MSG_WAIT, YIELD, legacy MSG_SEND/POLL, DIRECT_RESP from the NWd,
        // MEM_RELINQUISH, MEM_OP_*, NORMAL_WORLD_RESUME, SECONDARY_EP_REGISTER, MEM_PERM_*, CONSOLE_LOG, v1.3 IDs:
        // not valid at the NS physical instance (abi.md §2.2).
        return fid === FFA.MEM_RELINQUISH
          ? this.reject('NOT_SUPPORTED', 'spmc/relinquish/not-at-nsp')
          : this.reject('NOT_SUPPORTED', 'spmc/dispatch/not-at-nsp', fid);
    }
  }

  // ===========================================================================================
  // Result helpers

  private err(name: FfaErrorName): RegisterFile {
    return new RegisterFile().setW(0, FFA.ERROR).setW(2, FFA_ERROR_CODES[name]);
  }

  private success(w2 = 0, w3 = 0): RegisterFile {
    return new RegisterFile().setW(0, FFA.SUCCESS).setW(2, w2).setW(3, w3);
  }

  /** An FFA_ERROR answer and the rule that made it (the decision event is built only with a trace attached). */
  private reject(code: FfaErrorName, rule: SecureRuleId, a?: RuleArg, b?: RuleArg): RegisterFile {
    if (this.trace !== undefined) emitRule(this.trace, rule, code, a, b, this.ruleCtx);
    return this.err(code);
  }

  /** A special answer's rule (`answer` names an error answer that is not an FFA_ERROR register file). */
  private decide(rule: SecureRuleId, answer?: string, a?: RuleArg, b?: RuleArg): void {
    if (this.trace !== undefined) emitRule(this.trace, rule, answer, a, b, this.ruleCtx);
  }

  private note(text: string, who: Component = 'spmc'): void {
    this.trace?.emit({ kind: 'note', who, text });
  }

  // ===========================================================================================
  // FFA_VERSION (abi.md §3.3)

  private version_(regs: RegisterFile): RegisterFile {
    const req = regs.w(1);
    const notSupported = (rule: SecureRuleId, b?: RuleArg): RegisterFile => {
      this.decide(rule, 'NOT_SUPPORTED', req, b);
      if (this.q.versionNotSupported32) {
        this.decide('spmc/quirk/version-not-supported32');
        return new RegisterFile().setW(0, 0xffff_ffff);
      }
      return new RegisterFile().setX(0, -1n);
    };
    if ((req & 0x8000_0000) !== 0) return notSupported('spmc/version/bit31');
    const policy = this.o.versionLock ?? 'hafnium';
    if (this.locked && this.ns !== undefined) {
      if (policy === 'tfa') {
        this.decide('spmc/version/locked-tfa', undefined, req, this.ns);
        return new RegisterFile().setW(0, this.ns);
      }
      if (req !== this.ns) return notSupported('spmc/version/locked-differs', this.ns);
      this.decide('spmc/version/locked-same', undefined, req);
      return new RegisterFile().setW(0, this.version);
    }
    const compatible =
      versionMajor(req) === versionMajor(this.version) && versionMinor(req) <= versionMinor(this.version);
    if (!compatible) {
      if (policy === 'hafnium') return notSupported('spmc/version/incompatible', this.version);
      this.decide('spmc/version/incompatible-own', undefined, req, this.version);
      return new RegisterFile().setW(0, this.version);
    }
    this.ns = req;
    return new RegisterFile().setW(0, this.version);
  }

  // ===========================================================================================
  // FFA_FEATURES (abi.md §4)

  private features(regs: RegisterFile): RegisterFile {
    const id = regs.w(1);
    const props = regs.w(2);
    const ns = this.ns ?? this.version;
    if ((id & 0x8000_0000) === 0) {
      if ((id & 0x7fff_ff00) !== 0 || props !== 0)
        return this.reject('NOT_SUPPORTED', 'spmc/features/feature-id-mbz', id, props);
      // NPI and MEI only for partitions at virtual instances; SRI for NS endpoints (abi.md §4.1).
      return id === 2 && versionMinor(ns) >= 1
        ? this.success(SRI_INTID)
        : this.reject('NOT_SUPPORTED', 'spmc/features/feature-id-unsupported', id);
    }
    if (!this.implemented(id)) return this.reject('NOT_SUPPORTED', 'spmc/features/not-implemented', id);
    const hit = ffaFunctionById(id);
    const since = introducedIn(hit);
    if (since > minorName(ns))
      return this.reject('NOT_SUPPORTED', 'spmc/features/newer-than-caller', id, since);
    if (id === FFA.RXTX_MAP || id === FFA.RXTX_MAP64) {
      let w2 = this.o.rxtxMinSize ?? 0;
      if (versionMinor(ns) >= 2) w2 |= ((this.o.rxtxMaxPages ?? 0) & 0xffff) << 16;
      if (this.q.featuresRxtxExtraBits !== undefined) {
        w2 |= this.q.featuresRxtxExtraBits;
        this.decide('spmc/quirk/features-rxtx-extra-bits', undefined, this.q.featuresRxtxExtraBits);
      }
      return this.success(w2 >>> 0);
    }
    if (id === FFA.MEM_RETRIEVE_REQ || id === FFA.MEM_RETRIEVE_REQ64) {
      return this.success(versionMinor(ns) >= 1 ? 0b110 : 0);
    }
    return this.success(0);
  }

  /** Function IDs this SPMC implements for the NS physical instance. */
  private implemented(id: number): boolean {
    switch (id) {
      case FFA.ERROR:
      case FFA.SUCCESS:
      case FFA.SUCCESS64:
      case FFA.INTERRUPT:
      case FFA.VERSION:
      case FFA.FEATURES:
      case FFA.RX_RELEASE:
      case FFA.RXTX_MAP:
      case FFA.RXTX_MAP64:
      case FFA.RXTX_UNMAP:
      case FFA.PARTITION_INFO_GET:
      case FFA.PARTITION_INFO_GET_REGS:
      case FFA.ID_GET:
      case FFA.SPM_ID_GET:
      case FFA.RUN:
      case FFA.MSG_SEND_DIRECT_REQ:
      case FFA.MSG_SEND_DIRECT_REQ64:
      case FFA.MSG_SEND_DIRECT_REQ2:
      case FFA.MEM_SHARE:
      case FFA.MEM_SHARE64:
      case FFA.MEM_LEND:
      case FFA.MEM_LEND64:
      case FFA.MEM_DONATE:
      case FFA.MEM_DONATE64:
      case FFA.MEM_RETRIEVE_REQ:
      case FFA.MEM_RETRIEVE_REQ64:
      case FFA.MEM_RETRIEVE_RESP:
      case FFA.MEM_RECLAIM:
      case FFA.MEM_FRAG_RX:
      case FFA.MEM_FRAG_TX:
      case FFA.NOTIFICATION_BITMAP_CREATE:
      case FFA.NOTIFICATION_BITMAP_DESTROY:
      case FFA.NOTIFICATION_BIND:
      case FFA.NOTIFICATION_UNBIND:
      case FFA.NOTIFICATION_SET:
      case FFA.NOTIFICATION_GET:
      case FFA.NOTIFICATION_INFO_GET:
      case FFA.NOTIFICATION_INFO_GET64:
      case FFA.MSG_SEND2:
        return true;
      default:
        return false;
    }
  }

  // ===========================================================================================
  // RX/TX (abi.md §6)

  private rxtxMap(regs: RegisterFile, smc64: boolean): RegisterFile {
    const tx = smc64 ? regs.xNumber(1) : regs.w(1);
    const rx = smc64 ? regs.xNumber(2) : regs.w(2);
    const w3 = regs.w(3);
    if (tx === undefined || rx === undefined)
      return this.reject('INVALID_PARAMETERS', 'spmc/rxtx-map/address');
    // The hypervisor-forwarding form (w1 = w2 = w3 = 0, descriptor in the hyp TX) is not supported here (the TF-A
    // EL3 SPMC rejects it too, abi.md §6.1).
    if (tx === 0 && rx === 0 && w3 === 0)
      return this.reject('INVALID_PARAMETERS', 'spmc/rxtx-map/forwarding-form');
    if ((w3 & ~0x3f) !== 0) return this.reject('INVALID_PARAMETERS', 'spmc/rxtx-map/w3-mbz', w3);
    const pages = w3 & 0x3f;
    const min = [1, 16, 4][this.o.rxtxMinSize ?? 0]!;
    const max = this.o.mailboxPages ?? 16;
    if (pages === 0 || pages > max || pages < min)
      return this.reject('INVALID_PARAMETERS', 'spmc/rxtx-map/page-count', pages, `${min}–${max}`);
    const align = min * PAGE;
    if (tx % align !== 0 || rx % align !== 0)
      return this.reject('INVALID_PARAMETERS', 'spmc/rxtx-map/alignment', align);
    const size = pages * PAGE;
    if (tx < rx + size && rx < tx + size) return this.reject('INVALID_PARAMETERS', 'spmc/rxtx-map/overlap');
    if (this.rxtx !== undefined) return this.reject('DENIED', 'spmc/rxtx-map/already-mapped');
    this.rxtx = { tx, rx, pages };
    this.rxFull = false;
    return this.success();
  }

  private rxtxUnmap(regs: RegisterFile): RegisterFile {
    if (regs.w(1) !== 0) return this.reject('INVALID_PARAMETERS', 'spmc/rxtx-unmap/id', regs.w(1));
    if (this.rxtx === undefined) return this.reject('INVALID_PARAMETERS', 'spmc/rxtx-unmap/not-mapped');
    this.rxtx = undefined;
    this.rxFull = false;
    return this.success();
  }

  private rxRelease(regs: RegisterFile): RegisterFile {
    if ((regs.w(1) & 0xffff) !== 0)
      return this.reject('INVALID_PARAMETERS', 'spmc/rx-release/id', regs.w(1) & 0xffff);
    if (this.rxtx === undefined || !this.rxFull) return this.reject('DENIED', 'spmc/rx-release/not-owned');
    this.rxFull = false;
    return this.success();
  }

  /** Writes into the NS RX buffer and hands it to the NS side. */
  private writeRx(bytes: Uint8Array): void {
    if (this.rxtx === undefined) return;
    this.mem.write(this.rxtx.rx, bytes.subarray(0, Math.min(bytes.length, this.rxtx.pages * PAGE)));
    this.rxFull = true;
    if (this.trace?.lean !== true)
      this.trace?.emit({
        kind: 'buffer',
        owner: 'spmc',
        role: 'ns-rx',
        addr: this.rxtx.rx,
        version: `${versionMajor(this.ns ?? this.version)}.${versionMinor(this.ns ?? this.version)}`,
        hex: toHex(bytes),
      });
  }

  // ===========================================================================================
  // Discovery (abi.md §5.2, §5.3)

  /** Descriptors matching a UUID: one per (partition, UUID) for Nil from ≥1.2 callers, first UUID below 1.2. */
  private matching(uuid: Uint8Array): PartitionInfo[] {
    const ns = this.ns ?? this.version;
    const out: PartitionInfo[] = [];
    const nil = uuidIsNil(uuid);
    for (const p of this.parts) {
      if (nil) {
        const list = versionMinor(ns) >= 2 ? p.uuids : p.uuids.slice(0, 1);
        for (const u of list)
          out.push({ id: p.cfg.id, execContexts: p.cfg.execContexts, properties: p.cfg.properties, uuid: u });
      } else if (p.uuids.some((u) => uuidEquals(u, uuid))) {
        out.push({
          id: p.cfg.id,
          execContexts: p.cfg.execContexts,
          properties: p.cfg.properties,
          uuid: new Uint8Array(16),
        });
      }
    }
    return out;
  }

  private partitionInfoGet(regs: RegisterFile): RegisterFile {
    const ns = this.ns ?? this.version;
    const uuid = uuidFromW4(regs.w(1), regs.w(2), regs.w(3), regs.w(4));
    const flags = versionMinor(ns) >= 1 ? regs.w(5) : 0;
    if ((flags & ~1) !== 0) return this.reject('INVALID_PARAMETERS', 'spmc/part-info/flags', flags);
    const list = this.matching(uuid);
    if (list.length === 0)
      return this.reject(
        'INVALID_PARAMETERS',
        'spmc/part-info/unknown-uuid',
        this.trace === undefined ? undefined : uuidFormat(uuid),
      );
    const count = this.q.partitionInfoCount ?? list.length;
    if (this.q.partitionInfoCount !== undefined)
      this.decide('spmc/quirk/part-info-count', undefined, count, list.length);
    if ((flags & 1) !== 0) return this.success(count);
    if (this.rxtx === undefined) return this.reject('DENIED', 'spmc/part-info/no-rx');
    if (this.rxFull) return this.reject('BUSY', 'spmc/part-info/rx-busy');
    const v = descVersionOf(ns);
    const bytes = buildPartitionInfo(list, v);
    if (bytes.length > this.rxtx.pages * PAGE)
      return this.reject('NO_MEMORY', 'spmc/part-info/no-memory', bytes.length, this.rxtx.pages * PAGE);
    this.writeRx(bytes);
    const natural = v === '1.0' ? 0 : 24;
    const size = this.q.partitionInfoSize ?? natural;
    if (this.q.partitionInfoSize !== undefined)
      this.decide('spmc/quirk/part-info-size', undefined, size, natural);
    return this.success(count, size);
  }

  private partitionInfoGetRegs(regs: RegisterFile): RegisterFile {
    const uuid = uuidFromX2(regs.x(1), regs.x(2));
    const start = regs.w(3) & 0xffff;
    const tag = (regs.w(3) >>> 16) & 0xffff;
    if (tag !== 0) return this.reject('RETRY', 'spmc/part-info-regs/tag', tag);
    const list = this.matching(uuid);
    if (list.length === 0)
      return this.reject(
        'INVALID_PARAMETERS',
        'spmc/part-info-regs/unknown-uuid',
        this.trace === undefined ? undefined : uuidFormat(uuid),
      );
    if (start >= list.length)
      return this.reject('INVALID_PARAMETERS', 'spmc/part-info-regs/start-index', start, list.length);
    const last = list.length - 1;
    const end = Math.min(last, start + 4);
    const out = new RegisterFile().setW(0, FFA.SUCCESS64);
    out.setPair(2, (last & 0xffff) | ((end & 0xffff) << 16), (24 << 16) >>> 0);
    for (let i = start; i <= end; i++) {
      const p = list[i]!;
      const r = 3 + 3 * (i - start);
      out.setPair(r, (p.id & 0xffff) | ((p.execContexts & 0xffff) << 16), p.properties >>> 0);
      const [lo, hi] = uuidToX2(p.uuid ?? new Uint8Array(16));
      out.setX(r + 1, lo);
      out.setX(r + 2, hi);
    }
    return out;
  }

  // ===========================================================================================
  // Direct messaging (abi.md §7.1, §7.2)

  private directReq(regs: RegisterFile, req2: boolean): RegisterFile {
    const sender = regs.w(1) >>> 16;
    const receiver = regs.w(1) & 0xffff;
    if (sender !== 0) return this.reject('INVALID_PARAMETERS', 'spmc/direct/sender', sender);
    const p = this.parts.find((x) => x.cfg.id === receiver);
    if (p === undefined) return this.reject('INVALID_PARAMETERS', 'spmc/direct/unknown-receiver', receiver);
    let uuid: string | undefined;
    if (req2) {
      if ((p.cfg.properties & (1 << 9)) === 0)
        return this.reject('DENIED', 'spmc/direct/req2-not-receiver', receiver);
      const u = uuidFromX2(regs.x(2), regs.x(3));
      uuid = uuidFormat(u);
      if (!uuidIsNil(u) && !p.uuids.some((x) => uuidEquals(x, u)))
        return this.reject('INVALID_PARAMETERS', 'spmc/direct/req2-unknown-uuid', receiver, uuid);
    } else {
      if ((p.cfg.properties & 1) === 0) return this.reject('DENIED', 'spmc/direct/not-receiver', receiver);
      // Partition messages: w2 MBZ (v1.2 Table 16.6).
      if (regs.w(2) !== 0) return this.reject('INVALID_PARAMETERS', 'spmc/direct/w2-mbz', regs.w(2));
    }
    if (p.pending !== undefined) return this.reject('BUSY', 'spmc/direct/busy', receiver);
    // What the partition sees: SMC32 requests carry only the low halves (HF api_ffa_value_copy32).
    const seen = regs.clone();
    if (!isSmc64(regs.w(0))) for (let i = 0; i < 18; i++) seen.setW(i, regs.w(i));
    return this.deliver(p, seen, 0, uuid);
  }

  private deliver(p: Partition, req: RegisterFile, resumed: number, uuid: string | undefined): RegisterFile {
    const sp: Component = `sp:0x${p.cfg.id.toString(16)}`;
    this.trace?.emit({ kind: 'hop', from: 'spmc', to: sp, dir: 'call', regs: hopRegs(this.trace, req) });
    // The default partition needs no context: build it only for user handlers (it allocates closures).
    const handler = p.cfg.handler;
    const ans = handler === undefined ? echo(req) : handler(req.clone(), this.context(p, uuid, resumed));
    this.trace?.emit({ kind: 'hop', from: sp, to: 'spmc', dir: 'ret', regs: hopRegs(this.trace, ans) });
    const fid = ans.w(0);
    if (fid === FFA.YIELD || fid === FFA.INTERRUPT) {
      p.pending = { req, resumed, uuid };
      this.decide(fid === FFA.YIELD ? 'spmc/direct/yield' : 'spmc/direct/interrupt', undefined, p.cfg.id);
      // The caller resumes with FFA_RUN(target info = partition << 16 | vCPU).
      const out = new RegisterFile().setW(0, fid).setW(1, (p.cfg.id << 16) >>> 0);
      if (fid === FFA.INTERRUPT) out.setW(2, ans.w(2));
      return out;
    }
    p.pending = undefined;
    const want =
      req.w(0) === FFA.MSG_SEND_DIRECT_REQ2
        ? FFA.MSG_SEND_DIRECT_RESP2
        : isSmc64(req.w(0))
          ? FFA.MSG_SEND_DIRECT_RESP64
          : FFA.MSG_SEND_DIRECT_RESP;
    if (fid === want || fid === FFA.ERROR) return ans;
    return this.reject('ABORTED', 'spmc/direct/bad-response', p.cfg.id, fid);
  }

  private run(regs: RegisterFile): RegisterFile {
    const id = regs.w(1) >>> 16;
    const p = this.parts.find((x) => x.cfg.id === id);
    if (p === undefined) return this.reject('INVALID_PARAMETERS', 'spmc/run/unknown-partition', id);
    if (p.pending === undefined) return this.reject('DENIED', 'spmc/run/nothing-pending', id);
    const pend = p.pending;
    return this.deliver(p, pend.req, pend.resumed + 1, pend.uuid);
  }

  private context(p: Partition, uuid: string | undefined, resumed: number): PartitionContext {
    const id = p.cfg.id;
    const mem = this.mem;
    const held = (): { address: bigint; pageCount: number; rw: boolean }[] => {
      const out: { address: bigint; pageCount: number; rw: boolean }[] = [];
      for (const t of this.txs.values()) {
        if (!t.retrievedBy.includes(id) || t.parsed?.composite === undefined) continue;
        const rw =
          (t.parsed.emads.find((e) => e.access.endpointId === id)?.access.permissions ?? 0) % 4 === 2;
        for (const c of t.parsed.composite.constituents) out.push({ ...c, rw });
      }
      return out;
    };
    const inside = (addr: number, len: number, needRw: boolean): boolean =>
      held().some(
        (c) =>
          BigInt(addr) >= c.address &&
          BigInt(addr + len) <= c.address + BigInt(c.pageCount) * 4096n &&
          (!needRw || c.rw),
      );
    return {
      id,
      uuid,
      resumed,
      retrieve: (handle) => {
        const t = this.txs.get(hkey(handle));
        if (t === undefined || !t.complete || t.parsed === undefined) {
          this.decide('spmc/sp-retrieve/unknown-handle', 'INVALID_PARAMETERS', id, handle);
          return { ok: false, error: 'INVALID_PARAMETERS' };
        }
        if (!t.parsed.emads.some((e) => e.access.endpointId === id)) {
          this.decide('spmc/sp-retrieve/not-borrower', 'INVALID_PARAMETERS', id, handle);
          return { ok: false, error: 'INVALID_PARAMETERS' };
        }
        const cs = t.parsed.composite?.constituents ?? [];
        for (const c of cs) {
          const why = this.o.checkMap?.(c.address, c.pageCount);
          if (why !== undefined) {
            this.trace?.emit({
              kind: 'check',
              id: 'I1',
              verdict: 'fail',
              detail: `partition 0x${id.toString(16)} maps 0x${c.address.toString(16)} ×${c.pageCount}: ${why}`,
            });
          }
        }
        t.retrievedBy.push(id);
        this.txChanges++;
        this.note(
          `partition 0x${id.toString(16)} retrieved handle 0x${handle.toString(16)}`,
          `sp:0x${id.toString(16)}`,
        );
        return { ok: true, constituents: cs.map((c) => ({ ...c })) };
      },
      relinquish: (handle) => {
        const t = this.txs.get(hkey(handle));
        const at = t?.retrievedBy.indexOf(id) ?? -1;
        if (t === undefined || at < 0) {
          this.decide('spmc/sp-relinquish/not-retrieved', 'INVALID_PARAMETERS', id, handle);
          return { ok: false, error: 'INVALID_PARAMETERS' };
        }
        t.retrievedBy.splice(at, 1);
        this.txChanges++;
        return { ok: true };
      },
      read: (addr, len) => (inside(addr, len, false) ? mem.read(addr, len) : undefined),
      write: (addr, bytes) => {
        if (!inside(addr, bytes.length, true)) return false;
        mem.write(addr, bytes);
        return true;
      },
      log: (text) => this.note(text, `sp:0x${id.toString(16)}`),
    };
  }

  // ===========================================================================================
  // Memory management (abi.md §9)

  private memSend(regs: RegisterFile, kind: Tx['kind'], smc32: boolean): RegisterFile {
    const total = regs.w(1);
    const frag = regs.w(2);
    const addr = smc32 ? BigInt(regs.w(3)) : regs.x(3);
    // No dynamic buffers (§9.5 #1).
    if (addr !== 0n || regs.w(4) !== 0)
      return this.reject('INVALID_PARAMETERS', 'spmc/mem-send/dynamic-buffer');
    if (this.rxtx === undefined) return this.reject('DENIED', 'spmc/mem-send/no-tx');
    const txSize = this.rxtx.pages * PAGE;
    if (frag === 0 || frag > total || frag > txSize)
      return this.reject('INVALID_PARAMETERS', 'spmc/mem-send/fragment-length', frag, total); // §9.5 #2
    if (total > 1 << 24) return this.reject('NO_MEMORY', 'spmc/mem-send/total-length', total);
    const version = descVersionOf(this.ns ?? this.version);
    // A whole descriptor is parsed from a reused buffer and only the parsed transaction is kept; a fragmented one
    // needs its own buffer until the last fragment arrives.
    if (frag === total && this.scratch.length < total) {
      this.scratch = new Uint8Array(total);
      this.scratchView = new DataView(this.scratch.buffer);
    }
    const buf = frag === total ? this.scratch.subarray(0, total) : new Uint8Array(total);
    this.mem.readInto(this.rxtx.tx, frag === total ? buf : buf.subarray(0, frag));
    const t: Tx = {
      handle: 0n,
      kind,
      buf,
      received: frag,
      total,
      fragments: 1,
      version,
      complete: false,
      retrievedBy: [],
    };
    if (frag < total) {
      // The first fragment must hold the header, the EMADs and the composite header (§9.5 #3, #6).
      if (this.constituentsStart(t) === undefined || (frag - (this.constituentsStart(t) ?? 0)) % 16 !== 0) {
        return this.reject('INVALID_PARAMETERS', 'spmc/mem-send/first-fragment', frag);
      }
      t.handle = this.allocHandle();
      this.txs.set(hkey(t.handle), t);
      this.txChanges++;
      const off = frag + (this.q.fragRxOffsetSkew ?? 0);
      if (this.q.fragRxOffsetSkew !== undefined)
        this.decide('spmc/quirk/frag-rx-offset-skew', undefined, off >>> 0, frag);
      return new RegisterFile()
        .setW(0, FFA.MEM_FRAG_RX)
        .setPair(1, lo32(t.handle), 0)
        .setW(2, hi32(t.handle))
        .setW(3, off >>> 0);
    }
    const e = this.validate(t);
    if (e !== undefined) return this.refuse(e);
    t.buf = EMPTY; // parsed; the scratch bytes are reused by the next call
    t.handle = this.allocHandle();
    t.complete = true;
    this.txs.set(hkey(t.handle), t);
    this.txChanges++;
    return this.sendSuccess(t.handle);
  }

  private allocHandle(): bigint {
    const h = this.nextHandle;
    this.nextHandle += 1n;
    return h; // allocator bit 63 = 0: the SPMC allocated it (abi.md §9.1)
  }

  private sendSuccess(handle: bigint): RegisterFile {
    if (this.q.shareSuccess64) this.decide('spmc/quirk/share-success64');
    const out = new RegisterFile().setW(0, this.q.shareSuccess64 ? FFA.SUCCESS64 : FFA.SUCCESS);
    out.setW(2, lo32(handle)).setW(3, hi32(handle));
    return out;
  }

  /** A refused send as an FFA_ERROR, with its rule. */
  private refuse(e: Refusal): RegisterFile {
    return this.reject(e.code, e.rule, e.a, e.b);
  }

  /** Semantic checks of a complete send (§9.3, §9.5); returns why it is refused, or undefined. */
  private validate(t: Tx): Refusal | undefined {
    const bytes = t.buf.length === t.total ? t.buf : t.buf.subarray(0, t.total);
    const r = parseMemWith(new Cursor(bytes, { view: this.scratchView }), t.version, {
      kind: 'send',
      exactLength: this.o.exactLength !== false,
    });
    if (!r.ok) {
      const why = this.trace === undefined ? undefined : `${r.error.code} ${r.error.message}`;
      return { code: 'INVALID_PARAMETERS', rule: 'spmc/mem-send/descriptor', a: t.kind, b: why };
    }
    const d = r.value;
    // The sender must be the caller (§9.5 #13).
    if (d.sender !== 0) return { code: 'DENIED', rule: 'spmc/mem-send/sender', a: d.sender };
    if (t.kind === 'donate' && d.emads.length !== 1)
      return { code: 'INVALID_PARAMETERS', rule: 'spmc/mem-send/donate-receivers', a: d.emads.length };
    // One receiver (nearly every send) cannot repeat itself: no set for it.
    const seen = d.emads.length > 1 ? new Set<number>() : undefined;
    for (const e of d.emads) {
      const id = e.access.endpointId;
      if (id === d.sender || seen?.has(id) === true || !this.parts.some((p) => p.cfg.id === id))
        return { code: 'INVALID_PARAMETERS', rule: 'spmc/mem-send/receiver', a: id }; // #14
      seen?.add(id);
      const data = e.access.permissions & 3;
      const instr = (e.access.permissions >> 2) & 3;
      if ((e.access.permissions & 0xf0) !== 0 || e.access.flags !== 0)
        return { code: 'INVALID_PARAMETERS', rule: 'spmc/mem-send/access-mbz', a: id };
      if (t.kind !== 'donate' && (data === 0 || data === 3))
        return { code: 'INVALID_PARAMETERS', rule: 'spmc/mem-send/data-access', a: id };
      if (instr !== 0) return { code: 'INVALID_PARAMETERS', rule: 'spmc/mem-send/instruction-access', a: id };
    }
    // NS bit MBZ on send.
    if (t.version !== '1.0' && (d.attributes & 0x40) !== 0)
      return { code: 'INVALID_PARAMETERS', rule: 'spmc/mem-send/ns-bit' };
    // HF accepts only bit 0 (§9.4).
    if ((d.flags & ~0x1) !== 0)
      return { code: 'INVALID_PARAMETERS', rule: 'spmc/mem-send/flags', a: d.flags };
    if (t.kind === 'share' && (d.flags & 1) !== 0)
      return { code: 'INVALID_PARAMETERS', rule: 'spmc/mem-send/share-zero' };
    const type = (d.attributes >> 4) & 3;
    if (t.kind === 'share' || d.emads.length > 1) {
      if (d.attributes !== 0x2f && !(type === 1 && ((d.attributes >> 2) & 3) === 0))
        return { code: 'DENIED', rule: 'spmc/mem-send/share-attributes', a: d.attributes };
    } else if (type !== 0) {
      // LEND to one borrower / DONATE: attributes not specified.
      return { code: 'INVALID_PARAMETERS', rule: 'spmc/mem-send/lend-attributes', a: d.attributes };
    }
    // The region must be owned exclusively by the sender: not part of another live transaction (#16). Other
    // transactions' ranges are sorted once, then each new constituent is placed by binary search.
    const held: [bigint, bigint][] = [];
    for (const o of this.txs.values()) {
      if (o === t) continue;
      for (const b of o.parsed?.composite?.constituents ?? this.partialConstituents(o))
        held.push([b.address, b.address + BigInt(b.pageCount) * 4096n]);
    }
    if (held.length > 0) {
      held.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
      // Prefix maximum of the ends, so "any range starting before my end reaches past my start" is one lookup.
      const maxEnd: bigint[] = [];
      let m = 0n;
      for (const [, e] of held) {
        if (e > m) m = e;
        maxEnd.push(m);
      }
      for (const a of d.composite?.constituents ?? []) {
        const end = a.address + BigInt(a.pageCount) * 4096n;
        let lo = 0;
        let hi = held.length;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (held[mid]![0] < end) lo = mid + 1;
          else hi = mid;
        }
        if (lo > 0 && maxEnd[lo - 1]! > a.address)
          return { code: 'DENIED', rule: 'spmc/mem-send/not-exclusive', a: a.address };
      }
    }
    t.parsed = d;
    return undefined;
  }

  private fragTx(regs: RegisterFile): RegisterFile {
    const handle = u64Of(regs.w(1), regs.w(2));
    const len = regs.w(3);
    const t = this.txs.get(hkey(handle));
    // §9.5 #25
    if (t === undefined) return this.reject('INVALID_PARAMETERS', 'spmc/frag-tx/unknown-handle', handle);
    if (t.complete) return this.reject('INVALID_PARAMETERS', 'spmc/frag-tx/complete', handle);
    if (this.rxtx === undefined) return this.reject('INVALID_PARAMETERS', 'spmc/frag-tx/no-tx');
    if ((regs.w(4) & 0xffff) !== 0)
      return this.reject('INVALID_PARAMETERS', 'spmc/frag-tx/sender', regs.w(4));
    if (len === 0 || len % 16 !== 0 || len > this.rxtx.pages * PAGE || t.received + len > t.total) {
      this.txs.delete(hkey(handle));
      this.txChanges++;
      return this.reject('INVALID_PARAMETERS', 'spmc/frag-tx/length', len, t.total);
    }
    if (++t.fragments > (this.o.maxFragments ?? 64)) {
      this.txs.delete(hkey(handle));
      this.txChanges++;
      return this.reject('NO_MEMORY', 'spmc/frag-tx/too-many', this.o.maxFragments ?? 64);
    }
    this.txChanges++;
    this.mem.readInto(this.rxtx.tx, t.buf.subarray(t.received, t.received + len));
    t.received += len;
    if (t.received < t.total) {
      return new RegisterFile()
        .setW(0, FFA.MEM_FRAG_RX)
        .setW(1, regs.w(1))
        .setW(2, regs.w(2))
        .setW(3, t.received);
    }
    const e = this.validate(t);
    if (e !== undefined) {
      this.txs.delete(hkey(handle));
      this.txChanges++;
      return this.refuse(e);
    }
    t.complete = true;
    this.txChanges++;
    t.buf = EMPTY; // parsed: the fragments' buffer is no longer needed
    return this.sendSuccess(handle);
  }

  private retrieveReq(regs: RegisterFile, smc32: boolean): RegisterFile {
    const total = regs.w(1);
    const frag = regs.w(2);
    const addr = smc32 ? BigInt(regs.w(3)) : regs.x(3);
    if (addr !== 0n || regs.w(4) !== 0 || total !== frag || total === 0)
      return this.reject('INVALID_PARAMETERS', 'spmc/retrieve/args', total, frag);
    if (this.rxtx === undefined) return this.reject('DENIED', 'spmc/retrieve/no-rxtx');
    if (total > this.rxtx.pages * PAGE)
      return this.reject('INVALID_PARAMETERS', 'spmc/retrieve/length', total);
    const version = descVersionOf(this.ns ?? this.version);
    const H = headerSize(version);
    if (total < H) return this.reject('INVALID_PARAMETERS', 'spmc/retrieve/length', total);
    // The header's words read in place from the NS TX page, in one frame lookup (no copy, no view per call).
    const hw = this.hdrWords;
    this.mem.words(this.rxtx.tx, H / 4, hw, 0);
    const count = hw[7]!;
    const handle = u64Of(hw[2]!, hw[3]!);
    // Only the hypervisor retrieve request (EMAD count 0, all but the handle 0) is valid from the NS endpoint:
    // no NS endpoint is a borrower here (§9.1; §9.5 #19).
    if (count !== 0) return this.reject('INVALID_PARAMETERS', 'spmc/retrieve/borrower-request', count);
    for (let i = 0; i < H; i += 4)
      if ((i < 8 || i >= 16) && hw[i / 4] !== 0)
        return this.reject('INVALID_PARAMETERS', 'spmc/retrieve/mbz', i);
    const t = this.txs.get(hkey(handle));
    if (t === undefined) return this.reject('INVALID_PARAMETERS', 'spmc/retrieve/unknown-handle', handle);
    if (!t.complete || t.parsed === undefined)
      return this.reject('INVALID_PARAMETERS', 'spmc/retrieve/incomplete', handle);
    if (this.rxFull) return this.reject('BUSY', 'spmc/retrieve/rx-busy');
    const d = t.parsed;
    const typeBits = t.kind === 'share' ? 1 : t.kind === 'lend' ? 2 : 3;
    const resp = memTransaction({
      version,
      sender: d.sender,
      attributes: version === '1.0' ? d.attributes : d.attributes | 0x40, // NS bit set by the relayer (§9.3)
      flags: typeBits << 3,
      handle,
      tag: d.tag,
      receivers: d.emads.map((e) => ({ endpointId: e.access.endpointId, permissions: e.access.permissions })),
      constituents: d.composite?.constituents ?? [],
    });
    let bytes = writeMemTransaction(resp, this.out);
    let totalLen = bytes.length;
    let fragLen: number | undefined;
    if (this.q.retrieveResponse !== undefined) {
      this.decide('spmc/quirk/retrieve-response', undefined, handle);
      const m = this.q.retrieveResponse(bytes, { handle, version });
      bytes = m.bytes;
      totalLen = m.totalLength ?? bytes.length;
      fragLen = m.fragmentLength;
    }
    const rxSize = this.rxtx.pages * PAGE;
    const first = fragLen ?? Math.min(totalLen, rxSize);
    this.writeRx(bytes.subarray(0, Math.min(first, bytes.length)));
    if (first < totalLen) this.responses.set(hkey(handle), bytes.slice()); // kept for FRAG_RX: its own copy
    return new RegisterFile().setW(0, FFA.MEM_RETRIEVE_RESP).setW(1, totalLen).setW(2, first);
  }

  private fragRx(regs: RegisterFile): RegisterFile {
    const handle = u64Of(regs.w(1), regs.w(2));
    const offset = regs.w(3);
    const bytes = this.responses.get(hkey(handle));
    if (bytes === undefined) return this.reject('INVALID_PARAMETERS', 'spmc/frag-rx/unknown-handle', handle);
    if (this.rxtx === undefined) return this.reject('INVALID_PARAMETERS', 'spmc/frag-rx/no-rxtx');
    if ((regs.w(4) & 0xffff) !== 0)
      return this.reject('INVALID_PARAMETERS', 'spmc/frag-rx/sender', regs.w(4));
    if (this.rxFull) return this.reject('BUSY', 'spmc/frag-rx/rx-busy');
    const rxSize = this.rxtx.pages * PAGE;
    if (offset >= bytes.length) {
      this.responses.delete(hkey(handle));
      return this.reject('INVALID_PARAMETERS', 'spmc/frag-rx/offset', offset, bytes.length);
    }
    const natural = Math.min(rxSize, bytes.length - offset);
    const len = this.q.fragRxLength?.(offset, natural) ?? natural;
    if (len !== natural) this.decide('spmc/quirk/frag-rx-length', undefined, len, natural);
    this.writeRx(bytes.subarray(offset, offset + Math.min(natural, len)));
    if (offset + natural >= bytes.length) this.responses.delete(hkey(handle));
    return new RegisterFile()
      .setW(0, FFA.MEM_FRAG_TX)
      .setW(1, regs.w(1))
      .setW(2, regs.w(2))
      .setW(3, len >>> 0);
  }

  private reclaim(regs: RegisterFile): RegisterFile {
    const handle = u64Of(regs.w(1), regs.w(2));
    const flags = regs.w(3);
    if ((flags & ~3) !== 0) return this.reject('INVALID_PARAMETERS', 'spmc/reclaim/flags', flags);
    const t = this.txs.get(hkey(handle));
    // §9.5 #23: valid handle, sending complete (HF refuses a partly sent one), no borrower still holding it.
    if (t === undefined) return this.reject('INVALID_PARAMETERS', 'spmc/reclaim/unknown-handle', handle);
    if (!t.complete) return this.reject('INVALID_PARAMETERS', 'spmc/reclaim/incomplete', handle);
    if (t.retrievedBy.length > 0)
      return this.reject(
        'DENIED',
        'spmc/reclaim/retrieved',
        handle,
        this.trace === undefined ? undefined : t.retrievedBy.map((id) => `0x${id.toString(16)}`).join(', '),
      );
    if ((flags & 1) !== 0) {
      this.decide('spmc/reclaim/zeroed', undefined, handle);
      for (const c of t.parsed?.composite?.constituents ?? [])
        this.mem.fill(Number(c.address), c.pageCount * PAGE, 0);
    }
    this.txs.delete(hkey(handle));
    this.txChanges++;
    this.responses.delete(hkey(handle));
    return this.success();
  }

  // ===========================================================================================
  // Notifications (abi.md §8.2) and indirect messages (§8.1)

  private bitmapOf(id: number) {
    let b = this.bitmaps.get(id);
    if (b === undefined && id >= 0x8000) {
      b = { vcpus: 1, bound: new Map(), pending: 0n, pendingFrom: new Map() };
      this.bitmaps.set(id, b);
    }
    return b;
  }

  private notification(regs: RegisterFile, fid: number): RegisterFile {
    const w1 = regs.w(1);
    const bitmap = u64Of(regs.w(3), regs.w(4));
    switch (fid) {
      case FFA.NOTIFICATION_BITMAP_CREATE: {
        const id = w1 & 0xffff;
        if (w1 >>> 16 !== 0 || id >= 0x8000)
          return this.reject('INVALID_PARAMETERS', 'spmc/notif/bitmap-create-id', w1);
        if (this.bitmaps.has(id)) return this.reject('DENIED', 'spmc/notif/bitmap-exists', id);
        this.bitmaps.set(id, { vcpus: regs.w(2), bound: new Map(), pending: 0n, pendingFrom: new Map() });
        return this.success();
      }
      case FFA.NOTIFICATION_BITMAP_DESTROY: {
        const id = w1 & 0xffff;
        const b = this.bitmaps.get(id);
        if (b === undefined || id >= 0x8000 || b.pending !== 0n)
          return this.reject('DENIED', 'spmc/notif/bitmap-destroy', id);
        this.bitmaps.delete(id);
        return this.success();
      }
      case FFA.NOTIFICATION_BIND:
      case FFA.NOTIFICATION_UNBIND: {
        const sender = w1 >>> 16;
        const receiver = w1 & 0xffff;
        // The receiver is the caller.
        if (receiver !== 0) return this.reject('INVALID_PARAMETERS', 'spmc/notif/receiver', receiver);
        const b = this.bitmaps.get(0);
        if (b === undefined) return this.reject('DENIED', 'spmc/notif/no-bitmap');
        if (
          this.parts.every((p) => p.cfg.id !== sender) ||
          bitmap === 0n ||
          (fid === FFA.NOTIFICATION_BIND && regs.w(2) !== 0)
        )
          return this.reject('INVALID_PARAMETERS', 'spmc/notif/bind-args', sender);
        for (let i = 0; i < 64; i++) {
          if (((bitmap >> BigInt(i)) & 1n) === 0n) continue;
          const cur = b.bound.get(i);
          if (
            (fid === FFA.NOTIFICATION_BIND ? cur !== undefined && cur !== sender : cur !== sender) ||
            ((b.pending >> BigInt(i)) & 1n) !== 0n
          )
            return this.reject('DENIED', 'spmc/notif/bind-conflict', i);
        }
        for (let i = 0; i < 64; i++) {
          if (((bitmap >> BigInt(i)) & 1n) === 0n) continue;
          if (fid === FFA.NOTIFICATION_BIND) b.bound.set(i, sender);
          else b.bound.delete(i);
        }
        return this.success();
      }
      case FFA.NOTIFICATION_SET: {
        const sender = w1 >>> 16;
        const receiver = w1 & 0xffff;
        const p = sender !== 0 || bitmap === 0n ? undefined : this.parts.find((x) => x.cfg.id === receiver);
        if (p === undefined) return this.reject('INVALID_PARAMETERS', 'spmc/notif/set-args', sender);
        if ((p.cfg.properties & 8) === 0) return this.reject('DENIED', 'spmc/notif/set-denied', receiver);
        const b = this.bitmapOf(receiver)!;
        for (let i = 0; i < 64; i++)
          if (((bitmap >> BigInt(i)) & 1n) !== 0n && b.bound.get(i) !== 0)
            return this.reject('DENIED', 'spmc/notif/set-denied', receiver);
        b.pending |= bitmap;
        return this.success();
      }
      case FFA.NOTIFICATION_GET: {
        if ((w1 & 0xffff) !== 0) return this.reject('INVALID_PARAMETERS', 'spmc/notif/receiver', w1 & 0xffff);
        const b = this.bitmaps.get(0);
        if (b === undefined) return this.reject('DENIED', 'spmc/notif/no-bitmap');
        const fromSp = (regs.w(2) & 1) !== 0 ? b.pending : 0n;
        if ((regs.w(2) & 1) !== 0) b.pending = 0n;
        return this.success(Number(fromSp & 0xffff_ffffn), Number(fromSp >> 32n));
      }
      default: {
        // INFO_GET: this model's partitions never signal the NS side on their own, so nothing is pending.
        const b = this.bitmaps.get(0);
        if (b === undefined || b.pending === 0n) return this.reject('NO_DATA', 'spmc/notif/no-data');
        const out = new RegisterFile().setW(
          0,
          fid === FFA.NOTIFICATION_INFO_GET64 ? FFA.SUCCESS64 : FFA.SUCCESS,
        );
        out.setW(2, 1 << 7); // one list, no vCPU IDs: a global notification for endpoint 0
        return out;
      }
    }
  }

  private msgSend2(regs: RegisterFile): RegisterFile {
    const ns = this.ns ?? this.version;
    if (regs.w(1) !== 0 || regs.w(2) !== 0)
      return this.reject('INVALID_PARAMETERS', 'spmc/send2/flags', regs.w(1), regs.w(2));
    if (this.rxtx === undefined) return this.reject('DENIED', 'spmc/send2/no-tx');
    const buf = this.mem.read(this.rxtx.tx, Math.min(PAGE, this.rxtx.pages * PAGE));
    const h = parseSend2Header(buf, versionMinor(ns) >= 2 ? '1.2' : '1.1');
    if (!h.ok)
      return this.reject(
        'INVALID_PARAMETERS',
        'spmc/send2/header',
        this.trace === undefined ? undefined : `${h.error.code} ${h.error.message}`,
      );
    const p =
      h.value.sender !== 0 || h.value.receiver === 0
        ? undefined
        : this.parts.find((x) => x.cfg.id === h.value.receiver);
    if (p === undefined)
      return this.reject('INVALID_PARAMETERS', 'spmc/send2/endpoints', h.value.sender, h.value.receiver);
    if ((p.cfg.properties & 4) === 0) return this.reject('DENIED', 'spmc/send2/not-supported', p.cfg.id);
    if (p.inbox !== undefined) return this.reject('BUSY', 'spmc/send2/busy', p.cfg.id);
    p.inbox = buf.slice(0, h.value.payloadOffset + h.value.payloadSize);
    if (this.trace !== undefined)
      this.note(
        `FFA_MSG_SEND2: ${h.value.payloadSize} bytes queued for partition 0x${p.cfg.id.toString(16)}`,
      );
    return this.success();
  }

  /** Takes a partition's pending indirect message (the partition's read + RX_RELEASE). */
  takeMessage(id: number): Uint8Array | undefined {
    const p = this.parts.find((x) => x.cfg.id === id);
    const m = p?.inbox;
    if (p) p.inbox = undefined;
    return m;
  }
}

/** The default partition: answer every direct request with its own payload. */
export function echo(req: RegisterFile): RegisterFile {
  const out = req.clone();
  const fid = req.w(0);
  out.setW(
    0,
    fid === FFA.MSG_SEND_DIRECT_REQ2
      ? FFA.MSG_SEND_DIRECT_RESP2
      : isSmc64(fid)
        ? FFA.MSG_SEND_DIRECT_RESP64
        : FFA.MSG_SEND_DIRECT_RESP,
  );
  // Swap sender and receiver.
  const w1 = req.w(1);
  out.setW(1, ((w1 & 0xffff) << 16) | (w1 >>> 16));
  if (fid === FFA.MSG_SEND_DIRECT_REQ2) {
    out.setX(2, 0n);
    out.setX(3, 0n);
  }
  return out;
}

function toHex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}
