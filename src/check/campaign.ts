/**
 * Fuzz campaigns (issue 14 items 1–3): go on after a finding until the budget, keep distinct findings (deduplicated
 * by invariant, call shape and decision site), shrink each, and steer generation by coverage.
 *
 * Determinism — a campaign with a run budget is a pure function of (seed, runs):
 * - sequences are numbered; sequence `i` is drawn from (seed, i) alone — fresh from the generator, or (guided) a
 *   mutation of a corpus entry chosen by (seed, i);
 * - guidance advances per fixed-size batch in index order, one batch behind: every sequence of batch `b` mutates
 *   the corpus as it stood when batch `b − 1` began, i.e. once batch `b − 2` was merged (`batchCorpus` entries of
 *   an append-only corpus). So batch `b` can start while batch `b − 1` still runs and the workers never wait for
 *   the merge (../cli/fuzz-runners.ts `BatchPipeline`);
 * - results are merged in index order ({@link mergeResults}); a new distinct finding is shrunk at merge time, and
 *   shrinking is deterministic too.
 * So {@link inputAt} and {@link runInput} may run anywhere (workers, queue jobs) and {@link mergeResults} puts the
 * pieces together; the campaign state is plain data ({@link stateToJSON}).
 *
 * Coverage (model mode): the proxy's decision rule ids, the SPMC/SPMD rule ids (../spmc/rules.ts), page-state
 * transitions, EL2 out-of-bounds and WARN sites, each host call's outcome (function × result) and where a hostile
 * EL3 lied. A sequence that reaches a key no earlier one did joins the corpus.
 */
import fc from 'fast-check';
import { ffaErrorLabel } from '../ffa/errors.ts';
import { FFA, ffaName } from '../ffa/ids.ts';
import { CHANGES, createProfile, PROFILES, type Profile } from '../hyp/profiles.ts';
import {
  describeLie,
  type HostileConfig,
  type HostileLie,
  hashWords,
  type Prng,
  seededPrng,
} from '../spmc/hostile.ts';
import { TraceBus, type TraceEventBody } from '../trace/events.ts';
import type { WorldConfig } from '../world/config.ts';
import { BootedWorld } from '../world/world.ts';
import { type Action, arbAction, type ReplayLine, runSequence } from './fuzz.ts';
import type { InvariantId, Violation } from './invariants.ts';

/** One numbered sequence of a campaign: host actions and, with a hostile SPMC, how EL3 lies. */
export interface SeqInput {
  actions: Action[];
  /** Plan mode: lies drawn from this seed at this rate (src/spmc/hostile.ts). */
  hostile?: { seed: number; rate: number };
  /** Exact lies (a shrunk finding). */
  lies?: HostileLie[];
}

export interface CampaignOptions {
  profile: Profile;
  config: WorldConfig;
  seed: number;
  /** EL3 lies (`fuzz --spmc hostile`). */
  hostile: boolean;
  /** Coverage guidance (corpus mutation); false: every sequence fresh from the generator. */
  guided: boolean;
  ignore: readonly string[];
  /** Longest fresh sequence (default 24). */
  maxLength?: number;
  /** Sequences per guidance step (default 64). */
  batchSize?: number;
}

/** What a finding says about the secure world it needs. */
export type FindingClass = 'holds-when-el3-lies' | 'presupposes-honest-spmc';

/** A distinct finding, shrunk. */
export interface Finding {
  /** 1-based, in order of discovery (index order). */
  id: number;
  key: string;
  invariant: InvariantId;
  detail: string;
  cls: FindingClass;
  /** memory-safety (I6 OOB), liveness, exception (I5), hyp-only (I2–I4), honest-spmc (I1, I7). */
  kind: 'memory-safety' | 'liveness' | 'exception' | 'hyp-only' | 'honest-spmc';
  /** The host call it broke on. */
  call: string;
  /** The proxy decision rule of that call (the decision site), or `-`. */
  site: string;
  /** The sequence index it was found at. */
  index: number;
  /** The shrunk sequence (explicit lies). */
  input: SeqInput;
  replay: ReplayLine[];
  /** Profile changes that make it go away (`--with` each), if any does. */
  fixes: string[];
}

/** A violation as a run saw it, with where. */
export interface Hit {
  key: string;
  violation: Violation;
  call: string;
  site: string;
  /** Replay lines up to and including the call that broke (recorded runs). */
  at?: number;
}

/** What one sequence did: the pieces {@link mergeResults} needs. */
export interface SeqResult {
  index: number;
  /** Left out by a terse runner: the merge redraws it (a function of seed, index and the batch's corpus). */
  input?: SeqInput;
  smcs: number;
  coverage: string[];
  hits: Hit[];
}

