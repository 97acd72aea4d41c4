/**
 * Wiring: host CPU → pKVM proxy (EL2) → SPMD (EL3) → SPMC → partitions. Each boundary is a register file in and
 * a register file out, as on hardware; `hyp`, `spmc` and `host` never import each other and meet only here.
 * Every hop is a `hop` event on one trace bus (docs/architecture.md).
 *
 * Serialisation (proxy-behaviour.md §10): the model runs one SMC at a time. A host call issued "on CPU n" carries
 * that CPU number in its trace events. On hardware the handled calls (RXTX, MEM_*, PARTITION_INFO_GET) are
 * serialised by `host_buffers.lock` and FFA_VERSION by `version_lock`, while forwarded calls take no proxy lock
 * and may overlap; since the model's SPMC is also synchronous, an interleaving of whole calls is the only
 * concurrency the model expresses, and that is exactly what the locks allow for the handled calls.
 */

import { parseVersion } from '../ffa/version.ts';
import { HostDriver, type HostQuirks } from '../host/index.ts';
import { createProfile, type Profile } from '../hyp/profiles.ts';
import { FfaProxy, type HypPages, type InitOutcome, type ProxyCounters } from '../hyp/proxy.ts';
import { PhysMem } from '../mem/phys.ts';
import { type MemRegion, Stage2, type StateRange } from '../mem/stage2.ts';
import { RegisterFile } from '../smccc/regs.ts';
import { type HostileConfig, HostileSpmc, type Prng, seededPrng } from '../spmc/hostile.ts';
import { type DirectHandler, type PartitionConfig, SPMC, type SPMCQuirks, SPMD } from '../spmc/index.ts';
import { hopRegs, TraceBus } from '../trace/events.ts';
import { defaultWorldConfig, type WorldConfig } from './config.ts';

export interface WorldOptions {
  /** The machine; defaults to {@link defaultWorldConfig}. */
  config?: WorldConfig;
  /** The proxy profile; defaults to `ffa-1.2`. */
  profile?: Profile;
  /** Record a trace (default true). Pass a bus to share one. */
  trace?: boolean | TraceBus;
  /** Direct-message handlers per partition ID (default: echo). */
  handlers?: Record<number, DirectHandler>;
  /** SPMC quirks beyond the JSON-expressible ones (functions). */
  spmcQuirks?: SPMCQuirks;
  /** Host driver deviations (driver bugs D3, D10, D11, D13, D14). */
  hostQuirks?: HostQuirks;
  /** Do not run hyp init (for tests that drive init themselves). */
  skipInit?: boolean;
  /**
   * The hyp at EL2: by default the model proxy ({@link FfaProxy}); kernel mode passes a factory that runs a
   * kernel tree's real ffa.c (src/kernel/hyp.ts). It gets the world's parts the model proxy gets.
   */
  hyp?: (ctx: HypContext) => HypImpl;
}

/** What the world hands the hyp it creates: the same things the model proxy receives. */
export interface HypContext {
  profile: Profile;
  config: WorldConfig;
  mem: PhysMem;
  stage2: Stage2;
  pages: HypPages;
  /** SMCCC version the host's PSCI reports. */
  smcccVersion: number;
  /** One SMC to EL3: emits the hyp → spmd hops and counts {@link World.el3Calls}. */
  smc: (regs: RegisterFile) => RegisterFile;
  trace?: TraceBus;
}

/**
 * The hyp behind the register-file interface: a host SMC's x0–x17 in, x0–x17 out (in place). {@link FfaProxy}
 * is one; kernel mode's real ffa.c is another. The fields are what scenarios, the fuzzer and the invariant
 * checker read of the hyp.
 */
export interface HypImpl {
  /** How trace hops name the code when it is not the model (e.g. `ffa.c 7.3.4`). */
  readonly name?: string;
  /** `hyp_ffa_version`. */
  readonly hypVersion: number;
  /** `has_version_negotiated`. */
  readonly negotiated: boolean;
  /** `host_buffers.tx` as a host PA (undefined when not mapped). */
  readonly hostTx: number | undefined;
  readonly counters: ProxyCounters;
  initialise(): InitOutcome;
  handleHostSmc(regs: RegisterFile): void;
  /**
   * The hyp's state, for {@link World.snapshot} (optional: a hyp without it — kernel mode's real ffa.c — makes
   * the world refuse to snapshot).
   */
  snapshot?(): unknown;
  /** Puts back what {@link snapshot} returned. */
  restore?(s: unknown): void;
}

