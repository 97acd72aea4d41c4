/**
 * The pKVM FF-A proxy (arch/arm64/kvm/hyp/nvhe/ffa.c), register for register, in every kernel era.
 *
 * The host's SMC arrives as its saved register file (`handleHostSmc` mutates it in place, as EL2 updates the
 * host context). The proxy either forwards the file unmodified to EL3 (`__kvm_hyp_host_forward_smc`), rejects
 * the call, or handles it: checks, page-state transitions in the host stage-2 (../mem/stage2.ts), and its own
 * SMCs to EL3 through `smc`, the only way it reaches the secure world. Behaviour differences between kernel
 * versions are profile changes (./profiles.ts); code asks `p.has('change-id')` and every decision names the
 * change that made it (`--explain`). Sources: ../shared/spec/proxy-behaviour.md §1–§11 (section numbers below),
 * checked against torvalds/linux a4a508df (6.18) where the notes name it.
 */

import { FFA_ERROR_CODES, type FfaErrorName } from '../ffa/errors.ts';
import { FFA } from '../ffa/ids.ts';
import {
  FFA_VERSION_1_0,
  FFA_VERSION_1_1,
  FFA_VERSION_1_2,
  type VersionWord,
  versionMajor,
  versionMinor,
} from '../ffa/version.ts';
import type { PhysMem } from '../mem/phys.ts';
import type { Stage2 } from '../mem/stage2.ts';
import { fidNumber, fidOwner, isFastCall, isSmc64, stripCallHints } from '../smccc/fid.ts';
import { hex64, NUM_REGS, RegisterFile, u64Of } from '../smccc/regs.ts';
import type { TraceSink } from '../trace/events.ts';
import { emitOob, HypBuffer, type OobAccess } from './bufview.ts';
import { BASE_SOURCE, changeById, type Profile } from './profiles.ts';

/** Where the hypervisor's own FF-A pages are (hyp-owned, not accessible to the host). */
export interface HypPages {
  /** Hyp TX mailbox (one kernel page). */
  tx: number;
  /** Hyp RX mailbox (one kernel page). */
  rx: number;
  /** `ffa_desc_buf`. */
  descBuf: number;
  /** `ffa_desc_buf.len` in bytes. */
  descBufLen: number;
}

export interface ProxyOptions {
  profile: Profile;
  mem: PhysMem;
  stage2: Stage2;
  /** One SMC to EL3 (the SPMD): a register file in, a register file out. */
  smc: (regs: RegisterFile) => RegisterFile;
  pages: HypPages;
  /** SMCCC version the host's PSCI reports (0x10002 = 1.2). */
  smcccVersion?: number;
  trace?: TraceSink;
}

/** Outcome of `hyp_ffa_init`. */
export type InitOutcome =
  | { kind: 'ok'; spmcVersion: VersionWord; hypVersion: VersionWord }
  | { kind: 'inert'; reason: string }
  | { kind: 'failed'; reason: string };

/** What the proxy counts as it runs (for invariant checks and benchmarks). */
export interface ProxyCounters {
  /** EL2 out-of-bounds accesses (I6). */
  oob: OobAccess[];
  /** WARN_ON hits at EL2 (fatal in most pKVM configurations). */
  warns: string[];
  /** Host registers that received stale hyp-stack values (I3). */
  leaks: { regs: number[]; call: string }[];
  /** Modelled EL2 hangs (a zero-length FRAG_TX answer in the reclaim loop spins forever under the lock). */
  hangs: string[];
}

/** What {@link FfaProxy.snapshot} returns (opaque to callers). */
export interface ProxySnapshot {
  readonly hypVersion: VersionWord;
  readonly negotiated: boolean;
  readonly init: InitOutcome;
  readonly hostTx: number | undefined;
  readonly hostRx: number | undefined;
  readonly counters: ProxyCounters;
  readonly stackSlot: RegisterFile;
  readonly valid: readonly [number, number, number];
}

function copyCounters(c: ProxyCounters): ProxyCounters {
  return {
    oob: c.oob.map((a) => ({ ...a })),
    warns: [...c.warns],
    leaks: c.leaks.map((l) => ({ regs: [...l.regs], call: l.call })),
    hangs: [...c.hangs],
  };
}

function refill<T>(into: T[], from: readonly T[]): void {
  into.length = 0;
  for (const x of from) into.push(x);
}

type RetvalMode = 'x0-x3' | 'smc64' | 'all';
type Handler = (host: RegisterFile, fid: number) => void;

const SUCCESS = FFA.SUCCESS;
/** 2^52, above every modelled address, as the high word of a u64: 2^20. */
const HUGE_HI = 1 << 20;

/**
 * Constituents the proxy read from a hyp buffer: address bits 31:0 and 63:32 and the page count, three u32 words
 * each, in one reused array — readRanges made an object and a bigint per constituent (a 2 300-constituent share:
 * measured ~15 % of the fuzz loop with the garbage they left).
 */
class Ranges {
  w = new Uint32Array(3 * 64);
  length = 0;

  /** Empties the list, with room for `n` ranges. */
  clear(n: number): void {
    if (this.w.length < 3 * n) this.w = new Uint32Array(3 * n);
    this.length = 0;
  }

  /** Appends a range (growing the array if needed); returns the index of its first word. */
  push(): number {
    if (this.w.length < 3 * (this.length + 1)) {
      const g = new Uint32Array(this.w.length * 2);
      g.set(this.w);
      this.w = g;
    }
    return 3 * this.length++;
  }

  pop(): void {
    this.length--;
  }
}
const PAGE_4K = 4096;
/** Canary for stale EL2 stack words: hyp-VA-looking values, distinct per register (bug-history.md H16). */
const CANARY_HI = 0xffff8000;
const CANARY_LO = 0xcafe0000;

/**
 * The FF-A proxy. One instance per modelled machine; calls are serialised by the caller (the world), which is
 * what `host_buffers.lock` and `version_lock` guarantee for the handled calls (§10).
 */
export class FfaProxy {
  readonly profile: Profile;
  private readonly mem: PhysMem;
  private readonly s2: Stage2;
  private readonly smc: (regs: RegisterFile) => RegisterFile;
  private readonly trace: TraceSink | undefined;
  private readonly pageSize: number;
  private readonly pages: HypPages;
  private readonly smcccVersion: number;

  /** `hyp_ffa_version` (0 until init sets it). */
  hypVersion: VersionWord = 0;
  /** `has_version_negotiated`. */
  negotiated = false;
  /** Result of hyp init. */
  init: InitOutcome = { kind: 'inert', reason: 'not initialised' };
  /** `host_buffers.tx` / `.rx` as host PAs (undefined when not mapped). */
  hostTx: number | undefined;
  hostRx: number | undefined;

  readonly counters: ProxyCounters = { oob: [], warns: [], leaks: [], hangs: [] };

  private readonly hypTx: HypBuffer;
  /** Scratch for the hyp retrieve request of MEM_RECLAIM (48 bytes at most) and its view. */
  private readonly reclaimReq = new Uint8Array(64);
  private readonly reclaimView = new DataView(this.reclaimReq.buffer);
  private reclaimReqBytes: Uint8Array | undefined;
  private readonly hypRx: HypBuffer;
  private readonly descBuf: HypBuffer;
  /** The constituents being shared or unshared (one list: no call handles two at once). */
  private readonly ranges = new Ranges();
  /** The EL2 stack slot of `kvm_host_ffa_handler`'s `res` (stale between calls unless `zeroed-result`). */
  private readonly stackSlot = new RegisterFile();
  private readonly handlers = new Map<number, Handler>();
  private readonly denied = new Map<number, string>();
  private readonly retval: RetvalMode;
  private readonly smccc12: boolean;
  private readonly maxFuncNum: number;

