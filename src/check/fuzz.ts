/**
 * `ffasim fuzz`: adversarial host call sequences against the proxy, with the isolation invariants of
 * ./invariants.ts checked after every call.
 *
 * Approach: fast-check property testing over sequences of actions (plain data, so a sequence is printable and
 * becomes a replay file). fast-check gives seeded, deterministic generation and — the reason to use it over a
 * hand-written loop — integrated shrinking of the whole sequence and of each action's parameters, so a finding is
 * reported as a minimal sequence. Actions mix valid flows (negotiate, map, share, lend, reclaim, direct
 * requests) with mutated registers and descriptors: offsets and counts set to boundary values, guest/hyp/NOMAP/
 * MMIO/unaligned/out-of-IPA constituents, decoy EMADs, fragment splits, RXTX remaps, version games, SMC32/64
 * twins and unknown FF-A-range IDs.
 */
import fc from 'fast-check';
import { buildMemTransaction, decoyEmadShare, memTransaction } from '../ffa/desc/index.ts';
import type { DescVersion } from '../ffa/desc/types.ts';
import { FFA } from '../ffa/ids.ts';
import { PROFILES, type Profile } from '../hyp/profiles.ts';
import { smcLine } from '../scenario/replay.ts';
import { RegisterFile, u64Of } from '../smccc/regs.ts';
import type { HostileConfig, Prng } from '../spmc/hostile.ts';
import { defaultWorldConfig, type WorldConfig } from '../world/config.ts';
import { BootedWorld, createWorld, type World, type WorldOptions } from '../world/world.ts';
import { checkCall, checkReclaimable, initialCheckState, markCall, type Violation } from './invariants.ts';
import { poolShareDescriptor } from './pool-share.ts';

/** Where a constituent points. */
export type PageSel =
  | { k: 'host'; i: number; off: number; pages: number }
  | { k: 'guest' | 'hyp' | 'mmio' | 'tx' | 'ipa'; pages: number };

export type Action =
  | { op: 'version'; v: number }
  | { op: 'map'; tx: PageSel; rx: PageSel; pages: number }
  | { op: 'unmap'; w1: number }
  | {
      op: 'share';
      lend: boolean;
      smc64: boolean;
      layout: DescVersion;
      sels: PageSel[];
      /** Set a u32 of the descriptor to a value (offset into the bytes). */
      mut?: { at: number; value: number } | undefined;
      /** Bytes of constituents sent in the first fragment (0 = all). */
      split: number;
    }
  | { op: 'decoy'; real: PageSel; decoy: PageSel }
  | { op: 'big'; n: number }
  | { op: 'reclaim'; pick: number; flags: number }
  | { op: 'direct'; smc64: boolean; req2: boolean }
  | { op: 'raw'; fid: number; args: number[] };

/** Host pages available to the fuzzer (a pool allocated once per world). */
const POOL = 4096;

const SPECIAL = [
  0, 1, 15, 16, 32, 47, 48, 50, 64, 79, 80, 90, 96, 0x7fff_ffff, 0xffff_fff0, 0xffff_fff8, 0xffff_ffff,
];