/** The campaign's state between batches: plain data. */
export interface CampaignState {
  /** Next sequence index. */
  next: number;
  /** Corpus entries the current batch (the one `next` is in) mutates: the corpus as the previous batch began. */
  batchCorpus: number;
  /** Corpus entries the batch after it mutates: the corpus as the current batch began. */
  nextBatchCorpus: number;
  smcs: number;
  /** Append-only. */
  corpus: SeqInput[];
  coverage: Set<string>;
  findings: Finding[];
}

export const DEFAULT_BATCH = 64;
const CORPUS_CAP = 2048;
const SHRINK_BUDGET = 800;
const RATES = [1 / 64, 1 / 16, 1 / 8, 1 / 4];

export function initialState(): CampaignState {
  return {
    next: 0,
    batchCorpus: 0,
    nextBatchCorpus: 0,
    smcs: 0,
    corpus: [],
    coverage: new Set(),
    findings: [],
  };
}

/** Which class an invariant break is in (docs/fuzz.md "Finding classes"). */
export function classify(v: Violation): { cls: FindingClass; kind: Finding['kind'] } {
  if (v.invariant === 'I1' || v.invariant === 'I7')
    return { cls: 'presupposes-honest-spmc', kind: 'honest-spmc' };
  const kind =
    v.invariant === 'I5'
      ? 'exception'
      : v.invariant === 'I6'
        ? v.detail.startsWith('EL2 livelock')
          ? 'liveness'
          : 'memory-safety'
        : 'hyp-only';
  return { cls: 'holds-when-el3-lies', kind };
}

// ================================================================================================
// Generation

/** fast-check's random source over our PRNG (so a value is drawn from (seed, index) alone). */
class Gen {
  private s: number;
  constructor(s: number) {
    this.s = s >>> 0;
  }
  clone(): Gen {
    return new Gen(this.s);
  }
  next(): number {
    this.s = (this.s + 0x9e37_79b9) >>> 0;
    return hashWords(this.s) | 0;
  }
  getState(): readonly number[] {
    return [this.s];
  }
}

function draw<T>(arb: fc.Arbitrary<T>, seed: number, bias: number | undefined): T {
  return arb.generate(new fc.Random(new Gen(seed)), bias).value;
}

/**
 * The campaign's action generator: {@link arbAction} plus shares with 256–2 040 constituents — more than a mailbox,
 * fewer than ffa_desc_buf holds — whose reclaim reads the retrieve response in FRAG_RX fragments.
 */
export function arbCampaignAction(): fc.Arbitrary<Action> {
  return fc.oneof(
    { weight: 14, arbitrary: arbAction() },
    {
      weight: 1,
      arbitrary: fc.record({ op: fc.constant('big' as const), n: fc.integer({ min: 256, max: 2040 }) }),
    },
  );
}

const ACTION_ARB = arbCampaignAction();

/** A sequence fresh from the generator, drawn from `seed` alone (kernel-mode campaigns draw theirs with it too). */
/** How EL3 lies in a sequence's run: its exact lies, else a plan drawn from its seed, else not at all. */
export function hostileFor(
  input: Pick<SeqInput, 'lies' | 'hostile'>,
): { config: HostileConfig; prng?: Prng } | undefined {
  if (input.lies !== undefined) return { config: { lies: input.lies } };
  if (input.hostile !== undefined)
    return { config: { rate: input.hostile.rate }, prng: seededPrng(input.hostile.seed) };
  return undefined;
}

export function freshInput(o: Pick<CampaignOptions, 'hostile' | 'maxLength'>, seed: number): SeqInput {
  const r = seededPrng(seed);
  const bias = r.next() % 2 === 0 ? undefined : 2 + (r.next() % 16);
  const actions = draw(fc.array(ACTION_ARB, { maxLength: o.maxLength ?? 24 }), r.next(), bias);
  return o.hostile
    ? { actions, hostile: { seed: r.next(), rate: RATES[r.next() % RATES.length]! } }
    : { actions };
}

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/**
 * A corpus entry mutated: splice, insert, delete, duplicate, re-draw an action's arguments, re-draw the lies.
 * Actions are never changed in place (here, by a run or by shrinking: a change is a new action), so the child
 * shares its parent's unchanged action objects — only its action list is its own.
 */
