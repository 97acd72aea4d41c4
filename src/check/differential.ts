/**
 * The call-by-call differential (`ffasim diff`): the same host actions and the same secure world through two
 * hyps — in practice the model proxy (src/hyp/proxy.ts) and a kernel tree's real ffa.c (kernel mode), but any two
 * world options of the {@link HypFactory} kind, so the engine is tested with two model profiles. For every host
 * SMC it compares what the host sees (x0–x17 after the call), the SMCs the hyp sends to the SPMD (x0–x17 of each
 * hyp → spmd hop, and the answers), and the net page-state changes the call made; the hyp's own init is compared
 * the same way, as call 0. A diverging sequence is shrunk (delta debugging over host actions for scenarios and
 * replay files, fast-check's shrinker for fuzz sequences) to the shortest sequence that still diverges the same
 * way.
 *
 * Registers the hyp leaves uninitialised (bug H16: an FFA_VERSION reply built in a stale result struct) hold no
 * defined value on either side: the model gives its stale stack slot, the real code what its stack held (the 0xFE
 * fill under `--stack-init pattern`). Such a register matches when it is uninitialised on both sides and diverges
 * when only one side leaves it so. The model's uninitialised registers follow its profile (no `zeroed-result`, a
 * VERSION answered without an SMC, within what `ffa_set_retval` writes); the other side's are those its `leak`
 * events name.
 *
 * Pure core (no Node): the CLI (src/cli/diff-cmd.ts) brings the kernel hyp, files and output.
 */
import fc from 'fast-check';
import { decodeCall, decodeResult } from '../ffa/calls.ts';
import { formatCall, formatResult } from '../ffa/format.ts';
import { FFA, ffaName } from '../ffa/ids.ts';
import type { Profile } from '../hyp/profiles.ts';
import { FfaProxy } from '../hyp/proxy.ts';
import { parseReplay, type ReplayAction, ReplayRecorder, runAction, smcLine } from '../scenario/replay.ts';
import { runScenario, type Scenario } from '../scenario/scenario.ts';
import { RegisterFile } from '../smccc/regs.ts';
import { TraceBus, type TraceEventBody } from '../trace/events.ts';
import { lineRanges } from '../trace/text.ts';
import { defaultWorldConfig, type WorldConfig } from '../world/config.ts';
import { createWorld, type HypContext, type HypImpl, type WorldOptions } from '../world/world.ts';
import { type Action, arbAction, type ReplayLine, runSequence } from './fuzz.ts';
import type { InvariantId } from './invariants.ts';

/** A deep copy of a world config (plain JSON data; the core has no structuredClone in its types). */
const cloneConfig = (c: WorldConfig): WorldConfig => JSON.parse(JSON.stringify(c)) as WorldConfig;

/** A world's hyp option: the model proxy when a side has none. */
export type HypFactory = NonNullable<WorldOptions['hyp']>;

/** One of the two hyps compared. */
export interface DiffSide {
  /** How reports name it (`model linux-7.3`, `ffa.c 7.3.4`). */
  label: string;
  /** The world's profile (the model proxy's behaviour; for any hyp also the stage-2 rules the world applies). */
  profile: Profile;
  /** The hyp; undefined = the model proxy of `profile`. */
  hyp?: HypFactory;
  /**
   * The same hyp, instrumented so that each decision event carries the lines of code the call ran (kernel mode:
   * the tree's ffa.c built with gcov). Slower: only each report's final run uses it, so the report shows the
   * ffa.c lines that decided beside the model's rule.
   */
  linesHyp?: HypFactory;
}

/** `s` with its instrumented hyp, for a report's final run. */
function lined(s: DiffSide): DiffSide {
  return s.linesHyp === undefined ? s : { ...s, hyp: s.linesHyp };
}

/** What one host SMC did on one side (call 0: the hyp's init). */
export interface CallRecord {
  /** 1-based host call number in the sequence (0 = hyp init). */
  n: number;
  /** The host's registers going in. */
  in: RegisterFile;
  /** What the host saw (undefined when the hyp crashed). */
  out: RegisterFile | undefined;
  /** The hyp's SMCs to the SPMD and their answers. */
  el3: { call: RegisterFile; ret: RegisterFile }[];
  /** Net page-state changes, one line per run of pages (`host 0x…+2 OWNED→SHARED_OWNED`). */
  pages: string[];
  /** The hyp's decisions on this call (`reject mem-xfer/fraglen-min [mem-region-48b]`). */
  decisions: string[];
  /** Host registers the hyp left uninitialised in its answer (see the module comment). */
  undef: number[];
  /** The hyp did not return (a BUG in the real code, an exception in the model). */
  crash?: string;
  /** The model read or wrote past one of the hyp's buffers in this call (undefined behaviour on real code). */
  oob?: boolean;
}

