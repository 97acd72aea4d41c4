/**
 * Page map (Canvas 2D): the physical ranges the trace touches (untouched gaps collapsed, marked ⋯) × trace
 * sequence. Fill = stage-2 state (host and hyp tables combined), a dark outline where the secure world can
 * reach the pages, red where an invariant broke, a line at the selected hop. Hover tells since when and by which
 * event and rule a range has its state; drag across time lists what changed. A text alternative lists every
 * range's state at the selection. The overview strip above shares the zoom window. Labelled ranges (a virtio-msg
 * virtqueue area: its rings, its buffer space) carry their label over the row while it holds, in the tooltip and
 * in the text alternative.
 */
import { h, hex, type ViewContext } from '../ctx.ts';
import { changesBetween, type PageRow, secureReachable, spanAt, stateLabel } from '../model/pages.ts';
import { callInfo, eventAt, eventAtSeq, F, type TraceIndex } from '../model/trace-index.ts';
import { labelAt, type PageLabel } from '../model/virtio.ts';

export const STATE_COLOURS: Record<string, string> = {
  'host owned': '#e4e8ec',
  'shared with hyp': '#8fbcf0',
  'shared with secure world': '#f2b84b',
  'lent (host has no access)': '#e98f83',
  'donated to hyp': '#b9a6ea',
};
const OTHER = '#c9c9c9';

export function seqRange(ix: TraceIndex): [number, number] {
  if (ix.n === 0) return [0, 1];
  const lo = ix.seq[0]!;
  const hi = ix.seq[ix.n - 1]!;
  return [lo, hi > lo ? hi : lo + 1];
}

/** Seqs of failing invariant checks. */
export function invSeqs(ix: TraceIndex): number[] {
  const out: number[] = [];
  for (let i = 0; i < ix.n; i++) if (ix.flags[i]! & F.INV) out.push(ix.seq[i]!);
  return out;
}

export interface InvariantRange {
  row: number;
  addr: string;
  seq: number;
  id: string;
}

/**
 * Page rows that failing invariant checks name: every address of 4+ hex digits in a check's detail (`holds
 * 0x88002000, host stage-2 OWNED`) that falls in a row.
 */
export function invariantRanges(ix: TraceIndex, rows: readonly PageRow[]): InvariantRange[] {
  const out: InvariantRange[] = [];
  for (let i = 0; i < ix.n && out.length < 1000; i++) {
    if (!(ix.flags[i]! & F.INV)) continue;
    const e = eventAt(ix, i);
    for (const m of String(e.detail ?? '').matchAll(/0x[0-9a-f]{4,13}\b/gi)) {
      const a = Number.parseInt(m[0].slice(2), 16);
      const row = rows.findIndex((r) => a >= r.addr && a < r.addr + r.size);
      if (row >= 0) out.push({ row, addr: m[0], seq: ix.seq[i]!, id: String(e.id) });
    }
  }
  return out;
}

function setupCanvas(c: HTMLCanvasElement): CanvasRenderingContext2D | undefined {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(c.clientWidth * dpr));
  const hh = Math.max(1, Math.round(c.clientHeight * dpr));
  if (c.width !== w || c.height !== hh) {
    c.width = w;
    c.height = hh;
  }
  const g = c.getContext('2d');
  if (g === null) return undefined;
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  return g;
}

/**
 * A cached layer: the static part of a canvas (everything but the selection line) painted once per key and
 * blitted on every redraw, so moving the selection costs one drawImage and a line.
 */
class Layer {
  private key = '';
  private readonly canvas = document.createElement('canvas');

  invalidate(): void {
    this.key = '';
  }

  get(key: string, w: number, h: number, paint: (g: CanvasRenderingContext2D) => void): HTMLCanvasElement {
    if (key !== this.key) {
      const dpr = window.devicePixelRatio || 1;
      this.canvas.width = Math.max(1, Math.round(w * dpr));
      this.canvas.height = Math.max(1, Math.round(h * dpr));
      const g = this.canvas.getContext('2d');
      if (g !== null) {
        g.setTransform(dpr, 0, 0, dpr, 0, 0);
        paint(g);
      }
      this.key = key;
    }
    return this.canvas;
  }
}

