/**
 * Kernel mode's hyp: a kernel tree's real ffa.c (built by ./build.ts into a Node-API addon) behind the same
 * register-file interface as the model proxy ({@link HypImpl}). A host SMC's x0–x17 go into the code's
 * `kvm_host_ffa_handler`; when it returns false the harness forwards them to EL3 unchanged, as pKVM's host SMC
 * passthrough does. Every SMC the code makes is the world's hyp → SPMD hop; every page-state call is the
 * world's Stage2; the hyp's mailboxes, `ffa_desc_buf` and the host pages shared with the hyp are bytes of the
 * world's PhysMem that the C code reads and writes in place (PhysMem.attach). docs/kernel-mode.md.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { FFA_ERROR_CODES } from '../ffa/errors.ts';
import { FFA, ffaName } from '../ffa/ids.ts';
import type { InitOutcome, ProxyCounters } from '../hyp/proxy.ts';
import type { PhysMem } from '../mem/phys.ts';
import type { Stage2 } from '../mem/stage2.ts';
import { RegisterFile } from '../smccc/regs.ts';
import type { TraceSink } from '../trace/events.ts';
import { lineRanges } from '../trace/text.ts';
import type { HypContext, HypImpl } from '../world/world.ts';
import { type BuildOptions, buildKernel, canLoadHere, type KernelBuild } from './build.ts';

/** The addon's functions (src/kernel/shim/bridge.c). */
interface Addon {
  setCallbacks(
    dispatch: (op: number) => number,
    event: (kind: string, file: string, line: number, func: string, text: string) => void,
  ): void;
  mailbox(): ArrayBuffer;
  create(hypPhys: number, hypPages: number, pageSize: number): [unknown, ArrayBuffer, number, number];
  init(handle: unknown, smcccVersion: number, proxyPages: number): number;
  hostSmc(handle: unknown): number;
  asan(): boolean;
  gcov(op: number): boolean;
}

const OP_SMC = 1;
const OP_SHARE_HYP = 2;
const OP_UNSHARE_HYP = 3;
const OP_SHARE_FFA = 4;
const OP_UNSHARE_FFA = 5;
const OP_PIN = 6;
const OP_UNPIN = 7;

/** Host call results of the bridge below 0: the call did not return normally. */
const ABORT_BUG = -100001;
const ABORT_HANG = -100002;
const ABORT_OOB = -100004;
const ABORT_FAULT = -100005;

/** More EL3 calls than this for one host call is a hyp that does not return (issue 12 item 4). */
export const EL3_CALLS_BOUND = 10_000;

/**
 * More stage-2 calls (share/unshare, pin/unpin) than this for one host call is a hyp looping over a range count
 * it read from garbage: no descriptor the mailboxes can hold has a hundredth as many ranges.
 */
export const S2_CALLS_BOUND = 100_000;

/** A page-state call's answer that tells bridge.c to stop the host call (its OP_RC_HANG). */
const OP_RC_HANG = -100002;

/** `-ftrivial-auto-var-init=pattern` fills locals with 0xFE bytes: such a word in a host register is EL2 stack. */
const PATTERN_WORD = 0xfefe_fefe;

/** A BUG_ON, a harness-detected EL2 bug or a call the hyp never returned from. */
export class KernelHypError extends Error {
  override readonly name = 'KernelHypError';
  readonly kind: 'bug' | 'hang';
  readonly where: string;
  constructor(kind: 'bug' | 'hang', where: string, message: string) {
    super(message);
    this.kind = kind;
    this.where = where;
  }
}

/** One loaded addon (one per build in a process) and the instance whose call is running. */
interface Loaded {
  addon: Addon;
  u32: Uint32Array;
  f64: Float64Array;
  current: KernelHyp | undefined;
}

const loaded = new Map<string, Loaded>();