/** Which part of a call differs. */
export type DivergenceAspect = 'crash' | 'host-in' | 'el3-call' | 'el3-ret' | 'host-out' | 'pages' | 'length';

/** The first place two tapes differ. */
export interface Divergence {
  /** Host call number (0 = hyp init). */
  call: number;
  aspect: DivergenceAspect;
  /** The function the host called (or `hyp init`). */
  fn: string;
  /** One line: what differs. */
  what: string;
  a: CallRecord | undefined;
  b: CallRecord | undefined;
}

/** The signature a shrunk sequence must keep: the same part of the same kind of call. */
function signature(d: Divergence): string {
  return `${d.aspect}:${d.fn}`;
}

/** Host actions as a sequence that can be shrunk: each SMC with the host memory writes before it. */
export interface Step {
  writes: ReplayAction[];
  smc: ReplayAction & { kind: 'smc' };
}

/** What is compared. */
export type DiffSubject =
  | { kind: 'scenario'; scenario: Scenario; config?: WorldConfig; seed?: number }
  | {
      kind: 'replay';
      name: string;
      actions: readonly ReplayAction[];
      config?: WorldConfig;
      /** World options of the sequence besides the hyp (a scenario's handlers and quirk functions). */
      options?: () => Omit<WorldOptions, 'config' | 'profile' | 'trace' | 'hyp'>;
    }
  | { kind: 'fuzz'; seed: number; runs: number; maxLength?: number; config?: WorldConfig };

/** One diverging sequence, shrunk, with its first divergence. */
export interface DivergenceReport {
  /** The scenario, replay file or `fuzz seed S`. */
  subject: string;
  /** Host SMCs of the sequence as found, and after shrinking. */
  originalCalls: number;
  shrunkCalls: number;
  /** The shrunk sequence as replay lines (docs/replay.md). */
  replay: ReplayLine[];
  /** Fuzz only: the shrunk action list. */
  actions?: Action[];
  divergence: Divergence;
  /** Why the sequence is not shrunk (a scenario whose divergence its host actions alone do not reproduce). */
  note?: string;
}

/** The result of one subject. */
export interface SubjectResult {
  subject: string;
  /** Host calls compared (fuzz: over every sequence run). */
  calls: number;
  /** Fuzz: sequences run. */
  sequences?: number;
  /** Sequences the real code was stopped in, before a call the model says accesses past a hyp buffer. */
  stopped?: number;
  divergences: DivergenceReport[];
}

const ALL_INVARIANTS: readonly InvariantId[] = ['I1', 'I2', 'I3', 'I4', 'I5', 'I6', 'I7'];

/** Collects one side's tape while a world runs. */
class Tape {
  readonly calls: CallRecord[] = [];
  private cur: CallRecord;
  private net = new Map<
    string,
    { table: string; addr: number; pageSize: number; from: string; to: string }
  >();

  /** Host calls from this number on are not run (see {@link firstOob}). */
  stopAt = Number.POSITIVE_INFINITY;
  /** The model's profile when this side is the model proxy (its uninitialised registers follow it). */
  private readonly model: Profile | undefined;

  constructor(model: Profile | undefined) {
    this.model = model;
    this.cur = this.fresh(0, new RegisterFile());
  }

  private fresh(n: number, regs: RegisterFile): CallRecord {
    return { n, in: regs, out: undefined, el3: [], pages: [], decisions: [], undef: [] };
  }

  /** Host calls begun. */
  begun = 0;

  begin(regs: RegisterFile): void {
    this.begun++;
    this.close();
    this.cur = this.fresh(this.calls.length, regs.clone());
  }

  end(regs: RegisterFile | undefined, crash?: string): void {
    this.cur.out = regs?.clone();
    if (crash !== undefined) this.cur.crash = crash;
    if (this.model !== undefined && regs !== undefined) this.modelUndef(this.cur, this.model);
  }

  /** Ends the record being written (init, or the last host call). */
  close(): CallRecord[] {
    const c = this.cur;
    if (!this.calls.includes(c)) {
      c.pages = this.netPages();
      c.undef = [...new Set(c.undef)].sort((x, y) => x - y);
      this.calls.push(c);
    }
    return this.calls;
  }

  markOob(): void {
    this.cur.oob = true;
  }

  el3(call: RegisterFile, ret: RegisterFile): void {
    this.cur.el3.push({ call: call.clone(), ret: ret.clone() });
  }