export function mutateInput(o: CampaignOptions, parent: SeqInput, other: SeqInput, r: Prng): SeqInput {
  const max = Math.max(8, (o.maxLength ?? 24) + 8);
  const child: SeqInput = { ...parent, actions: parent.actions.slice() };
  const a = child.actions;
  const steps = 1 + (r.next() % 3);
  for (let k = 0; k < steps; k++) {
    const at = a.length === 0 ? 0 : r.next() % a.length;
    switch (r.next() % 6) {
      case 0: // delete 1–3
        a.splice(at, 1 + (r.next() % 3));
        break;
      case 1: // insert a fresh action
        if (a.length < max) a.splice(r.next() % (a.length + 1), 0, draw(ACTION_ARB, r.next(), 4));
        break;
      case 2: {
        // splice: our prefix, the other's suffix
        const from = other.actions.length === 0 ? 0 : r.next() % other.actions.length;
        a.splice(at, a.length - at, ...other.actions.slice(from));
        a.length = Math.min(a.length, max);
        break;
      }
      case 3: {
        // mutate arguments: a fresh action of the same kind
        const cur = a[at];
        if (cur === undefined) break;
        for (let t = 0; t < 12; t++) {
          const n = draw(ACTION_ARB, r.next(), 4);
          if (n.op === cur.op) {
            a[at] = n;
            break;
          }
        }
        break;
      }
      case 4: // duplicate (a second reclaim, the same share again)
        if (a[at] !== undefined && a.length < max) a.splice(at + 1, 0, a[at]!);
        break;
      default:
        if (child.hostile !== undefined)
          child.hostile = {
            seed: r.next(),
            rate: r.next() % 2 === 0 ? child.hostile.rate : RATES[r.next() % RATES.length]!,
          };
        else if (a.length < max) a.push(draw(ACTION_ARB, r.next(), undefined));
    }
  }
  return child;
}

/**
 * Sequence `index` of a campaign: a function of (seed, index) and — guided — the first `batchCorpus` corpus
 * entries (the corpus as it stood when the batch before the index's began).
 */
export function inputAt(
  o: CampaignOptions,
  corpus: readonly SeqInput[],
  batchCorpus: number,
  index: number,
): SeqInput {
  const r = seededPrng(hashWords(o.seed, index, 0x5e9));
  const n = Math.min(batchCorpus, corpus.length);
  // Guided: 3 in 4 sequences mutate the corpus once it has entries; the rest stay fresh (new ground).
  if (!o.guided || n === 0 || r.next() % 4 === 0) return freshInput(o, r.next());
  const parent = corpus[r.next() % n]!;
  const other = corpus[r.next() % n]!;
  return mutateInput(o, parent, other, r);
}

// ================================================================================================
// Running

/** A trace sink that keeps only coverage keys and the current call's last proxy decision (no event stored). */
class CoverageBus extends TraceBus {
  override readonly lean = true;
  keys = new Set<string>();
  lastHyp = '-';
  /** The hyp's last SMC to EL3 in this call: which answer EL2 was processing. */
  lastEl3 = 'no EL3 call';
  /** Where the call's first EL2 OOB access / livelock was: `<EL3 answer being processed>:<buffer>:<kind>`. */
  oobSite = '';
  hangSite = '';

  reset(): void {
    this.lastHyp = '-';
    this.lastEl3 = 'no EL3 call';
    this.oobSite = '';
    this.hangSite = '';
  }

  /** Keys already built, by their parts: the hot path adds a known string to the set and allocates nothing. */
  private readonly ruleKeys = new Map<string, string>();
  private readonly pageKeys = new Map<string, Map<string, Map<string, string>>>();
  private readonly el3Names = new Map<string, [string, string]>();

  private key(prefix: 'h' | 's', rule: string): string {
    const m = prefix === 'h' ? rule : `\u0000${rule}`;
    let k = this.ruleKeys.get(m);
    if (k === undefined) {
      k = `${prefix}:${rule}`;
      this.ruleKeys.set(m, k);
    }
    return k;
  }

  private pageKey(table: string, from: string, to: string): string {
    let t = this.pageKeys.get(table);
    if (t === undefined) {
      t = new Map();
      this.pageKeys.set(table, t);
    }
    let f = t.get(from);
    if (f === undefined) {
      f = new Map();
      t.set(from, f);
    }
    let k = f.get(to);
    if (k === undefined) {
      k = `p:${table}:${from}>${to}`;
      f.set(to, k);
    }
    return k;
  }

  override emit(e: TraceEventBody): void {
    switch (e.kind) {
      case 'decision':
        if (e.actor === undefined) {
          this.lastHyp = e.rule;
          this.keys.add(this.key('h', e.rule));
        } else if (e.rule !== 'spmd/hostile/lie') this.keys.add(this.key('s', e.rule));
        return;
      case 'pages':
        this.keys.add(this.pageKey(e.table, e.from, e.to));
        return;
      case 'hop':
        // What the hyp asks EL3 (the reclaim's FRAG_RX loop is reached only through it).
        if (e.from === 'hyp' && e.dir === 'call') {
          const x0 = e.regs[0] ?? '0';
          let n = this.el3Names.get(x0);
          if (n === undefined) {
            const fid = x0.slice(-8);
            n = [`e:${fid}`, ffaName(Number.parseInt(fid, 16))];
            this.el3Names.set(x0, n);
          }
          this.keys.add(n[0]);
          this.lastEl3 = n[1];
        }
        return;
      case 'oob': {
        const kind = e.text.startsWith('EL2 access') ? 'past-end' : 'past-message';
        if (this.oobSite === '') this.oobSite = `${this.lastEl3}:${e.buffer}:${kind}`;
        this.keys.add(`o:${this.lastEl3}:${e.buffer}:${kind}`);
        return;
      }
      case 'warn':
        if (this.hangSite === '' && e.text.includes('livelock')) this.hangSite = `${this.lastEl3}:livelock`;
        this.keys.add(`w:${e.where}`);
        return;
      default:
        return;
    }
  }
}