function load(build: KernelBuild): Loaded {
  const hit = loaded.get(build.addon);
  if (hit !== undefined) return hit;
  if (!canLoadHere(build)) {
    throw new Error(
      `${build.label} is an ASan build: run it in a process with LD_PRELOAD=${build.libasan} (the ffasim CLI does this itself)`,
    );
  }
  const addon = createRequire(import.meta.url)(build.addon) as Addon;
  const ab = addon.mailbox();
  const l: Loaded = { addon, u32: new Uint32Array(ab), f64: new Float64Array(ab), current: undefined };
  addon.setCallbacks(
    (op) => l.current!.op(op),
    (kind, file, line, func, text) => l.current!.event(kind, file, line, func, text),
  );
  loaded.set(build.addon, l);
  return l;
}

/**
 * libgcov of a `--coverage` build, loaded in this process: `dump` writes the counters to the .gcda file now (and
 * not again at exit), `reset` zeroes them. False for a build without coverage.
 */
export function gcov(build: KernelBuild, op: 'dump' | 'reset'): boolean {
  return load(build).addon.gcov(op === 'dump' ? 1 : 2);
}

/** Optional knobs of {@link kernelHyp}. */
export interface KernelHypOptions {
  /** EL3 calls after which a host call counts as not returning (default {@link EL3_CALLS_BOUND}). */
  el3Bound?: number;
  /** Stage-2 calls after which a host call counts as not returning (default {@link S2_CALLS_BOUND}). */
  s2Bound?: number;
  /**
   * The ffa.c lines run since it was last called (a coverage session's `lines`, `--coverage`): called after each
   * host call, the result goes on that call's decision event (`lines`), which `--explain` shows.
   */
  callLines?: () => number[];
}

/** A world option: `createWorld({ hyp: kernelHyp(build) })` runs the build's ffa.c as the world's hyp. */
export function kernelHyp(build: KernelBuild, o: KernelHypOptions = {}): (ctx: HypContext) => KernelHyp {
  return (ctx) => new KernelHyp(ctx, build, o);
}

/**
 * A world option for a tree: each world gets the tree's build for its own page size (a scenario may change the
 * page size; builds are cached by content, so this is a lookup after the first).
 */
export function kernelHypForTree(
  tree: string,
  b: Omit<BuildOptions, 'pageSize'> = {},
  o: KernelHypOptions = {},
): (ctx: HypContext) => KernelHyp {
  const builds = new Map<number, KernelBuild>();
  return (ctx) => {
    const ps = ctx.stage2.pageSize;
    let build = builds.get(ps);
    if (build === undefined) {
      build = buildKernel(tree, { ...b, pageSize: ps });
      builds.set(ps, build);
    }
    return new KernelHyp(ctx, build, o);
  };
}

/** The real ffa.c as the world's hyp. */
export class KernelHyp implements HypImpl {
  readonly name: string;
  readonly build: KernelBuild;
  hypVersion = 0;
  negotiated = false;
  hostTx: number | undefined;
  hostRx: number | undefined;
  init: InitOutcome = { kind: 'inert', reason: 'not initialised' };
  readonly counters: ProxyCounters = { oob: [], warns: [], leaks: [], hangs: [] };
  /** Host calls the code handled (kvm_host_ffa_handler returned true) and forwarded. */
  handled = 0;
  forwarded = 0;

  private readonly l: Loaded;
  private readonly handle: unknown;
  private readonly window: ArrayBuffer;
  private readonly mem: PhysMem;
  private readonly s2: Stage2;
  private readonly smc: (regs: RegisterFile) => RegisterFile;
  private readonly trace: TraceSink | undefined;
  private readonly ctx: HypContext;
  private readonly pageSize: number;
  private readonly hypPages: number;
  private readonly rangeValidation: boolean;
  private readonly el3Bound: number;
  private readonly s2Bound: number;
  private el3ThisCall = 0;
  private s2ThisCall = 0;
  private readonly callLines: (() => number[]) | undefined;
  private fid = 0;
  /** A BUG the code hit during the current call. */
  private bug: string | undefined;