/** Trace identity for layer keys (the index object, numbered on first sight). */
const traceIds = new WeakMap<object, number>();
let nextTraceId = 1;
function traceId(o: object): number {
  let id = traceIds.get(o);
  if (id === undefined) {
    id = nextTraceId++;
    traceIds.set(o, id);
  }
  return id;
}

/** Breaks a long line at spaces so a tooltip stays narrow. */
function wrap(text: string, width: number): string {
  const out: string[] = [];
  let line = '';
  for (const w of text.split(' ')) {
    if (line !== '' && line.length + 1 + w.length > width) {
      out.push(line);
      line = w;
    } else line = line === '' ? w : `${line} ${w}`;
  }
  if (line !== '') out.push(line);
  return out.join('\n');
}

export class PageMapPane {
  readonly el: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly axis: HTMLElement;
  private readonly alt: HTMLElement;
  private readonly tip: HTMLElement;
  private readonly changes: HTMLElement;
  /** Row labels over the canvas (DOM text, so it stays sharp and selectable; pointer events pass through). */
  private readonly labelsEl: HTMLElement;
  private ctx: ViewContext | undefined;
  private drag: number | undefined;
  private invs: number[] = [];
  private invIx: TraceIndex | undefined;
  private invRows: PageRow[] | undefined;
  /** Ranges an invariant break names (for the red outline and the debug hook). */
  breaks: InvariantRange[] = [];
  /** Last redraw time in ms (for the benchmark). */
  lastDrawMs = 0;
  private readonly layer = new Layer();

  constructor() {
    this.canvas = h('canvas', { role: 'img', 'aria-label': 'Page map', 'aria-describedby': 'pagemap-alt' });
    this.axis = h('div', { class: 'axis', 'aria-hidden': 'true' });
    this.alt = h('div', { id: 'pagemap-alt', class: 'sr-only' });
    this.tip = h('div', { class: 'tip', hidden: true });
    this.changes = h('div', { class: 'changes', hidden: true, role: 'status' });
    this.labelsEl = h('div', { class: 'rowlabels', 'aria-hidden': 'true' });
    const legend = h(
      'span',
      { class: 'legend' },
      ...Object.entries(STATE_COLOURS).map(([k, c]) => {
        const i = h('i');
        i.style.background = c;
        return h('span', {}, i, k);
      }),
      (() => {
        const i = h('i');
        i.style.border = '2px solid #1b1f24';
        return h('span', {}, i, 'secure world can reach');
      })(),
      (() => {
        const i = h('i');
        i.style.background = '#d1242f';
        return h('span', {}, i, 'invariant broken');
      })(),
    );
    this.el = h(
      'section',
      { class: 'pane map', 'aria-label': 'Page map' },
      h(
        'h2',
        {},
        'Page map',
        h('span', { class: 'hint', text: 'w/s zoom · a/d pan · drag: what changed' }),
        legend,
      ),
      h('div', { class: 'mapwrap' }, this.axis, this.canvas, this.labelsEl, this.changes),
      this.alt,
      this.tip,
    );
    this.canvas.addEventListener('mousemove', (e) => this.hover(e));
    this.canvas.addEventListener('mouseleave', () => {
      this.tip.hidden = true;
    });
    this.canvas.addEventListener('mousedown', (e) => {
      this.drag = this.seqAtX(e.offsetX);
    });
    this.canvas.addEventListener('mouseup', (e) => {
      const ctx = this.ctx;
      if (ctx === undefined || this.drag === undefined) return;
      const a = this.drag;
      const b = this.seqAtX(e.offsetX);
      this.drag = undefined;
      if (Math.abs(b - a) < 1) {
        const ev = eventAtSeq(ctx.ix, b);
        // Click: select the hop at that time.
        for (let i = Math.min(ev, ctx.ix.n - 1); i >= 0; i--)
          if (ctx.ix.kind[i] === 0) {
            ctx.select(i, { scroll: true });
            break;
          }
        this.changes.hidden = true;
        return;
      }
      this.showChanges(ctx, a, b);
    });
    new ResizeObserver(() => this.draw()).observe(this.canvas);
  }