function arbSel(): fc.Arbitrary<PageSel> {
  return fc.oneof(
    {
      weight: 8,
      arbitrary: fc.record({
        k: fc.constant('host' as const),
        i: fc.nat(POOL - 1),
        off: fc.constantFrom(0, 0, 0, 0x800, 0x1000, 0x2000),
        pages: fc.integer({ min: 1, max: 8 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        k: fc.constantFrom('guest' as const, 'hyp' as const, 'mmio' as const, 'tx' as const, 'ipa' as const),
        pages: fc.integer({ min: 1, max: 2 }),
      }),
    },
  );
}

/** The action generator. */
export function arbAction(): fc.Arbitrary<Action> {
  const ver = fc.constantFrom(0x10000, 0x10001, 0x10002, 0x10003, 0x20000, 0x80010001, 0x10002);
  return fc.oneof(
    { weight: 2, arbitrary: fc.record({ op: fc.constant('version' as const), v: ver }) },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('map' as const),
        tx: arbSel(),
        rx: arbSel(),
        pages: fc.constantFrom(1, 1, 1, 2, 4, 16),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ op: fc.constant('unmap' as const), w1: fc.constantFrom(0, 0, 0x10000) }),
    },
    {
      weight: 10,
      arbitrary: fc.record({
        op: fc.constant('share' as const),
        lend: fc.boolean(),
        smc64: fc.boolean(),
        layout: fc.constantFrom<DescVersion>('1.2', '1.2', '1.1', '1.0'),
        sels: fc.array(arbSel(), { minLength: 1, maxLength: 4 }),
        mut: fc.option(
          fc.record({
            at: fc.constantFrom(0, 2, 24, 28, 32, 48, 52, 64, 68, 80, 84, 96, 104, 112),
            value: fc.oneof(fc.constantFrom(...SPECIAL), fc.nat()),
          }),
          { nil: undefined, freq: 3 },
        ),
        split: fc.constantFrom(0, 0, 0, 16, 32),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ op: fc.constant('decoy' as const), real: arbSel(), decoy: arbSel() }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ op: fc.constant('big' as const), n: fc.integer({ min: 2200, max: 2400 }) }),
    },
    {
      weight: 6,
      arbitrary: fc.record({
        op: fc.constant('reclaim' as const),
        pick: fc.nat(8),
        flags: fc.constantFrom(0, 0, 1, 4),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ op: fc.constant('direct' as const), smc64: fc.boolean(), req2: fc.boolean() }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('raw' as const),
        fid: fc
          .integer({ min: 0x60, max: 0xff })
          .chain((n) => fc.constantFrom((0x8400_0000 | n) >>> 0, (0xc400_0000 | n) >>> 0)),
        args: fc.array(fc.oneof(fc.constantFrom(...SPECIAL), fc.nat()), { maxLength: 6 }),
      }),
    },
  );
}

/** One line of a replay file (docs/replay.md). */
export type ReplayLine = Record<string, unknown>;

/** Runs actions on a fresh world, checking invariants after every host SMC; records the replay as it goes. */
export class FuzzRun {
  readonly world: World;
  readonly replay: ReplayLine[] = [];
  readonly handles: bigint[] = [];
  smcs = 0;
  private readonly pool: number;
  /** Two host pages outside the pool, for the end-of-sequence re-map (the pool may be shared by then). */
  private readonly spare: number;
  private lastTx = '';
  private readonly st;

  /** Invariants not to report (e.g. I3 on profiles where H16's leak is known and would mask everything else). */
  private readonly ignore: ReadonlySet<string>;

  /** Record the replay (only for the final, shrunk reproduction: recording costs more than running). */
  private readonly record: boolean;

  /** Sees every host SMC after its invariant check (campaigns: coverage, every violation, not just the first). */
  onCall:
    | ((regs: RegisterFile, out: RegisterFile, v: Violation | undefined, more: readonly Violation[]) => void)
    | undefined;
  /** The last call's violations after its first ({@link checkCall}'s `more`; empty almost always). */
  private readonly more: Violation[] = [];

  constructor(
    profile: Profile,
    config: WorldConfig,
    ignore: readonly string[] = [],
    record = false,
    hyp?: WorldOptions['hyp'],
    /** A booted world to restore instead of booting one (same profile and config; the fuzz loop passes one). */
    boot?: BootedWorld,
  ) {
    this.ignore = new Set(ignore);
    this.record = record;
    this.world =
      boot?.fresh() ??
      createWorld({
        ...(hyp === undefined ? {} : { hyp }),
        config: JSON.parse(JSON.stringify(config)) as WorldConfig,
        profile,
        trace: false,
      });
    // A restored world keeps the previous taker's liar (if any): start from the config's, with its counts at 0.
    if (boot !== undefined) {
      const h = config.spmc.hostile;
      this.world.spmd.hostile = h === undefined ? undefined : this.world.hostileSpmc(h);
    }
    // The spare pages come first: selectors with an offset can reach just past the end of the pool.
    this.spare = this.world.allocHostPages(2);
    this.pool = this.world.allocHostPages(POOL);
    this.st = initialCheckState(this.world);
  }

  private addr(s: PageSel): bigint {
    const w = this.world;
    switch (s.k) {
      case 'host':
        return BigInt(this.pool + s.i * w.config.pageSize + s.off);
      case 'guest':
        return BigInt(w.config.guest[0]?.base ?? 0xf000_0000);
      case 'hyp':
        return BigInt(w.hypPages.descBuf);
      case 'mmio':
        return BigInt(w.config.mmio[0]?.base ?? 0x0900_0000);
      case 'tx':
        return BigInt(w.hyp.hostTx ?? this.pool);
      case 'ipa':
        return 1n << BigInt(w.config.ipaBits);
    }
  }

