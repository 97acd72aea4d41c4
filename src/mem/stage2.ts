/**
 * pKVM page ownership: the host stage-2 view and the hypervisor's view of every physical page, with the
 * transitions the FF-A proxy uses (arch/arm64/kvm/hyp/nvhe/mem_protect.c; proxy-behaviour.md §6.1, §7.1).
 *
 * States are per kernel page (the host page size: 4, 16 or 64 KiB) and live in an interval map, so a 1 GiB range
 * changes state in one step. Each transition checks every page first and changes state only if all checks pass
 * (check-then-commit, ../shared/STYLE.md habit 7): a failed transition changes nothing.
 */
import type { TraceSink } from '../trace/events.ts';
import { IntervalMap } from './intervals.ts';

/** pKVM `enum pkvm_page_state`, as seen from one side. */
export type PageState = 'OWNED' | 'SHARED_OWNED' | 'SHARED_BORROWED' | 'NOPAGE';
/** Who owns a page the host cannot access (`NOPAGE` on the host side). */
export type Owner = 'host' | 'hyp' | 'guest' | 'none';
/** What backs an address range (memblock/`kvm_mem_range`). */
export type RegionKind = 'ram' | 'nomap' | 'mmio';

const STATES: readonly PageState[] = ['OWNED', 'SHARED_OWNED', 'SHARED_BORROWED', 'NOPAGE'];
const OWNERS: readonly Owner[] = ['host', 'hyp', 'guest', 'none'];

/** Changes remembered by {@link Stage2.changedSince} (a power of two). */
const CHANGE_LOG = 64;
/**
 * Runs an outstanding {@link Stage2.mark}'s undo log holds at most: past it (a share of thousands of constituents,
 * a restore) the marked state is rebuilt in full once and kept instead, as a copy would have been from the start.
 */
const UNDO_LIMIT = 64;
/** In a marked-state overlay: a pfn no change since the mark touched. */
const UNTOUCHED = -1;

/** Packed page state: host state (bits 5:4), hyp state (3:2), owner (1:0). */
type Code = number;

function pack(host: PageState, hyp: PageState, owner: Owner): Code {
  return (STATES.indexOf(host) << 4) | (STATES.indexOf(hyp) << 2) | OWNERS.indexOf(owner);
}
const hostOf = (c: Code): PageState => STATES[(c >> 4) & 3]!;
/** The host-state field of a code, and the field values the FF-A transitions set (bit operations, not lookups). */
const HOST_MASK = 0x30;
const HOST_OWNED = 0 << 4;
const HOST_SHARED_OWNED = 1 << 4;
const toHostOwned = (c: Code): Code => (c & ~HOST_MASK) | HOST_OWNED;
const toHostSharedOwned = (c: Code): Code => (c & ~HOST_MASK) | HOST_SHARED_OWNED;
const hypOf = (c: Code): PageState => STATES[(c >> 2) & 3]!;
const ownerOf = (c: Code): Owner => OWNERS[c & 3]!;

/** Host-side label used in traces and queries: `OWNED`, `SHARED_OWNED`, `NOPAGE:guest`, … */
export function hostLabel(c: Code): string {
  const h = hostOf(c);
  return h === 'NOPAGE' && ownerOf(c) !== 'none' ? `NOPAGE:${ownerOf(c)}` : h;
}

/** Linux errno values the transitions return (0 = success). */
export const EPERM = -1;
export const EBUSY = -16;
export const EINVAL = -22;

/** A physical memory region of the modelled machine. */
export interface MemRegion {
  base: number;
  size: number;
  kind: RegionKind;
  name?: string;
}

/** A run of pages with one state, as returned by queries. */
export interface StateRange {
  addr: number;
  pages: number;
  host: string;
  hyp: PageState;
  owner: Owner;
  region: RegionKind;
}

export interface Stage2Options {
  pageSize: number;
  /** RAM (memblock) and NOMAP regions; every other address is MMIO / not memory. */
  regions: readonly MemRegion[];
  /** Host IPA size in bits (for `pfn_range_is_valid`). */
  ipaBits?: number;
  trace?: TraceSink;
}

/**
 * Host stage-2 + hyp page states.
 */
