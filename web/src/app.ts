/**
 * The view: loads a trace (URL, dropped file, or the data a `--report` file embeds) through the indexing worker,
 * owns the one shared selection and view state (mirrored in the URL hash), and updates the panes. Keyboard first
 * (`?` lists the keys). Everything heavy that is not needed for the first paint — the what-if engine (the whole
 * model), the Perfetto and Mermaid exporters — loads on first use.
 */
import { h, hex, LANE_LABEL, laneLabel, type ViewContext } from './ctx.ts';
import { filterHops, parseFilter } from './model/filter.ts';
import { type PageRow, pageRows, rangesAt } from './model/pages.ts';
import { buildRows, headerCall } from './model/rows.ts';
import { callInfo, eventAt, F, IndexBuilder, indexTrace, type TraceIndex } from './model/trace-index.ts';
import { defaultState, fromHash, REG_MODES, toHash, type ViewState } from './model/view-state.ts';
import {
  labelAt,
  labelCuts,
  type PageLabel,
  tracePageSize,
  virtioAreas,
  virtioPageLabels,
} from './model/virtio.ts';
import { BytesPane } from './panes/bytes.ts';
import { DetailsPane, regsOf } from './panes/details.ts';
import { FlowPane, firstHop } from './panes/flow.ts';
import { OverviewPane, PageMapPane, seqRange } from './panes/pagemap.ts';
import { RegistersPane } from './panes/registers.ts';
import type { WorkerIn, WorkerOut } from './worker.ts';
import IndexWorker from './worker.ts?worker&inline';

export interface Sources {
  /** Trace URL or bytes. */
  trace?: { url: string } | { bytes: ArrayBuffer } | { file: Blob };
  /** Replay file text for what-if re-runs. */
  replay?: string;
  /** World JSON the trace ran in (`ffasim view --world`), for what-if re-runs. */
  world?: string;
  /** Where "Open in Perfetto" goes (a local stub in tests). */
  perfettoUrl: string;
}

export const KEYS: readonly [string, string][] = [
  ['j / k', 'next / previous hop'],
  ['J / K', 'next / previous host call'],
  ['↓ ↑', 'next / previous hop (in the flow grid)'],
  ['Enter', 'collapse or expand the selected call'],
  ['/', 'filter (name:MEM_SHARE from:hyp status:!SUCCESS rule:… page:0x… inv:I1)'],
  ['Esc', 'leave the filter, close dialogs'],
  ['e', 'explain: expand the decisions (proxy, SPMC, SPMD) with their change and source'],
  ['r', 'register diff mode: in/out → proxy changes → profile A vs B'],
  ['b', 'choose profile B (re-runs the scenario in the page)'],
  ['n', 'jump to the first divergence between profiles A and B'],
  ['x', 'what-if: edit a register of this host call, or switch profile, and re-run'],
  ['0–9', 'show x0–x9 in the bit strip (Shift+0–7: x10–x17; or a register button, then ↑ ↓)'],
  ['w / s', 'zoom the page map and flow in / out in time'],
  ['a / d', 'pan left / right in time'],
  ['i', 'go to the first invariant break'],
  ['p', 'open in Perfetto'],
  ['c', 'copy the host call as a replay line'],
  ['C', 'copy the registers as a crash-log dump'],
  ['m', 'copy the selected call as Mermaid (with a filter: every call it shows)'],
  ['?', 'this list'],
];

type Lazy = typeof import('./lazy.ts');

/** Events the page indexes itself from the head of a URL to paint the first rows (a screen holds ~40). */
const HEAD_EVENTS = 300;

export class App implements ViewContext {
  ix!: TraceIndex;
  state: ViewState = defaultState();
  rows: Int32Array = new Int32Array(0);
  rowOf: Int32Array = new Int32Array(0);
  pageRows: PageRow[] = [];
  pageLabels: PageLabel[] = [];
  traceB: TraceIndex | undefined;
  readonly flow = new FlowPane();
  readonly details = new DetailsPane();
  readonly regs = new RegistersPane();
  readonly bytes = new BytesPane();
  readonly map = new PageMapPane();
  readonly overview = new OverviewPane();
  private readonly root: HTMLElement;
  private readonly filterInput: HTMLInputElement;
  private readonly statusEl: HTMLElement;
  private readonly metaEl: HTMLElement;
  private readonly errorsEl: HTMLElement;
  private readonly shell: HTMLElement;
  private lazy: Promise<Lazy> | undefined;
  private hashTimer: ReturnType<typeof setTimeout> | undefined;
  readonly metrics: Record<string, number> = {};
  private loadT0 = 0;
  private readonly sources: Sources;
  /** The trace as first loaded (what-if runs replace `ix`; this stays profile A's original). */
  private original: TraceIndex | undefined;
  private loadToken = 0;
  private worker: Worker | undefined;
  /** The view the URL asked for, applied once the index it refers to is complete. */
  private wanted: ViewState | undefined;
  private pageTruncated = false;