  constructor(o: ProxyOptions) {
    this.profile = o.profile;
    this.mem = o.mem;
    this.s2 = o.stage2;
    this.smc = o.smc;
    this.trace = o.trace;
    this.pageSize = o.stage2.pageSize;
    this.pages = o.pages;
    this.smcccVersion = o.smcccVersion ?? 0x10002;
    const onOob = (a: OobAccess): void => {
      this.counters.oob.push(a);
      emitOob(this.trace, a);
    };
    this.hypTx = new HypBuffer({ name: 'hyp-tx', base: o.pages.tx, cap: this.pageSize, mem: o.mem, onOob });
    this.hypRx = new HypBuffer({ name: 'hyp-rx', base: o.pages.rx, cap: this.pageSize, mem: o.mem, onOob });
    this.descBuf = new HypBuffer({
      name: 'ffa_desc_buf',
      base: o.pages.descBuf,
      cap: o.pages.descBufLen,
      mem: o.mem,
      onOob,
    });
    for (let i = 0; i < NUM_REGS; i++) this.stackSlot.setPair(i, CANARY_LO | i, CANARY_HI);

    const p = this.profile;
    // §4: which SMCCC the hyp's own SMCs use, and how results reach the host (`ffa_set_retval`).
    const iSmc64 = p.indexOf('smccc12-retval-smc64');
    const iAll = p.indexOf('smccc12-retval-all');
    this.retval = iSmc64 < 0 && iAll < 0 ? 'x0-x3' : iAll > iSmc64 ? 'all' : 'smc64';
    this.smccc12 = this.retval !== 'x0-x3';
    // §1: FFA_MAX_FUNC_NUM.
    this.maxFuncNum = p.has('ffa-range-ff') ? 0xff : 0x7f;
    this.buildDenyList();
    this.buildDispatch();
  }

  // ===========================================================================================
  // Profile tables

  /** §2 "Deny-list contents": exact IDs → the change that put them there (`base` for the original list). */
  private buildDenyList(): void {
    const p = this.profile;
    const d = this.denied;
    for (const id of [
      FFA.MEM_RETRIEVE_REQ64,
      FFA.MEM_RETRIEVE_RESP,
      FFA.MEM_RELINQUISH,
      FFA.MEM_OP_PAUSE,
      FFA.MEM_OP_RESUME,
      FFA.MEM_FRAG_RX,
      FFA.MEM_DONATE64,
      FFA.MSG_SEND,
      FFA.MSG_POLL,
      FFA.MSG_WAIT,
      FFA.MSG_SEND_DIRECT_RESP,
      FFA.RXTX_MAP,
      FFA.MEM_DONATE,
      FFA.MEM_RETRIEVE_REQ,
    ]) {
      d.set(id, 'base');
    }
    // "32-bit variants of 64-bit calls" in the 6.4 list; removed by direct-req32-allow (H1).
    if (!p.has('direct-req32-allow')) d.set(FFA.MSG_SEND_DIRECT_REQ, 'base');
    if (p.has('deny-notifications')) {
      for (let id = FFA.NOTIFICATION_BITMAP_CREATE; id <= FFA.NOTIFICATION_INFO_GET; id++)
        d.set(id, 'deny-notifications');
    }
    if (p.has('deny-ffa12-optional')) {
      for (const id of [
        FFA.MSG_SEND_DIRECT_REQ2,
        FFA.MSG_SEND_DIRECT_RESP2,
        FFA.CONSOLE_LOG,
        FFA.PARTITION_INFO_GET_REGS,
      ]) {
        d.set(id, 'deny-ffa12-optional');
      }
    }
    if (p.has('deny-el3-intr-handle')) d.set(FFA.EL3_INTR_HANDLE, 'deny-el3-intr-handle');
    if (p.has('deny-fn64-direct-resp')) d.set(FFA.MSG_SEND_DIRECT_RESP64, 'deny-fn64-direct-resp');
  }

  /** §1 step 3: the exact-match switch of `kvm_host_ffa_handler`, one row per handled ID. */
  private buildDispatch(): void {
    const p = this.profile;
    const h = this.handlers;
    h.set(FFA.FEATURES, (r) => this.doFeatures(r)); // 0x84000064 FFA_FEATURES
    h.set(FFA.RXTX_MAP64, (r) => this.doRxtxMap(r)); // 0xC4000066 FFA_FN64_RXTX_MAP
    h.set(FFA.RXTX_UNMAP, (r) => this.doRxtxUnmap(r)); // 0x84000067 FFA_RXTX_UNMAP
    h.set(FFA.MEM_SHARE, (r) => this.doMemXfer(r, FFA.MEM_SHARE64)); // 0x84000073 FFA_MEM_SHARE → FN64
    h.set(FFA.MEM_SHARE64, (r) => this.doMemXfer(r, FFA.MEM_SHARE64)); // 0xC4000073 FFA_FN64_MEM_SHARE
    h.set(FFA.MEM_LEND, (r) => this.doMemXfer(r, FFA.MEM_LEND64)); // 0x84000072 FFA_MEM_LEND → FN64
    h.set(FFA.MEM_LEND64, (r) => this.doMemXfer(r, FFA.MEM_LEND64)); // 0xC4000072 FFA_FN64_MEM_LEND
    h.set(FFA.MEM_RECLAIM, (r) => this.doMemReclaim(r)); // 0x84000077 FFA_MEM_RECLAIM
    h.set(FFA.MEM_FRAG_TX, (r) => this.doMemFragTx(r)); // 0x8400007B FFA_MEM_FRAG_TX
    // 0x84000063 FFA_VERSION: handled at EL2 since version-trap (H3); forwarded before.
    if (p.has('version-trap')) h.set(FFA.VERSION, (r) => this.doVersion(r));
    // 0x84000068 FFA_PARTITION_INFO_GET: handled since part-info-copy (H4); forwarded before.
    if (p.has('part-info-copy')) h.set(FFA.PARTITION_INFO_GET, (r) => this.doPartInfoGet(r));
    // 0xC400008D FFA_MSG_SEND_DIRECT_REQ2: the proposed forwarding (direct-req2-forward).
    if (p.has('direct-req2-forward')) h.set(FFA.MSG_SEND_DIRECT_REQ2, (r) => this.doDirectReq2(r));
  }

  // ===========================================================================================
  // Snapshot (World.snapshot)

  /** The proxy's state: version and negotiation, host buffers, counters, the stale stack slot, buffer bounds. */
  snapshot(): ProxySnapshot {
    return {
      hypVersion: this.hypVersion,
      negotiated: this.negotiated,
      init: this.init,
      hostTx: this.hostTx,
      hostRx: this.hostRx,
      counters: copyCounters(this.counters),
      stackSlot: this.stackSlot.clone(),
      valid: [this.hypTx.valid, this.hypRx.valid, this.descBuf.valid],
    };
  }

  /** Puts back a {@link snapshot} of this proxy. */
  restore(s: ProxySnapshot): void {
    this.hypVersion = s.hypVersion;
    this.negotiated = s.negotiated;
    this.init = s.init;
    this.hostTx = s.hostTx;
    this.hostRx = s.hostRx;
    const c = copyCounters(s.counters);
    // The counters object is handed out (HypImpl.counters): refill its arrays rather than replace them.
    refill(this.counters.oob, c.oob);
    refill(this.counters.warns, c.warns);
    refill(this.counters.leaks, c.leaks);
    refill(this.counters.hangs, c.hangs);
    this.stackSlot.copyFrom(s.stackSlot);
    [this.hypTx.valid, this.hypRx.valid, this.descBuf.valid] = s.valid;
  }

  // ===========================================================================================
  // Init (§3.1 `hyp_ffa_init`)