  private window(): [number, number] {
    const ctx = this.ctx!;
    return ctx.state.zoom ?? seqRange(ctx.ix);
  }

  private seqAtX(x: number): number {
    const [lo, hi] = this.window();
    return Math.round(lo + (x / Math.max(1, this.canvas.clientWidth)) * (hi - lo));
  }

  /** Row height: up to 24 px, and below 1 px when there are more rows than pixels (all rows still drawn). */
  private rowH(rows: number): number {
    return Math.min(24, (this.canvas.clientHeight || 150) / Math.max(1, rows));
  }

  showChanges(ctx: ViewContext, a: number, b: number): void {
    const list = changesBetween(ctx.ix, a, b);
    this.changes.hidden = false;
    this.changes.replaceChildren(
      h('div', { text: `${list.length} change(s) between #${Math.min(a, b)} and #${Math.max(a, b)}` }),
      ...list
        .slice(0, 200)
        .map((p) =>
          h('div', { text: `#${p.seq} ${p.table} ${hex(p.addr)} +${p.size / 4096}p ${p.from}→${p.to}` }),
        ),
    );
  }

  update(ctx: ViewContext): void {
    this.ctx = ctx;
    if (this.invIx !== ctx.ix || this.invRows !== ctx.pageRows) {
      this.invIx = ctx.ix;
      this.invRows = ctx.pageRows;
      this.invs = invSeqs(ctx.ix);
      this.breaks = invariantRanges(ctx.ix, ctx.pageRows);
      this.axisLabels(ctx.pageRows);
    }
    this.draw();
  }

  private axisLabels(rows: PageRow[]): void {
    const rh = this.rowH(rows.length);
    this.axis.replaceChildren(
      ...rows.slice(0, 400).flatMap((r, k) => {
        if (rh < 9) return [];
        const d = h('div', {
          text: `${r.gapBefore ? '⋯ ' : ''}${hex(r.addr)} +${r.size >= 1 << 20 ? `${r.size / (1 << 20)}M` : `${r.size / 1024}K`}`,
        });
        d.style.top = `${k * rh + rh / 2 - 6}px`;
        return [d];
      }),
    );
  }