  /** Host writes into its TX buffer (recorded as a replay `write`). */
  private writeTx(bytes: Uint8Array): void {
    const tx = this.world.hyp.hostTx;
    if (tx === undefined) return;
    this.world.mem.write(tx, bytes);
    if (!this.record) return;
    let hex = '';
    for (const b of bytes) hex += b.toString(16).padStart(2, '0');
    if (hex === this.lastTx) return;
    this.lastTx = hex;
    this.replay.push({ write: { addr: `0x${tx.toString(16)}`, hex } });
  }

  /** One host SMC with the invariant check; returns the host registers or a violation. */
  smc(values: readonly (number | bigint)[]): { out: RegisterFile; v?: Violation } {
    const regs = RegisterFile.of(values);
    if (this.record) this.replay.push(smcLine(regs));
    const before = markCall(this.world); // the I2 baseline (a stage-2 mark: no fingerprint per call)
    this.smcs++;
    const out = this.world.smc(regs);
    this.more.length = 0;
    let v = checkCall(this.world, this.st, before, regs, out, this.more);
    if (v !== undefined && this.ignore.size > 0) {
      const kept = [v, ...this.more].filter((x) => !this.ignore.has(x.invariant));
      v = kept[0];
      this.more.length = 0;
      for (let k = 1; k < kept.length; k++) this.more.push(kept[k]!);
    }
    if (
      out.w(0) === FFA.SUCCESS &&
      (regs.w(0) === FFA.MEM_SHARE ||
        regs.w(0) === FFA.MEM_SHARE64 ||
        regs.w(0) === FFA.MEM_LEND ||
        regs.w(0) === FFA.MEM_LEND64 ||
        regs.w(0) === FFA.MEM_FRAG_TX)
    ) {
      this.handles.push(u64Of(out.w(2), out.w(3)));
    }
    this.onCall?.(regs, out, v, this.more);
    return v === undefined ? { out } : { out, v };
  }

  /** Runs one action; returns the first violation. */
  act(a: Action): Violation | undefined {
    const w = this.world;
    switch (a.op) {
      case 'version':
        return this.smc([FFA.VERSION, a.v]).v;
      case 'map':
        return this.smc([FFA.RXTX_MAP64, this.addr(a.tx), this.addr(a.rx), a.pages]).v;
      case 'unmap':
        return this.smc([FFA.RXTX_UNMAP, a.w1]).v;
      case 'reclaim': {
        const h = this.handles.length === 0 ? BigInt(a.pick) : this.handles[a.pick % this.handles.length]!;
        return this.smc([FFA.MEM_RECLAIM, Number(h & 0xffff_ffffn), Number(h >> 32n), a.flags]).v;
      }
      case 'direct':
        return a.req2
          ? this.smc([FFA.MSG_SEND_DIRECT_REQ2, 0x8001, 0, 0, 1]).v
          : this.smc([a.smc64 ? FFA.MSG_SEND_DIRECT_REQ64 : FFA.MSG_SEND_DIRECT_REQ, 0x8001, 0, 1]).v;
      case 'raw':
        return this.smc([a.fid, ...a.args]).v;
      case 'big': {
        // H6 needs more constituents than ffa_desc_buf holds, in the layout the proxy parses.
        const minor = w.hyp.hypVersion & 0xffff;
        const version: DescVersion = minor === 0 ? '1.0' : minor === 1 ? '1.1' : '1.2';
        // Cut from a cached descriptor: building 2 300 bigint constituents per action was a sixth of the loop.
        const d = poolShareDescriptor(this.pool, POOL, w.config.pageSize, version, a.n);
        return this.send(d.bytes, d.head, false, true, 0);
      }
      case 'decoy':
        this.writeTx(decoyEmadShare(this.addr(a.real), this.addr(a.decoy)));
        return this.smc([FFA.MEM_SHARE64, 144, 144]).v;
      case 'share': {
        const cs = a.sels.map((s) => ({ address: this.addr(s), pageCount: s.pages }));
        const tx = memTransaction({
          version: a.layout,
          sender: 0,
          attributes: a.lend ? 0 : 0x2f,
          receivers: [{ endpointId: 0x8001, permissions: 2 }],
          constituents: cs,
        });
        const bytes = buildMemTransaction(tx);
        if (a.mut !== undefined && a.mut.at + 4 <= bytes.length)
          new DataView(bytes.buffer).setUint32(a.mut.at, a.mut.value >>> 0, true);
        const head = (tx.emads[0]?.compositeOffset ?? 0) + 16;
        return this.send(bytes, head, a.lend, a.smc64, a.split);
      }
    }
  }