  /** Runs `hyp_ffa_init` (and, before version-trap, the post-init calls). */
  initialise(): InitOutcome {
    const p = this.profile;
    // §3.1: SMCCC below 1.2 → return 0 untouched; the proxy stays inert.
    if (this.smcccVersion < 0x10002) {
      this.init = { kind: 'inert', reason: `host SMCCC ${this.smcccVersion.toString(16)} < 1.2` };
      return this.init;
    }
    const want = p.has('hyp-ffa-v1-2')
      ? FFA_VERSION_1_2
      : p.has('hyp-ffa-v1-1')
        ? FFA_VERSION_1_1
        : FFA_VERSION_1_0;
    const res = this.hypSmc([FFA.VERSION, want]);
    if (this.isVersionNotSupported(res)) {
      this.init = { kind: 'inert', reason: 'SPMC answered FFA_VERSION with NOT_SUPPORTED' };
      this.note(`init: SPMC has no FF-A ${fmtV(want)}; proxy inert`);
      return this.init;
    }
    const spmc = res.w(0);
    if (versionMajor(spmc) !== 1) {
      this.init = {
        kind: 'failed',
        reason: `SPMC major version ${versionMajor(spmc)} ≠ 1 (−EOPNOTSUPP: pKVM init fails)`,
      };
      return this.init;
    }
    // Cap at the hyp's version; below the cap the low 32 bits are kept as they are (§3.1 analysis).
    this.hypVersion = versionMinor(spmc) < versionMinor(want) ? spmc : want;
    if (!p.has('version-trap')) {
      // Baseline: ID_GET and FEATURES(RXTX_MAP) at init; failure makes pKVM init fail (§3.1, "Baseline").
      const err = this.postInit();
      if (err !== undefined) {
        this.init = { kind: 'failed', reason: `post-init at hyp init: ${err} (pKVM init fails)` };
        return this.init;
      }
    }
    this.init = { kind: 'ok', spmcVersion: spmc, hypVersion: this.hypVersion };
    this.note(`init: SPMC ${fmtV(spmc)}, hyp_ffa_version ${fmtV(this.hypVersion)}`);
    return this.init;
  }

  /** `hyp_ffa_post_init` (§3.2): ID_GET must be SUCCESS with 0; FEATURES(RXTX_MAP) min size ≤ PAGE_SIZE. */
  private postInit(): string | undefined {
    let res = this.hypSmc([FFA.ID_GET]);
    if (!this.isX0(res, SUCCESS)) return `FFA_ID_GET answered x0=${hex64(res.hi(0), res.w(0))} (−EOPNOTSUPP)`;
    if (!res.isZero(2)) return `FFA_ID_GET returned ID ${res.toHex()[2]} ≠ 0 (−EINVAL)`;
    res = this.hypSmc([FFA.FEATURES, FFA.RXTX_MAP64]);
    if (!this.isX0(res, SUCCESS)) return 'FFA_FEATURES(FFA_FN64_RXTX_MAP) failed (−EOPNOTSUPP)';
    // features-rxtx-mask (H9): decode w2 & 0x3; before it the whole x2 is switched on.
    const code = this.profile.has('features-rxtx-mask') ? BigInt(res.w(2) & 3) : res.x(2);
    const min = code === 0n ? 4096 : code === 1n ? 65536 : code === 2n ? 16384 : undefined;
    if (min === undefined) return `FEATURES(RXTX_MAP) size code ${res.toHex()[2]} not recognised (−EINVAL)`;
    if (min > this.pageSize)
      return `FEATURES(RXTX_MAP) minimum ${min} > PAGE_SIZE ${this.pageSize} (−EOPNOTSUPP)`;
    return undefined;
  }

  // ===========================================================================================
  // Dispatch (§1)

  /** `is_ffa_call`: fast call, owner 4, function number in [0x60, FFA_MAX_FUNC_NUM]. Bit 30 is not checked. */
  isFfaCall(fid: number): boolean {
    return (
      isFastCall(fid) && fidOwner(fid) === 4 && fidNumber(fid) >= 0x60 && fidNumber(fid) <= this.maxFuncNum
    );
  }

  /** `ffa_call_supported`: the exact-ID deny list. */
  callSupported(fid: number): boolean {
    return !this.denied.has(fid >>> 0);
  }

  /**
   * Handles one host SMC: `host` is the host's saved x0–x17, updated in place with what the host sees on return.
   */
  handleHostSmc(host: RegisterFile): void {
    // strict-smc-decode (optional): non-zero upper half of x0 → SMCCC NOT_SUPPORTED.
    if (this.profile.has('strict-smc-decode') && host.hi(0) !== 0) {
      this.decide('reject', 'smccc/x0-upper', 'strict-smc-decode', 'x0[63:32] ≠ 0 → SMCCC NOT_SUPPORTED');
      host.setX(0, -1n);
      return;
    }
    // hyp-main.c handle_host_smc: the SVE hint is cleared from the local func_id (not from host x0), and the
    // FF-A handler takes a u32 — the upper half of x0 is dropped for classification (§1).
    const fid = stripCallHints(host.w(0));
    if (!this.isFfaCall(fid)) {
      const outside = isFastCall(fid) && fidOwner(fid) === 4 && fidNumber(fid) > this.maxFuncNum;
      this.decide(
        'forward',
        outside ? 'dispatch/outside-ffa-range' : 'dispatch/not-ffa',
        outside ? 'base' : 'base',
        outside
          ? `function number 0x${fidNumber(fid).toString(16)} > FFA_MAX_FUNC_NUM 0x7f: not an FF-A call, forwarded unfiltered (fixed by ffa-range-ff)`
          : 'not an FF-A call: default SMC forwarder',
        '§1 is_ffa_call / __kvm_hyp_host_forward_smc',
      );
      this.forward(host);
      return;
    }
    // §1 step 2: version gate.
    if (this.profile.has('version-trap') && !this.negotiated && fid !== FFA.VERSION) {
      this.decide(
        'reject',
        'gate/not-negotiated',
        'version-trap',
        'FF-A call before FFA_VERSION negotiation → INVALID_PARAMETERS',
      );
      this.finishError(host, 'INVALID_PARAMETERS');
      return;
    }
    const handler = this.handlers.get(fid);
    if (handler !== undefined) {
      handler(host, fid);
      return;
    }
    if (this.callSupported(fid)) {
      const un = fid === FFA.MSG_SEND_DIRECT_REQ && this.profile.has('direct-req32-allow');
      this.decide(
        'forward',
        'dispatch/supported',
        un
          ? 'direct-req32-allow'
          : this.maxFuncNum === 0xff && fidNumber(fid) > 0x7f
            ? 'ffa-range-ff'
            : 'base',
        'not in the deny list: forwarded unmodified',
        '§1 step 4 ffa_call_supported',
      );
      this.forward(host);
      return;
    }
    const change = this.denied.get(fid) ?? 'base';
    this.decide(
      'reject',
      'dispatch/deny-list',
      change,
      'in the deny list → NOT_SUPPORTED',
      '§1 step 5, §2 deny list',
    );
    this.finishError(host, 'NOT_SUPPORTED');
  }

  /** `__kvm_hyp_host_forward_smc`: host x0–x17 to EL3 and back, untouched. */
  private forward(host: RegisterFile): void {
    const out = this.smc(host.clone());
    host.copyFrom(out);
  }

  // ===========================================================================================
  // Result helpers (§4, §7.6)

  /** Writes `res` into the host registers as `ffa_set_retval` does in this profile, then keeps `res` on the stack. */
  private setRetval(host: RegisterFile, res: RegisterFile): void {
    const callerSmc64 = isSmc64(host.w(0));
    switch (this.retval) {
      case 'x0-x3':
        host.copyRange(res, 0, 3);
        break;
      case 'smc64':
        host.copyRange(res, 0, 7);
        if (callerSmc64) host.copyRange(res, 8, 17);
        break;
      case 'all':
        host.copyFrom(res);
        break;
    }
    // What the handler leaves in its stack frame is what the next uninitialised `res` will hold.
    this.stackSlot.copyFrom(res);
  }

  /** A fresh `res`: zeroed with zeroed-result (H16 fix), otherwise the stale EL2 stack slot. */
  private newRes(): RegisterFile {
    return this.profile.has('zeroed-result') ? new RegisterFile() : this.stackSlot.clone();
  }

  /** Error result built as a struct literal (`ffa_to_smccc_error`): x0 = FFA_ERROR, x2 = code, others 0. */
  private finishError(host: RegisterFile, name: FfaErrorName): void {
    const res = new RegisterFile();
    res.setW(0, FFA.ERROR);
    res.setSigned32(2, FFA_ERROR_CODES[name]); // pKVM stores the int code sign-extended (abi.md §3.2)
    this.setRetval(host, res);
  }

  /** Success built as a struct literal (`ffa_to_smccc_res_prop`): x0 = FFA_SUCCESS, x2 = prop, others 0. */
  private finishSuccess(host: RegisterFile, prop = 0): void {
    const res = new RegisterFile();
    res.setW(0, SUCCESS);
    res.setW(2, prop);
    this.setRetval(host, res);
  }