/** Booted worlds and the coverage bus of one campaign (a cache: results do not depend on it). */
export class CampaignContext {
  readonly o: CampaignOptions;
  private readonly bus = new CoverageBus();
  private readonly boot: BootedWorld;

  constructor(o: CampaignOptions) {
    this.o = o;
    const config = clone(o.config);
    this.boot = new BootedWorld({ config, profile: o.profile, trace: this.bus });
  }

  /** Runs one sequence with every invariant after every call, going on after violations. */
  run(
    input: SeqInput,
    record = false,
  ): {
    smcs: number;
    coverage: Set<string>;
    hits: Hit[];
    applied: HostileLie[];
    replay: ReplayLine[];
  } {
    const bus = this.bus;
    bus.keys = new Set();
    bus.reset();
    const hits: Hit[] = [];
    const seen = new Set<string>();
    const hostile = hostileFor(input);
    let liar: { applied: HostileLie[] } | undefined;
    let lines: ReplayLine[] = [];
    const r = runSequence(input.actions, this.o.profile, this.o.config, this.o.ignore, record, {
      boot: this.boot,
      keepGoing: true,
      ...(hostile === undefined ? {} : { hostile }),
      onRun: (run) => {
        liar = run.world.spmd.hostile as { applied: HostileLie[] } | undefined;
        lines = run.replay;
        run.onCall = (regs, out, first, more) => {
          const call = ffaName(regs.w(0));
          bus.keys.add(`r:${call}:${out.w(0) === FFA.ERROR ? ffaErrorLabel(out.w(2)) : ffaName(out.w(0))}`);
          if (first !== undefined)
            for (const v of more.length === 0 ? [first] : [first, ...more]) {
              // The site: where the evidence was recorded. An EL2 OOB access or livelock: the EL3 answer EL2 was
              // processing, the buffer and the kind (the proxy rule that ends the call depends on what follows);
              // I3: the reply path itself (H16 leaks on every FFA_VERSION path alike); else the call's proxy rule.
              const site =
                v.invariant === 'I3'
                  ? 'stale-stack'
                  : v.invariant === 'I6' && v.detail.startsWith('EL2 livelock') && bus.hangSite !== ''
                    ? bus.hangSite
                    : v.invariant === 'I6' && bus.oobSite !== ''
                      ? bus.oobSite
                      : bus.lastHyp;
              const key = `${v.invariant}|${call}|${site}`;
              // I1/I4 are states: once broken, every later call that changes pages sees the same break again. The
              // call that first showed it is the finding; the echoes are not.
              const state = `${v.invariant}|${v.detail}`;
              if (!seen.has(key) && !seen.has(state)) {
                seen.add(key);
                seen.add(state);
                hits.push({ key, violation: v, call, site, at: lines.length });
              }
            }
          bus.reset();
        };
      },
    });
    // An exception ends the run outside the per-call hook.
    if (r.violation?.invariant === 'I5' && !this.o.ignore.includes('I5')) {
      const key = `I5|-|${r.violation.detail.replace(/\d+/g, 'N')}`;
      if (!seen.has(key)) hits.push({ key, violation: r.violation, call: '-', site: '-' });
    }
    const applied = liar?.applied ?? [];
    for (const l of applied) bus.keys.add(`l:${ffaName(l.call)}:${l.target}`);
    return { smcs: r.run.smcs, coverage: bus.keys, hits, applied: [...applied], replay: r.run.replay };
  }

  /** One numbered sequence, as {@link mergeResults} wants it. */
  result(index: number, input: SeqInput): SeqResult {
    const r = this.run(input);
    return { index, input, smcs: r.smcs, coverage: [...r.coverage].sort(), hits: r.hits };
  }
}

/** Runs sequences [from, to) planned from `st` (all of one batch: the caller keeps to batch bounds). */
export function runRange(ctx: CampaignContext, st: CampaignState, from: number, to: number): SeqResult[] {
  const out: SeqResult[] = [];
  for (let i = from; i < to; i++) out.push(ctx.result(i, inputAt(ctx.o, st.corpus, st.batchCorpus, i)));
  return out;
}

/**
 * Merges results, in index order, into the state (which it updates): coverage, corpus, distinct findings
 * (shrunk here). Returns the new findings. `results` must start at `st.next` and be consecutive.
 */