  /** Redraws; `full` repaints the cached static layer too (the benchmark's page-map redraw). */
  draw(full = false): void {
    const ctx = this.ctx;
    if (ctx === undefined) return;
    const t0 = performance.now();
    if (full) this.layer.invalidate();
    const g = setupCanvas(this.canvas);
    if (g === undefined) return;
    const W = this.canvas.clientWidth;
    const H = this.canvas.clientHeight;
    const rows = ctx.pageRows;
    const [lo, hi] = this.window();
    const xOf = (s: number): number => ((s - lo) / (hi - lo)) * W;
    const rh = this.rowH(rows.length);
    const selSeq = ctx.state.sel >= 0 ? ctx.ix.seq[ctx.state.sel]! : hi;
    const key = `${traceId(ctx.ix)}:${traceId(rows)}:${W}x${H}:${lo}-${hi}:${window.devicePixelRatio}`;
    const layer = this.layer.get(key, W, H, (lg) => {
      lg.fillStyle = '#ffffff';
      lg.fillRect(0, 0, W, H);
      rows.forEach((r, k) => {
        // More rows than pixels: whole pixel lines, later rows over earlier ones, no blended sub-pixel colours.
        const y = rh < 2 ? Math.floor(k * rh) : k * rh;
        const hgt = rh < 2 ? Math.max(1, Math.floor((k + 1) * rh) - y) : rh;
        // At most one rectangle per pixel column: a range shared and reclaimed 10⁴ times still draws W rects.
        let lastPx = Number.NEGATIVE_INFINITY;
        for (let s = 0; s < r.spans.length; s++) {
          const sp = r.spans[s]!;
          const a = Math.max(lo, sp.seq);
          const b = Math.min(hi, r.spans[s + 1]?.seq ?? hi);
          if (b < lo || a > hi || b <= a) continue;
          const x1 = Math.max(xOf(a), lastPx);
          const x2 = Math.max(xOf(b), Math.floor(x1) + 1);
          if (x2 <= lastPx) continue;
          lastPx = x2;
          lg.fillStyle = STATE_COLOURS[stateLabel(sp.host, sp.hyp)] ?? OTHER;
          const pad = hgt >= 6 ? 1 : 0;
          lg.fillRect(Math.floor(x1), y + pad, Math.max(1, Math.round(x2 - x1)), hgt - 2 * pad);
          if (secureReachable(sp.host, sp.hyp) && x2 - x1 >= 3 && rh >= 6) {
            lg.strokeStyle = '#1b1f24';
            lg.lineWidth = 1.5;
            lg.strokeRect(x1 + 0.75, y + 1.75, x2 - x1 - 1.5, rh - 3.5);
          }
        }
        // A collapsed gap: a line above the row, when rows are tall enough to show it without hiding them.
        if (r.gapBefore && hgt >= 4) {
          lg.fillStyle = '#57606a';
          lg.fillRect(0, y, W, 1);
        }
      });
      lg.fillStyle = '#d1242f';
      for (const s of this.invs) if (s >= lo && s <= hi) lg.fillRect(xOf(s) - 1, 0, 2, H);
      // A range an invariant break names: red from the break on.
      lg.strokeStyle = '#d1242f';
      lg.lineWidth = 2.5;
      for (const b of this.breaks) {
        if (b.seq > hi) continue;
        // At least 10 px wide, so a break at the very end of the window still shows.
        const x1 = Math.min(xOf(Math.max(lo, b.seq)), W - 12);
        lg.strokeRect(x1 + 1.25, b.row * rh + 1.25, Math.max(10, W - x1 - 2.5), rh - 2.5);
      }
    });
    g.drawImage(layer, 0, 0, W, H);
    g.fillStyle = '#0550ae';
    g.fillRect(xOf(selSeq) - 0.5, 0, 1.5, H);
    this.drawLabels(ctx.pageLabels, rows, rh, lo, hi, W, `${key}:${ctx.pageLabels.length}`);
    this.lastDrawMs = performance.now() - t0;
    // Text alternative: every range at the selection.
    this.alt.textContent =
      rows.length === 0
        ? 'No page-state changes in this trace.'
        : `At #${selSeq}: ${rows
            .slice(0, 64)
            .map((r) => {
              const sp = spanAt(r, selSeq);
              const l = labelAt(ctx.pageLabels, r.addr, r.size, selSeq);
              return `${hex(r.addr)} (${r.size / 1024} KiB) ${stateLabel(sp.host, sp.hyp)}${secureReachable(sp.host, sp.hyp) ? ', secure world can reach' : ''}${l === undefined ? '' : `, ${l.label}`}`;
            })
            .join('; ')}${rows.length > 64 ? `; and ${rows.length - 64} more ranges` : ''}.${
            this.breaks.length > 0
              ? ` Invariant breaks: ${this.breaks
                  .slice(0, 16)
                  .map((b) => `${b.id} at #${b.seq} on ${b.addr}`)
                  .join('; ')}.`
              : ''
          }`;
    this.canvas.setAttribute(
      'aria-label',
      `Page map: ${rows.length} physical range(s) over sequence ${lo}–${hi}`,
    );
  }

  private labelKey = '';

  /**
   * The labels of the rows, each over the time it holds (from its start to its end, or the window's edge), when
   * rows are tall enough for 10 px text. Rebuilt only when the trace, rows, window or size change.
   */
  private drawLabels(
    labels: readonly PageLabel[],
    rows: readonly PageRow[],
    rh: number,
    lo: number,
    hi: number,
    W: number,
    key: string,
  ): void {
    if (key === this.labelKey) return;
    this.labelKey = key;
    if (labels.length === 0 || rh < 11) {
      this.labelsEl.replaceChildren();
      return;
    }
    const xOf = (s: number): number => ((s - lo) / (hi - lo)) * W;
    const out: HTMLElement[] = [];
    rows.forEach((r, k) => {
      for (const l of labels) {
        if (l.addr >= r.addr + r.size || r.addr >= l.addr + l.size) continue;
        if (l.from > hi || (l.to ?? hi) < lo) continue;
        const x1 = Math.max(0, xOf(Math.max(lo, l.from)));
        const x2 = Math.min(W, xOf(Math.min(hi, l.to ?? hi)));
        // A span too short for its text (a refused area, reclaimed at once): the text runs on to the right.
        const room = x2 - x1 < l.label.length * 6.5 ? W - x1 : x2 - x1;
        if (room < 24) continue;
        const d = h('div', { text: l.label });
        d.style.left = `${x1 + 4}px`;
        d.style.maxWidth = `${room - 8}px`;
        d.style.top = `${k * rh + rh / 2 - 7}px`;
        out.push(d);
      }
    });
    this.labelsEl.replaceChildren(...out);
  }

