/**
 * Rows of the flow grid and the headless virtualiser: which rows exist (a header per host call, then its hops
 * unless collapsed) and which of them a viewport shows. Pure data, so 10⁵ hops cost one Int32Array.
 */
import type { TraceIndex } from './trace-index.ts';

/** A row value ≥ 0 is a hop's event index; < 0 is the header of host call `-(v + 1)`. */
export function buildRows(ix: TraceIndex, hops: Int32Array, collapsed: ReadonlySet<number>): Int32Array {
  const out = new Int32Array(hops.length * 2 + 1);
  let n = 0;
  let cur = -1;
  for (const h of hops) {
    const call = ix.call[h]!;
    if (call !== cur) {
      cur = call;
      out[n++] = -(call + 1);
    }
    if (!collapsed.has(call)) out[n++] = h;
  }
  return out.slice(0, n);
}

/** Call number of a header row value. */
export const headerCall = (v: number): number => -v - 1;

export interface Window {
  /** First row to render. */
  start: number;
  /** One past the last row to render. */
  end: number;
  /** Pixel offset of `start`. */
  top: number;
  /** Total content height. */
  height: number;
}

/** Rows a viewport shows, plus `overscan` on each side. Fixed row height. */
export function virtualWindow(
  count: number,
  rowHeight: number,
  scrollTop: number,
  viewport: number,
  overscan = 8,
): Window {
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const visible = Math.ceil(Math.max(0, viewport) / rowHeight) + 1;
  const start = Math.max(0, Math.min(count, first - overscan));
  const end = Math.max(start, Math.min(count, first + visible + overscan));
  return { start, end, top: start * rowHeight, height: count * rowHeight };
}

/** Scroll position that brings `row` into view (unchanged if it already is). */
export function scrollIntoView(row: number, rowHeight: number, scrollTop: number, viewport: number): number {
  const y = row * rowHeight;
  if (y < scrollTop) return y;
  if (y + rowHeight > scrollTop + viewport) return y + rowHeight - viewport;
  return scrollTop;
}