export function mergeResults(
  ctx: CampaignContext,
  st: CampaignState,
  results: readonly SeqResult[],
): Finding[] {
  const found: Finding[] = [];
  const batch = ctx.o.batchSize ?? DEFAULT_BATCH;
  const keys = new Set(st.findings.map((f) => f.key));
  for (const r of [...results].sort((a, b) => a.index - b.index)) {
    if (r.index !== st.next)
      throw new Error(
        `campaign merge: result ${r.index} where sequence ${st.next} was due (merge in index order)`,
      );
    st.smcs += r.smcs;
    let fresh = false;
    for (const k of r.coverage)
      if (!st.coverage.has(k)) {
        st.coverage.add(k);
        fresh = true;
      }
    const input = (): SeqInput => r.input ?? inputAt(ctx.o, st.corpus, st.batchCorpus, r.index);
    if (fresh && st.corpus.length < CORPUS_CAP) st.corpus.push(clone(input()));
    for (const h of r.hits) {
      if (keys.has(h.key)) continue;
      keys.add(h.key);
      const f = shrinkFinding(ctx, input(), h, st.findings.length + 1, r.index);
      st.findings.push(f);
      found.push(f);
    }
    st.next++;
    if (st.next % batch === 0) {
      st.batchCorpus = st.nextBatchCorpus;
      st.nextBatchCorpus = st.corpus.length;
    }
  }
  return found;
}

// ================================================================================================
// Shrinking

/** Simpler versions of one action, simplest first. */
function simpler(a: Action): Action[] {
  switch (a.op) {
    case 'share': {
      const out: Action[] = [];
      if (a.mut !== undefined) out.push({ ...a, mut: undefined });
      if (a.split !== 0) out.push({ ...a, split: 0 });
      if (a.sels.length > 1) out.push({ ...a, sels: [a.sels[0]!] });
      if (a.layout !== '1.2') out.push({ ...a, layout: '1.2' });
      if (a.sels.some((s) => s.pages > 1)) out.push({ ...a, sels: a.sels.map((s) => ({ ...s, pages: 1 })) });
      return out;
    }
    case 'big':
      return a.n > 2048 ? (a.n > 2200 ? [{ ...a, n: 2200 }] : []) : a.n > 256 ? [{ ...a, n: 256 }] : [];
    case 'raw':
      return a.args.length === 0
        ? []
        : [
            { ...a, args: [] },
            { ...a, args: a.args.slice(0, -1) },
          ];
    case 'map':
      return a.pages > 1 ? [{ ...a, pages: 1 }] : [];
    case 'reclaim':
      return [...(a.flags !== 0 ? [{ ...a, flags: 0 }] : []), ...(a.pick !== 0 ? [{ ...a, pick: 0 }] : [])];
    default:
      return [];
  }
}

/**
 * Shrinks a sequence to one that still shows the finding's key: first the plan's lies become exact ones, then
 * chunks of actions go (halves to singles), then actions simplify, then lies go one by one. Deterministic; bounded
 * by {@link SHRINK_BUDGET} runs.
 */
export function shrinkFinding(
  ctx: CampaignContext,
  input: SeqInput,
  hit: Hit,
  id: number,
  index: number,
): Finding {
  let budget = SHRINK_BUDGET;
  const fails = (c: SeqInput): boolean => {
    if (budget-- <= 0) return false;
    return ctx.run(c).hits.some((h) => h.key === hit.key);
  };
  let cur: SeqInput = { actions: clone(input.actions) };
  if (input.hostile !== undefined || input.lies !== undefined) {
    const first = ctx.run(input);
    cur = { actions: clone(input.actions), lies: first.applied };
    if (!fails(cur)) cur = clone(input); // cannot happen (lies are keyed like the plan's draws); stay safe
  }
  // Actions: remove chunks, halves first.
  for (let size = Math.max(1, cur.actions.length >> 1); size >= 1; size = size === 1 ? 0 : size >> 1) {
    for (let at = 0; at + size <= cur.actions.length; ) {
      const c = { ...cur, actions: [...cur.actions.slice(0, at), ...cur.actions.slice(at + size)] };
      if (fails(c)) cur = c;
      else at += size;
    }
  }
  for (let i = 0; i < cur.actions.length; i++) {
    for (const s of simpler(cur.actions[i]!)) {
      const actions = [...cur.actions];
      actions[i] = s;
      const c = { ...cur, actions };
      if (fails(c)) {
        cur = c;
        i--;
        break;
      }
    }
  }
  for (let i = 0; cur.lies !== undefined && i < cur.lies.length; ) {
    const lies = cur.lies;
    const c = { ...cur, lies: [...lies.slice(0, i), ...lies.slice(i + 1)] };
    if (fails(c)) cur = c;
    else i++;
  }
  const final = ctx.run(cur, true);
  if (cur.lies !== undefined) cur = { ...cur, lies: final.applied };
  const again = final.hits.find((h) => h.key === hit.key) ?? hit;
  const { cls, kind } = classify(again.violation);
  return {
    id,
    key: hit.key,
    invariant: again.violation.invariant,
    detail: again.violation.detail,
    cls,
    kind,
    call: hit.call,
    site: hit.site,
    index,
    input: cur,
    // The replay ends with the call that broke: what follows it is not part of the finding.
    replay: again.at === undefined ? final.replay : final.replay.slice(0, again.at),
    fixes: fixesFor(ctx.o, cur, again.violation.invariant, hit.call),
  };
}