export class Stage2 {
  readonly pageSize: number;
  readonly pageShift: number;
  readonly ipaBits: number;
  /** Page frames the host IPA space holds (2^(ipaBits − pageShift)), for `pfnRangeIsValid`. */
  private readonly pfnLimit: number;
  readonly regions: readonly MemRegion[];
  private readonly map: IntervalMap<Code>;
  private readonly pins = new Map<number, number>();
  trace: TraceSink | undefined;
  /**
   * Bumped on every state change (and on {@link restore}; it never goes back): equal counters ⇒ no change in
   * between (cheap I2 checks).
   */
  changes = 0;
  /**
   * The pfn range of each of the last {@link CHANGE_LOG} changes, at index `change number % CHANGE_LOG`: lets a
   * checker ask whether a range changed since a counter value ({@link changedSince}) without rescanning it.
   */
  private readonly logFrom = new Float64Array(CHANGE_LOG);
  private readonly logTo = new Float64Array(CHANGE_LOG);
  /** The outstanding {@link mark}: its number and the change count it saw. */
  private markNo = 0;
  private markAt = -1;
  /**
   * Since the mark, what each change overwrote: `undoRanges` holds (from, to, end) per change — its pfn range and
   * where its runs end in `undoRuns`, which holds (start, end, code) for each run the range had before it. A
   * rejected call usually changes a few runs while the map may hold thousands: this log costs what the change
   * touches, a copy of the map costs the map (it was 60 % of a campaign's allocation).
   */
  private readonly undoRanges: number[] = [];
  private readonly undoRuns: number[] = [];
  /** The pins as the mark saw them, once a change after it may have touched them. */
  private pinsAtMark: Map<number, number> | undefined;
  /** The marked state in full, once the undo log outgrew {@link UNDO_LIMIT} (no more logging until the next mark). */
  private marked: ReturnType<Stage2['snapshot']> | undefined;

  constructor(o: Stage2Options) {
    this.pageSize = o.pageSize;
    this.pageShift = Math.log2(o.pageSize);
    this.ipaBits = o.ipaBits ?? 40;
    this.pfnLimit = 2 ** (this.ipaBits - this.pageShift);
    this.regions = [...o.regions].sort((a, b) => a.base - b.base);
    this.trace = o.trace;
    // Non-memory addresses: the host maps devices itself; no pKVM memory transition accepts them.
    this.map = new IntervalMap(pack('NOPAGE', 'NOPAGE', 'none'));
    for (const r of this.regions) {
      if (r.base % o.pageSize !== 0 || r.size % o.pageSize !== 0) {
        throw new RangeError(
          `region ${r.name ?? r.base.toString(16)} is not aligned to the ${o.pageSize}-byte page`,
        );
      }
      const owned = pack('OWNED', 'NOPAGE', 'host');
      this.map.set(r.base / o.pageSize, (r.base + r.size) / o.pageSize, owned);
    }
  }

  /** Marks pages as owned by the hyp (donated at boot) or a protected guest. Used at world set-up. */
  assign(addr: number, pages: number, owner: 'hyp' | 'guest' | 'host'): void {
    const pfn = this.pfn(addr);
    const code =
      owner === 'hyp'
        ? pack('NOPAGE', 'OWNED', 'hyp')
        : owner === 'guest'
          ? pack('NOPAGE', 'NOPAGE', 'guest')
          : pack('OWNED', 'NOPAGE', 'host');
    this.setRange(pfn, pfn + pages, code);
  }

  /** Page frame number of an address (the address must be page-aligned). */
  pfn(addr: number): number {
    return Math.floor(addr / this.pageSize);
  }

  /** The region containing `addr`, or undefined for a gap (MMIO / not memory). */
  regionAt(addr: number): MemRegion | undefined {
    for (const r of this.regions) if (addr >= r.base && addr < r.base + r.size) return r;
    return undefined;
  }

  /** Host-side state label of the page containing `addr`. */
  hostState(addr: number): string {
    return hostLabel(this.map.get(this.pfn(addr)));
  }

  /** Hyp-side state of the page containing `addr`. */
  hypState(addr: number): PageState {
    return hypOf(this.map.get(this.pfn(addr)));
  }

  /** Owner of the page containing `addr`. */
  owner(addr: number): Owner {
    return ownerOf(this.map.get(this.pfn(addr)));
  }

  /** Pin count of the page containing `addr`. */
  pinCount(addr: number): number {
    return this.pins.get(this.pfn(addr)) ?? 0;
  }

  /** State runs covering [addr, addr + pages × pageSize). */
  query(addr: number, pages: number): StateRange[] {
    const from = this.pfn(addr);
    const out: StateRange[] = [];
    this.map.forEach(from, from + pages, (s, e, c) => {
      const region = this.regionAt(s * this.pageSize)?.kind ?? 'mmio';
      out.push({
        addr: s * this.pageSize,
        pages: e - s,
        host: hostLabel(c),
        hyp: hypOf(c),
        owner: ownerOf(c),
        region,
      });
    });
    return out;
  }