  /** Sends a descriptor: whole, or a first fragment of `head` + `split` bytes, then FRAG_TX of one mailbox each. */
  private send(
    bytes: Uint8Array,
    head: number,
    lend: boolean,
    smc64: boolean,
    split: number,
  ): Violation | undefined {
    const ps = this.world.config.pageSize;
    const fid = lend ? (smc64 ? FFA.MEM_LEND64 : FFA.MEM_LEND) : smc64 ? FFA.MEM_SHARE64 : FFA.MEM_SHARE;
    const firstLen = Math.min(
      bytes.length,
      split > 0 ? head + split : bytes.length > ps ? head + Math.floor((ps - head) / 16) * 16 : bytes.length,
    );
    this.writeTx(bytes.subarray(0, firstLen));
    let r = this.smc([fid, bytes.length, firstLen, 0, 0]);
    if (r.v !== undefined) return r.v;
    let sent = firstLen;
    let guard = 0;
    while (r.out.w(0) === FFA.MEM_FRAG_RX && sent < bytes.length && guard++ < 64) {
      const n = Math.min(bytes.length - sent, Math.floor(ps / 16) * 16);
      this.writeTx(bytes.subarray(sent, sent + n));
      r = this.smc([FFA.MEM_FRAG_TX, r.out.w(1), r.out.w(2), n, 0]);
      if (r.v !== undefined) return r.v;
      sent += n;
    }
    return undefined;
  }

  /** End-of-sequence check (I7). */
  finish(): Violation | undefined {
    if (this.record)
      this.replay.push({
        '#': 'end of sequence: every share the secure world does not hold must be reclaimable (I7)',
      });
    if (this.ignore.has('I7')) return undefined;
    // Reclaim needs the hyp mailboxes, which are registered only while the host has RXTX mapped: map first.
    if (this.world.hyp.hostTx === undefined) {
      const ps = this.world.config.pageSize;
      const m = this.smc([FFA.RXTX_MAP64, this.spare, this.spare + ps, ps / 4096]);
      if (m.v !== undefined) return m.v;
    }
    // …and an RX buffer the host still owns (after PARTITION_INFO_GET, proxy-behaviour.md §8) must be released first:
    // the SPMC answers the hyp's retrieve with BUSY until it is. A host that wants its memory back does both.
    const rel = this.smc([FFA.RX_RELEASE]);
    if (rel.v !== undefined) return rel.v;
    let first: Violation | undefined;
    const v = checkReclaimable(this.world, this.st, (regs) => {
      const r = this.smc(regs);
      first ??= r.v;
      return r.out;
    });
    return first ?? v;
  }
}

/** Runs a whole sequence; the first violation (I5 if the model threw). */
export function runSequence(
  actions: readonly Action[],
  profile: Profile,
  config: WorldConfig,
  ignore: readonly string[] = [],
  record = false,
  more: {
    /** The world's hyp (kernel mode: the real ffa.c; src/kernel). */
    hyp?: WorldOptions['hyp'];
    /** Sees the run before its first call (kernel mode streams the replay lines as they are recorded). */
    onRun?: (run: FuzzRun) => void;
    /** A booted world of this profile and config to restore for the run (see {@link BootedWorld}). */
    boot?: BootedWorld;
    /** A lying EL3 for this run (replaces the config's `spmc.hostile`); `prng` draws its plan. */
    hostile?: { config: HostileConfig; prng?: Prng };
    /** Go on after a violation (campaigns collect every one through {@link FuzzRun.onCall}). */
    keepGoing?: boolean;
    /** The version of the driver start's FFA_VERSION (default 1.2; lower: a downgrade before negotiation). */
    version?: number;
  } = {},
): { violation?: Violation; run: FuzzRun } {
  const run = new FuzzRun(profile, config, ignore, record, more.hyp, more.boot);
  if (more.hostile !== undefined)
    run.world.spmd.hostile = run.world.hostileSpmc(more.hostile.config, more.hostile.prng);
  more.onRun?.(run);
  const go = more.keepGoing === true;
  try {
    // A host driver start: negotiate the version and map RXTX, as every real flow does first.
    let v =
      run.smc([FFA.VERSION, more.version ?? 0x10002]).v ??
      run.act({
        op: 'map',
        tx: { k: 'host', i: POOL - 2, off: 0, pages: 1 },
        rx: { k: 'host', i: POOL - 1, off: 0, pages: 1 },
        pages: run.world.config.pageSize / 4096,
      });
    for (const a of actions) {
      if (v !== undefined && !go) break;
      v = go ? (run.act(a) ?? v) : run.act(a);
    }
    if (v === undefined || go) v = run.finish() ?? v;
    return v === undefined ? { run } : { violation: v, run };
  } catch (e) {
    return {
      violation: {
        invariant: 'I5',
        detail: `exception escaped the model: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`,
      },
      run,
    };
  }
}