/** The profile's `with`/`without` against its base. */
export function profileDelta(p: Profile): { with: string[]; without: string[] } {
  const base = PROFILES.find((d) => d.name === p.base)?.changes ?? [];
  return { with: p.changes.filter((c) => !base.includes(c)), without: base.filter((c) => !p.has(c)) };
}

/** Changes of the catalogue, each added alone, that make the invariant hold at that call again. */
function fixesFor(o: CampaignOptions, input: SeqInput, inv: InvariantId, call: string): string[] {
  const d = profileDelta(o.profile);
  const out: string[] = [];
  for (const c of CHANGES) {
    if (o.profile.has(c.id)) continue;
    let p: Profile;
    try {
      p = createProfile(o.profile.base, {
        with: [...d.with, c.id],
        without: d.without.filter((x) => x !== c.id),
      });
    } catch {
      continue;
    }
    const ctx = new CampaignContext({ ...o, profile: p });
    if (!ctx.run(input).hits.some((h) => h.violation.invariant === inv && h.call === call)) out.push(c.id);
  }
  return out;
}

// ================================================================================================
// Output

/** The world a finding replays in: the campaign's, with the lies it needs. */
export function findingWorld(o: CampaignOptions, f: Finding): WorldConfig {
  const w = clone(o.config);
  if (f.input.lies !== undefined && f.input.lies.length > 0) w.spmc.hostile = { lies: f.input.lies };
  return w;
}

/** A finding's replay file (docs/replay.md): comments say what broke and how to reproduce; no wall time. */
export function findingReplayText(o: CampaignOptions, f: Finding): string {
  const d = profileDelta(o.profile);
  const lines = [
    `# ffasim fuzz finding: ${f.invariant} — ${f.detail}`,
    `# class ${f.cls} (${f.kind}); at ${f.call}, decision site ${f.site}; key ${f.key}`,
    `# profile ${o.profile.name}, campaign seed ${o.seed}, sequence ${f.index}; reproduce with: ffasim replay THIS_FILE (or ffasim run THIS_FILE --explain for a trace)`,
    ...(f.input.lies ?? []).map((l) => `# EL3 lies: ${describeLie(l)}`),
    `# shrunk sequence: ${f.input.actions.map((a) => JSON.stringify(a)).join(' ; ')}`,
    JSON.stringify({ world: findingWorld(o, f), profile: o.profile.base, with: d.with, without: d.without }),
  ];
  for (const l of f.replay) {
    if ('#' in l) lines.push(`# ${String(l['#'])}`);
    else lines.push(JSON.stringify(l));
  }
  return `${lines.join('\n')}\n`;
}

/** A finding's short report (Markdown): decoded sequence, what broke, what fixes it. */
export function findingReport(
  o: CampaignOptions,
  f: Finding,
  file: string,
  describe: (line: ReplayLine) => string,
): string {
  const lies = f.input.lies ?? [];
  const cls =
    f.cls === 'holds-when-el3-lies'
      ? 'must hold even when EL3 lies: a bug in the hyp whatever the secure world does'
      : 'presupposes an honest SPMC: real only if a correct secure world can give these answers';
  const fix =
    f.fixes.length > 0
      ? `Fixed by ${f.fixes.map((c) => `\`--with ${c}\``).join(', ')} (each alone, on ${o.profile.name}).`
      : `No change of the catalogue fixes it on ${o.profile.name}.`;
  return [
    `# Finding ${String(f.id).padStart(3, '0')}: ${f.invariant} at ${f.call}`,
    '',
    `- **What broke:** ${f.invariant} — ${f.detail}`,
    `- **Class:** ${f.cls} (${f.kind}) — ${cls}`,
    `- **Decision site:** \`${f.site}\`; dedup key \`${f.key}\``,
    `- **Profile:** ${o.profile.name}; campaign seed ${o.seed}, sequence ${f.index}`,
    `- **Reproduce:** \`ffasim replay ${file}\` (trace: \`ffasim run ${file} --explain\`)`,
    `- **Fix:** ${fix}`,
    '',
    lies.length === 0
      ? 'The secure world told no lie.'
      : 'EL3 lies (`spmc.hostile.lies` in the replay header):',
    ...lies.map((l) => `- ${describeLie(l)}`),
    '',
    `Shrunk to ${f.input.actions.length} action(s); the decoded sequence (${f.replay.length} replay lines):`,
    '',
    ...f.replay.map((l, i) => {
      const d = describe(l);
      return `${i + 1}. ${d.length > 200 ? `${d.slice(0, 200)}… (the replay file has it all)` : d}`;
    }),
    '',
  ].join('\n');
}