  /**
   * One SMC issued by the hyp itself: a compound-literal register file (unnamed registers 0). With SMCCC 1.1
   * (before the 1.2 series) only x0–x3 of the answer are captured (`struct arm_smccc_res`).
   */
  private hypSmc(args: readonly (number | bigint)[]): RegisterFile {
    const regs = new RegisterFile();
    for (let i = 0; i < args.length; i++) {
      const v = args[i]!;
      if (typeof v === 'bigint') regs.setX(i, v);
      else regs.setW(i, v);
    }
    const out = this.smc(regs);
    if (!this.smccc12) {
      const r = new RegisterFile();
      r.copyRange(out, 0, 3);
      return r;
    }
    return out;
  }

  /** Full 64-bit compare of x0 with a 32-bit function ID (`res.a0 == FFA_SUCCESS`). */
  private isX0(res: RegisterFile, id: number): boolean {
    return res.hi(0) === 0 && res.w(0) === id;
  }

  /** NOT_SUPPORTED test of FFA_VERSION answers: u64 == −1 in 6.18; `(s32)a0 == −1` with version-ns-s32 (H17). */
  private isVersionNotSupported(res: RegisterFile): boolean {
    if (this.profile.has('version-ns-s32')) return res.w(0) === 0xffff_ffff;
    return res.w(0) === 0xffff_ffff && res.hi(0) === 0xffff_ffff;
  }

  // ===========================================================================================
  // FFA_VERSION (§3.2)

  private doVersion(host: RegisterFile): void {
    const p = this.profile;
    const req = host.w(1);
    let res = this.newRes();
    let smcIssued = false;
    const reply = (v: bigint | number): void => {
      res.setX(0, typeof v === 'bigint' ? v : BigInt(v));
    };
    if (versionMajor(req) !== 1) {
      this.decide(
        'handle',
        'version/major',
        'version-trap',
        `requested major ${versionMajor(req)} ≠ 1 → NOT_SUPPORTED`,
      );
      reply(-1n);
    } else if (this.negotiated) {
      if (p.has('version-downgrade-reject') && versionMinor(req) < versionMinor(this.hypVersion)) {
        this.decide(
          'handle',
          'version/downgrade-reject',
          'version-downgrade-reject',
          `version ${fmtV(this.hypVersion)} already negotiated; ${fmtV(req)} is a downgrade → NOT_SUPPORTED`,
        );
        reply(-1n);
      } else {
        this.decide(
          'handle',
          'version/negotiated',
          'version-trap',
          `already negotiated → ${fmtV(this.hypVersion)}`,
        );
        reply(this.hypVersion);
      }
    } else {
      let refused = false;
      if (versionMinor(req) < versionMinor(this.hypVersion)) {
        // First negotiation with a downgrade: ask the SPMC first, with the host's w1 exactly as given.
        res = this.hypSmc([FFA.VERSION, req]);
        smcIssued = true;
        if (this.isVersionNotSupported(res)) {
          this.decide(
            'handle',
            'version/downgrade-spmc-refused',
            'version-trap',
            `SPMC refused ${fmtV(req)}: its answer goes back`,
          );
          refused = true;
        } else {
          this.hypVersion = req;
          this.decide(
            'handle',
            'version/downgrade',
            'version-trap',
            `SPMC accepted downgrade to ${fmtV(req)}`,
          );
        }
      }
      if (!refused) {
        const err = this.postInit();
        if (err !== undefined) {
          this.decide(
            'handle',
            'version/post-init-failed',
            'version-trap',
            `post-init failed: ${err} → NOT_SUPPORTED`,
          );
          reply(-1n);
        } else {
          this.negotiated = true;
          this.decide('handle', 'version/negotiate', 'version-trap', `negotiated ${fmtV(this.hypVersion)}`);
          reply(this.hypVersion);
        }
      }
    }
    if (!smcIssued && !p.has('zeroed-result')) this.recordLeak(host, res);
    this.setRetval(host, res);
  }

  /** I3: registers the host receives that hold stale EL2 stack words (H16). */
  private recordLeak(host: RegisterFile, res: RegisterFile): void {
    const last = this.retval === 'x0-x3' ? 3 : this.retval === 'all' || isSmc64(host.w(0)) ? 17 : 7;
    const regs: number[] = [];
    for (let i = 1; i <= last; i++) if (!res.isZero(i)) regs.push(i);
    if (regs.length === 0) return;
    this.counters.leaks.push({ regs, call: 'FFA_VERSION' });
    this.trace?.emit({
      kind: 'leak',
      regs,
      text: `FFA_VERSION reply carries stale hyp stack in x${regs[0]}–x${regs[regs.length - 1]} (uninitialised res; fixed by zeroed-result)`,
    });
  }

  // ===========================================================================================
  // FFA_FEATURES (§5)

  private doFeatures(host: RegisterFile): void {
    const id = host.w(1);
    if (!this.callSupported(id)) {
      const change = this.denied.get(id >>> 0) ?? 'base';
      this.decide(
        'handle',
        'features/denied-id',
        change,
        'queried ID is in the deny list → NOT_SUPPORTED',
        '§5 do_ffa_features',
      );
      this.finishError(host, 'NOT_SUPPORTED');
      return;
    }
    if (id === FFA.MEM_SHARE || id === FFA.MEM_SHARE64 || id === FFA.MEM_LEND || id === FFA.MEM_LEND64) {
      this.decide(
        'handle',
        'features/mem-xfer',
        'base',
        'MEM_SHARE/LEND: SUCCESS, w2 = 0 (no dynamic buffers)',
        '§5 do_ffa_features',
      );
      this.finishSuccess(host, 0);
      return;
    }
    this.decide(
      'forward',
      'features/forward',
      'base',
      'queried ID handled by the SPMC: forwarded unmodified',
      '§5 do_ffa_features',
    );
    this.forward(host);
  }

  // ===========================================================================================
  // RXTX (§6)

  private doRxtxMap(host: RegisterFile): void {
    const tx = host.x(1);
    const rx = host.x(2);
    const npages = host.w(3);
    const ps = BigInt(this.pageSize);
    const S = '§6.1 do_ffa_rxtx_map';
    if (npages !== this.pageSize / PAGE_4K) {
      this.decide(
        'handle',
        'rxtx-map/page-count',
        'base',
        `page count ${npages} ≠ PAGE_SIZE/4K = ${this.pageSize / PAGE_4K} → INVALID_PARAMETERS`,
        S,
      );
      this.finishError(host, 'INVALID_PARAMETERS');
      return;
    }
    if (tx % ps !== 0n || rx % ps !== 0n) {
      this.decide(
        'handle',
        'rxtx-map/alignment',
        'base',
        'TX or RX not page-aligned → INVALID_PARAMETERS',
        S,
      );
      this.finishError(host, 'INVALID_PARAMETERS');
      return;
    }
    if (this.hostTx !== undefined) {
      this.decide('handle', 'rxtx-map/already-mapped', 'base', 'buffers already mapped → DENIED', S);
      this.finishError(host, 'DENIED');
      return;
    }
    // ffa_map_hyp_buffers: the hyp's own pair, with the host's npages.
    const res = this.hypSmc([FFA.RXTX_MAP64, BigInt(this.pages.tx), BigInt(this.pages.rx), npages]);
    if (!this.isX0(res, SUCCESS) && res.w(2) !== 0) {
      const code = res.w(2) | 0;
      this.decide(
        'handle',
        'rxtx-map/spmc-refused',
        'base',
        `SPMC refused the hyp mailboxes (w2 = ${code})`,
        S,
      );
      const err = new RegisterFile();
      err.setW(0, FFA.ERROR);
      err.setSigned32(2, code);
      this.setRetval(host, err);
      return;
    }
    const txPfn = Number(tx / ps);
    const rxPfn = Number(rx / ps);
    const unmapHyp = (): void => {
      this.hypSmc([FFA.RXTX_UNMAP, 0]); // ffa_unmap_hyp_buffers: result ignored
    };
    const fail = (why: string): void => {
      this.decide('handle', 'rxtx-map/share-pin', 'base', `${why} → INVALID_PARAMETERS (rolled back)`, S);
      this.finishError(host, 'INVALID_PARAMETERS');
    };
    if (!safePfn(txPfn) || this.s2.hostShareHyp(txPfn) !== 0) {
      unmapHyp();
      fail('__pkvm_host_share_hyp(TX) failed');
      return;
    }
    if (!safePfn(rxPfn) || this.s2.hostShareHyp(rxPfn) !== 0) {
      this.s2.hostUnshareHyp(txPfn);
      unmapHyp();
      fail('__pkvm_host_share_hyp(RX) failed');
      return;
    }
    if (this.s2.hypPin(txPfn) !== 0) {
      this.s2.hostUnshareHyp(rxPfn);
      this.s2.hostUnshareHyp(txPfn);
      unmapHyp();
      fail('hyp_pin_shared_mem(TX) failed');
      return;
    }
    if (this.s2.hypPin(rxPfn) !== 0) {
      this.s2.hypUnpin(txPfn);
      this.s2.hostUnshareHyp(rxPfn);
      this.s2.hostUnshareHyp(txPfn);
      unmapHyp();
      fail('hyp_pin_shared_mem(RX) failed');
      return;
    }
    this.hostTx = txPfn * this.pageSize;
    this.hostRx = rxPfn * this.pageSize;
    this.decide(
      'handle',
      'rxtx-map/ok',
      'base',
      'hyp mailboxes mapped at the SPMC; host TX/RX shared with and pinned by the hyp',
      S,
    );
    this.finishSuccess(host);
  }