  constructor(root: HTMLElement, sources: Sources) {
    this.root = root;
    this.sources = sources;
    this.filterInput = h('input', {
      id: 'filter',
      type: 'search',
      placeholder: '/ filter: name:MEM_SHARE status:!SUCCESS inv:I1',
      'aria-label': 'Filter hops',
      spellcheck: 'false',
      autocomplete: 'off',
    });
    this.statusEl = h('span', { class: 'status', role: 'status', 'aria-live': 'polite' });
    this.metaEl = h('span', { class: 'meta' });
    this.errorsEl = h('div', { class: 'errors', role: 'alert' });
    const btn = (label: string, key: string, fn: () => void, title?: string): HTMLButtonElement => {
      const b = h('button', { type: 'button', 'aria-keyshortcuts': key || undefined, title, text: label });
      b.addEventListener('click', fn);
      return b;
    };
    const header = h(
      'header',
      { class: 'top' },
      h('h1', { text: 'ffasim view' }),
      this.metaEl,
      h('span', { class: 'grow' }),
      this.filterInput,
      this.statusEl,
      btn('What-if', 'x', () => void this.whatIfDialog()),
      btn('Profile B', 'b', () => void this.profileBDialog()),
      btn('Perfetto', 'p', () => void this.openPerfetto()),
      h('span', { class: 'meta', text: 'Copy' }),
      btn('replay', 'c', () => void this.copy('replay'), 'Copy the host call as a replay line'),
      btn('regs', 'Shift+C', () => void this.copy('crash'), 'Copy the registers as a crash-log dump'),
      btn('Mermaid', 'm', () => void this.copy('mermaid'), 'Copy the selected call as Mermaid'),
      btn('Keys', '?', () => this.help(), 'Keyboard shortcuts'),
      btn('Open…', '', () => this.pickFile()),
    );
    const side = h('div', { class: 'side' }, this.details.el, this.regs.el, this.bytes.el);
    this.shell = h('main', { class: 'shell' }, header, this.overview.el, this.flow.el, side, this.map.el);
    this.filterInput.addEventListener('input', () => this.applyFilter(this.filterInput.value));
    this.filterInput.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' || e.key === 'Enter') {
        e.preventDefault();
        (this.flow.el.querySelector('.grid') as HTMLElement).focus();
      }
    });
    window.addEventListener('keydown', (e) => this.key(e));
    window.addEventListener('hashchange', () => {
      if (location.hash !== toHash(this.state)) this.applyState(fromHash(location.hash));
    });
    this.installDrop();
  }

  laneLabel(c: string): string {
    return laneLabel(c);
  }

  // ---------------------------------------------------------------- loading

  /** Starts loading; resolves when the full index is in. */
  load(): Promise<void> {
    const t = this.sources.trace;
    if (t === undefined) {
      this.showPicker();
      return Promise.resolve();
    }
    return this.loadFrom(t);
  }

  private loadFrom(msg: WorkerIn): Promise<void> {
    this.loadT0 = performance.now();
    this.metrics.loadStartDate = Date.now();
    this.status('loading…');
    // A newer load (a dropped file while a URL still streams) wins: the old worker stops, its messages are ignored.
    const token = ++this.loadToken;
    this.worker?.terminate();
    this.worker = undefined;
    return new Promise((resolve) => {
      const onMsg = (m: WorkerOut): void => {
        if (token !== this.loadToken) {
          resolve();
          return;
        }
        if (m.type === 'error') {
          this.status(m.message, true);
          this.errorsEl.textContent = `Cannot open the trace: ${m.message}`;
          if (!this.shell.isConnected) this.root.replaceChildren(this.errorsEl);
          resolve();
          return;
        }
        const recv = Date.now();
        const ts = performance.now();
        this.setIndex(m.index);
        this.metrics.setIndexMs ??= performance.now() - ts;
        if (m.type === 'partial') this.metrics.snapshotLatency = recv - (m.marks.snapshot ?? recv);
        // Times since the load started and since navigation start (what a user waits for).
        if (this.metrics.firstRowsMs === undefined) {
          this.metrics.firstRowsMs = performance.now() - this.loadT0;
          this.metrics.firstRowsAt = performance.now();
        }
        if (m.type === 'partial') {
          const t = Date.now();
          for (const [k, v] of Object.entries(m.marks)) this.metrics[`w_${k}`] = t - v;
          return;
        }
        this.metrics.indexMs = performance.now() - this.loadT0;
        this.metrics.workerMs = m.ms;
        this.metrics.parseMs = m.parseMs;
        this.metrics.chunks = m.chunks;
        this.metrics.indexAt = performance.now();
        this.original = m.index;
        resolve();
      };
      /** Starts the indexing worker on `m` (a fallback indexes on this thread when workers fail). */
      const spawn = (m: WorkerIn, transfer: Transferable[] = []): void => {
        if (token !== this.loadToken) return;
        let worker: Worker | undefined;
        try {
          worker = new IndexWorker();
          this.worker = worker;
        } catch {
          worker = undefined;
        }
        const fallback = (): void => {
          void import('./worker.ts').then((w) => w.indexStream('stream' in m ? msg : m, onMsg));
        };
        if (worker === undefined) {
          fallback();
          return;
        }
        worker.onmessage = (e: MessageEvent<WorkerOut>) => {
          // The page may already show more than the worker's first snapshot (see paintHead).
          if (e.data.type === 'partial' && this.ix !== undefined && this.ix.n >= e.data.index.n) return;
          onMsg(e.data);
          if (e.data.type !== 'partial') worker?.terminate();
        };
        worker.onerror = () => {
          worker?.terminate();
          fallback();
        };
        try {
          worker.postMessage(m, transfer);
        } catch {
          // No transferable streams: the worker fetches the URL itself.
          worker.postMessage(msg);
        }
      };
      if ('url' in msg) void this.startUrl(msg.url, token, onMsg, spawn);
      else spawn(msg);
    });
  }

  /**
   * Opens a trace URL here and tees the body: the first rows are painted from the head of one branch, then the
   * worker starts and gets the other (a transferred stream) to index the whole file. Starting the worker after the
   * first paint keeps its start-up off the critical path.
   */
  private async startUrl(
    url: string,
    token: number,
    onMsg: (m: WorkerOut) => void,
    spawn: (m: WorkerIn, transfer?: Transferable[]) => void,
  ): Promise<void> {
    let body: ReadableStream<Uint8Array>;
    try {
      const r = await fetch(url);
      if (!r.ok || r.body === null) throw new Error(`cannot load ${url}: HTTP ${r.status}`);
      body = r.body;
    } catch (e) {
      onMsg({ type: 'error', message: (e as Error).message });
      return;
    }
    const [mine, theirs] = body.tee();
    await this.paintHead(mine, token);
    spawn({ stream: theirs }, [theirs as unknown as Transferable]);
  }

  /** Indexes the head of a stream on this thread (enough for the first screen) and shows it; then lets go. */
  private async paintHead(s: ReadableStream<Uint8Array>, token: number): Promise<void> {
    const reader = s.getReader();
    try {
      const b = new IndexBuilder();
      for (let read = 0; read < 1 << 20; ) {
        const { done, value } = await reader.read();
        if (done || token !== this.loadToken) break;
        if (read === 0 && value.length >= 2 && value[0] === 0x1f && value[1] === 0x8b) break; // gzip: the worker's
        read += value.length;
        for (let o = 0; o < value.length && b.events < HEAD_EVENTS; o += 32 * 1024)
          b.push(value.subarray(o, o + 32 * 1024));
        if (b.events >= HEAD_EVENTS) {
          if (this.ix === undefined || !this.ix.complete) {
            this.setIndex(b.snapshot());
            this.metrics.firstRowsMs ??= performance.now() - this.loadT0;
            this.metrics.firstRowsAt ??= performance.now();
            this.metrics.headPaint = 1;
          }
          break;
        }
      }
    } finally {
      void reader.cancel();
    }
  }

  /** Loads trace text directly (what-if results). */
  loadText(jsonl: string): void {
    this.setIndex(indexTrace(jsonl));
  }

  setIndex(ix: TraceIndex): void {
    const first = this.ix === undefined;
    this.ix = ix;
    const info = { truncated: false };
    // virtio-msg areas label their pages; rows split where a label starts or ends.
    this.pageLabels = virtioPageLabels(virtioAreas(ix), tracePageSize(ix));
    this.pageRows = pageRows(ix, info, labelCuts(this.pageLabels));
    this.pageTruncated = info.truncated;
    if (first) {
      this.root.replaceChildren(this.shell);
      this.wanted = fromHash(location.hash);
      this.state = { ...this.wanted, sel: -1 };
      this.filterInput.value = this.state.filter;
    }
    const hdr = ix.header;
    const base = `${String(hdr?.scenario ?? 'trace')} · ${String(hdr?.profile ?? '?')} · ${ix.n} events · ${ix.hops.length} hops · ${ix.calls.length} host calls${ix.complete ? '' : ' (reading…)'}${this.pageTruncated ? ' · page map truncated (too many overlapping ranges)' : ''}`;
    this.metaEl.textContent = base;
    this.errorsEl.replaceChildren(
      ...ix.errors.slice(0, 20).map((e) => h('div', { text: `line ${e.line}: ${e.message}` })),
    );
    if (ix.errors.length > 0 && !this.errorsEl.isConnected)
      this.shell.querySelector('header')?.after(this.errorsEl);
    const w = this.wanted;
    if (ix.complete && w !== undefined) {
      // The whole trace is in: apply the link's selection, or open at the first invariant break (a shrunk fuzzer
      // finding), or at the first hop.
      this.wanted = undefined;
      this.state.sel = w.sel >= 0 && w.sel < ix.n ? w.sel : (this.firstInvariantHop() ?? ix.hops[0] ?? -1);
      this.state.zoom = this.clampZoom(w.zoom);
      // A link with profile B re-runs it, so the profile diff shows what the link showed.
      if (w.profileB !== '') void this.runProfileB(w.profileB, w.mode);
    } else if (w !== undefined) {
      // Still reading: show the link's hop if it has arrived, else the first.
      this.state.sel = w.sel >= 0 && w.sel < ix.n ? w.sel : (ix.hops[0] ?? -1);
    } else if (this.state.sel >= ix.n) this.state.sel = ix.hops[0] ?? -1;
    this.state.sel = this.hopAtOrBefore(this.state.sel);
    this.rebuildRows();
    if (first && !ix.complete) {
      // First rows first: the flow now, the other panes on the next task.
      const t = performance.now();
      this.flow.update(this, { scroll: true });
      this.metrics.firstFlowMs = performance.now() - t;
      setTimeout(() => this.render(), 0);
    } else this.render({ scroll: true });
    this.status(
      ix.complete ? `${ix.errors.length ? `${ix.errors.length} bad line(s)` : 'ready'}` : 'reading…',
      ix.errors.length > 0,
    );
  }

  /**
   * The hop where the first break of invariant `id` (default: the one a fuzzer finding's replay file names in its
   * first line, else any) became visible: the last hop before the failing check.
   */
  firstInvariantHop(id = this.findingInvariant()): number | undefined {
    const ix = this.ix;
    for (const pass of id === undefined ? [undefined] : [id, undefined]) {
      for (let i = 0; i < ix.n; i++) {
        if (!(ix.flags[i]! & F.INV)) continue;
        if (pass !== undefined && eventAt(ix, i).id !== pass) continue;
        const info = callInfo(ix, ix.call[i]!);
        if (info === undefined) return undefined;
        for (let k = i; k >= info.first; k--) if (ix.kind[k] === 0) return k;
        const f = firstHop(ix, info);
        return f >= 0 ? f : undefined;
      }
    }
    return undefined;
  }

  /** `I4` from a replay file written by `ffasim fuzz` (`# ffasim fuzz finding: I4 — …`). */
  private findingInvariant(): string | undefined {
    return /^# ffasim fuzz finding: (I\d+)/.exec(this.sources.replay ?? '')?.[1];
  }

  // ---------------------------------------------------------------- state

  private rebuildRows(): void {
    const ix = this.ix;
    const p = parseFilter(this.state.filter);
    this.filterInput.setAttribute('aria-invalid', p.ok ? 'false' : 'true');
    if (!p.ok) this.status(p.error, true);
    let hops = p.ok ? filterHops(ix, p.terms) : ix.hops;
    const z = this.state.zoom;
    if (z !== undefined) {
      const out = new Int32Array(hops.length);
      let n = 0;
      for (const hp of hops) {
        const s = ix.seq[hp]!;
        if (s >= z[0] && s <= z[1]) out[n++] = hp;
      }
      hops = out.slice(0, n);
    }
    this.rows = buildRows(ix, hops, new Set(this.state.collapsed));
    if (this.rowOf.length !== ix.n) this.rowOf = new Int32Array(ix.n);
    this.rowOf.fill(-1);
    for (let r = 0; r < this.rows.length; r++) {
      const v = this.rows[r]!;
      if (v >= 0) this.rowOf[v] = r;
    }
    this.metrics.shownRows = this.rows.length;
  }

  private render(o: { scroll?: boolean } = {}): void {
    if (this.ix === undefined) return;
    this.flow.update(this, o);
    this.details.update(this);
    this.regs.update(this);
    this.bytes.update(this);
    this.map.update(this);
    this.overview.update(this);
    this.saveHash();
  }

  private saveHash(): void {
    // While the trace still streams the selection is provisional: keep the link as it was.
    if (this.wanted !== undefined) return;
    if (this.hashTimer !== undefined) clearTimeout(this.hashTimer);
    this.hashTimer = setTimeout(() => {
      const hsh = toHash(this.state);
      if (hsh !== location.hash)
        history.replaceState(null, '', hsh === '' ? location.pathname + location.search : hsh);
    }, 60);
  }

  /** A hop at or before event `i` (selection is always a hop), or the first hop, or -1. */
  private hopAtOrBefore(i: number): number {
    const ix = this.ix;
    if (i < 0 || i >= ix.n) return ix.hops[0] ?? -1;
    for (let k = i; k >= 0; k--) if (ix.kind[k] === 0) return k;
    return ix.hops[0] ?? -1;
  }

  /** A zoom window cut to the trace's seq range (undefined when nothing of it is left). */
  private clampZoom(z: [number, number] | undefined): [number, number] | undefined {
    if (z === undefined) return undefined;
    const [lo, hi] = seqRange(this.ix);
    const a = Math.max(lo, z[0]);
    const b = Math.min(hi, z[1]);
    return b > a ? [a, b] : undefined;
  }

  private applyState(s: ViewState): void {
    if (this.ix === undefined) return; // the picker: nothing to apply yet
    // A hash edited by hand: keep what fits this trace.
    s.sel = this.hopAtOrBefore(s.sel);
    s.zoom = this.clampZoom(s.zoom);
    this.state = s;
    this.filterInput.value = s.filter;
    this.rebuildRows();
    this.render({ scroll: true });
  }

  select(event: number, o: { scroll?: boolean; focus?: boolean } = {}): void {
    if (event < 0 || event >= this.ix.n) return;
    this.state.sel = event;
    this.render({ scroll: o.scroll !== false });
  }

  toggleCall(call: number): void {
    const c = this.state.collapsed;
    const k = c.indexOf(call);
    if (k >= 0) c.splice(k, 1);
    else c.push(call);
    this.rebuildRows();
    this.render({ scroll: true });
  }

  setZoom(z: [number, number] | undefined): void {
    this.state.zoom = z;
    this.rebuildRows();
    this.render({ scroll: true });
  }

  setReg(reg: number): void {
    this.state.reg = Math.max(0, Math.min(17, reg));
    this.regs.update(this);
    this.saveHash();
  }

  applyFilter(text: string): void {
    const t0 = performance.now();
    this.state.filter = text;
    this.rebuildRows();
    // Keep the selection when it still shows; otherwise select the first match.
    if (this.state.sel >= 0 && this.rowOf[this.state.sel]! < 0) {
      const firstHopRow = this.rows.find((v) => v >= 0);
      if (firstHopRow !== undefined) this.state.sel = firstHopRow;
    }
    this.render({ scroll: true });
    this.metrics.filterMs = performance.now() - t0;
    const p = parseFilter(text);
    if (p.ok) this.status(`${this.rows.filter((v) => v >= 0).length} hop(s) match`);
  }

  /** Moves the selection by `d` hops among the shown rows (or by calls). */
  step(d: number, byCall = false): void {
    const ix = this.ix;
    const rows = this.rows;
    if (rows.length === 0) return;
    let r = this.state.sel >= 0 ? this.rowOf[this.state.sel]! : -1;
    if (r < 0) {
      // Selection hidden (collapsed or filtered): start from the call header.
      const call = this.state.sel >= 0 ? ix.call[this.state.sel]! : -1;
      r = Math.max(0, rows.indexOf(-(call + 1)));
    }
    if (byCall) {
      const curCall = rows[r]! < 0 ? headerCall(rows[r]!) : ix.call[rows[r]!]!;
      for (let k = r + d; k >= 0 && k < rows.length; k += d) {
        const v = rows[k]!;
        if (v < 0 && headerCall(v) !== curCall) {
          const info = callInfo(ix, headerCall(v));
          const fh = k + 1 < rows.length && rows[k + 1]! >= 0 ? rows[k + 1]! : info ? firstHop(ix, info) : -1;
          if (fh >= 0) this.select(fh);
          return;
        }
      }
      return;
    }
    for (let k = r + d; k >= 0 && k < rows.length; k += d) {
      if (rows[k]! >= 0) {
        this.select(rows[k]!);
        return;
      }
    }
  }

  // ---------------------------------------------------------------- keyboard

  private key(e: KeyboardEvent): void {
    if (this.ix === undefined) return;
    const t = e.target as HTMLElement;
    if (t instanceof HTMLInputElement || t instanceof HTMLSelectElement || t instanceof HTMLTextAreaElement)
      return;
    if (document.querySelector('dialog[open]') !== null) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    // Enter and Space on a focused button or tab activate it; they are not view keys there.
    if ((e.key === 'Enter' || e.key === ' ') && t.closest('button, [role="tab"]') !== null) return;
    // Inside the details tree the arrows, Home/End, Enter and Space navigate the tree.
    if (t.closest('[role="tree"], .fieldlist') !== null && /^(Arrow|Home$|End$|Enter$| $)/.test(e.key))
      return;
    const [lo, hi] = seqRange(this.ix);
    const z = this.state.zoom ?? [lo, hi];
    const span = z[1] - z[0];
    const handled = (() => {
      switch (e.key) {
        case 'j':
        case 'ArrowDown':
          this.step(1);
          return true;
        case 'k':
        case 'ArrowUp':
          this.step(-1);
          return true;
        case 'J':
          this.step(1, true);
          return true;
        case 'K':
          this.step(-1, true);
          return true;
        case 'Enter':
          if (this.state.sel >= 0) this.toggleCall(this.ix.call[this.state.sel]!);
          return true;
        case '/':
          this.filterInput.focus();
          this.filterInput.select();
          return true;
        case 'e':
          this.state.explain = !this.state.explain;
          this.render();
          return true;
        case 'r': {
          const k = REG_MODES.indexOf(this.state.mode);
          this.state.mode = REG_MODES[(k + 1) % REG_MODES.length]!;
          this.render();
          return true;
        }
        case 'b':
          void this.profileBDialog();
          return true;
        case 'n':
          void this.jumpToDivergence();
          return true;
        case 'x':
          void this.whatIfDialog();
          return true;
        case 'i': {
          const inv = this.firstInvariantHop();
          if (inv !== undefined) this.select(inv);
          else this.status('no invariant break in this trace');
          return true;
        }
        case 'w': {
          const c = this.state.sel >= 0 ? this.ix.seq[this.state.sel]! : (z[0] + z[1]) / 2;
          const nspan = Math.max(8, Math.floor(span / 2));
          const a = Math.max(lo, Math.round(c - nspan / 2));
          this.setZoom([a, Math.min(hi, a + nspan)]);
          return true;
        }
        case 's': {
          const nspan = span * 2;
          if (nspan >= hi - lo) this.setZoom(undefined);
          else {
            const a = Math.max(lo, Math.round((z[0] + z[1]) / 2 - nspan / 2));
            this.setZoom([a, Math.min(hi, a + nspan)]);
          }
          return true;
        }
        case 'a':
        case 'd': {
          if (this.state.zoom === undefined) return true;
          const dx = Math.round(span / 4) * (e.key === 'a' ? -1 : 1);
          const a = Math.max(lo, Math.min(hi - span, z[0] + dx));
          this.setZoom([a, a + span]);
          return true;
        }
        case 'p':
          void this.openPerfetto();
          return true;
        case 'c':
          void this.copy('replay');
          return true;
        case 'C':
          void this.copy('crash');
          return true;
        case 'm':
          void this.copy('mermaid');
          return true;
        case '?':
          this.help();
          return true;
        default:
          if (/^Digit[0-9]$/.test(e.code)) {
            const d = Number(e.code.slice(5));
            if (!e.shiftKey) this.setReg(d);
            else if (d <= 7) this.setReg(10 + d);
            else return false;
            return true;
          }
          return false;
      }
    })();
    if (handled) e.preventDefault();
  }

  // ---------------------------------------------------------------- actions

  status(text: string, error = false): void {
    this.statusEl.textContent = text;
    this.statusEl.classList.toggle('error', error);
  }

  private loadLazy(): Promise<Lazy> {
    this.lazy ??= import('./lazy.ts');
    return this.lazy;
  }

  private whatIfSource(): { scenario?: string; replay?: string; world?: string } {
    const sc = this.original?.header?.scenario ?? this.ix.header?.scenario;
    return {
      ...(typeof sc === 'string' ? { scenario: sc } : {}),
      ...(this.sources.replay === undefined ? {} : { replay: this.sources.replay }),
      ...(this.sources.world === undefined ? {} : { world: this.sources.world }),
    };
  }

  /** Re-runs the scenario under profile B and keeps it for the profile diff and `n`. */
  async runProfileB(profile: string, mode: ViewState['mode'] = 'profiles'): Promise<string | undefined> {
    const lz = await this.loadLazy();
    const r = lz.runWhatIf(this.whatIfSource(), profile);
    if (!r.ok) {
      this.status(r.error, true);
      return r.error;
    }
    this.traceB = indexTrace(r.jsonl);
    this.state.profileB = profile;
    this.state.mode = mode;
    this.render();
    this.status(`profile B = ${profile}`);
    return undefined;
  }

  async jumpToDivergence(): Promise<void> {
    if (this.traceB === undefined) {
      this.status('choose profile B first (b)', true);
      return;
    }
    const lz = await this.loadLazy();
    const d = lz.firstDivergence(this.ix, this.traceB);
    if (d === undefined) {
      this.status('profiles A and B agree on every host call');
      return;
    }
    const hop = lz.hostCallHop(this.ix, d.call);
    if (hop !== undefined) this.select(hop);
    this.status(`first divergence: host call #${d.call} — ${d.why}`);
  }

  private async profileBDialog(): Promise<void> {
    const lz = await this.loadLazy();
    const why = lz.whatIfAvailable(this.whatIfSource());
    const sel = h(
      'select',
      { 'aria-label': 'Profile B' },
      ...lz.PROFILE_NAMES.map((p) => h('option', { value: p, text: p, selected: p === this.state.profileB })),
    );
    const msg = h('p', { text: why ?? 'Re-runs the scenario in this page under profile B.' });
    const d = this.dialog('Profile B', msg, h('label', {}, 'Profile B ', sel));
    const ok = h('button', { type: 'button', text: 'Run B', disabled: why !== undefined });
    ok.addEventListener('click', async () => {
      const err = await this.runProfileB(sel.value);
      if (err === undefined) d.close();
      else msg.textContent = err;
    });
    d.querySelector('.actions')?.prepend(ok);
    d.showModal();
    sel.focus();
  }

  private async whatIfDialog(): Promise<void> {
    const lz = await this.loadLazy();
    const src = this.whatIfSource();
    const why = lz.whatIfAvailable(src);
    const call = this.state.sel >= 0 ? this.ix.call[this.state.sel]! : 0;
    const hop = lz.hostCallHop(this.ix, call);
    const regs = hop === undefined ? undefined : regsOf(eventAt(this.ix, hop));
    // The trace's own profile: its base, and the changes `--with`/`--without` added or removed.
    const made = lz.profileOfHeader(this.original?.header ?? this.ix.header);
    const profSel = h(
      'select',
      { 'aria-label': 'Profile' },
      ...lz.PROFILE_NAMES.map((p) => h('option', { value: p, text: p, selected: p === made.base })),
    );
    const tweaks = [...made.with.map((c) => `+${c}`), ...made.without.map((c) => `-${c}`)];
    const inputs: HTMLInputElement[] = [];
    const grid = h('div', { class: 'whatif-regs' });
    for (let r = 0; r < 18; r++) {
      const inp = h('input', {
        'aria-label': `x${r} of host call ${call}`,
        value: regs?.[r] ?? '0x0',
        disabled: regs === undefined,
        spellcheck: 'false',
      });
      inputs.push(inp);
      grid.append(h('span', { 'aria-hidden': 'true', text: `x${r}` }), inp);
    }
    const msg = h('p', {
      text:
        why ??
        (regs === undefined
          ? 'Select a host call to edit its registers; the profile can change for any trace.'
          : `Edit host call #${call} (${callInfo(this.ix, call)?.name}) and re-run the scenario in this page.`),
    });
    const d = this.dialog(
      'What-if',
      msg,
      h('label', {}, 'Profile ', profSel),
      ...(tweaks.length > 0
        ? [
            h('p', {
              text: `The trace ran with ${tweaks.join(' ')}; kept while the profile stays ${made.base}.`,
            }),
          ]
        : []),
      grid,
    );
    const run = h('button', { type: 'button', text: 'Re-run', disabled: why !== undefined });
    run.addEventListener('click', () => {
      const edits: { call: number; reg: number; value: bigint }[] = [];
      for (let r = 0; r < 18; r++) {
        const v = inputs[r]!.value.trim();
        if (regs === undefined || v === regs[r]) continue;
        if (!/^(0x[0-9a-fA-F]{1,16}|\d{1,20})$/.test(v)) {
          msg.textContent = `x${r}: '${v}' is not a 64-bit value (0x… or decimal)`;
          inputs[r]!.focus();
          return;
        }
        edits.push({ call, reg: r, value: BigInt(v) });
      }
      const same = profSel.value === made.base;
      const res = lz.runWhatIf(
        src,
        profSel.value,
        edits,
        same ? { with: made.with, without: made.without } : {},
      );
      if (!res.ok) {
        msg.textContent = res.error;
        return;
      }
      d.close();
      const before = this.ix;
      this.loadText(res.jsonl);
      this.traceB = before;
      const div = lz.firstDivergence(before, this.ix);
      const to = div === undefined ? undefined : lz.hostCallHop(this.ix, div.call);
      if (to !== undefined) this.select(to);
      this.status(
        `what-if: ${profSel.value}${edits.length ? `, ${edits.length} register edit(s) on call #${call}` : ''} — ${div === undefined ? 'no host-visible difference' : `first divergence at call #${div.call}: ${div.why}`}${res.failures.length ? ` · ${res.failures.length} expectation(s) failed` : ''}`,
      );
    });
    d.querySelector('.actions')?.prepend(run);
    d.showModal();
    profSel.focus();
  }

  private dialog(title: string, ...body: HTMLElement[]): HTMLDialogElement {
    document.querySelector('dialog')?.remove();
    const close = h('button', { type: 'button', text: 'Close' });
    const d = h(
      'dialog',
      { 'aria-label': title },
      h('h2', { text: title }),
      ...body,
      h('p', { class: 'actions' }, close),
    );
    close.addEventListener('click', () => d.close());
    d.addEventListener('close', () => {
      d.remove();
      (this.flow.el.querySelector('.grid') as HTMLElement | null)?.focus();
    });
    document.body.append(d);
    return d;
  }

  help(): void {
    const rows = KEYS.map(([k, v]) => h('tr', {}, h('td', {}, h('kbd', { text: k })), h('td', { text: v })));
    const d = this.dialog(
      'Keyboard',
      h('table', {}, h('tbody', {}, ...rows)),
      h('p', {
        text: `Lanes: ${Object.values(LANE_LABEL).join(' · ')} · partitions. The URL holds the view: share it to share what you see.`,
      }),
    );
    d.showModal();
  }

  async openPerfetto(): Promise<void> {
    const lz = await this.loadLazy();
    const json = lz.perfettoJSON(this.ix);
    const sel = this.state.sel;
    const info = sel >= 0 ? callInfo(this.ix, this.ix.call[sel]!) : undefined;
    const range =
      info === undefined
        ? undefined
        : ([this.ix.seq[info.first]!, this.ix.seq[info.last]! + 1] as [number, number]);
    const r = await lz.sendToPerfetto(
      this.sources.perfettoUrl,
      json,
      `ffasim ${String(this.ix.header?.scenario ?? 'trace')}`,
      range,
    );
    this.status(r);
  }

  async copy(what: 'replay' | 'crash' | 'mermaid'): Promise<string> {
    const lz = await this.loadLazy();
    const sel = this.state.sel;
    if (sel < 0) return '';
    const call = this.ix.call[sel]!;
    let text = '';
    if (what === 'replay') {
      const hop = lz.hostCallHop(this.ix, call);
      const regs = hop === undefined ? undefined : regsOf(eventAt(this.ix, hop));
      text =
        regs === undefined || hop === undefined
          ? ''
          : lz.replayLine(regs, Number(eventAt(this.ix, hop).cpu ?? 0));
    } else if (what === 'crash') {
      const regs = regsOf(eventAt(this.ix, sel));
      text = regs === undefined ? '' : lz.crashDump(regs);
    } else {
      // The selected call; with a filter, every call it shows (at most 50, a diagram stays readable).
      const calls =
        this.state.filter.trim() === ''
          ? [call]
          : [...new Set([...this.rows].filter((v) => v < 0).map(headerCall))].slice(0, 50);
      text = lz.mermaidOf(this.ix, calls);
    }
    try {
      await navigator.clipboard.writeText(text);
      this.status(`copied ${what} (${text.length} chars)`);
    } catch {
      this.status(`copy blocked by the browser; the ${what} text is in the console`);
      console.log(text);
    }
    (window as unknown as { __ffasimLastCopy?: string }).__ffasimLastCopy = text;
    return text;
  }

  private pickFile(): void {
    const inp = h('input', { type: 'file', accept: '.jsonl,.gz,application/json' });
    inp.addEventListener('change', () => {
      const f = inp.files?.[0];
      if (f !== undefined) this.openFile(f);
    });
    inp.click();
  }

  private openFile(f: Blob): void {
    (this as { ix: TraceIndex | undefined }).ix = undefined;
    this.wanted = undefined;
    this.original = undefined;
    this.traceB = undefined;
    history.replaceState(null, '', location.pathname + location.search);
    void this.loadFrom({ file: f });
  }

  private showPicker(): void {
    const box = h(
      'div',
      { class: 'box' },
      h('h1', { text: 'ffasim view' }),
      h('p', { text: 'Drop an ffasim trace (.jsonl or .jsonl.gz) here, or' }),
      (() => {
        const b = h('button', { type: 'button', text: 'Choose a file…' });
        b.addEventListener('click', () => this.pickFile());
        return b;
      })(),
      h('p', { text: 'Make one with: ffasim run boot --format jsonl --out boot.jsonl' }),
    );
    this.root.replaceChildren(h('main', { class: 'drop' }, box), this.errorsEl);
  }

  private installDrop(): void {
    window.addEventListener('dragover', (e) => {
      e.preventDefault();
      this.root.querySelector('.drop')?.classList.add('over');
    });
    window.addEventListener('drop', (e) => {
      e.preventDefault();
      const f = e.dataTransfer?.files[0];
      if (f !== undefined) this.openFile(f);
    });
  }

  // ---------------------------------------------------------------- debug hook (tests, bench)

  /** Read-only view of what is on screen, for tests: meaning before pixels. */
  debug(): Record<string, unknown> {
    const ix = this.ix;
    const sel = this.state.sel;
    return {
      ready: ix?.complete === true,
      events: ix?.n ?? 0,
      hops: ix?.hops.length ?? 0,
      calls: ix?.calls.length ?? 0,
      errors: ix?.errors ?? [],
      components: ix?.components ?? [],
      profile: ix?.header?.profile,
      state: { ...this.state },
      hash: location.hash,
      selection:
        ix === undefined || sel < 0
          ? undefined
          : {
              event: sel,
              seq: ix.seq[sel],
              call: ix.call[sel],
              name: ix.names[ix.nameId[sel]!],
              from: ix.components[ix.from[sel]!],
              to: ix.components[ix.to[sel]!],
              dir: ix.dir[sel] === 1 ? 'ret' : 'call',
            },
      rowsShown: this.rows.length,
      registers: this.regs.shown,
      bytes: this.bytes.shown,
      detailsText: this.details.el.innerText,
      pageRows: this.pageRows.length,
      pageLabels: this.pageLabels.map((l) => ({
        addr: hex(l.addr),
        size: l.size,
        label: l.label,
        from: l.from,
        to: l.to,
      })),
      pageBreaks: this.map.breaks.map((b) => ({ addr: b.addr, seq: b.seq, id: b.id })),
      /** Bytes the index holds outside the JS heap (raw trace and typed columns). */
      bufferBytes:
        ix === undefined
          ? 0
          : ix.raw.byteLength +
            [
              ix.lineStart,
              ix.lineEnd,
              ix.lineNo,
              ix.seq,
              ix.call,
              ix.kind,
              ix.flags,
              ix.from,
              ix.to,
              ix.dir,
              ix.nameId,
              ix.hops,
              this.rows,
              this.rowOf,
            ].reduce((n, a) => n + a.byteLength, 0),
      metrics: { ...this.metrics, mapDrawMs: this.map.lastDrawMs },
      traceB: this.traceB?.header?.profile,
      perfettoUrl: this.sources.perfettoUrl,
    };
  }

  pageRangesAt(seq: number): (ReturnType<typeof rangesAt>[number] & { label?: string })[] {
    return rangesAt(this.pageRows, seq).map((r, k) => {
      const row = this.pageRows[k]!;
      const l = labelAt(this.pageLabels, row.addr, row.size, seq);
      return l === undefined ? r : { ...r, label: l.label };
    });
  }

  /** One step with all panes updated, timed (the benchmark's next-hop figure). */
  timedStep(): number {
    const t0 = performance.now();
    this.step(1);
    return performance.now() - t0;
  }

  /** Redraws the page map from scratch (static layer included), timed. */
  timedMapDraw(): number {
    const t0 = performance.now();
    this.map.draw(true);
    return performance.now() - t0;
  }

  describe(event: number): string {
    const ix = this.ix;
    return `${ix.names[ix.nameId[event]!]} ${ix.components[ix.from[event]!]}→${ix.components[ix.to[event]!]} @${hex(ix.seq[event]!)}`;
  }
}