// ================================================================================================
// State (DIR/state.json and DIR/corpus)

/** A located problem in a campaign's saved state. */
export class CampaignStateError extends Error {}

export interface StateJSON {
  schema: 'ffasim-campaign/2';
  options: {
    profile: string;
    seed: number;
    hostile: boolean;
    guided: boolean;
    ignore: string[];
    maxLength: number;
    batchSize: number;
    world: WorldConfig;
  };
  next: number;
  batchCorpus: number;
  nextBatchCorpus: number;
  smcs: number;
  corpus: number;
  coverage: string[];
  findings: Omit<Finding, 'input' | 'replay'>[];
}

export function stateToJSON(o: CampaignOptions, st: CampaignState): StateJSON {
  return {
    schema: 'ffasim-campaign/2',
    options: {
      profile: o.profile.name,
      seed: o.seed,
      hostile: o.hostile,
      guided: o.guided,
      ignore: [...o.ignore],
      maxLength: o.maxLength ?? 24,
      batchSize: o.batchSize ?? DEFAULT_BATCH,
      world: o.config,
    },
    next: st.next,
    batchCorpus: st.batchCorpus,
    nextBatchCorpus: st.nextBatchCorpus,
    smcs: st.smcs,
    corpus: st.corpus.length,
    coverage: [...st.coverage].sort(),
    findings: st.findings.map(({ input: _i, replay: _r, ...rest }) => rest),
  };
}

const OPS = ['version', 'map', 'unmap', 'share', 'decoy', 'big', 'reclaim', 'direct', 'raw'];

function isNat(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function checkSel(s: unknown, at: string): void {
  const o = s as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null) throw new CampaignStateError(`${at}: not a page selector`);
  if (!['host', 'guest', 'hyp', 'mmio', 'tx', 'ipa'].includes(o.k as string))
    throw new CampaignStateError(`${at}.k: unknown selector kind ${JSON.stringify(o.k)}`);
  if (!isNat(o.pages) || o.pages > 64)
    throw new CampaignStateError(`${at}.pages: must be an integer in 0..64`);
  if (o.k === 'host' && (!isNat(o.i) || o.i >= 4096 || !isNat(o.off) || o.off > 0x10000))
    throw new CampaignStateError(`${at}: host selector needs i in 0..4095 and off in 0..65536`);
}

/** Checks one saved sequence (a corpus file); throws a {@link CampaignStateError} naming where. */
export function checkInput(v: unknown, at: string): SeqInput {
  const o = v as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null || !Array.isArray(o.actions))
    throw new CampaignStateError(`${at}: must be an object with an actions array`);
  o.actions.forEach((a: unknown, i: number) => {
    const p = `${at}.actions[${i}]`;
    const x = a as Record<string, unknown> | null;
    if (typeof x !== 'object' || x === null || !OPS.includes(x.op as string))
      throw new CampaignStateError(`${p}: unknown action ${JSON.stringify(a)}`);
    const nums: Record<string, string[]> = {
      version: ['v'],
      map: ['pages'],
      unmap: ['w1'],
      share: ['split'],
      big: ['n'],
      reclaim: ['pick', 'flags'],
      raw: ['fid'],
    };
    for (const k of nums[x.op as string] ?? [])
      if (!isNat(x[k]) || (x[k] as number) > 0xffff_ffff)
        throw new CampaignStateError(`${p}.${k}: must be a u32`);
    if (x.op === 'big' && (x.n as number) > 4096)
      throw new CampaignStateError(`${p}.n: at most 4096 constituents`);
    if (x.op === 'map') {
      checkSel(x.tx, `${p}.tx`);
      checkSel(x.rx, `${p}.rx`);
    }
    if (x.op === 'decoy') {
      checkSel(x.real, `${p}.real`);
      checkSel(x.decoy, `${p}.decoy`);
    }
    if (x.op === 'share') {
      if (!Array.isArray(x.sels) || x.sels.length === 0 || x.sels.length > 16)
        throw new CampaignStateError(`${p}.sels: must be an array of 1..16 selectors`);
      x.sels.forEach((s: unknown, j: number) => {
        checkSel(s, `${p}.sels[${j}]`);
      });
      if (!['1.0', '1.1', '1.2'].includes(x.layout as string))
        throw new CampaignStateError(`${p}.layout: must be '1.0', '1.1' or '1.2'`);
      if (typeof x.lend !== 'boolean' || typeof x.smc64 !== 'boolean')
        throw new CampaignStateError(`${p}: lend and smc64 must be booleans`);
      const m = x.mut as Record<string, unknown> | undefined;
      if (m !== undefined && (!isNat(m.at) || m.at > 0x10000 || !isNat(m.value) || m.value > 0xffff_ffff))
        throw new CampaignStateError(`${p}.mut: must be {at: 0..65536, value: u32}`);
    }
    if (x.op === 'direct' && (typeof x.smc64 !== 'boolean' || typeof x.req2 !== 'boolean'))
      throw new CampaignStateError(`${p}: smc64 and req2 must be booleans`);
    if (
      x.op === 'raw' &&
      (!Array.isArray(x.args) || x.args.length > 17 || !x.args.every((n) => isNat(n) && n <= 0xffff_ffff))
    )
      throw new CampaignStateError(`${p}.args: must be at most 17 u32 values`);
  });
  if (o.hostile !== undefined) {
    const h = o.hostile as Record<string, unknown>;
    if (!isNat(h.seed) || h.seed > 0xffff_ffff || typeof h.rate !== 'number' || !(h.rate >= 0 && h.rate <= 1))
      throw new CampaignStateError(`${at}.hostile: must be {seed: u32, rate: 0..1}`);
  }
  if (o.lies !== undefined) throw new CampaignStateError(`${at}.lies: corpus entries carry plans, not lies`);
  return o as unknown as SeqInput;
}