  /** Every run of the whole map (for the web view and invariant checks). */
  allRuns(): StateRange[] {
    return this.map.runs().map(([s, e, c]) => ({
      addr: s * this.pageSize,
      pages: e === Number.POSITIVE_INFINITY ? 0 : e - s,
      host: hostLabel(c),
      hyp: hypOf(c),
      owner: ownerOf(c),
      region: this.regionAt(s * this.pageSize)?.kind ?? 'mmio',
    }));
  }

  /** True when every page of [pfn, pfn+n) has host state `state`. */
  allHost(pfn: number, n: number, state: PageState): boolean {
    const field = STATES.indexOf(state) << 4;
    return this.map.every(pfn, pfn + n, (c) => (c & HOST_MASK) === field);
  }

  /** True when some page of [pfn, pfn+n) has host state `state`. */
  someHost(pfn: number, n: number, state: PageState): boolean {
    const field = STATES.indexOf(state) << 4;
    return !this.map.every(pfn, pfn + n, (c) => (c & HOST_MASK) !== field);
  }

  // ---------------------------------------------------------------------------------------------
  // Checks shared by the transitions (mem_protect.c)

  /**
   * `pfn_range_is_valid` (6.18 on; change `range-validation`): the range must fit the host IPA space, written
   * overflow-safe: pfn < limit && limit − pfn ≥ n.
   */
  pfnRangeIsValid(pfn: number, n: number): boolean {
    const limit = this.pfnLimit;
    return pfn < limit && limit - pfn >= n;
  }

  /**
   * `check_range_allowed_memory(start, end)`: [start, end) must lie in one `kvm_mem_range` (a memblock region or
   * a gap between regions) — tested as "the range containing start also contains end − 1", so a 0-page range
   * passes unless it starts exactly at a region base (proxy-behaviour.md §7.1 analysis) — and that range must be
   * RAM and not NOMAP.
   */
  checkRangeAllowedMemory(start: number, end: number): number {
    // The kvm_mem_range containing `start`: a region, or the gap around it (walked inline, without building a
    // range object per call: this runs once per constituent).
    const last = end - 1;
    let gapStart = 0;
    for (const r of this.regions) {
      if (start < r.base) return last < gapStart || last >= r.base ? EINVAL : EPERM; // a gap: not memory
      const rEnd = r.base + r.size;
      if (start < rEnd) {
        if (last < r.base || last >= rEnd) return EINVAL;
        return r.kind === 'ram' ? 0 : EPERM;
      }
      gapStart = rEnd;
    }
    return last < gapStart ? EINVAL : EPERM;
  }

  // ---------------------------------------------------------------------------------------------
  // Transitions

  /** `__pkvm_host_share_ffa(pfn, n)`: OWNED → SHARED_OWNED. Returns 0 or a negative errno. */
  hostShareFFA(pfn: number, n: number, o: { rangeValidation: boolean }): number {
    if (o.rangeValidation && !this.pfnRangeIsValid(pfn, n)) return EINVAL;
    const err = this.checkRangeAllowedMemory(pfn * this.pageSize, (pfn + n) * this.pageSize);
    if (err !== 0) return err;
    if (!this.allHost(pfn, n, 'OWNED')) return EPERM;
    this.updateRange(pfn, pfn + n, toHostSharedOwned);
    return 0;
  }

  /** `__pkvm_host_unshare_ffa(pfn, n)`: SHARED_OWNED → OWNED. Returns 0 or a negative errno. */
  hostUnshareFFA(pfn: number, n: number, o: { rangeValidation: boolean }): number {
    if (o.rangeValidation && !this.pfnRangeIsValid(pfn, n)) return EINVAL;
    const err = this.checkRangeAllowedMemory(pfn * this.pageSize, (pfn + n) * this.pageSize);
    if (err !== 0) return err;
    if (!this.allHost(pfn, n, 'SHARED_OWNED')) return EPERM;
    this.updateRange(pfn, pfn + n, toHostOwned);
    return 0;
  }

  /** `__pkvm_host_share_hyp(pfn)` (6.16+ rules): host OWNED and hyp NOPAGE → SHARED_OWNED / SHARED_BORROWED. */
  hostShareHyp(pfn: number): number {
    const err = this.checkRangeAllowedMemory(pfn * this.pageSize, (pfn + 1) * this.pageSize);
    if (err !== 0) return err;
    const c = this.map.get(pfn);
    if (hostOf(c) !== 'OWNED') return EPERM;
    if (hypOf(c) !== 'NOPAGE') return EPERM;
    this.setRange(pfn, pfn + 1, pack('SHARED_OWNED', 'SHARED_BORROWED', ownerOf(c)));
    return 0;
  }