/** A {@link World.snapshot}: opaque, restorable into the world it came from any number of times. */
export interface WorldSnapshot {
  readonly world: World;
  readonly mem: ReturnType<PhysMem['snapshot']>;
  readonly stage2: ReturnType<Stage2['snapshot']>;
  readonly spmc: ReturnType<SPMC['snapshot']>;
  readonly hyp: unknown;
  readonly host: ReturnType<HostDriver['snapshot']>;
  readonly calls: number;
  readonly el3Calls: number;
  readonly nextHostPage: number;
  readonly init: InitOutcome;
}

const NO_TOKENS: readonly unknown[] = [];

/** Sees every host SMC: `before` gets the call (its return value is passed to `after`), `after` the result. */
export interface HostCallObserver {
  before(regs: RegisterFile): unknown;
  after(out: RegisterFile, token: unknown): void;
}

/** A modelled machine. Create with {@link createWorld}. */
export class World {
  readonly config: WorldConfig;
  readonly profile: Profile;
  readonly mem: PhysMem;
  readonly stage2: Stage2;
  readonly spmc: SPMC;
  readonly spmd: SPMD;
  readonly hyp: HypImpl;
  readonly host: HostDriver;
  readonly trace: TraceBus | undefined;
  readonly hypPages: HypPages;
  /** Outcome of hyp init. */
  init: InitOutcome;
  /** The hyp's code label on hyp hops (`ffa.c 7.3.4`), undefined for the model proxy. */
  private readonly hypCode: string | undefined;
  private nextHostPage: number;
  private readonly hostPageLimit: number;
  /** Number of host SMCs issued so far. */
  calls = 0;
  /** Number of SMCs the hyp issued to EL3 so far (the invariant checker uses it to tell rejected calls apart). */
  el3Calls = 0;
  /** Observers of every host SMC (the CLI attaches the invariant checker here; src/check sits above world). */
  readonly observers: HostCallObserver[] = [];
  /** Why {@link snapshot} is refused, or undefined when it works. */
  readonly noSnapshot: string | undefined;