  event(e: TraceEventBody): void {
    if (e.kind === 'decision' && e.actor === undefined) {
      // Real code (kernel mode) names no rule: the ffa.c lines the call ran are what decided.
      this.cur.decisions.push(
        e.lines === undefined
          ? `${e.action} ${e.rule} [${e.change}]: ${e.text}`
          : `${e.action} (${e.rule}): ran ffa.c lines ${lineRanges(e.lines)}`,
      );
    } else if (e.kind === 'note' && e.who === 'hyp' && this.cur.n === 0 && /ran ffa\.c lines/.test(e.text)) {
      this.cur.decisions.push(e.text);
    } else if (e.kind === 'leak') {
      for (const r of e.regs) this.cur.undef.push(r);
    } else if (e.kind === 'pages') {
      for (let i = 0; i < e.pages; i++) {
        const addr = e.addr + i * e.pageSize;
        const k = `${e.table}:${addr}`;
        const was = this.net.get(k);
        if (was === undefined)
          this.net.set(k, { table: e.table, addr, pageSize: e.pageSize, from: e.from, to: e.to });
        else was.to = e.to;
      }
    }
  }

  /** Net change per page since the call began, as runs of equal changes. */
  private netPages(): string[] {
    const ch = [...this.net.values()]
      .filter((c) => c.from !== c.to)
      .sort((x, y) => (x.table === y.table ? x.addr - y.addr : x.table < y.table ? -1 : 1));
    this.net = new Map();
    const out: string[] = [];
    let run: { table: string; addr: number; n: number; end: number; from: string; to: string } | undefined;
    const flush = (): void => {
      if (run !== undefined)
        out.push(`${run.table} 0x${run.addr.toString(16)}+${run.n} ${run.from}→${run.to}`);
    };
    for (const c of ch) {
      if (
        run !== undefined &&
        run.table === c.table &&
        run.end === c.addr &&
        run.from === c.from &&
        run.to === c.to
      ) {
        run.n++;
        run.end += c.pageSize;
        continue;
      }
      flush();
      run = { table: c.table, addr: c.addr, n: 1, end: c.addr + c.pageSize, from: c.from, to: c.to };
    }
    flush();
    return out;
  }

  /**
   * The model's uninitialised answer registers: an FFA_VERSION the proxy answered with no SMC, in a profile
   * without `zeroed-result`, leaves the result struct as the stack held it in every register `ffa_set_retval`
   * writes (x1–x3 before the SMCCC 1.2 series; x1–x7, or x1–x17 for an SMC64 caller, with `smccc12-retval-smc64`;
   * x1–x17 with `smccc12-retval-all`).
   */
  private modelUndef(c: CallRecord, p: Profile): void {
    if (p.has('zeroed-result') || c.in.w(0) !== FFA.VERSION || c.el3.length > 0) return;
    if (!c.decisions.some((d) => d.startsWith('handle version/'))) return;
    const iSmc64 = p.indexOf('smccc12-retval-smc64');
    const iAll = p.indexOf('smccc12-retval-all');
    // FFA_VERSION is an SMC32 call: x8–x17 are written only in the `all` mode.
    const last = iSmc64 < 0 && iAll < 0 ? 3 : iAll > iSmc64 ? 17 : 7;
    for (let i = 1; i <= last; i++) c.undef.push(i);
  }
}

/** The hyp of a side, wrapped so that everything it does lands on `tape`. */
function taped(side: DiffSide, tape: Tape): HypFactory {
  return (ctx: HypContext): HypImpl => {
    const outer = ctx.trace;
    const tee = new TraceBus();
    tee.keep = false;
    tee.emit = (e: TraceEventBody): void => {
      tape.event(e);
      outer?.emit(e);
    };
    // Page-state changes come from the world's Stage2, whoever asks for them.
    ctx.stage2.trace = tee;
    const own: HypContext = {
      ...ctx,
      trace: tee,
      smc: (regs) => {
        const ret = ctx.smc(regs);
        tape.el3(regs, ret);
        return ret;
      },
    };
    return wrap(side.hyp === undefined ? new FfaProxy(own) : side.hyp(own), tape);
  };
}

/** Ends a sequence on a side before a call that is undefined behaviour there. */
class StopSequence extends Error {
  override readonly name = 'StopSequence';
}

/**
 * The first host call in which a model side accessed memory past one of the hyp's buffers: on the real code that
 * access is undefined behaviour (it faults or reads what lies beyond), so the other side stops before it. Finding
 * such accesses in the real code is the kernel fuzzer's job (`ffasim fuzz --kernel`, with ASan).
 */
function firstOob(t: readonly CallRecord[]): number {
  const c = t.find((r) => r.oob === true);
  return c === undefined ? Number.POSITIVE_INFINITY : c.n;
}

const errText = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