  /** `__pkvm_host_unshare_hyp(pfn)`: needs host SHARED_OWNED, hyp SHARED_BORROWED and no pins. */
  hostUnshareHyp(pfn: number): number {
    const c = this.map.get(pfn);
    if (hostOf(c) !== 'SHARED_OWNED' || hypOf(c) !== 'SHARED_BORROWED') return EPERM;
    if ((this.pins.get(pfn) ?? 0) !== 0) return EBUSY;
    this.setRange(pfn, pfn + 1, pack('OWNED', 'NOPAGE', ownerOf(c)));
    return 0;
  }

  /** `hyp_pin_shared_mem` of one page: host SHARED_OWNED and hyp SHARED_BORROWED required. */
  hypPin(pfn: number): number {
    const c = this.map.get(pfn);
    if (hostOf(c) !== 'SHARED_OWNED' || hypOf(c) !== 'SHARED_BORROWED') return EPERM;
    this.changing(0, 0, true); // pins are not page states: an empty range
    this.pins.set(pfn, (this.pins.get(pfn) ?? 0) + 1);
    return 0;
  }

  /** `hyp_unpin_shared_mem` of one page. */
  hypUnpin(pfn: number): void {
    this.changing(0, 0, true);
    const n = (this.pins.get(pfn) ?? 0) - 1;
    if (n <= 0) this.pins.delete(pfn);
    else this.pins.set(pfn, n);
  }

  /**
   * Donates host-owned pages to a protected guest (`__pkvm_host_donate_guest`-like): every page must be OWNED
   * (a SHARED_OWNED page, e.g. FF-A-shared, is refused). Used by scenarios and the fuzzer to show what a
   * mis-tracked page allows.
   */
  hostDonateGuest(pfn: number, n: number): number {
    const err = this.checkRangeAllowedMemory(pfn * this.pageSize, (pfn + n) * this.pageSize);
    if (err !== 0) return err;
    if (!this.allHost(pfn, n, 'OWNED')) return EPERM;
    this.setRange(pfn, pfn + n, pack('NOPAGE', 'NOPAGE', 'guest'));
    return 0;
  }

  /** Snapshot of all state (for rollback in tests and the fuzzer's I2 check). */
  snapshot(): { map: ReturnType<IntervalMap<Code>['snapshot']>; pins: [number, number][] } {
    return { map: this.map.snapshot(), pins: [...this.pins] };
  }

  /** Puts back a {@link snapshot}'s state; counts as a change of every page (the counter moves on, never back). */
  restore(s: ReturnType<Stage2['snapshot']>): void {
    this.changing(0, Number.POSITIVE_INFINITY, true);
    this.map.restore(s.map);
    this.pins.clear();
    for (const [k, v] of s.pins) this.pins.set(k, v);
  }

  /**
   * Whether any page state of pfns [from, to) may have changed since the change counter read `since`: false only
   * when none of the changes since touched the range (conservatively true once they outnumber the log).
   */
  changedSince(since: number, from: number, to: number): boolean {
    if (this.changes - since > CHANGE_LOG) return true;
    for (let c = since + 1; c <= this.changes; c++) {
      const k = c & (CHANGE_LOG - 1);
      if (this.logFrom[k]! < to && this.logTo[k]! > from) return true;
    }
    return false;
  }

  /**
   * Marks the current state so that {@link sameAsMark} can tell later whether it is back to it — the I2 check
   * of every host call, without building a {@link fingerprint} per call: each change after it logs what it
   * overwrites (the undo log). One mark is outstanding at a time; marking again with no change in
   * between returns the same mark (several checkers watching one call share it).
   */
  mark(): number {
    if (this.markAt === this.changes) return this.markNo;
    this.markNo++;
    this.markAt = this.changes;
    this.undoRanges.length = 0;
    this.undoRuns.length = 0;
    this.pinsAtMark = undefined;
    this.marked = undefined;
    return this.markNo;
  }

  /**
   * True when the state equals the one mark `m` saw.
   * @throws Error when `m` is not the outstanding mark (a later mark replaced it).
   */
  sameAsMark(m: number): boolean {
    if (m !== this.markNo) throw new Error(`stage-2 mark ${m} was replaced by mark ${this.markNo}`);
    if (this.markAt === this.changes) return true; // nothing changed since the mark
    const s = this.marked;
    if (s !== undefined) return this.pinsAre(s.pins, s.pins.length) && this.map.sameAs(s.map);
    const pins = this.pinsAtMark;
    if (pins !== undefined && !this.pinsAre(pins, pins.size)) return false;
    // Only logged ranges can differ from the marked state.
    let same = true;
    this.markedOverlay().forEach(0, Number.POSITIVE_INFINITY, (a, b, v) => {
      if (same && v !== UNTOUCHED && !this.map.every(a, b, (x) => x === v)) same = false;
    });
    return same;
  }