  constructor(ctx: HypContext, build: KernelBuild, o: KernelHypOptions = {}) {
    this.ctx = ctx;
    this.build = build;
    this.name = build.label;
    this.mem = ctx.mem;
    this.s2 = ctx.stage2;
    this.smc = ctx.smc;
    this.trace = ctx.trace;
    this.pageSize = ctx.stage2.pageSize;
    this.el3Bound = o.el3Bound ?? EL3_CALLS_BOUND;
    this.s2Bound = o.s2Bound ?? S2_CALLS_BOUND;
    this.callLines = o.callLines;
    if (this.pageSize !== build.pageSize) {
      throw new Error(
        `${build.label} was built for ${build.pageSize}-byte pages; this world has ${this.pageSize} (build with the world's page size)`,
      );
    }
    const p = ctx.pages;
    const ps = this.pageSize;
    if (p.rx !== p.tx + ps || p.descBuf !== p.tx + 2 * ps || p.descBufLen % ps !== 0) {
      throw new Error(
        'kernel mode needs the hyp pages contiguous: TX, RX, then ffa_desc_buf (as hyp_ffa_init lays them out)',
      );
    }
    this.hypPages = 2 + p.descBufLen / ps;
    // mem_protect.c is modelled by Stage2 under the world's profile, as for the model proxy.
    this.rangeValidation = ctx.profile.has('range-validation');
    this.l = load(build);
    const [handle, window, hypOff] = this.l.addon.create(p.tx, this.hypPages, ps);
    this.handle = handle;
    this.window = window;
    // The hyp's own pages are the window's bytes from now on: the C code and the SPMC share them.
    this.mem.attach(p.tx, new Uint8Array(window, hypOff, this.hypPages * ps));
  }

  /** `hyp_ffa_init(pages)` with the host's SMCCC version; 0 with `hyp_ffa_version` 0 is an inert proxy. */
  initialise(): InitOutcome {
    const rc = this.enter(() => this.l.addon.init(this.handle, this.ctx.smcccVersion, this.hypPages));
    if (rc === ABORT_BUG || this.bug !== undefined) {
      const why = this.bug ?? 'BUG';
      this.bug = undefined;
      throw new KernelHypError('bug', why, `${this.name}: EL2 BUG in hyp_ffa_init: ${why}`);
    }
    if (rc < 0) {
      this.init = { kind: 'failed', reason: `hyp_ffa_init returned ${rc} (pKVM init fails)` };
    } else if (this.hypVersion === 0) {
      this.init = {
        kind: 'inert',
        reason: 'hyp_ffa_init returned 0 without a version (SMCCC < 1.2 or the SPMC has no FF-A)',
      };
    } else {
      this.init = { kind: 'ok', spmcVersion: this.hypVersion, hypVersion: this.hypVersion };
    }
    // With --coverage, init's lines are its own, not the first host call's.
    const lines = this.callLines?.();
    this.trace?.emit({
      kind: 'note',
      who: 'hyp',
      text: `init (${this.name}): hyp_ffa_init returned ${rc}; hyp_ffa_version 0x${this.hypVersion.toString(16)}${lines === undefined ? '' : `; ran ffa.c lines ${lineRanges(lines)}`}`,
    });
    return this.init;
  }

