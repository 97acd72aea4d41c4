/**
 * Flow pane: one row per hop, one lane per component in exception-level order, an arrow per hop, rows grouped
 * per host call (a header row `FFA_MEM_SHARE → SUCCESS · 8 hops`, collapsible), badges for the deciding proxy
 * rule, page changes, rejections and invariant breaks. Virtualised with fixed-height rows: only the rows in view
 * exist in the DOM, so 10⁵ hops scroll like 10. An ARIA grid with aria-rowcount / aria-rowindex.
 */
import { h, laneLabel, type ViewContext } from '../ctx.ts';
import { headerCall, scrollIntoView, virtualWindow } from '../model/rows.ts';
import { type CallInfo, callInfo, eventAt, F, type TraceIndex } from '../model/trace-index.ts';

const ROW = 22;
const LANE_W = 74;
/** Left edge of the lanes: the seq column (50 px) and its padding (6 px). */
const LANE_X0 = 56;

function badges(ix: TraceIndex, from: number, to: number): HTMLElement[] {
  // Flags of the events that follow hop `from` up to the next hop (decisions and page changes attach to the hop
  // they follow); for a header row, the whole call.
  let flags = 0;
  let rule = '';
  let pages = 0;
  const fails: string[] = [];
  for (let i = from; i <= to; i++) {
    const f = ix.flags[i]!;
    flags |= f;
    if (f & F.PAGES) pages++;
  }
  if (flags & F.DECISION) {
    for (let i = from; i <= to && rule === ''; i++)
      if (ix.flags[i]! & F.DECISION) rule = String(eventAt(ix, i).rule ?? '');
  }
  if (flags & (F.INV | F.EXPECT))
    for (let i = from; i <= to; i++)
      if (ix.flags[i]! & (F.INV | F.EXPECT)) {
        const id = String(eventAt(ix, i).id ?? '');
        if (!fails.includes(id)) fails.push(id);
      }
  const out: HTMLElement[] = [];
  if (rule !== '') out.push(h('span', { class: `badge ${flags & F.REJECT ? 'rej' : 'rule'}`, text: rule }));
  if (pages > 0)
    out.push(h('span', { class: 'badge pages', text: `${pages} page change${pages > 1 ? 's' : ''}` }));
  for (const id of fails)
    out.push(
      h('span', {
        class: id.startsWith('I') ? 'badge inv' : 'badge err',
        text: id === 'expect' ? 'expectation failed' : `${id} broken`,
      }),
    );
  if (flags & F.HAZARD) out.push(h('span', { class: 'badge haz', text: 'hazard' }));
  return out;
}

export class FlowPane {
  readonly el: HTMLElement;
  private readonly grid: HTMLElement;
  private readonly spacer: HTMLElement;
  private readonly lanehead: HTMLElement;
  private ctx: ViewContext | undefined;
  private rendered = new Map<number, HTMLElement>();
  private lastKey = '';
  private lastRows: Int32Array | undefined;
  private lastIx: TraceIndex | undefined;

  constructor() {
    this.lanehead = h('div', { class: 'lanehead', 'aria-hidden': 'true' });
    this.spacer = h('div', { class: 'spacer', role: 'rowgroup' });
    this.grid = h(
      'div',
      {
        class: 'grid',
        role: 'grid',
        tabindex: 0,
        'aria-label': 'Flow: one row per hop, grouped by host call',
        'aria-readonly': 'true',
      },
      this.spacer,
    );
    this.el = h(
      'section',
      { class: 'pane flow', 'aria-label': 'Flow' },
      h(
        'h2',
        {},
        'Flow',
        h('span', { class: 'hint', text: 'j/k hop · J/K call · Enter collapse · / filter' }),
      ),
      this.lanehead,
      this.grid,
    );
    this.grid.addEventListener('scroll', () => this.paint());
    this.grid.addEventListener('click', (e) => {
      const row = (e.target as HTMLElement).closest<HTMLElement>('.row');
      if (row === null || this.ctx === undefined) return;
      const v = Number(row.dataset.v);
      if (v < 0) {
        if ((e.target as HTMLElement).closest('.twisty') !== null) this.ctx.toggleCall(headerCall(v));
        else {
          const info = callInfo(this.ctx.ix, headerCall(v));
          const first = info === undefined ? -1 : firstHop(this.ctx.ix, info);
          if (first >= 0) this.ctx.select(first, { scroll: false });
        }
      } else this.ctx.select(v, { scroll: false });
    });
    new ResizeObserver(() => this.paint()).observe(this.grid);
  }