  /** Whether the pins are exactly `size` entries `pins` (pfn, count). */
  private pinsAre(pins: Iterable<readonly [number, number]>, size: number): boolean {
    if (size !== this.pins.size) return false;
    for (const [k, v] of pins) if (this.pins.get(k) !== v) return false;
    return true;
  }

  /**
   * The marked codes of the logged ranges, {@link UNTOUCHED} elsewhere: a pfn's marked code is what the first
   * change after the mark that covered it overwrote.
   */
  private markedOverlay(): IntervalMap<number> {
    const o = new IntervalMap<number>(UNTOUCHED);
    const u = this.undoRuns;
    let r = 0;
    for (let k = 0; k < this.undoRanges.length; k += 3)
      for (const end = this.undoRanges[k + 2]!; r < end; r += 3) {
        const v = u[r + 2]!;
        o.update(u[r]!, u[r + 1]!, (c) => (c === UNTOUCHED ? v : c));
      }
    return o;
  }

  /** The state {@link mark} saw: the current one with the logged ranges put back. */
  private markedState(): ReturnType<Stage2['snapshot']> {
    const m = new IntervalMap<Code>(0);
    m.restore(this.map.snapshot());
    this.markedOverlay().forEach(0, Number.POSITIVE_INFINITY, (a, b, v) => {
      if (v !== UNTOUCHED) m.set(a, b, v);
    });
    return { map: m.snapshot(), pins: [...(this.pinsAtMark ?? this.pins)] };
  }

  /**
   * Every change goes through here: counts it, logs its range and, with a mark outstanding, what it is about to
   * overwrite (`pins`: the change may touch the pins too).
   */
  private changing(from: number, to: number, pins = false): void {
    if (this.markAt >= 0 && this.marked === undefined) {
      if (pins && this.pinsAtMark === undefined) this.pinsAtMark = new Map(this.pins);
      const u = this.undoRuns;
      this.map.forEach(from, to, (a, b, c) => {
        u.push(a, b, c);
      });
      this.undoRanges.push(from, to, u.length);
      // The change is not made yet: the marked state is still the current one with the log put back.
      if (u.length > 3 * UNDO_LIMIT) {
        this.marked = this.markedState();
        this.undoRanges.length = 0;
        u.length = 0;
      }
    }
    this.changes++;
    const k = this.changes & (CHANGE_LOG - 1);
    this.logFrom[k] = from;
    this.logTo[k] = to;
  }

  /** A cheap fingerprint of all state: equal fingerprints ⇔ equal states. */
  fingerprint(): string {
    const runs = this.map.runs();
    let s = '';
    for (const [a, , c] of runs) s += `${a}:${c};`;
    for (const [k, v] of [...this.pins].sort((x, y) => x[0] - y[0])) s += `p${k}:${v};`;
    return s;
  }

  private setRange(from: number, to: number, code: Code): void {
    this.updateRange(from, to, () => code);
  }

  private updateRange(from: number, to: number, fn: (c: Code) => Code): void {
    this.changing(from, to);
    if (this.trace !== undefined) {
      const trace = this.trace;
      // A lean sink (a campaign's coverage) wants each kind of transition once per update, not once per run.
      const seen: number[] | undefined = trace.lean === true ? [] : undefined;
      this.map.forEach(from, to, (s, e, c) => {
        const nc = fn(c);
        if (nc === c) return;
        if (seen !== undefined) {
          const k = (c << 6) | nc; // codes are 6 bits (pack)
          if (seen.includes(k)) return;
          seen.push(k);
        }
        if (hostOf(nc) !== hostOf(c) || ownerOf(nc) !== ownerOf(c)) {
          trace.emit({
            kind: 'pages',
            table: 'host',
            addr: s * this.pageSize,
            pages: e - s,
            pageSize: this.pageSize,
            from: hostLabel(c),
            to: hostLabel(nc),
          });
        }
        if (hypOf(nc) !== hypOf(c)) {
          trace.emit({
            kind: 'pages',
            table: 'hyp',
            addr: s * this.pageSize,
            pages: e - s,
            pageSize: this.pageSize,
            from: hypOf(c),
            to: hypOf(nc),
          });
        }
      });
    }
    this.map.update(from, to, fn);
  }
}