  constructor(o: WorldOptions = {}) {
    const cfg = o.config ?? defaultWorldConfig();
    this.config = cfg;
    this.profile = o.profile ?? createProfile();
    this.trace = o.trace === false ? undefined : o.trace instanceof TraceBus ? o.trace : new TraceBus();
    const trace = this.trace;
    const ps = cfg.pageSize;
    this.mem = new PhysMem();
    this.stage2 = new Stage2({
      pageSize: ps,
      regions: buildRegions(cfg),
      ipaBits: cfg.ipaBits,
      ...(trace ? { trace } : {}),
    });

    // Hyp FF-A pages (hyp_ffa_proxy_pages, proxy-behaviour.md §3.1): 1 TX + 1 RX kernel page and ffa_desc_buf
    // for one header (48), one EMAD (32), one composite (16) and SG_MAX_SEGMENTS constituents, rounded up to pages.
    const descBytes = 48 + 32 + 16 + 16 * cfg.descBufConstituents;
    const descPages = Math.ceil(descBytes / ps);
    const ram0 = [...cfg.ram].sort((a, b) => a.base - b.base)[0]!;
    const hypBase = ram0.base + ram0.size - (2 + descPages) * ps;
    this.hypPages = { tx: hypBase, rx: hypBase + ps, descBuf: hypBase + 2 * ps, descBufLen: descPages * ps };
    // Set-up is not part of the trace: assign silently, then attach the sink.
    this.stage2.trace = undefined;
    this.stage2.assign(hypBase, 2 + descPages, 'hyp');
    for (const g of cfg.guest) this.stage2.assign(g.base, g.size / ps, 'guest');
    this.stage2.trace = trace;

    // Host allocations start 128 MiB into the first RAM region (room for a "kernel image" below).
    this.nextHostPage = ram0.base + Math.min(0x800_0000, Math.floor(ram0.size / 4 / ps) * ps);
    this.hostPageLimit = hypBase;

    const partitions: PartitionConfig[] = cfg.spmc.partitions.map((p) => {
      const handler = o.handlers?.[p.id];
      return {
        id: p.id,
        uuids: p.uuids,
        properties: p.properties,
        execContexts: p.execContexts,
        ...(p.name === undefined ? {} : { name: p.name }),
        ...(handler === undefined ? {} : { handler }),
      };
    });
    this.spmc = new SPMC({
      mem: this.mem,
      version: parseVersion(cfg.spmc.version) ?? 0x10002,
      partitions,
      quirks: { ...quirksFromJSON(cfg.spmc.quirks), ...o.spmcQuirks },
      versionLock: cfg.spmc.versionLock,
      rxtxMinSize: cfg.spmc.rxtxMinSize,
      rxtxMaxPages: cfg.spmc.rxtxMaxPages,
      exactLength: cfg.spmc.exactLength,
      // I1 at the moment a partition maps retrieved pages: they must be FF-A shared at host stage-2.
      checkMap: (addr, pages) => {
        if (addr > BigInt(Number.MAX_SAFE_INTEGER)) return 'outside the modelled PA space';
        const bad = this.stage2
          .query(Number(addr), Math.max(1, Math.ceil((pages * 4096) / cfg.pageSize)))
          .find((r) => r.host !== 'SHARED_OWNED');
        return bad === undefined ? undefined : `host stage-2 has 0x${bad.addr.toString(16)} as ${bad.host}`;
      },
      ...(trace ? { trace } : {}),
    });
    this.spmd = new SPMD({ spmc: this.spmc, ...(trace ? { trace } : {}) });
    const hypCtx: HypContext = {
      profile: this.profile,
      config: cfg,
      mem: this.mem,
      stage2: this.stage2,
      pages: this.hypPages,
      smcccVersion: parseVersion(cfg.smcccVersion) ?? 0x10002,
      smc: (regs) => this.el3(regs),
      ...(trace ? { trace } : {}),
    };
    this.hyp = o.hyp === undefined ? new FfaProxy(hypCtx) : o.hyp(hypCtx);
    this.hypCode = this.hyp.name;
    this.host = new HostDriver({
      smc: (regs) => this.smc(regs),
      mem: this.mem,
      pageSize: cfg.pageSize,
      allocPages: (n) => this.allocHostPages(n),
      driverVersion: parseVersion(cfg.host.driverVersion) ?? 0x10002,
      ...(o.hostQuirks ? { quirks: o.hostQuirks } : {}),
      ...(trace ? { trace } : {}),
    });
    this.init = o.skipInit ? { kind: 'inert', reason: 'init skipped' } : this.hyp.initialise();
    // A hostile secure world (world file `spmc.hostile`) lies from the first host call on, not during hyp init.
    const h = cfg.spmc.hostile;
    if (h !== undefined) this.spmd.hostile = this.hostileSpmc(h);
    this.noSnapshot =
      this.hyp.snapshot === undefined || this.hyp.restore === undefined
        ? `the hyp${this.hyp.name === undefined ? '' : ` (${this.hyp.name})`} cannot snapshot its state`
        : o.handlers !== undefined
          ? 'custom partition handlers may hold state a snapshot cannot see'
          : o.spmcQuirks !== undefined
            ? 'SPMC quirk functions may hold state a snapshot cannot see'
            : undefined;
  }