function wrap(inner: HypImpl, tape: Tape): HypImpl {
  const w: HypImpl = {
    ...(inner.name === undefined ? {} : { name: inner.name }),
    get hypVersion() {
      return inner.hypVersion;
    },
    get negotiated() {
      return inner.negotiated;
    },
    get hostTx() {
      return inner.hostTx;
    },
    get counters() {
      return inner.counters;
    },
    initialise: () => {
      try {
        return inner.initialise();
      } catch (e) {
        tape.end(undefined, errText(e));
        throw e;
      }
    },
    handleHostSmc: (regs) => {
      const oobBefore = inner.counters.oob.length;
      if (tape.begun + 1 >= tape.stopAt) throw new StopSequence();
      tape.begin(regs);
      try {
        inner.handleHostSmc(regs);
      } catch (e) {
        tape.end(undefined, errText(e));
        throw e;
      }
      tape.end(regs);
      // Past a buffer's capacity (not merely past the message in it): undefined behaviour on real code.
      for (let i = oobBefore; i < inner.counters.oob.length; i++)
        if (inner.counters.oob[i]!.kind === 'beyond-buffer') tape.markOob();
    },
  };
  return w;
}

/** Runs host steps on a fresh world of one side; its tape. */
function runSteps(
  side: DiffSide,
  steps: readonly Step[],
  config: WorldConfig,
  options?: () => Omit<WorldOptions, 'config' | 'profile' | 'trace' | 'hyp'>,
  stopAt = Number.POSITIVE_INFINITY,
): CallRecord[] {
  const tape = new Tape(side.hyp === undefined ? side.profile : undefined);
  tape.stopAt = stopAt;
  try {
    const w = createWorld({
      ...(options?.() ?? {}),
      config: cloneConfig(config),
      profile: side.profile,
      trace: false,
      hyp: taped(side, tape),
    });
    for (const s of steps) {
      for (const a of s.writes) runAction(w, a);
      runAction(w, s.smc);
    }
  } catch {
    // The call that threw is on the tape as a crash; the sequence ends there, as the machine would.
  }
  return tape.close();
}

/** Host registers that differ between two answers, uninitialised ones matching only each other. */
function outDiff(a: CallRecord, b: CallRecord): number[] {
  const out: number[] = [];
  if (a.out === undefined || b.out === undefined) return out;
  for (let i = 0; i < 18; i++) {
    const ua = a.undef.includes(i);
    const ub = b.undef.includes(i);
    if (ua && ub) continue;
    if (ua !== ub || a.out.x(i) !== b.out.x(i)) out.push(i);
  }
  return out;
}

function regList(r: RegisterFile, s: RegisterFile): number[] {
  const out: number[] = [];
  for (let i = 0; i < 18; i++) if (r.x(i) !== s.x(i)) out.push(i);
  return out;
}

const xs = (l: readonly number[]): string => l.map((i) => `x${i}`).join(', ');

/** The host function a call record is about. */
function fnOf(c: CallRecord | undefined): string {
  if (c === undefined) return '?';
  return c.n === 0 ? 'hyp init' : ffaName(c.in.w(0));
}