  private doRxtxUnmap(host: RegisterFile): void {
    const S = '§6.2 do_ffa_rxtx_unmap';
    if (host.w(1) !== 0) {
      this.decide('handle', 'rxtx-unmap/id', 'base', 'w1 ≠ 0 → INVALID_PARAMETERS', S);
      this.finishError(host, 'INVALID_PARAMETERS');
      return;
    }
    if (this.hostTx === undefined || this.hostRx === undefined) {
      this.decide('handle', 'rxtx-unmap/not-mapped', 'base', 'no buffers mapped → INVALID_PARAMETERS', S);
      this.finishError(host, 'INVALID_PARAMETERS');
      return;
    }
    for (const pa of [this.hostTx, this.hostRx]) {
      const pfn = this.s2.pfn(pa);
      this.s2.hypUnpin(pfn);
      if (this.s2.hostUnshareHyp(pfn) !== 0)
        this.warn('rxtx-unmap', `__pkvm_host_unshare_hyp(0x${pa.toString(16)}) failed`);
    }
    this.hostTx = undefined;
    this.hostRx = undefined;
    this.hypSmc([FFA.RXTX_UNMAP, 0]); // result ignored
    this.decide(
      'handle',
      'rxtx-unmap/ok',
      'base',
      'host buffers unpinned and unshared; hyp mailboxes unmapped at the SPMC',
      S,
    );
    this.finishSuccess(host);
  }

  // ===========================================================================================
  // Memory sharing (§7)
  //
  // The proxy reads descriptor fields at the offsets ffa.c reads them (HypBuffer), not through src/ffa/desc: the
  // real hyp validates only a few fields, at era-specific offsets, and its bugs (H13, H14, H15) live exactly in what
  // it does not check. The strict parser is the SPMC's; the difference between the two is what the fuzzer hunts.

  /** Bytes of the kernel's `struct ffa_mem_region` (48 from 6.7, 32 before; change mem-region-48b). */
  private memRegionStructSize(): number {
    return this.profile.has('mem-region-48b') ? 48 : 32;
  }

  /** `FFA_MEM_REGION_SZ(v)`: 32 for v1.0, 48 otherwise. */
  private regionSz(v: VersionWord): number {
    return v <= FFA_VERSION_1_0 ? 32 : 48;
  }

  /** `ffa_emad_size_get(v)`: 16, or 32 from v1.2. */
  private emadSize(v: VersionWord): number {
    return v >= FFA_VERSION_1_2 ? 32 : 16;
  }

  /** §7.2 step 2: minimum first-fragment length, per era. */
  private minFragLen(): { len: number; change: string } {
    const p = this.profile;
    if (p.has('emad-offset-validate')) {
      return {
        len: this.regionSz(this.hypVersion) + this.emadSize(this.hypVersion),
        change: 'emad-offset-validate',
      };
    }
    if (p.has('emad-impdef-size')) return { len: 48 + 32, change: 'emad-impdef-size' };
    if (p.has('mem-region-48b')) return { len: 48 + 16, change: 'mem-region-48b' };
    return { len: 32 + 16, change: 'base' };
  }

  /**
   * Where the hyp reads the (single) EMAD in a descriptor held by `buf` (§7.2 step 6; H14):
   * `ffa_mem_desc_offset(buf, 0, hyp_ffa_version)` — fixed 32 (v1.0) / 48 (≥1.1) until emad-offset-validate,
   * which reads the header's ep_mem_offset for ≥1.1 and bounds offset + EMAD size by `fraglen`.
   */
  private emadOffset(buf: HypBuffer, fraglen: number): { ok: true; off: number } | { ok: false } {
    const v = this.hypVersion;
    if (this.profile.has('emad-offset-validate')) {
      const off = v <= FFA_VERSION_1_0 ? 32 : buf.u32(32);
      if (off + this.emadSize(v) > fraglen) return { ok: false };
      return { ok: true, off };
    }
    // emad-offset-header: the header's ep_mem_offset is followed, unchecked (later reads may leave the buffer).
    if (this.profile.has('emad-offset-header'))
      return { ok: true, off: v <= FFA_VERSION_1_0 ? 32 : buf.u32(32) };
    return { ok: true, off: v <= FFA_VERSION_1_0 ? 32 : 48 };
  }

  /** §7.2 `__do_ffa_mem_xfer` for MEM_SHARE / MEM_LEND (32 or 64), reissued to the SPMC as `fn64`. */
  private doMemXfer(host: RegisterFile, fn64: number): void {
    const p = this.profile;
    const S = '§7.2 __do_ffa_mem_xfer';
    const len = host.w(1);
    const fraglen = host.w(2);
    const mbox = this.pageSize;
    const bad = (
      rule: string,
      change: string,
      why: string,
      code: FfaErrorName = 'INVALID_PARAMETERS',
    ): void => {
      this.decide('handle', rule, change, `${why} → ${code}`, S);
      this.finishError(host, code);
    };
    if (!host.isZero(3) || host.w(4) !== 0 || fraglen > len || fraglen > mbox) {
      bad('mem-xfer/args', 'base', 'addr/npages MBZ ≠ 0, fraglen > len, or fraglen > mailbox');
      return;
    }
    const min = this.minFragLen();
    if (fraglen < min.len) {
      bad('mem-xfer/fraglen-min', min.change, `fraglen ${fraglen} < header + EMAD (${min.len})`);
      return;
    }
    if (this.hostTx === undefined) {
      bad('mem-xfer/no-tx', 'base', 'host TX not mapped');
      return;
    }
    if (p.has('mem-len-check') && len > this.pages.descBufLen) {
      bad('mem-xfer/len', 'mem-len-check', `len ${len} > ffa_desc_buf ${this.pages.descBufLen}`, 'NO_MEMORY');
      return;
    }
    // Copy before parse: fraglen bytes from host TX into hyp TX; the SPMC reads the hyp TX.
    const buf = this.hypTx;
    buf.copyIn(0, this.hostTx, fraglen);
    buf.valid = fraglen;
    this.emitBuffer('hyp', 'hyp-tx', this.pages.tx, fraglen);
    const e = this.emadOffset(buf, fraglen);
    if (!e.ok) {
      bad('mem-xfer/emad-offset', 'emad-offset-validate', 'EMAD offset + EMAD size > fraglen');
      return;
    }
    const offset = buf.u32(e.off + 4); // EMAD composite_off
    const epCount = buf.u32(28);
    const sender = buf.u16(0);
    if (offset === 0 || epCount !== 1 || sender !== 0) {
      bad(
        'mem-xfer/header',
        'base',
        `composite_off ${offset}, ep_count ${epCount}, sender 0x${sender.toString(16)}: need ≠0, 1, 0`,
      );
      return;
    }
    // offset + 16 is computed in 64 bits before 6.18 and with check_add_overflow after: no wrap either way (H7).
    if (offset + 16 > 0xffff_ffff || fraglen < offset + 16) {
      bad(
        'mem-xfer/composite-bound',
        offset + 16 > 0xffff_ffff && p.has('offset-overflow-check') ? 'offset-overflow-check' : 'base',
        `composite header at ${offset} does not fit fraglen ${fraglen}`,
      );
      return;
    }
    const cbytes = fraglen - (offset + 16);
    if (cbytes % 16 !== 0) {
      bad('mem-xfer/constituent-bytes', 'base', `${cbytes} constituent bytes, not a multiple of 16`);
      return;
    }
    const ranges = this.readRanges(buf, offset + 16, cbytes / 16);
    const shared = this.shareRanges(ranges);
    if (!shared.ok) {
      bad(
        'mem-xfer/share',
        shared.change,
        `host share of constituent ${shared.index} failed (${shared.why}); rolled back`,
        'DENIED',
      );
      return;
    }
    const res = this.hypSmc([fn64, len, fraglen]);
    let rolled = false;
    if (fraglen !== len) {
      if (!(this.isX0(res, FFA.MEM_FRAG_RX) && res.hi(3) === 0 && res.w(3) === fraglen)) rolled = true;
    } else if (!this.isX0(res, SUCCESS)) {
      rolled = true;
    }
    if (rolled) {
      if (!this.unshareRanges(ranges).ok) this.warn('mem-xfer', 'rollback unshare failed');
      this.decide(
        'handle',
        'mem-xfer/spmc-result',
        'base',
        `SPMC answered x0=${hex64(res.hi(0), res.w(0))}: not ${fraglen !== len ? 'FFA_MEM_FRAG_RX with w3 = fraglen' : 'FFA_SUCCESS (0x84000061)'} → ranges unshared; SPMC registers returned`,
        `${S} step 12; bug-history.md H20`,
      );
    } else {
      this.decide(
        'handle',
        'mem-xfer/ok',
        'base',
        // Texts only for a trace (decide drops them otherwise; building one costs more than the rule).
        this.trace === undefined
          ? ''
          : `${ranges.length} range(s) SHARED_OWNED; reissued as ${fn64 === FFA.MEM_SHARE64 ? 'FFA_FN64_MEM_SHARE' : 'FFA_FN64_MEM_LEND'}`,
        S,
      );
    }
    this.setRetval(host, res);
  }