  /** Re-renders for a new context (rows or selection changed). */
  update(ctx: ViewContext, o: { scroll?: boolean } = {}): void {
    // The context is the App itself: compare with what was rendered last, not with ctx's own fields.
    const rowsChanged = this.lastRows !== ctx.rows || this.lastIx !== ctx.ix;
    this.lastRows = ctx.rows;
    this.lastIx = ctx.ix;
    this.ctx = ctx;
    if (rowsChanged) {
      this.grid.setAttribute('aria-rowcount', String(ctx.rows.length));
      this.spacer.style.height = `${ctx.rows.length * ROW}px`;
      const lanes = ctx.ix.components;
      this.spacer.style.minWidth = `${LANE_X0 + lanes.length * LANE_W + 420}px`;
      this.lanehead.replaceChildren(
        ...lanes.map((c, i) => {
          const s = h('span', { text: laneLabel(c) });
          s.style.left = `${LANE_X0 + i * LANE_W + LANE_W / 2}px`;
          return s;
        }),
      );
      this.clear();
    }
    const sel = ctx.state.sel;
    if (o.scroll === true && sel >= 0) {
      let r = ctx.rowOf[sel] ?? -1;
      if (r < 0) {
        // Selected hop inside a collapsed call: bring its header into view.
        const call = ctx.ix.call[sel]!;
        for (let k = 0; k < ctx.rows.length; k++)
          if (ctx.rows[k] === -(call + 1)) {
            r = k;
            break;
          }
      }
      if (r >= 0)
        this.grid.scrollTop = scrollIntoView(r, ROW, this.grid.scrollTop, this.grid.clientHeight || 400);
    }
    // New rows (filter, collapse, new trace) re-render; a new selection only moves aria-selected.
    this.paint(rowsChanged);
    this.markSelection();
  }

  private markSelection(): void {
    const ctx = this.ctx;
    if (ctx === undefined) return;
    const sel = ctx.state.sel;
    const selCall = sel >= 0 ? ctx.ix.call[sel]! : -1;
    let active = '';
    for (const el of this.rendered.values()) {
      const v = Number(el.dataset.v);
      const on = v >= 0 ? v === sel : headerCall(v) === selCall && ctx.state.collapsed.includes(selCall);
      const want = on ? 'true' : 'false';
      if (el.getAttribute('aria-selected') !== want) el.setAttribute('aria-selected', want);
      if (on) active = el.id;
    }
    // Screen readers follow the selection through aria-activedescendant (focus stays on the grid).
    if (active !== '') this.grid.setAttribute('aria-activedescendant', active);
    else this.grid.removeAttribute('aria-activedescendant');
  }

  private clear(): void {
    for (const el of this.rendered.values()) el.remove();
    this.rendered.clear();
  }

  private paint(force = false): void {
    const ctx = this.ctx;
    if (ctx === undefined) return;
    const w = virtualWindow(ctx.rows.length, ROW, this.grid.scrollTop, this.grid.clientHeight || 600);
    const key = `${w.start}:${w.end}`;
    if (!force && key === this.lastKey) return;
    this.lastKey = key;
    const keep = new Map<number, HTMLElement>();
    for (let r = w.start; r < w.end; r++) {
      const v = ctx.rows[r]!;
      let el = this.rendered.get(r);
      if (el === undefined || el.dataset.v !== String(v) || force) {
        el?.remove();
        el = this.renderRow(ctx, r, v);
        this.spacer.append(el);
      }
      keep.set(r, el);
    }
    for (const [r, el] of this.rendered) if (!keep.has(r)) el.remove();
    this.rendered = keep;
    this.markSelection();
  }