/**
 * The state back from its JSON and corpus entries, checked against the options of the campaign to continue.
 * @throws CampaignStateError naming the field (and the file through `where`).
 */
export function stateFromJSON(
  o: CampaignOptions,
  json: unknown,
  corpus: readonly unknown[],
  where: string,
): CampaignState {
  const j = json as Partial<StateJSON> | null;
  if (typeof j !== 'object' || j === null || j.schema !== 'ffasim-campaign/2')
    throw new CampaignStateError(
      j !== null && typeof j === 'object' && (j.schema as string) === 'ffasim-campaign/1'
        ? `${where}: a campaign of an older ffasim (schema ffasim-campaign/1: guidance not a batch behind) — start another --out`
        : `${where}: not a campaign state (schema ffasim-campaign/2)`,
    );
  const opt = j.options;
  if (typeof opt !== 'object' || opt === null) throw new CampaignStateError(`${where}: options missing`);
  const want = stateToJSON(o, initialState()).options;
  const differs = (k: string, a: unknown, b: unknown): void => {
    if (JSON.stringify(a) !== JSON.stringify(b))
      throw new CampaignStateError(
        `${where}: the campaign was made with ${k} ${JSON.stringify(a)}, not ${JSON.stringify(b)} — resume with the same options or start another --out`,
      );
  };
  differs('--profile', opt.profile, want.profile);
  differs('--seed', opt.seed, want.seed);
  differs('--spmc hostile', opt.hostile, want.hostile);
  differs('guidance', opt.guided, want.guided);
  differs('--ignore', opt.ignore, want.ignore);
  differs('max length', opt.maxLength, want.maxLength);
  differs('batch size', opt.batchSize, want.batchSize);
  differs('world', opt.world, want.world);
  for (const k of ['next', 'batchCorpus', 'nextBatchCorpus', 'smcs', 'corpus'] as const)
    if (!isNat(j[k])) throw new CampaignStateError(`${where}: ${k} must be a non-negative integer`);
  if (corpus.length < (j.corpus as number))
    throw new CampaignStateError(
      `${where}: ${j.corpus} corpus entries recorded, ${corpus.length} found in the corpus folder`,
    );
  if ((j.batchCorpus as number) > (j.nextBatchCorpus as number))
    throw new CampaignStateError(
      `${where}: batchCorpus ${j.batchCorpus} > nextBatchCorpus ${j.nextBatchCorpus}`,
    );
  if ((j.nextBatchCorpus as number) > (j.corpus as number))
    throw new CampaignStateError(`${where}: nextBatchCorpus ${j.nextBatchCorpus} > corpus ${j.corpus}`);
  if (!Array.isArray(j.coverage) || !j.coverage.every((k) => typeof k === 'string'))
    throw new CampaignStateError(`${where}: coverage must be an array of strings`);
  if (!Array.isArray(j.findings)) throw new CampaignStateError(`${where}: findings must be an array`);
  const findings: Finding[] = j.findings.map((f, i) => {
    if (typeof f !== 'object' || f === null || typeof f.key !== 'string' || f.id !== i + 1)
      throw new CampaignStateError(`${where}: findings[${i}] must have id ${i + 1} and a key`);
    return { ...f, input: { actions: [] }, replay: [] } as Finding;
  });
  return {
    next: j.next as number,
    batchCorpus: j.batchCorpus as number,
    nextBatchCorpus: j.nextBatchCorpus as number,
    smcs: j.smcs as number,
    corpus: corpus.slice(0, j.corpus as number).map((c, i) => checkInput(c, `corpus entry ${i}`)),
    coverage: new Set(j.coverage),
    findings,
  };
}