  /** One host SMC through the real code: `host` is updated in place with what the host sees. */
  handleHostSmc(host: RegisterFile): void {
    const u32 = this.l.u32;
    const w = host.words;
    for (let i = 0; i < 36; i++) u32[i] = w[i]!;
    this.fid = w[0]!;
    this.el3ThisCall = 0;
    this.s2ThisCall = 0;
    const rc = this.enter(() => this.l.addon.hostSmc(this.handle));
    const lines = this.callLines?.();
    const ran = lines === undefined ? {} : { lines };
    if (rc < 0 && lines !== undefined)
      this.trace?.emit({
        kind: 'decision',
        action: 'abort',
        rule: 'kvm_host_ffa_handler',
        change: 'base',
        source: this.name,
        text: 'the call did not return normally (stopped by the harness: see the warning)',
        lines,
      });
    if (rc === ABORT_FAULT) {
      // The code touched an address with no mapping (bridge.c on_fault): an EL2 data abort, a hyp panic on
      // hardware. Reported as I6 (event 'fault'); the world goes on with ABORTED for the host.
      host.clear().setW(0, FFA.ERROR).setSigned32(2, FFA_ERROR_CODES.ABORTED);
      return;
    }
    if (rc === ABORT_OOB) {
      // The harness stopped the call before a copy past a hyp buffer (on hardware it would go through in
      // silence): reported as I6, and the host gets ABORTED.
      host.clear().setW(0, FFA.ERROR).setSigned32(2, FFA_ERROR_CODES.ABORTED);
      return;
    }
    if (rc === ABORT_HANG) {
      // The real CPU would spin here (under host_buffers.lock): report it and let the world go on, as the
      // model does, with ABORTED.
      host.clear().setW(0, FFA.ERROR).setSigned32(2, FFA_ERROR_CODES.ABORTED);
      return;
    }
    if (rc === ABORT_BUG || this.bug !== undefined) {
      const why = this.bug ?? 'BUG';
      this.bug = undefined;
      throw new KernelHypError('bug', why, `${this.name}: EL2 BUG in ${ffaName(this.fid)}: ${why}`);
    }
    for (let i = 0; i < 36; i++) w[i] = u32[i]!;
    if (rc === 1) {
      this.handled++;
      this.checkLeak(host);
      this.trace?.emit({
        kind: 'decision',
        action: 'handle',
        rule: 'kvm_host_ffa_handler',
        change: 'base',
        source: this.name,
        text: 'handled at EL2 by the real code (kvm_host_ffa_handler returned true)',
        ...ran,
      });
    } else {
      this.forwarded++;
      this.trace?.emit({
        kind: 'decision',
        action: 'forward',
        rule: 'kvm_host_ffa_handler',
        change: 'base',
        source: this.name,
        text: 'kvm_host_ffa_handler returned false: forwarded unchanged by the host SMC passthrough',
        ...ran,
      });
    }
  }

  /** Runs a call into the addon as the current instance, then reads the hyp's globals back. */
  private enter(fn: () => number): number {
    const prev = this.l.current;
    this.l.current = this;
    try {
      return fn();
    } finally {
      this.l.current = prev;
      this.observe();
    }
  }

  private observe(): void {
    const u32 = this.l.u32;
    const f64 = this.l.f64;
    this.hypVersion = u32[56]!;
    this.negotiated = u32[57] !== 0;
    this.hostTx = f64[29]! < 0 ? undefined : f64[29]!;
    this.hostRx = f64[30]! < 0 ? undefined : f64[30]!;
  }

  /**
   * I3 under `--stack-init pattern`: a word of the 0xFE fill in a handled call's reply is uninitialised EL2
   * stack that reached the host (H16: 6.12's `struct arm_smccc_res res` and an FFA_VERSION that sets only a0).
   */
  private checkLeak(host: RegisterFile): void {
    if (this.build.stackInit !== 'pattern') return;
    const regs: number[] = [];
    for (let i = 1; i < 18; i++) {
      if (host.w(i) === PATTERN_WORD || host.hi(i) === PATTERN_WORD) regs.push(i);
    }
    if (regs.length === 0) return;
    const call = ffaName(this.fid) ?? `0x${this.fid.toString(16)}`;
    this.counters.leaks.push({ regs, call });
    this.trace?.emit({
      kind: 'leak',
      regs,
      text: `${call} reply carries uninitialised hyp stack (0xFE fill) in x${regs.join(', x')} (${this.name})`,
    });
  }

