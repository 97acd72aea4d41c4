/**
 * Page-state history for the page map: the physical address ranges a trace touches (untouched gaps collapsed),
 * each with the host and hyp stage-2 state over the trace's sequence numbers. States are pKVM's
 * (proxy-behaviour.md §7, src/mem/stage2.ts): host OWNED / SHARED_OWNED / NOPAGE, hyp NOPAGE / SHARED_BORROWED.
 * A host SHARED_OWNED page the hyp has not borrowed is shared with FF-A: the secure world can reach it.
 */
import type { PageChange, TraceIndex } from './trace-index.ts';

export interface StateSpan {
  /** First seq this state holds at (-Infinity for the state before the first change). */
  seq: number;
  host: string;
  hyp: string;
  /** Event that set it (-1 for the initial state). */
  event: number;
}

export interface PageRow {
  addr: number;
  size: number;
  /** Changes in seq order; spans[0] is the state before the trace's first change of this range. */
  spans: StateSpan[];
  /** True when the previous row does not end where this one starts (a collapsed gap precedes it). */
  gapBefore: boolean;
}

/** Whether the secure world can reach a page in this state (shared or lent through FF-A). */
export function secureReachable(host: string, hyp: string): boolean {
  return (host === 'SHARED_OWNED' && hyp !== 'SHARED_BORROWED') || (host === 'NOPAGE' && hyp === 'NOPAGE');
}

/** Short label of a combined state for legends and tooltips. */
export function stateLabel(host: string, hyp: string): string {
  if (host === 'OWNED' && (hyp === 'NOPAGE' || hyp === '?')) return 'host owned';
  if (host === 'SHARED_OWNED' && hyp === 'SHARED_BORROWED') return 'shared with hyp';
  if (host === 'SHARED_OWNED') return 'shared with secure world';
  if (host === 'NOPAGE' && hyp === 'OWNED') return 'donated to hyp';
  if (host === 'NOPAGE') return 'lent (host has no access)';
  return `host ${host}, hyp ${hyp}`;
}

/** Most rows built (a hostile trace with millions of disjoint ranges still draws). */
const MAX_ROWS = 4096;
/**
 * Most (change × range) steps: overlapping ranges make the work grow with the square of the changes, so a hostile
 * trace stops here and the map says it is truncated.
 */
const MAX_WORK = 4_000_000;

/**
 * Builds the rows from the index's page changes; `info.truncated` tells whether the work budget cut it short.
 * `split` are addresses where rows must not merge (the page map's labels, e.g. a virtqueue area's ring pages
 * apart from its buffer pages).
 */
export function pageRows(
  ix: Pick<TraceIndex, 'pages'>,
  info: { truncated: boolean } = { truncated: false },
  split: readonly number[] = [],
): PageRow[] {
  const ch = ix.pages;
  if (ch.length === 0) return [];
  const cuts = new Set<number>();
  for (const p of ch) {
    cuts.add(p.addr);
    cuts.add(p.addr + p.size);
  }
  const splitAt = new Set(split);
  for (const a of split) cuts.add(a);
  const bounds = [...cuts].sort((a, b) => a - b);
  // Elementary intervals between consecutive bounds that some change covers.
  const covered = new Uint8Array(bounds.length);
  const find = (addr: number): number => {
    let lo = 0;
    let hi = bounds.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (bounds[mid]! < addr) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const hist: { host: string; hyp: string; spans: StateSpan[] }[] = bounds.map(() => ({
    host: '',
    hyp: '',
    spans: [],
  }));
  let work = 0;
  info.truncated = false;
  for (const p of ch) {
    const a = find(p.addr);
    const b = find(p.addr + p.size);
    work += b - a;
    if (work > MAX_WORK) {
      info.truncated = true;
      break;
    }
    for (let k = a; k < b; k++) {
      covered[k] = 1;
      const h = hist[k]!;
      if (h.spans.length === 0) {
        h.host = p.table === 'host' ? p.from : 'OWNED';
        h.hyp = p.table === 'hyp' ? p.from : 'NOPAGE';
        h.spans.push({ seq: Number.NEGATIVE_INFINITY, host: h.host, hyp: h.hyp, event: -1 });
      }
      if (p.table === 'host') h.host = p.to;
      else h.hyp = p.to;
      const last = h.spans[h.spans.length - 1]!;
      if (last.seq === p.seq) {
        last.host = h.host;
        last.hyp = h.hyp;
      } else h.spans.push({ seq: p.seq, host: h.host, hyp: h.hyp, event: p.event });
    }
  }
  const rows: PageRow[] = [];
  for (let k = 0; k + 1 < bounds.length; k++) {
    if (covered[k] === 0) continue;
    const addr = bounds[k]!;
    const size = bounds[k + 1]! - addr;
    const spans = hist[k]!.spans;
    const prev = rows[rows.length - 1];
    // Merge with the previous row when adjacent and with the same history.
    if (
      prev !== undefined &&
      prev.addr + prev.size === addr &&
      !splitAt.has(addr) &&
      sameHistory(prev.spans, spans)
    ) {
      prev.size += size;
      continue;
    }
    if (rows.length >= MAX_ROWS) {
      info.truncated = true;
      break;
    }
    rows.push({ addr, size, spans, gapBefore: prev !== undefined && prev.addr + prev.size !== addr });
  }
  return rows;
}

function sameHistory(a: StateSpan[], b: StateSpan[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.seq !== y.seq || x.host !== y.host || x.hyp !== y.hyp) return false;
  }
  return true;
}

/** The span of `row` in force at `seq`. */
export function spanAt(row: PageRow, seq: number): StateSpan {
  let lo = 0;
  let hi = row.spans.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (row.spans[mid]!.seq <= seq) lo = mid;
    else hi = mid - 1;
  }
  return row.spans[lo]!;
}

/** Every range's state at `seq` (the debug hook and the tooltip use this). */
export function rangesAt(
  rows: readonly PageRow[],
  seq: number,
): {
  addr: string;
  size: number;
  host: string;
  hyp: string;
  secure: boolean;
  since: number;
  event: number;
}[] {
  return rows.map((r) => {
    const s = spanAt(r, seq);
    return {
      addr: `0x${r.addr.toString(16)}`,
      size: r.size,
      host: s.host,
      hyp: s.hyp,
      secure: secureReachable(s.host, s.hyp),
      since: s.seq,
      event: s.event,
    };
  });
}

/** Changes between two seqs (inclusive), for "drag across time lists what changed". */
export function changesBetween(ix: Pick<TraceIndex, 'pages'>, a: number, b: number): PageChange[] {
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  return ix.pages.filter((p) => p.seq >= lo && p.seq <= hi);
}