/** The first divergence of two tapes, or undefined when they agree call by call. */
export function compareTapes(ta: readonly CallRecord[], tb: readonly CallRecord[]): Divergence | undefined {
  const n = Math.max(ta.length, tb.length);
  for (let i = 0; i < n; i++) {
    const a = ta[i];
    const b = tb[i];
    const d = (aspect: DivergenceAspect, what: string): Divergence => ({
      call: a?.n ?? b?.n ?? i,
      aspect,
      fn: fnOf(a ?? b),
      what,
      a,
      b,
    });
    if (a === undefined || b === undefined)
      return d('length', `only ${a === undefined ? 'the second' : 'the first'} side made host call ${i}`);
    if ((a.crash === undefined) !== (b.crash === undefined))
      return d(
        'crash',
        `${a.crash === undefined ? 'the second' : 'the first'} side did not return: ${a.crash ?? b.crash}`,
      );
    if (i > 0 && !a.in.equals(b.in))
      return d(
        'host-in',
        `the host called with different registers (${xs(regList(a.in, b.in))}): an earlier answer differed in what the host reads beyond x0–x17`,
      );
    for (let j = 0; j < Math.max(a.el3.length, b.el3.length); j++) {
      const x = a.el3[j];
      const y = b.el3[j];
      if (x === undefined || y === undefined)
        return d(
          'el3-call',
          `${a.el3.length} vs ${b.el3.length} SMCs to the SPMD (first extra: #${j + 1} ${ffaName((x ?? y)!.call.w(0))})`,
        );
      if (!x.call.equals(y.call))
        return d(
          'el3-call',
          `SMC #${j + 1} to the SPMD (${ffaName(x.call.w(0))} vs ${ffaName(y.call.w(0))}) differs in ${xs(regList(x.call, y.call))}`,
        );
      if (!x.ret.equals(y.ret))
        return d(
          'el3-ret',
          `the SPMD answered SMC #${j + 1} (${ffaName(x.call.w(0))}) differently in ${xs(regList(x.ret, y.ret))}: the hyp's buffers held different bytes`,
        );
    }
    if (a.crash !== undefined) break; // both stopped here
    const od = outDiff(a, b);
    if (od.length > 0) return d('host-out', `the host sees different ${xs(od)}`);
    if (a.pages.join('\n') !== b.pages.join('\n'))
      return d('pages', `page-state changes differ (${a.pages.length} vs ${b.pages.length} runs)`);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Steps: host actions that can be shrunk

/** Groups replay actions into steps (an SMC with the writes before it); reads, queries and trailing writes drop. */
export function stepsOf(actions: readonly ReplayAction[]): Step[] {
  const out: Step[] = [];
  let writes: ReplayAction[] = [];
  for (const a of actions) {
    if (a.kind === 'write') writes.push(a);
    else if (a.kind === 'smc') {
      out.push({ writes, smc: a });
      writes = [];
    }
  }
  return out;
}

/** Writes folded into the fewest that leave memory as they all together do. */
function coalesce(writes: readonly ReplayAction[]): ReplayAction[] {
  if (writes.length <= 1) return [...writes];
  const bytes = new Map<number, number>();
  let line = 0;
  for (const w of writes) {
    if (w.kind !== 'write') continue;
    line = w.line;
    for (let i = 0; i < w.bytes.length; i++) bytes.set(w.addr + i, w.bytes[i]!);
  }
  const addrs = [...bytes.keys()].sort((x, y) => x - y);
  const out: ReplayAction[] = [];
  let i = 0;
  while (i < addrs.length) {
    let j = i;
    while (j + 1 < addrs.length && addrs[j + 1] === addrs[j]! + 1) j++;
    const b = new Uint8Array(j - i + 1);
    for (let k = i; k <= j; k++) b[k - i] = bytes.get(addrs[k]!)!;
    out.push({ kind: 'write', line, addr: addrs[i]!, bytes: b });
    i = j + 1;
  }
  return out;
}

/** The steps without [from, to): the removed steps' writes move to the next step kept, so memory is as before. */
function without(steps: readonly Step[], from: number, to: number): Step[] {
  const out = steps.slice(0, from);
  const next = steps[to];
  if (next !== undefined) {
    const moved = steps.slice(from, to).flatMap((s) => s.writes);
    out.push({ writes: coalesce([...moved, ...next.writes]), smc: next.smc });
    for (const st of steps.slice(to + 1)) out.push(st);
  }
  return out;
}

/** Most test runs one shrink may make (each runs the sequence on both sides). */
const SHRINK_BUDGET = 600;

/** Delta debugging (ddmin) over steps: the shortest list found for which `keeps` still holds. */
export function shrinkSteps(steps: readonly Step[], keeps: (s: readonly Step[]) => boolean): Step[] {
  let cur = [...steps];
  let budget = SHRINK_BUDGET;
  let n = 2;
  while (cur.length >= 2 && budget > 0) {
    const chunk = Math.ceil(cur.length / n);
    let reduced = false;
    for (let from = 0; from < cur.length && budget > 0; from += chunk) {
      const cand = without(cur, from, Math.min(cur.length, from + chunk));
      budget--;
      if (cand.length > 0 && keeps(cand)) {
        cur = cand;
        n = Math.max(n - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (n >= cur.length) break;
      n = Math.min(cur.length, n * 2);
    }
  }
  return cur;
}

/** Steps as replay lines. */
function stepLines(steps: readonly Step[]): ReplayLine[] {
  const out: ReplayLine[] = [];
  for (const s of steps) {
    for (const w of s.writes) {
      if (w.kind !== 'write') continue;
      let hex = '';
      for (const b of w.bytes) hex += b.toString(16).padStart(2, '0');
      out.push({ write: { addr: `0x${w.addr.toString(16)}`, hex } });
    }
    out.push(smcLine(RegisterFile.of(s.smc.regs), s.smc.cpu));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Subjects

/** Steps on both sides: the first divergence. */
function diffSteps(
  steps: readonly Step[],
  a: DiffSide,
  b: DiffSide,
  config: WorldConfig,
  options?: () => Omit<WorldOptions, 'config' | 'profile' | 'trace' | 'hyp'>,
): { d: Divergence | undefined; calls: number; stopped: boolean } {
  const [ta, tb, stop] = pair(a, b, (side, stopAt) => runSteps(side, steps, config, options, stopAt));
  return {
    d: compareTapes(ta.slice(0, stop), tb.slice(0, stop)),
    calls: Math.min(stop, Math.max(ta.length, tb.length)) - 1,
    stopped: stop !== Number.POSITIVE_INFINITY,
  };
}

/**
 * Runs both sides, a model side first: a non-model side stops before the model's first out-of-bounds call
 * ({@link firstOob}). The tapes and the call number before which they are compared.
 */
function pair(
  a: DiffSide,
  b: DiffSide,
  run: (side: DiffSide, stopAt: number) => CallRecord[],
): [CallRecord[], CallRecord[], number] {
  const modelFirst = a.hyp !== undefined && b.hyp === undefined;
  const [x, y] = modelFirst ? [b, a] : [a, b];
  const tx = run(x, Number.POSITIVE_INFINITY);
  const stop = x.hyp === undefined && y.hyp !== undefined ? firstOob(tx) : Number.POSITIVE_INFINITY;
  const ty = run(y, stop);
  return modelFirst ? [ty, tx, stop] : [tx, ty, stop];
}

/** Shrinks a diverging step list to the shortest that diverges the same way; the report. */
function shrunkReport(
  subject: string,
  steps: readonly Step[],
  first: Divergence,
  a: DiffSide,
  b: DiffSide,
  config: WorldConfig,
  options?: () => Omit<WorldOptions, 'config' | 'profile' | 'trace' | 'hyp'>,
): DivergenceReport {
  const sig = signature(first);
  // Nothing after the diverging call matters.
  const upTo = first.call === 0 ? [] : steps.slice(0, first.call);
  const keeps = (s: readonly Step[]): boolean => {
    const r = diffSteps(s, a, b, config, options).d;
    return r !== undefined && signature(r) === sig;
  };
  const small = first.call === 0 ? [] : shrinkSteps(upTo, keeps);
  const d = diffSteps(small, lined(a), lined(b), config, options).d ?? first;
  return {
    subject,
    originalCalls: steps.length,
    shrunkCalls: small.length,
    replay: stepLines(small),
    divergence: d,
  };
}

/** A scenario's world config (its own adjustments on the base). */
function scenarioConfig(s: Scenario, base: WorldConfig | undefined): WorldConfig {
  const cfg = cloneConfig(base ?? defaultWorldConfig());
  s.world?.(cfg);
  return cfg;
}

function diffScenario(
  s: Scenario,
  a: DiffSide,
  b: DiffSide,
  base: WorldConfig | undefined,
  seed: number,
): SubjectResult {
  let recorder: ReplayRecorder | undefined;
  const [ta0, tb0, stop] = pair(a, b, (side, stopAt) => {
    const tape = new Tape(side.hyp === undefined ? side.profile : undefined);
    tape.stopAt = stopAt;
    const own = s.options;
    const hyp = taped(side, tape);
    runScenario(
      { ...s, options: () => ({ ...(own?.() ?? {}), hyp }) },
      {
        profile: side.profile,
        config: cloneConfig(base ?? defaultWorldConfig()),
        seed,
        prepare: (w) => {
          if (side === a) recorder = new ReplayRecorder(w);
        },
      },
    );
    return tape.close();
  });
  const ta = ta0.slice(0, stop);
  const tb = tb0.slice(0, stop);
  const res: SubjectResult = {
    subject: s.name,
    calls: Math.max(ta.length, tb.length) - 1,
    divergences: [],
    ...(stop === Number.POSITIVE_INFINITY ? {} : { stopped: 1 }),
  };
  const d = compareTapes(ta, tb);
  if (d === undefined) return res;
  const config = scenarioConfig(s, base);
  const text = recorder!.lines.map((l) => JSON.stringify(l)).join('\n');
  const parsed = parseReplay(text, s.name, { world: config });
  const steps = parsed.ok ? stepsOf(parsed.value.actions) : [];
  const options = s.options === undefined ? undefined : () => ({ ...s.options!() });
  const again = diffSteps(steps, a, b, config, options).d;
  if (again === undefined || signature(again) !== signature(d)) {
    res.divergences.push({
      subject: s.name,
      originalCalls: ta.length - 1,
      shrunkCalls: ta.length - 1,
      replay: recorder!.lines,
      divergence: d,
      note: 'not shrunk: replaying the host actions alone does not reproduce it (the scenario acts on more than host SMCs)',
    });
    return res;
  }
  res.divergences.push(shrunkReport(s.name, steps, d, a, b, config, options));
  return res;
}

/** Fuzz: both sides run the sequence (a host driver start, the actions, no invariant stops it). */
function fuzzTapes(
  actions: readonly Action[],
  a: DiffSide,
  b: DiffSide,
  config: WorldConfig,
  record = false,
): { ta: CallRecord[]; tb: CallRecord[]; replay: ReplayLine[]; stopped: boolean } {
  let replay: ReplayLine[] = [];
  const [ta, tb, stop] = pair(a, b, (side, stopAt) => {
    const tape = new Tape(side.hyp === undefined ? side.profile : undefined);
    tape.stopAt = stopAt;
    const r = runSequence(actions, side.profile, config, ALL_INVARIANTS, record && side === a, {
      hyp: taped(side, tape),
    });
    if (side === a) replay = r.run.replay;
    return tape.close();
  });
  const stopped = stop !== Number.POSITIVE_INFINITY;
  return { ta: ta.slice(0, stop), tb: tb.slice(0, stop), replay, stopped };
}

/** Distinct divergences a fuzz batch reports at most (each found again from the same seed, skipping the known). */
export const MAX_FUZZ_DIVERGENCES = 3;

function diffFuzz(
  o: { seed: number; runs: number; maxLength?: number; config?: WorldConfig },
  a: DiffSide,
  b: DiffSide,
): SubjectResult {
  const config = o.config ?? defaultWorldConfig();
  const subject = `fuzz seed ${o.seed} (${o.runs} sequences)`;
  const res: SubjectResult = { subject, calls: 0, sequences: 0, divergences: [] };
  const known = new Set<string>();
  for (let round = 0; round < MAX_FUZZ_DIVERGENCES; round++) {
    let counting = round === 0;
    const prop = fc.property(fc.array(arbAction(), { maxLength: o.maxLength ?? 16 }), (actions) => {
      const { ta, tb, stopped } = fuzzTapes(actions, a, b, config);
      if (counting) {
        res.calls += Math.max(ta.length, tb.length) - 1;
        res.sequences! += 1;
        if (stopped) res.stopped = (res.stopped ?? 0) + 1;
      }
      const d = compareTapes(ta, tb);
      return d === undefined || known.has(signature(d));
    });
    const r = fc.check(prop, { seed: o.seed, numRuns: o.runs });
    counting = false;
    if (!r.failed || r.counterexample === null) break;
    const actions = r.counterexample[0];
    const { ta, tb, replay } = fuzzTapes(actions, lined(a), lined(b), config, true);
    const d = compareTapes(ta, tb);
    if (d === undefined) break; // not reproducible: would be a nondeterminism bug, reported by the tests
    known.add(signature(d));
    res.divergences.push({
      subject,
      originalCalls: ta.length - 1,
      shrunkCalls: ta.length - 1,
      replay,
      actions,
      divergence: d,
    });
  }
  return res;
}

/** Compares two hyps on one subject. Never throws for what a hyp does (a crash is a divergence or equal). */
export function diffSubject(subject: DiffSubject, a: DiffSide, b: DiffSide): SubjectResult {
  switch (subject.kind) {
    case 'scenario':
      return diffScenario(subject.scenario, a, b, subject.config, subject.seed ?? 1);
    case 'fuzz':
      return diffFuzz(subject, a, b);
    case 'replay': {
      const config = subject.config ?? defaultWorldConfig();
      const steps = stepsOf(subject.actions);
      const { d, calls, stopped } = diffSteps(steps, a, b, config, subject.options);
      const res: SubjectResult = {
        subject: subject.name,
        calls,
        divergences: [],
        ...(stopped ? { stopped: 1 } : {}),
      };
      if (d !== undefined)
        res.divergences.push(shrunkReport(subject.name, steps, d, a, b, config, subject.options));
      return res;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Reports

/** `FFA_MEM_SHARE_64 totalLength=…` for a host call or hyp SMC, or the function name when it does not decode. */
function callLine(r: RegisterFile): string {
  const c = decodeCall(r);
  return c.ok ? formatCall(c.value) : ffaName(r.w(0));
}

function resultLine(r: RegisterFile | undefined, call: RegisterFile): string {
  if (r === undefined) return '(did not return)';
  const d = decodeResult(r, call.w(0));
  return d.ok ? formatResult(d.value) : `x0=0x${r.w(0).toString(16)}`;
}

/** Two register files side by side, differing registers marked `*`, uninitialised ones `(uninit)`. */
function sideBySide(
  la: string,
  lb: string,
  ra: RegisterFile | undefined,
  rb: RegisterFile | undefined,
  ua: readonly number[] = [],
  ub: readonly number[] = [],
): string {
  const cell = (r: RegisterFile | undefined, i: number, u: readonly number[]): string =>
    r === undefined ? '—' : `${r.toHex()[i]}${u.includes(i) ? ' (uninit)' : ''}`;
  // Wide enough for the left label and a register with its "(uninit)" mark.
  const w = Math.max(30, la.length + 2);
  let s = `      ${'reg'.padEnd(4)}${la.padEnd(w)}${lb}\n`;
  for (let i = 0; i < 18; i++) {
    const x = cell(ra, i, ua);
    const y = cell(rb, i, ub);
    const bothU = ua.includes(i) && ub.includes(i);
    const differs = !bothU && x !== y;
    if (!differs && ra !== undefined && rb !== undefined && ra.isZero(i) && rb.isZero(i) && i > 3) continue;
    s += `    ${differs ? '*' : ' '} ${`x${i}`.padEnd(4)}${x.padEnd(w)}${y}\n`;
  }
  return s;
}

function pagesLine(p: readonly string[] | undefined): string {
  if (p === undefined || p.length === 0) return 'none';
  return p.length <= 4 ? p.join('; ') : `${p.slice(0, 4).join('; ')}; … ${p.length - 4} more run(s)`;
}

/** A divergence report for humans: the shrunk sequence, the first diverging call, both sides, both decisions. */
export function divergenceText(r: DivergenceReport, a: DiffSide, b: DiffSide): string {
  const d = r.divergence;
  let s = `DIVERGENCE in ${r.subject}: call ${d.call} (${d.fn}), ${d.aspect}: ${d.what}\n`;
  s +=
    r.note !== undefined
      ? `  sequence: ${r.originalCalls} host SMCs (${r.note})\n`
      : `  sequence: ${r.originalCalls} host SMCs, shrunk to ${r.shrunkCalls}\n`;
  const ca = d.a;
  const cb = d.b;
  const lead = ca ?? cb;
  if (lead !== undefined && d.call > 0) s += `  host call: ${callLine(lead.in)}\n`;
  if (d.aspect === 'el3-call' || d.aspect === 'el3-ret') {
    const j = ((): number => {
      for (let k = 0; k < Math.max(ca?.el3.length ?? 0, cb?.el3.length ?? 0); k++) {
        const x = ca?.el3[k];
        const y = cb?.el3[k];
        if (x === undefined || y === undefined || !x.call.equals(y.call) || !x.ret.equals(y.ret)) return k;
      }
      return 0;
    })();
    const x = ca?.el3[j];
    const y = cb?.el3[j];
    s += `  hyp → spmd SMC #${j + 1}: ${x === undefined ? '—' : callLine(x.call)}  |  ${y === undefined ? '—' : callLine(y.call)}\n`;
    s += sideBySide(a.label, b.label, x?.call, y?.call);
    if (d.aspect === 'el3-ret') {
      s += `  spmd → hyp answer: ${x === undefined ? '—' : resultLine(x.ret, x.call)}  |  ${y === undefined ? '—' : resultLine(y.ret, y.call)}\n`;
      s += sideBySide(a.label, b.label, x?.ret, y?.ret);
    }
  }
  if (ca !== undefined && cb !== undefined && d.call > 0) {
    s += `  host sees: ${a.label}: ${resultLine(ca.out, ca.in)}  |  ${b.label}: ${resultLine(cb.out, cb.in)}\n`;
    s += sideBySide(a.label, b.label, ca.out, cb.out, ca.undef, cb.undef);
  }
  if (d.aspect === 'pages' || (ca?.pages.length ?? 0) + (cb?.pages.length ?? 0) > 0) {
    s += `  page-state changes: ${a.label}: ${pagesLine(ca?.pages)}\n`;
    s += `                      ${b.label}: ${pagesLine(cb?.pages)}\n`;
  }
  for (const [side, c] of [
    [a, ca],
    [b, cb],
  ] as const) {
    if (c?.crash !== undefined) s += `  ${side.label} did not return: ${c.crash}\n`;
    s += `  ${side.label} decided: ${c === undefined || c.decisions.length === 0 ? '—' : c.decisions.join(' · ')}\n`;
  }
  s += `  shrunk sequence (replay file lines):\n`;
  for (const l of r.replay) s += `    ${JSON.stringify(l)}\n`;
  return s;
}

function recordJSON(c: CallRecord | undefined): Record<string, unknown> | undefined {
  if (c === undefined) return undefined;
  return {
    call: c.n,
    in: c.in.toHex(),
    ...(c.n > 0 ? { decodedCall: callLine(c.in) } : {}),
    out: c.out?.toHex(),
    ...(c.out === undefined || c.n === 0 ? {} : { decodedResult: resultLine(c.out, c.in) }),
    el3: c.el3.map((e) => ({
      call: e.call.toHex(),
      decodedCall: callLine(e.call),
      ret: e.ret.toHex(),
      decodedResult: resultLine(e.ret, e.call),
    })),
    pages: c.pages,
    decisions: c.decisions,
    uninitialised: c.undef,
    ...(c.crash === undefined ? {} : { crash: c.crash }),
  };
}

/** A divergence report as JSON (registers as 0x-hex, x0–x17). */
export function divergenceJSON(r: DivergenceReport): Record<string, unknown> {
  const d = r.divergence;
  return {
    subject: r.subject,
    originalCalls: r.originalCalls,
    shrunkCalls: r.shrunkCalls,
    ...(r.note === undefined ? {} : { note: r.note }),
    firstDivergence: {
      call: d.call,
      fn: d.fn,
      aspect: d.aspect,
      what: d.what,
      a: recordJSON(d.a),
      b: recordJSON(d.b),
    },
    replay: r.replay,
    ...(r.actions === undefined ? {} : { actions: r.actions }),
  };
}