  /** A call out of the C code (bridge.c `dispatch`): arguments and registers in the mailbox. */
  op(op: number): number {
    const f64 = this.l.f64;
    if (op >= OP_SHARE_FFA && ++this.s2ThisCall > this.s2Bound) {
      const what = `${ffaName(this.fid)} made more than ${this.s2Bound} stage-2 calls without returning to the host`;
      this.counters.hangs.push(what);
      this.trace?.emit({ kind: 'warn', where: this.name, text: `EL2 livelock: ${what}` });
      return OP_RC_HANG;
    }
    switch (op) {
      case OP_SMC:
        return this.el3();
      case OP_SHARE_HYP: {
        const pfn = f64[20]!;
        const rc = this.s2.hostShareHyp(pfn);
        if (rc === 0)
          this.mem.attach(pfn * this.pageSize, new Uint8Array(this.window, f64[21]!, this.pageSize));
        return rc;
      }
      case OP_UNSHARE_HYP: {
        const pfn = f64[20]!;
        const rc = this.s2.hostUnshareHyp(pfn);
        if (rc === 0) this.mem.detach(pfn * this.pageSize, this.pageSize);
        return rc;
      }
      case OP_SHARE_FFA:
      case OP_UNSHARE_FFA: {
        const pfn = f64[20]!;
        const n = f64[21]!;
        // Beyond every modelled IPA and PA (as the model proxy's hostShareFfa answers).
        if (pfn * this.pageSize >= 2 ** 52) return this.rangeValidation ? -22 : -1;
        const rv = { rangeValidation: this.rangeValidation };
        return op === OP_SHARE_FFA ? this.s2.hostShareFFA(pfn, n, rv) : this.s2.hostUnshareFFA(pfn, n, rv);
      }
      case OP_PIN: {
        // hyp_pin_shared_mem: every page host SHARED_OWNED and hyp SHARED_BORROWED, then each pinned.
        const first = this.s2.pfn(f64[20]!);
        const n = f64[21]!;
        for (let i = 0; i < n; i++) {
          const a = (first + i) * this.pageSize;
          if (this.s2.hostState(a) !== 'SHARED_OWNED' || this.s2.hypState(a) !== 'SHARED_BORROWED') return -1;
        }
        for (let i = 0; i < n; i++) this.s2.hypPin(first + i);
        return 0;
      }
      case OP_UNPIN: {
        const first = this.s2.pfn(f64[20]!);
        for (let i = 0; i < f64[21]!; i++) this.s2.hypUnpin(first + i);
        return 0;
      }
      default:
        throw new Error(`ffasim bridge: unknown op ${op}`);
    }
  }

  /** The code's SMC to EL3: the world's hop; 1 (stop the call) past the bound. */
  private el3(): number {
    if (++this.el3ThisCall > this.el3Bound) {
      const what = `${ffaName(this.fid)} made more than ${this.el3Bound} SMCs to EL3 without returning to the host`;
      this.counters.hangs.push(what);
      this.trace?.emit({ kind: 'warn', where: this.name, text: `EL2 livelock: ${what}` });
      return 1;
    }
    const u32 = this.l.u32;
    const r = new RegisterFile();
    const w = r.words;
    for (let i = 0; i < 36; i++) w[i] = u32[i]!;
    const out = this.smc(r).words;
    for (let i = 0; i < 36; i++) u32[i] = out[i]!;
    return 0;
  }