  private renderRow(ctx: ViewContext, r: number, v: number): HTMLElement {
    const ix = ctx.ix;
    const selCall = ctx.state.sel >= 0 ? ix.call[ctx.state.sel]! : -1;
    let el: HTMLElement;
    if (v < 0) {
      const call = headerCall(v);
      const info = callInfo(ix, call);
      const collapsed = ctx.state.collapsed.includes(call);
      const title =
        call === 0
          ? `set-up · ${info?.hops ?? 0} hops`
          : `#${call} ${info?.name ?? '?'} → ${info?.status === '' ? '…' : (info?.status ?? '?')} · ${info?.hops ?? 0} hops`;
      el = h(
        'div',
        {
          class: 'row head',
          role: 'row',
          'aria-rowindex': r + 1,
          'aria-selected': collapsed && selCall === call ? 'true' : 'false',
        },
        h('span', {
          class: 'twisty',
          role: 'gridcell',
          'aria-expanded': collapsed ? 'false' : 'true',
          'aria-label': `host call ${call} ${collapsed ? 'collapsed' : 'expanded'}`,
          text: collapsed ? '▸' : '▾',
        }),
        h(
          'span',
          { class: 'name', role: 'gridcell' },
          title,
          ...(info ? badges(ix, info.first, info.last) : []),
        ),
      );
    } else {
      const lanes = ix.components.length;
      const from = ix.from[v]!;
      const to = ix.to[v]!;
      const ret = ix.dir[v] === 1;
      const arrow = h('div', { class: `arrow ${ret ? 'ret' : ''} ${to > from ? 'r' : 'l'}` });
      const x1 = Math.min(from, to) * LANE_W + LANE_W / 2;
      const x2 = Math.max(from, to) * LANE_W + LANE_W / 2;
      arrow.style.left = `${x1 + 4}px`;
      arrow.style.width = `${Math.max(4, x2 - x1 - 8)}px`;
      const laneBox = h('div', {
        class: 'lanes',
        role: 'gridcell',
        'aria-label': `${ix.components[from]} to ${ix.components[to]}`,
      });
      laneBox.style.width = `${lanes * LANE_W}px`;
      for (let k = 0; k < lanes; k++) {
        const l = h('div', { class: 'lane' });
        l.style.left = `${k * LANE_W + LANE_W / 2}px`;
        laneBox.append(l);
      }
      laneBox.append(arrow);
      // Events attached to this hop: up to the next hop.
      let end = v;
      while (end + 1 < ix.n && ix.kind[end + 1] !== 0) end++;
      el = h(
        'div',
        {
          class: 'row',
          role: 'row',
          'aria-rowindex': r + 1,
          'aria-selected': ctx.state.sel === v ? 'true' : 'false',
        },
        h('span', { class: 'seq', role: 'gridcell', text: String(ix.seq[v]) }),
        laneBox,
        h(
          'span',
          { class: 'name', role: 'gridcell' },
          `${ret ? '← ' : ''}${ix.names[ix.nameId[v]!] ?? '?'}`,
          ...(ix.flags[v]! & F.ERROR ? [h('span', { class: 'badge err', text: 'error' })] : []),
          ...(end > v ? badges(ix, v + 1, end) : []),
        ),
      );
    }
    el.dataset.v = String(v);
    el.id = v < 0 ? `flow-call-${headerCall(v)}` : `flow-hop-${v}`;
    el.style.top = `${r * ROW}px`;
    return el;
  }
}

/** First hop event of a call. */
export function firstHop(ix: TraceIndex, info: CallInfo): number {
  for (let i = info.first; i <= info.last; i++) if (ix.kind[i] === 0) return i;
  return -1;
}
