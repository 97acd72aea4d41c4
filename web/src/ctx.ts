/**
 * What panes share: the index, the view state, derived rows, and the actions a pane may ask for. The App
 * implements it; panes depend only on this interface (one shared selection, one place that changes state).
 */
import type { PageRow } from './model/pages.ts';
import type { TraceIndex } from './model/trace-index.ts';
import type { ViewState } from './model/view-state.ts';
import type { PageLabel } from './model/virtio.ts';

export interface ViewContext {
  readonly ix: TraceIndex;
  readonly state: ViewState;
  /** Flow rows (headers < 0, hop events ≥ 0) after filter and zoom. */
  readonly rows: Int32Array;
  /** Row of each event (-1 when not shown). */
  readonly rowOf: Int32Array;
  readonly pageRows: PageRow[];
  /** Labels of page ranges (virtio-msg virtqueue areas), derived from the trace (model/virtio.ts). */
  readonly pageLabels: PageLabel[];
  /** Trace B (profile B re-run), when one is loaded. */
  readonly traceB: TraceIndex | undefined;
  select(event: number, o?: { scroll?: boolean; focus?: boolean }): void;
  toggleCall(call: number): void;
  setZoom(z: [number, number] | undefined): void;
  setReg(reg: number): void;
  /** Lane label. */
  laneLabel(c: string): string;
}

/** Creates an element with attributes and children (the whole component layer: no framework, no diffing). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number | boolean | undefined> = {},
  ...children: (Node | string | undefined)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k === 'class') el.className = String(v);
    else if (k === 'text') el.textContent = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== undefined) el.append(c);
  return el;
}

export const LANE_LABEL: Record<string, string> = {
  host: 'host EL1',
  hyp: 'pKVM EL2',
  spmd: 'SPMD EL3',
  spmc: 'SPMC S-EL2',
};

export function laneLabel(c: string): string {
  return LANE_LABEL[c] ?? (c.startsWith('sp:') ? `SP ${c.slice(3)}` : c);
}

/** Hex of a number with 0x. */
export const hex = (n: number | bigint, pad = 0): string => `0x${n.toString(16).padStart(pad, '0')}`;