  /** Reads `n` constituents (address u64, pg_cnt u32) starting at `off` of `buf` into {@link ranges}. */
  private readRanges(buf: HypBuffer, off: number, n: number): Ranges {
    const r = this.ranges;
    r.clear(n);
    r.length = n; // clear(n) made room for them
    buf.constituentsWords(off, n, r.w, 0);
    return r;
  }

  /**
   * `ffa_host_share_ranges` (§7.1): stop at the first constituent whose size is not page-sized (or, with
   * page-aligned-ranges, whose address is not page-aligned), or whose share fails; then unshare the prefix.
   */
  private shareRanges(
    ranges: Ranges,
  ): { ok: true } | { ok: false; index: number; why: string; change: string } {
    const rv = { rangeValidation: this.profile.has('range-validation') };
    const aligned = this.profile.has('page-aligned-ranges');
    const w = ranges.w;
    let i = 0;
    let why = '';
    let change = 'base';
    for (; i < ranges.length; i++) {
      const lo = w[3 * i]!;
      const hi = w[3 * i + 1]!;
      const pageCount = w[3 * i + 2]!;
      if (!this.rangeAligned(lo, pageCount, aligned)) {
        const sizeOk = this.sizeLow(pageCount) === 0;
        why = aligned && sizeOk ? 'address not page-aligned' : 'size not a multiple of PAGE_SIZE';
        change = aligned && sizeOk ? 'page-aligned-ranges' : 'base';
        break;
      }
      const err = this.hostShareFfa(lo, hi, pageCount, rv);
      if (err !== 0) {
        why = errnoText(err, 'share');
        change =
          err === -22 && rv.rangeValidation && this.outOfIpa(lo, hi, pageCount) ? 'range-validation' : 'base';
        break;
      }
    }
    if (i < ranges.length) {
      const undone = this.unshareRanges(ranges, i);
      if (!undone.ok) this.warn('ffa_host_share_ranges', 'rollback unshare count mismatch');
      return { ok: false, index: i, why, change };
    }
    return { ok: true };
  }

  /** `ffa_host_unshare_ranges` of the first `count` ranges: on partial failure the unshared prefix is re-shared. */
  private unshareRanges(
    ranges: Ranges,
    count = ranges.length,
  ): {
    ok: boolean;
    index: number;
  } {
    const rv = { rangeValidation: this.profile.has('range-validation') };
    const aligned = this.profile.has('page-aligned-ranges');
    const w = ranges.w;
    let i = 0;
    for (; i < count; i++) {
      if (!this.rangeAligned(w[3 * i]!, w[3 * i + 2]!, aligned)) break;
      if (this.hostUnshareFfa(w[3 * i]!, w[3 * i + 1]!, w[3 * i + 2]!, rv) !== 0) break;
    }
    if (i < count) {
      for (let j = 0; j < i; j++) this.hostShareFfa(w[3 * j]!, w[3 * j + 1]!, w[3 * j + 2]!, rv);
      return { ok: false, index: i };
    }
    return { ok: true, index: i };
  }

  /**
   * The loop's size test `PAGE_ALIGNED(sz)`, or `PAGE_ALIGNED(sz | address)` with page-aligned-ranges (§7.1, H15).
   * Page sizes are powers of two (≤ 64 KiB), so the low bits of the address's low word `lo` decide its alignment.
   */
  /**
   * `(pageCount × 4 KiB) % PAGE_SIZE` without a floating-point remainder (the product passes 2^31): PAGE_SIZE is a
   * power of two of at least 4 KiB, so only the page count's low bits matter.
   */
  private sizeLow(pageCount: number): number {
    return (pageCount & (this.pageSize / 4096 - 1)) * 4096;
  }

  private rangeAligned(lo: number, pageCount: number, withAddress: boolean): boolean {
    if (this.sizeLow(pageCount) !== 0) return false;
    return !withAddress || (lo & 0xffff & (this.pageSize - 1)) === 0;
  }

  /** The range's pfns do not fit the IPA space (the address as words: the rare error path rebuilds the bigint). */
  private outOfIpa(lo: number, hi: number, pageCount: number): boolean {
    const address = u64Of(lo, hi);
    const sz = BigInt(pageCount) * 4096n;
    const ps = BigInt(this.pageSize);
    const pfn = address / ps;
    const n = sz / ps;
    const limit = 1n << BigInt(this.s2.ipaBits - this.s2.pageShift);
    return !(pfn < limit && limit - pfn >= n);
  }

  /**
   * `__pkvm_host_share_ffa(address >> PAGE_SHIFT, sz / PAGE_SIZE)` with sz = `pageCount` × 4 KiB; the address
   * (words `lo`, `hi`) loses its low bits. Addresses at or above 2^52 (hi ≥ 2^20) lie beyond every modelled IPA
   * (ipaBits ≤ 52) and PA: pfn_range_is_valid fails with range-validation, and without it the range is not RAM.
   * Below 2^52 the address and sz (< 2^44) are exact as Numbers.
   */
  private hostShareFfa(lo: number, hi: number, pageCount: number, rv: { rangeValidation: boolean }): number {
    if (hi >= HUGE_HI) return rv.rangeValidation ? -22 : -1;
    return this.s2.hostShareFFA(
      Math.floor((hi * 0x1_0000_0000 + lo) / this.pageSize),
      (pageCount * 4096) / this.pageSize,
      rv,
    );
  }

  private hostUnshareFfa(
    lo: number,
    hi: number,
    pageCount: number,
    rv: { rangeValidation: boolean },
  ): number {
    if (hi >= HUGE_HI) return rv.rangeValidation ? -22 : -1;
    return this.s2.hostUnshareFFA(
      Math.floor((hi * 0x1_0000_0000 + lo) / this.pageSize),
      (pageCount * 4096) / this.pageSize,
      rv,
    );
  }