  /**
   * The machine's whole state — physical memory, host stage-2 and hyp page states, the SPMC (transactions,
   * mailboxes, notifications, partitions' pending calls), the hyp, the host driver, the host page allocator and
   * the call counters — to {@link restore} later, e.g. a booted world the fuzzer goes back to before every
   * sequence instead of booting a new one. Not part of it: the trace bus (emitted events stay, numbering goes
   * on), the observers, and a lying SPMD's liar (`spmd.hostile`, whose draws are its own state): restore leaves
   * it as it is, and whoever wants a fresh one sets it after restoring (FuzzRun does, per sequence).
   * @throws Error when the world cannot snapshot ({@link noSnapshot} says why).
   */
  snapshot(): WorldSnapshot {
    if (this.noSnapshot !== undefined) throw new Error(`world snapshot refused: ${this.noSnapshot}`);
    return {
      world: this,
      mem: this.mem.snapshot(),
      stage2: this.stage2.snapshot(),
      spmc: this.spmc.snapshot(),
      hyp: this.hyp.snapshot?.(),
      host: this.host.snapshot(),
      calls: this.calls,
      el3Calls: this.el3Calls,
      nextHostPage: this.nextHostPage,
      init: this.init,
    };
  }

  /**
   * Returns the world to a {@link snapshot} of itself: what follows behaves exactly as it did after the snapshot
   * (same page states, same SPMC answers, same trace for the same calls). The change counters the invariant
   * checks read ({@link Stage2.changes}, {@link SPMC.txChanges}) move on rather than back.
   * @throws Error for another world's snapshot.
   */
  restore(s: WorldSnapshot): void {
    if (s.world !== this) throw new Error('world restore: the snapshot is of another world');
    this.mem.restore(s.mem);
    this.stage2.restore(s.stage2);
    this.spmc.restore(s.spmc);
    this.hyp.restore?.(s.hyp);
    this.host.restore(s.host);
    this.calls = s.calls;
    this.el3Calls = s.el3Calls;
    this.nextHostPage = s.nextHostPage;
    this.init = s.init;
  }

  /**
   * A lying EL3 over this world's memory (src/spmc/hostile.ts): the plan's draws come from `prng` (default: the
   * config's seed), the listed lies are told as they are.
   */
  hostileSpmc(h: HostileConfig, prng?: Prng): HostileSpmc {
    const p = prng ?? (h.seed === undefined ? undefined : seededPrng(h.seed));
    return new HostileSpmc({
      ...(p === undefined ? {} : { prng: p }),
      ...(h.rate === undefined ? {} : { rate: h.rate }),
      ...(h.lies === undefined ? {} : { lies: h.lies }),
      mem: this.mem,
      rx: () => this.spmc.mailboxes()?.rx,
      pageSize: this.config.pageSize,
      descBufLen: this.hypPages.descBufLen,
      ...(this.trace ? { trace: this.trace } : {}),
    });
  }

  /** The hyp's SMC to EL3: a hop hyp → spmd and back. */
  private el3(regs: RegisterFile): RegisterFile {
    this.el3Calls++;
    const code = this.hypCode;
    this.trace?.emit({
      kind: 'hop',
      from: 'hyp',
      to: 'spmd',
      dir: 'call',
      regs: hopRegs(this.trace, regs),
      ...(code === undefined ? {} : { code }),
    });
    const out = this.spmd.smc(regs);
    this.trace?.emit({
      kind: 'hop',
      from: 'spmd',
      to: 'hyp',
      dir: 'ret',
      regs: hopRegs(this.trace, out),
      ...(code === undefined ? {} : { code }),
    });
    return out;
  }

  /**
   * Issues one SMC from the host on `cpu`: the register file the host CPU holds after `smc #0` returns.
   * Accepts a register file (not modified) or up to 18 values.
   * @throws RegisterRangeError for values outside u64 (a programming error in the caller).
   */
  smc(regs: RegisterFile | readonly (bigint | number)[], cpu = 0): RegisterFile {
    const host = regs instanceof RegisterFile ? regs.clone() : RegisterFile.of(regs);
    this.calls++;
    if (this.trace) {
      this.trace.call = this.calls;
      this.trace.cpu = cpu;
      this.trace.emit({
        kind: 'hop',
        from: 'host',
        to: 'hyp',
        dir: 'call',
        regs: hopRegs(this.trace, host),
        ...(this.hypCode === undefined ? {} : { code: this.hypCode }),
      });
    }
    const tokens = this.observers.length === 0 ? NO_TOKENS : this.observers.map((o) => o.before(host));
    if (this.init.kind === 'failed') {
      // pKVM did not initialise: the modelled firmware interface is absent (SMCCC NOT_SUPPORTED).
      host.clear().setX(0, -1n);
    } else {
      this.hyp.handleHostSmc(host);
    }
    this.trace?.emit({
      kind: 'hop',
      from: 'hyp',
      to: 'host',
      dir: 'ret',
      regs: hopRegs(this.trace, host),
      ...(this.hypCode === undefined ? {} : { code: this.hypCode }),
    });
    for (let i = 0; i < this.observers.length; i++) this.observers[i]!.after(host, tokens[i]);
    return host;
  }