  private hover(e: MouseEvent): void {
    const ctx = this.ctx;
    if (ctx === undefined) return;
    const rows = ctx.pageRows;
    const rh = this.rowH(rows.length);
    const r = rows[Math.floor(e.offsetY / rh)];
    if (r === undefined) {
      this.tip.hidden = true;
      return;
    }
    const seq = this.seqAtX(e.offsetX);
    const sp = spanAt(r, seq);
    let by = 'state before the trace';
    if (sp.event >= 0) {
      const info = callInfo(ctx.ix, ctx.ix.call[sp.event]!);
      // The decision that explains the change: the first one after it in the same call (the proxy decides after
      // it moved the pages), else the last one before it.
      let rule = '';
      if (info !== undefined) {
        for (let i = sp.event; i <= info.last && rule === ''; i++)
          if (ctx.ix.flags[i]! & F.DECISION) rule = String(eventAt(ctx.ix, i).rule ?? '');
        for (let i = sp.event; i >= info.first && rule === ''; i--)
          if (ctx.ix.flags[i]! & F.DECISION) rule = String(eventAt(ctx.ix, i).rule ?? '');
      }
      by = `since #${sp.seq}, host call #${ctx.ix.call[sp.event]} ${info?.name ?? ''}${rule ? `, rule ${rule}` : ''}`;
    }
    const rowIx = rows.indexOf(r);
    const label = labelAt(ctx.pageLabels, r.addr, r.size, seq);
    const broken = this.breaks
      .filter((b) => b.row === rowIx && b.seq <= seq)
      .map((b) => `${b.id} broken at #${b.seq}`);
    this.tip.textContent = `${hex(r.addr)}–${hex(r.addr + r.size)} at #${seq}\n${stateLabel(sp.host, sp.hyp)} (host ${sp.host}, hyp ${sp.hyp})\n${by}${label === undefined ? '' : `\n${wrap(label.detail, 96)}`}${broken.length ? `\n${broken.join(', ')}` : ''}`;
    this.tip.style.left = `${e.clientX + 12}px`;
    this.tip.style.top = `${e.clientY - 40}px`;
    this.tip.hidden = false;
  }
}

export class OverviewPane {
  readonly el: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private ctx: ViewContext | undefined;
  private drag: number | undefined;
  private bins:
    | { ix: TraceIndex; w: number; hop: Uint32Array; err: Uint32Array; pg: Uint32Array; inv: Uint8Array }
    | undefined;
  /** Totals for the text alternative, per trace. */
  private totals: { ix: TraceIndex; errs: number; pages: number; invs: number } | undefined;
  private readonly layer = new Layer();

  constructor() {
    this.canvas = h('canvas', { role: 'img', 'aria-label': 'Overview' });
    this.el = h(
      'section',
      {
        class: 'pane overview',
        'aria-label': 'Overview: density of hops, errors and page changes; drag to zoom',
      },
      this.canvas,
    );
    this.canvas.addEventListener('mousedown', (e) => {
      this.drag = this.seqAtX(e.offsetX);
    });
    this.canvas.addEventListener('mouseup', (e) => {
      if (this.drag === undefined || this.ctx === undefined) return;
      const a = this.drag;
      const b = this.seqAtX(e.offsetX);
      this.drag = undefined;
      if (Math.abs(b - a) >= 2) this.ctx.setZoom([Math.min(a, b), Math.max(a, b)]);
    });
    this.canvas.addEventListener('dblclick', () => this.ctx?.setZoom(undefined));
    new ResizeObserver(() => this.draw()).observe(this.canvas);
  }