  /** §7.3 `do_ffa_mem_frag_tx`. */
  private doMemFragTx(host: RegisterFile): void {
    const S = '§7.3 do_ffa_mem_frag_tx';
    const lo = host.w(1);
    const hi = host.w(2);
    const fraglen = host.w(3);
    const endpoint = host.w(4);
    if (fraglen > this.pageSize || fraglen % 16 !== 0) {
      this.decide(
        'handle',
        'frag-tx/len',
        'base',
        `fraglen ${fraglen} > mailbox or not a multiple of 16 → INVALID_PARAMETERS`,
        S,
      );
      this.finishError(host, 'INVALID_PARAMETERS');
      return;
    }
    if (this.hostTx === undefined) {
      this.decide('handle', 'frag-tx/no-tx', 'base', 'host TX not mapped → INVALID_PARAMETERS', S);
      this.finishError(host, 'INVALID_PARAMETERS');
      return;
    }
    const buf = this.hypTx;
    buf.copyIn(0, this.hostTx, fraglen);
    buf.valid = fraglen;
    this.emitBuffer('hyp', 'hyp-tx', this.pages.tx, fraglen);
    const ranges = this.readRanges(buf, 0, fraglen / 16);
    const shared = this.shareRanges(ranges);
    if (!shared.ok) {
      // Abort the transaction at the SPMC; pages of earlier fragments stay SHARED_OWNED (H18, by design).
      const r = this.hypSmc([FFA.MEM_RECLAIM, lo, hi, 0]);
      if (!this.isX0(r, SUCCESS))
        this.warn(
          'do_ffa_mem_frag_tx',
          `reclaim of the aborted handle answered x0=${hex64(r.hi(0), r.w(0))}`,
        );
      this.decide(
        'handle',
        'frag-tx/share',
        shared.change,
        `share of constituent ${shared.index} failed (${shared.why}): handle reclaimed at the SPMC → DENIED; earlier fragments stay SHARED_OWNED (H18)`,
        S,
      );
      this.finishError(host, 'DENIED');
      return;
    }
    const res = this.hypSmc([FFA.MEM_FRAG_TX, lo, hi, fraglen, endpoint]);
    if (!this.isX0(res, SUCCESS) && !this.isX0(res, FFA.MEM_FRAG_RX)) {
      if (!this.unshareRanges(ranges).ok) this.warn('do_ffa_mem_frag_tx', 'unshare of this fragment failed');
      this.decide(
        'handle',
        'frag-tx/spmc-result',
        'base',
        `SPMC answered x0=${hex64(res.hi(0), res.w(0))}: this fragment unshared`,
        `${S}; H20`,
      );
    } else {
      this.decide('handle', 'frag-tx/ok', 'base', `${ranges.length} range(s) SHARED_OWNED; forwarded`, S);
    }
    this.setRetval(host, res);
  }

  /** §7.4 `do_ffa_mem_reclaim`. */
  private doMemReclaim(host: RegisterFile): void {
    const p = this.profile;
    const S = '§7.4 do_ffa_mem_reclaim';
    const lo = host.w(1);
    const hi = host.w(2);
    const flags = host.w(3);
    const release = p.has('reclaim-rx-release');
    const rxRelease = (): void => {
      if (release) this.hypSmc([FFA.RX_RELEASE]);
    };
    // Hypervisor retrieve request in the hyp TX: a zeroed struct ffa_mem_region, sender 0, the handle, ep_count 0.
    const sz = this.memRegionStructSize();
    // The hyp retrieve request: all zero but the handle (ffa_mem_region with no EMADs). Built in a reused buffer
    // (a DataView over a fresh small array costs V8 an off-heap copy on every call) of which only the handle's
    // bytes 8–15 are ever written, so the rest stays zero; its size is the profile's, fixed for this proxy.
    this.reclaimReqBytes ??= this.reclaimReq.subarray(0, sz);
    const req = this.reclaimReqBytes;
    this.reclaimView.setUint32(8, lo, true);
    this.reclaimView.setUint32(12, hi, true);
    this.hypTx.write(0, req);
    this.emitBuffer('hyp', 'hyp-tx', this.pages.tx, req.length);
    let res = this.hypSmc([FFA.MEM_RETRIEVE_REQ64, sz, sz]);
    if (!this.isX0(res, FFA.MEM_RETRIEVE_RESP)) {
      this.decide(
        'handle',
        'reclaim/retrieve-failed',
        'base',
        `retrieve answered x0=${hex64(res.hi(0), res.w(0))}: returned to the host`,
        S,
      );
      this.setRetval(host, res);
      return;
    }
    const len = res.w(1);
    let fraglen = res.w(2);
    const rx = this.hypRx;
    rx.valid = Math.min(fraglen, this.pageSize);
    this.emitBuffer('spmc', 'hyp-rx', this.pages.rx, Math.min(fraglen, this.pageSize));
    const fail = (rule: string, change: string, why: string, code: FfaErrorName): void => {
      this.decide('handle', rule, change, `${why} → ${code}`, S);
      this.finishError(host, code);
    };
    const e = this.emadOffset(rx, fraglen);
    if (!e.ok) {
      rxRelease();
      fail(
        'reclaim/emad-offset',
        'emad-offset-validate',
        'retrieve response EMAD offset + size > fraglen',
        'INVALID_PARAMETERS',
      );
      return;
    }
    const offset = rx.u32(e.off + 4);
    if (p.has('reclaim-bounds')) {
      if (offset + 16 > len || fraglen > this.pageSize) {
        rxRelease();
        fail(
          'reclaim/bounds',
          'reclaim-bounds',
          `composite at ${offset} + 16 > len ${len}, or fraglen ${fraglen} > mailbox`,
          'ABORTED',
        );
        return;
      }
    } else if (offset > len || fraglen > this.pageSize) {
      this.warn(
        'do_ffa_mem_reclaim',
        `WARN_ON(offset ${offset} > len ${len} || fraglen ${fraglen} > mailbox)`,
      );
      rxRelease();
      fail('reclaim/bounds', 'base', `composite at ${offset} > len ${len}, or fraglen > mailbox`, 'ABORTED');
      return;
    }
    if (len > this.pages.descBufLen) {
      rxRelease();
      fail(
        'reclaim/len',
        'base',
        `response length ${len} > ffa_desc_buf ${this.pages.descBufLen}`,
        'NO_MEMORY',
      );
      return;
    }
    const db = this.descBuf;
    db.valid = len;
    db.copyIn(0, this.pages.rx, fraglen);
    rxRelease();
    let fragoff = fraglen;
    let guard = 0;
    while (fragoff < len) {
      res = this.hypSmc([FFA.MEM_FRAG_RX, lo, hi, fragoff]);
      if (!this.isX0(res, FFA.MEM_FRAG_TX)) {
        fail(
          'reclaim/frag-rx',
          'base',
          `FRAG_RX answered x0=${hex64(res.hi(0), res.w(0))}, not FFA_MEM_FRAG_TX (hyp RX not released)`,
          'INVALID_PARAMETERS',
        );
        return;
      }
      fraglen = res.w(3);
      if (fraglen === 0 || ++guard > 1 << 16) {
        // The real loop spins forever under host_buffers.lock: record it and stop the model.
        this.counters.hangs.push(`reclaim FRAG_RX loop made no progress at offset ${fragoff}`);
        this.warn(
          'do_ffa_mem_reclaim',
          `EL2 livelock: FRAG_TX fragment length 0 at offset ${fragoff} (no profile bounds it)`,
        );
        fail(
          'reclaim/frag-rx-hang',
          'base',
          'zero-length fragment: the hyp would spin forever (model stops here)',
          'ABORTED',
        );
        return;
      }
      if (fraglen > this.pageSize) {
        this.counters.oob.push({
          buffer: 'hyp-rx',
          offset: 0,
          size: fraglen,
          limit: this.pageSize,
          kind: 'beyond-buffer',
        });
        emitOob(this.trace, {
          buffer: 'hyp-rx',
          offset: 0,
          size: fraglen,
          limit: this.pageSize,
          kind: 'beyond-buffer',
        });
      }
      db.copyIn(fragoff, this.pages.rx, fraglen);
      rxRelease();
      fragoff += fraglen;
    }
    this.emitBuffer('hyp', 'ffa_desc_buf', this.pages.descBuf, Math.min(len, this.pages.descBufLen));
    const cnt = db.u32(offset + 4); // composite addr_range_cnt
    if (p.has('reclaim-bounds') && offset + 16 + 16 * cnt > len) {
      fail(
        'reclaim/bounds-cnt',
        'reclaim-bounds',
        `composite at ${offset} with ${cnt} ranges overruns len ${len}`,
        'ABORTED',
      );
      return;
    }
    res = this.hypSmc([FFA.MEM_RECLAIM, lo, hi, flags]);
    if (!this.isX0(res, SUCCESS)) {
      this.decide(
        'handle',
        'reclaim/spmc-refused',
        'base',
        `FFA_MEM_RECLAIM answered x0=${hex64(res.hi(0), res.w(0))}: nothing unshared`,
        S,
      );
      this.setRetval(host, res);
      return;
    }
    // ffa_host_unshare_ranges over addr_range_cnt constituents read from ffa_desc_buf, one at a time: the loop
    // stops at the first failure and re-shares the prefix. Reads past `len` are stale bytes (H13) and are
    // recorded; a zero constituent (never-written memory) always fails, which bounds the walk.
    const ps = this.pageSize;
    const rv = { rangeValidation: p.has('range-validation') };
    const aligned = p.has('page-aligned-ranges');
    const maxWalk = Math.ceil((this.pages.descBufLen + this.pageSize) / 16);
    const done = this.ranges;
    // The constituents wholly inside the message are read in one pass first (reading them records nothing,
    // so reading ahead of a failure changes nothing); the rest one at a time, as the loop reaches them.
    const ahead = Math.min(cnt, maxWalk + 1, db.recordsInBounds(offset + 16, 16, 12));
    done.clear(ahead);
    done.length = ahead;
    db.constituentsWords(offset + 16, ahead, done.w, 0);
    let failed = false;
    for (let i = 0; i < cnt; i++) {
      if (i > maxWalk) {
        done.length = i;
        failed = true;
        break;
      }
      let k = 3 * i;
      if (i >= ahead) {
        k = done.push();
        db.constituentWords(offset + 16 + 16 * i, done.w, k);
      }
      const pageCount = done.w[k + 2]!;
      // PAGE_ALIGNED(sz) or PAGE_ALIGNED(sz | address): for a power-of-two page size the low bits of
      // (sz | address) are those of sz or'ed with the address's low word.
      const szLow = this.sizeLow(pageCount);
      if (
        (aligned ? szLow | (done.w[k]! & (ps - 1)) : szLow) !== 0 ||
        this.hostUnshareFfa(done.w[k]!, done.w[k + 1]!, pageCount, rv) !== 0
      ) {
        done.length = i;
        failed = true;
        break;
      }
    }
    if (failed) {
      const w = done.w;
      for (let j = 0; j < done.length; j++) this.hostShareFfa(w[3 * j]!, w[3 * j + 1]!, w[3 * j + 2]!, rv);
      this.warn(
        'do_ffa_mem_reclaim',
        'WARN_ON: "If the SPMD was happy, then we should be too" — unshare failed',
      );
    }
    const un = { ok: !failed, index: failed ? 0 : done.length };
    const ranges = done;
    this.decide(
      'handle',
      'reclaim/ok',
      'base',
      this.trace === undefined
        ? ''
        : `SPMC reclaimed; ${un.ok ? ranges.length : un.index} range(s) back to OWNED`,
      S,
    );
    this.setRetval(host, res);
  }