  /** WARN_ON / BUG_ON and harness-detected EL2 bugs (bridge.c `event`). */
  event(kind: string, file: string, line: number, func: string, text: string): void {
    const base = file.slice(file.lastIndexOf('/') + 1);
    const where = `${func} (${base}:${line})`;
    if (kind === 'oob') {
      const [buffer = '?', off = '0', size = '0', limit = '0', verb = 'read'] = text.split('\t');
      const a = {
        buffer: `${buffer} (${verb} by ${where})`,
        offset: Number(off),
        size: Number(size),
        limit: Number(limit),
      };
      this.counters.oob.push({ ...a, kind: 'beyond-buffer' });
      this.trace?.emit({
        kind: 'warn',
        where,
        text: `EL2 out-of-bounds ${verb}: ${size} bytes at +${off} of ${buffer} (${limit} bytes) in ${this.name}; the call is stopped before the copy`,
      });
      return;
    }
    if (kind === 'fault') {
      const [obj = '', pcoff = '0', sig = '11', , rel = '0', span = '0'] = text.split('\t');
      const at = sourceLine(obj, pcoff) ?? { func, file: obj, line: 0 };
      const by = `${at.func} (${at.file.slice(at.file.lastIndexOf('/') + 1)}:${at.line})`;
      const r = Number(rel);
      const hypLen = Number(span);
      const place =
        r >= 0 && r < hypLen
          ? `+0x${r.toString(16)} in the hyp pages`
          : r >= hypLen
            ? `0x${(r - hypLen).toString(16)} bytes past the end of the hyp pages (TX, RX, ffa_desc_buf: ${hypLen} bytes)`
            : `0x${(-r).toString(16)} bytes before the hyp pages`;
      // The process address itself (ASLR) stays out: a finding file is a function of the seed alone.
      const what = `${sig === '7' ? 'SIGBUS' : 'SIGSEGV'}, ${place}, by ${by}`;
      this.counters.oob.push({ buffer: what, offset: r, size: 0, limit: hypLen, kind: 'fault' });
      this.trace?.emit({
        kind: 'warn',
        where: by,
        text: `EL2 data abort in ${this.name}: ${what}; the call is stopped (a hyp panic on hardware)`,
      });
      return;
    }
    if (kind === 'nullpa') {
      const [obj = '', pcoff = '0', va = '0x0', pa = '0x0'] = text.split('\t');
      const at = sourceLine(obj, pcoff);
      const by =
        at === undefined ? func : `${at.func} (${at.file.slice(at.file.lastIndexOf('/') + 1)}:${at.line})`;
      this.trace?.emit({
        kind: 'note',
        who: 'hyp',
        text: `__hyp_pa(${va}) by ${by}: a hyp buffer that was never allocated (NULL + hyp_physvirt_offset on hardware); here PA ${pa}, which no RAM has (${this.name})`,
      });
      return;
    }
    if (kind === 'warn') {
      this.counters.warns.push(`${where}: WARN_ON(${text})`);
      this.trace?.emit({ kind: 'warn', where, text: `WARN_ON(${text}) in ${this.name}` });
    } else {
      this.bug = `${where}: ${text}`;
      this.counters.warns.push(`BUG ${where}: ${text}`);
      this.trace?.emit({ kind: 'warn', where, text: `BUG: ${text} in ${this.name}` });
    }
  }
}

const lineCache = new Map<string, { func: string; file: string; line: number } | undefined>();

/**
 * The ffa.c function and line of an instruction of the addon (`addr2line -f -i`: the innermost inlined frame
 * in ffa.c), or undefined when addr2line is missing or knows no line.
 */
function sourceLine(obj: string, pcoff: string): { func: string; file: string; line: number } | undefined {
  const key = `${obj}\t${pcoff}`;
  if (lineCache.has(key)) return lineCache.get(key);
  let found: { func: string; file: string; line: number } | undefined;
  try {
    const out = execFileSync('addr2line', ['-f', '-i', '-e', obj, pcoff], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).split('\n');
    for (let i = 0; i + 1 < out.length; i += 2) {
      const m = /^(.*(?:^|\/)ffa\.c):(\d+)/.exec(out[i + 1]!);
      if (m !== null) {
        found = { func: out[i]!, file: m[1]!, line: Number(m[2]) };
        break;
      }
    }
  } catch {
    found = undefined;
  }
  lineCache.set(key, found);
  return found;
}