  /**
   * Allocates `n` contiguous host-owned kernel pages (a bump allocator over the first RAM region).
   * @throws RangeError when host RAM is exhausted.
   */
  allocHostPages(n: number): number {
    const ps = this.config.pageSize;
    const addr = this.nextHostPage;
    if (addr + n * ps > this.hostPageLimit) throw new RangeError(`host RAM exhausted allocating ${n} pages`);
    this.nextHostPage += n * ps;
    return addr;
  }

  /** Host stage-2 state runs covering `pages` kernel pages from `addr`. */
  state(addr: number, pages = 1): StateRange[] {
    return this.stage2.query(addr, pages);
  }
}

/** Builds a world. */
export function createWorld(o: WorldOptions = {}): World {
  return new World(o);
}

/**
 * One booted world, handed out again and again: {@link fresh} restores it to the state right after boot, which
 * is what {@link createWorld} with the same options would give (the fuzzer's loop: one boot per campaign, not per
 * sequence). Each `fresh()` reuses the same World object, so the previous taker's world is gone.
 */
export class BootedWorld {
  private readonly world: World;
  private readonly boot: WorldSnapshot;

  /** @throws Error when the world cannot snapshot ({@link World.noSnapshot}). */
  constructor(o: WorldOptions) {
    this.world = new World(o);
    this.boot = this.world.snapshot();
  }

  fresh(): World {
    this.world.restore(this.boot);
    return this.world;
  }
}

/** The JSON quirks of the world file as SPMC quirks (`retrievePatch` becomes a retrieve-response mutator). */
function quirksFromJSON(q: WorldConfig['spmc']['quirks']): SPMCQuirks {
  const { retrievePatch, fragRxLengthAdd, ...rest } = q;
  const base: SPMCQuirks =
    fragRxLengthAdd === undefined
      ? rest
      : { ...rest, fragRxLength: (_off, natural) => Math.max(0, natural + fragRxLengthAdd) };
  if (retrievePatch === undefined) return base;
  return {
    ...base,
    retrieveResponse: (desc) => {
      const len = retrievePatch.length ?? desc.length;
      const b = new Uint8Array(Math.max(len, retrievePatch.offset + 4));
      b.set(desc.subarray(0, Math.min(desc.length, b.length)));
      new DataView(b.buffer).setUint32(retrievePatch.offset, retrievePatch.value >>> 0, true);
      return { bytes: b.subarray(0, len), totalLength: len, fragmentLength: Math.min(len, 4096) };
    },
  };
}

/** Memblock regions for Stage2: RAM split around NOMAP ranges. */
function buildRegions(cfg: WorldConfig): MemRegion[] {
  const out: MemRegion[] = [];
  for (const r of cfg.ram) {
    const holes = cfg.nomap
      .filter((n) => n.base >= r.base && n.base + n.size <= r.base + r.size)
      .sort((a, b) => a.base - b.base);
    let at = r.base;
    for (const h of holes) {
      if (h.base > at)
        out.push({ base: at, size: h.base - at, kind: 'ram', ...(r.name ? { name: r.name } : {}) });
      out.push({ base: h.base, size: h.size, kind: 'nomap', ...(h.name ? { name: h.name } : {}) });
      at = h.base + h.size;
    }
    if (at < r.base + r.size)
      out.push({ base: at, size: r.base + r.size - at, kind: 'ram', ...(r.name ? { name: r.name } : {}) });
  }
  return out;
}