  // ===========================================================================================
  // FFA_PARTITION_INFO_GET (§8)

  private doPartInfoGet(host: RegisterFile): void {
    const S = '§8 do_ffa_part_get';
    if (this.hostRx === undefined) {
      this.decide('handle', 'part-info/no-rx', 'part-info-copy', 'host RX not mapped → BUSY', S);
      this.finishError(host, 'BUSY');
      return;
    }
    const flags = host.w(5);
    const res = this.hypSmc([FFA.PARTITION_INFO_GET, host.w(1), host.w(2), host.w(3), host.w(4), flags]);
    if (!this.isX0(res, SUCCESS)) {
      this.decide(
        'handle',
        'part-info/spmc-error',
        'part-info-copy',
        `SPMC answered x0=${hex64(res.hi(0), res.w(0))}: returned`,
        S,
      );
      this.setRetval(host, res);
      return;
    }
    const count = res.w(2);
    if (count === 0) {
      this.decide('handle', 'part-info/empty', 'part-info-copy', 'count 0: returned', S);
      this.setRetval(host, res);
      return;
    }
    let size: number;
    if (this.hypVersion > FFA_VERSION_1_0) {
      if ((flags & 1) !== 0) {
        this.decide(
          'handle',
          'part-info/count-only',
          'part-info-copy',
          'count-only query: nothing copied',
          S,
        );
        this.setRetval(host, res);
        return;
      }
      size = res.w(3);
    } else {
      size = 8;
    }
    const copy = Math.imul(size, count) >>> 0; // u32 arithmetic, may wrap (analysis)
    if (copy > this.pageSize) {
      this.decide(
        'handle',
        'part-info/too-big',
        'part-info-copy',
        `${count} × ${size} bytes > mailbox → ABORTED`,
        S,
      );
      this.finishError(host, 'ABORTED');
      return;
    }
    this.mem.copy(this.hostRx, this.pages.rx, copy);
    this.emitBuffer('host', 'host-rx', this.hostRx, copy);
    this.decide(
      'handle',
      'part-info/copy',
      'part-info-copy',
      `${count} descriptor(s) of ${size} bytes copied to the host RX`,
      S,
    );
    this.setRetval(host, res);
  }

  // ===========================================================================================
  // DIRECT_REQ2 (proposed forwarding)

  private doDirectReq2(host: RegisterFile): void {
    if (this.hypVersion < FFA_VERSION_1_2) {
      this.decide(
        'handle',
        'direct-req2/version',
        'direct-req2-forward',
        `hyp_ffa_version ${fmtV(this.hypVersion)} < 1.2 → NOT_SUPPORTED`,
      );
      this.finishError(host, 'NOT_SUPPORTED');
      return;
    }
    this.decide(
      'forward',
      'direct-req2/forward',
      'direct-req2-forward',
      'DIRECT_REQ2 forwarded with the host x0–x17',
    );
    const res = this.smc(host.clone());
    this.setRetval(host, res);
  }

  // ===========================================================================================
  // Trace helpers

  /**
   * Emits a proxy decision naming the profile change that made it and its source (for `--explain`). Its text is
   * built by the caller even with no trace attached, so texts name x0 with `hex64(r.hi(0), r.w(0))`, not
   * `r.toHex()[0]` (all 18 registers formatted: measured 1.7 % of the fuzz loop).
   */
  private decide(action: string, rule: string, change: string, text: string, section?: string): void {
    if (this.trace === undefined) return;
    const changeSource = change === 'base' ? BASE_SOURCE : (changeById(change)?.source ?? '');
    const source = section === undefined ? changeSource : `${changeSource}; proxy-behaviour.md ${section}`;
    this.trace.emit({ kind: 'decision', action, rule, change, source, text });
  }

  private warn(where: string, text: string): void {
    this.counters.warns.push(`${where}: ${text}`);
    this.trace?.emit({ kind: 'warn', where, text });
  }

  private note(text: string): void {
    this.trace?.emit({ kind: 'note', who: 'hyp', text });
  }

  /** Emits a buffer's current bytes (read only when a trace is attached). */
  private emitBuffer(owner: 'hyp' | 'host' | 'spmc', role: string, addr: number, len: number): void {
    if (this.trace === undefined || this.trace.lean === true) return;
    this.trace.emit({
      kind: 'buffer',
      owner,
      role,
      addr,
      version: fmtV(this.hypVersion),
      hex: toHex(this.mem.read(addr, len)),
    });
  }
}

function fmtV(v: VersionWord): string {
  return `${versionMajor(v)}.${versionMinor(v)}`;
}

function safePfn(pfn: number): boolean {
  return Number.isSafeInteger(pfn) && pfn >= 0;
}

function errnoText(err: number, op: string): string {
  const name = err === -22 ? '-EINVAL' : err === -1 ? '-EPERM' : err === -16 ? '-EBUSY' : String(err);
  return `__pkvm_host_${op}_ffa returned ${name}`;
}

function toHex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}