export interface FuzzOptions {
  profile: Profile;
  config?: WorldConfig;
  seed: number;
  runs?: number;
  timeMs?: number;
  maxLength?: number;
  /** Invariants not to report. */
  ignore?: readonly string[];
  /** Progress callback (calls so far, elapsed ms). */
  progress?: (smcs: number, ms: number) => void;
  /** A clock in ms (the CLI passes performance.now; the core has no Node). */
  now?: () => number;
}

export interface FuzzReport {
  profile: string;
  seed: number;
  runs: number;
  smcs: number;
  ms: number;
  finding?: {
    violation: Violation;
    actions: Action[];
    replay: ReplayLine[];
  };
}

/**
 * Runs a campaign. Deterministic for a given seed (and run count); with `timeMs` the number of runs depends on
 * speed, so reports carry the run count that reproduces them.
 */
export function fuzz(o: FuzzOptions): FuzzReport {
  const config = o.config ?? defaultWorldConfig();
  const now = o.now ?? (() => 0);
  const t0 = now();
  let smcs = 0;
  let runs = 0;
  // One boot per campaign: each sequence restores it (a run's world is not used after the next one starts).
  const boot = new BootedWorld({
    config: JSON.parse(JSON.stringify(config)) as WorldConfig,
    profile: o.profile,
    trace: false,
  });
  const prop = fc.property(fc.array(arbAction(), { maxLength: o.maxLength ?? 24 }), (actions) => {
    const r = runSequence(actions, o.profile, config, o.ignore, false, { boot });
    smcs += r.run.smcs;
    runs++;
    if (o.progress !== undefined && runs % 64 === 0) o.progress(smcs, now() - t0);
    return r.violation === undefined;
  });
  const res = fc.check(prop, {
    seed: o.seed,
    numRuns: o.runs ?? 1_000_000_000,
    ...(o.timeMs === undefined ? {} : { interruptAfterTimeLimit: o.timeMs }),
    ...(o.timeMs === undefined ? {} : { markInterruptAsFailure: false }),
  });
  const report: FuzzReport = { profile: o.profile.name, seed: o.seed, runs, smcs, ms: now() - t0 };
  if (res.failed && res.counterexample !== null) {
    const actions = res.counterexample[0];
    const again = runSequence(actions, o.profile, config, o.ignore, true);
    if (again.violation !== undefined)
      report.finding = { violation: again.violation, actions, replay: again.run.replay };
  }
  return report;
}

/** A replay file for a finding: header with world and profile, the invariant and explanation as comments. */
export function findingToReplay(r: FuzzReport, profile: Profile, config: WorldConfig): string {
  const f = r.finding;
  if (f === undefined) return '';
  const base = PROFILES.find((p) => p.name === profile.base)?.changes ?? [];
  const lines = [
    `# ffasim fuzz finding: ${f.violation.invariant} — ${f.violation.detail}`,
    `# profile ${profile.name}, seed ${r.seed}; reproduce with: ffasim replay THIS_FILE (or ffasim run THIS_FILE for a trace)`,
    `# shrunk sequence: ${f.actions.map((a) => JSON.stringify(a, (_, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))).join(' ; ')}`,
    JSON.stringify({
      world: config,
      profile: profile.base,
      with: profile.changes.filter((c) => !base.includes(c)),
      without: base.filter((c) => !profile.has(c)),
    }),
  ];
  for (const l of f.replay) {
    if ('#' in l) lines.push(`# ${String(l['#'])}`);
    else lines.push(JSON.stringify(l));
  }
  return `${lines.join('\n')}\n`;
}