  private seqAtX(x: number): number {
    const [lo, hi] = seqRange(this.ctx!.ix);
    return Math.round(lo + (x / Math.max(1, this.canvas.clientWidth)) * (hi - lo));
  }

  update(ctx: ViewContext): void {
    this.ctx = ctx;
    this.draw();
  }

  draw(): void {
    const ctx = this.ctx;
    if (ctx === undefined) return;
    const g = setupCanvas(this.canvas);
    if (g === undefined) return;
    const W = Math.max(1, Math.floor(this.canvas.clientWidth));
    const H = this.canvas.clientHeight;
    const ix = ctx.ix;
    const [lo, hi] = seqRange(ix);
    if (this.bins?.ix !== ix || this.bins.w !== W) {
      const hop = new Uint32Array(W);
      const err = new Uint32Array(W);
      const pg = new Uint32Array(W);
      const inv = new Uint8Array(W);
      for (let i = 0; i < ix.n; i++) {
        const b = Math.min(W - 1, Math.floor(((ix.seq[i]! - lo) / (hi - lo)) * W));
        const f = ix.flags[i]!;
        if (ix.kind[i] === 0) hop[b]!++;
        if (f & (F.ERROR | F.REJECT)) err[b]!++;
        if (f & F.PAGES) pg[b]!++;
        if (f & F.INV) inv[b] = 1;
      }
      this.bins = { ix, w: W, hop, err, pg, inv };
    }
    const { hop, err, pg, inv } = this.bins;
    const layer = this.layer.get(`${traceId(ix)}:${W}x${H}:${window.devicePixelRatio}`, W, H, (lg) => {
      let max = 1;
      for (const v of hop) if (v > max) max = v;
      lg.fillStyle = '#ffffff';
      lg.fillRect(0, 0, W, H);
      for (let x = 0; x < W; x++) {
        const hh = (hop[x]! / max) * (H - 4);
        lg.fillStyle = '#aab4be';
        lg.fillRect(x, H - hh, 1, hh);
        if (pg[x]! > 0) {
          lg.fillStyle = '#6f42c1';
          lg.fillRect(x, 0, 1, 8);
        }
        if (err[x]! > 0) {
          lg.fillStyle = '#bc4c00';
          lg.fillRect(x, 9, 1, 8);
        }
        if (inv[x]) {
          lg.fillStyle = '#d1242f';
          lg.fillRect(x, 0, 1, H);
        }
      }
    });
    g.drawImage(layer, 0, 0, W, H);
    const z = ctx.state.zoom;
    if (z !== undefined) {
      const x1 = ((z[0] - lo) / (hi - lo)) * W;
      const x2 = ((z[1] - lo) / (hi - lo)) * W;
      g.fillStyle = 'rgba(5,80,174,0.12)';
      g.fillRect(x1, 0, x2 - x1, H);
      g.strokeStyle = '#0550ae';
      g.strokeRect(x1 + 0.5, 0.5, x2 - x1 - 1, H - 1);
    }
    if (ctx.state.sel >= 0) {
      g.fillStyle = '#0550ae';
      g.fillRect(((ix.seq[ctx.state.sel]! - lo) / (hi - lo)) * W - 0.5, 0, 1.5, H);
    }
    if (this.totals?.ix !== ix) {
      const t = { ix, errs: 0, pages: 0, invs: 0 };
      for (let i = 0; i < ix.n; i++) {
        const f = ix.flags[i]!;
        if (f & (F.ERROR | F.REJECT)) t.errs++;
        if (f & F.PAGES) t.pages++;
        if (f & F.INV) t.invs++;
      }
      this.totals = t;
    }
    const { errs, pages, invs } = this.totals;
    this.canvas.setAttribute(
      'aria-label',
      `Overview of ${ix.hops.length} hops over sequence ${lo}–${hi}: ${errs} errors or rejections, ${pages} page changes, ${invs} invariant breaks${z ? `; zoomed to ${z[0]}–${z[1]}` : ''}`,
    );
  }
}
