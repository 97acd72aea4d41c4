/**
 * Bytes pane: the descriptors of the selected host call as hex, decoded with src/ffa/desc `annotate` and linked
 * both ways with the field list (hover a field → its bytes; hover a byte → its field). Header / EMAD / composite /
 * constituents in distinct hues, bytes no field covers hatched, bytes two fields claim in red (offset tricks),
 * the located decode error outlined. One tab per buffer (fragment) and, for a fragmented transaction, a
 * reassembled tab. A DIRECT_REQ2/RESP2 carrying virtio-msg gets a tab per payload (the request and its answer on
 * the selected link, x4–x17 as 112 bytes): the common header, the message's own fields and its tail annotated the
 * same way (src/trace/virtio.ts `annotateVirtioPayload`); the bytes after `msg_size` are no field's.
 */
import { type Annotated, annotate, type DescriptorKind } from '../../../src/ffa/desc/annotate.ts';
import type { DescVersion } from '../../../src/ffa/desc/types.ts';
import { h, hex, type ViewContext } from '../ctx.ts';
import { callInfo, eventAt, F, matchingHop, type TraceIndex } from '../model/trace-index.ts';
import { type VirtioTab, virtioTabs } from '../model/virtio.ts';

export interface BufferTab {
  title: string;
  bytes: Uint8Array;
  kind: DescriptorKind;
  version: DescVersion;
}

/** A tab: a descriptor buffer, or a virtio-msg payload. */
type Tab = (BufferTab & { virtio?: undefined }) | (VirtioTab & { virtio: true });

/** The pane's view of a virtio-msg payload as the descriptor annotator's result (uncovered = after msg_size). */
function virtioAnnotated(t: VirtioTab): Annotated {
  const n = t.bytes.length;
  const claims = new Uint8Array(n);
  for (const f of t.ann.fields)
    for (let o = f.offset; o < Math.min(n, f.offset + f.size); o++) claims[o] = Math.min(255, claims[o]! + 1);
  const spans = (pred: (c: number) => boolean): { offset: number; size: number }[] => {
    const out: { offset: number; size: number }[] = [];
    let start = -1;
    for (let o = 0; o <= n; o++) {
      const hit = o < n && pred(claims[o]!);
      if (hit && start < 0) start = o;
      if (!hit && start >= 0) {
        out.push({ offset: start, size: o - start });
        start = -1;
      }
    }
    return out;
  };
  return {
    // Not a descriptor: kind and version only satisfy the type (the summary line is virtioSummary's).
    kind: 'send2',
    version: '1.2',
    length: n,
    fields: t.ann.fields,
    ...(t.ann.error === undefined ? {} : { error: t.ann.error }),
    uncovered: spans((c) => c === 0),
    overlaps: spans((c) => c > 1),
  };
}

/** Summary line of a virtio-msg tab. */
function virtioSummary(t: VirtioTab, a: Annotated): string {
  const p = t.ann.payload;
  const what =
    p.kind === 'busy'
      ? 'busy: an all-zero payload (the driver retries, at most 3 times)'
      : p.kind === 'msg'
        ? `${p.msg.bus ? 'bus ' : ''}${p.msg.name}${p.msg.response ? ' response' : ''}${p.msg.bus ? '' : ` dev ${p.msg.devNum}`} token 0x${p.msg.token.toString(16)}, msg_size ${p.msg.size}`
        : `malformed: ${p.code}`;
  const after =
    t.ann.size > 0 && t.ann.size < t.bytes.length
      ? ` · bytes ${t.ann.size}–${t.bytes.length - 1} follow msg_size`
      : '';
  const err =
    a.error?.at.kind === 'bytes'
      ? ` · decode error at byte ${a.error.at.offset}: ${a.error.code} — ${a.error.message}`
      : '';
  return `virtio-msg ${t.response ? 'answer' : 'request'} in x4–x17 (${t.bytes.length} bytes): ${what} · ${a.fields.length} fields${after}${err}`;
}

function fromHex(s: string): Uint8Array {
  const n = Math.floor(s.length / 2);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = Number.parseInt(s.slice(2 * i, 2 * i + 2), 16);
    out[i] = Number.isNaN(v) ? 0 : v;
  }
  return out;
}

function kindFor(callName: string): DescriptorKind {
  if (/PARTITION_INFO/.test(callName)) return 'partition-info';
  if (/RELINQUISH/.test(callName)) return 'relinquish';
  if (/SEND2/.test(callName)) return 'send2';
  return 'mem';
}

const VERSIONS: readonly string[] = ['1.0', '1.1', '1.2'];

/** Buffers of the host call of `event`, plus a reassembled tab for a fragmented memory transaction. */
export function bufferTabs(ix: TraceIndex, event: number): BufferTab[] {
  const info = callInfo(ix, ix.call[event]!);
  if (info === undefined) return [];
  const tabs: BufferTab[] = [];
  const collect = (first: number, last: number, name: string, into: BufferTab[], prefix: string): void => {
    for (let k = first; k <= last; k++) {
      if (!(ix.flags[k]! & F.BUFFER)) continue;
      const b = eventAt(ix, k);
      const version = (VERSIONS.includes(String(b.version)) ? String(b.version) : '1.2') as DescVersion;
      into.push({
        title: `${prefix}${String(b.owner)} ${String(b.role)} #${String(b.seq)}`,
        bytes: fromHex(String(b.hex ?? '')),
        kind: kindFor(name),
        version,
      });
    }
  };
  collect(info.first, info.last, info.name, tabs, '');
  // A fragmented send: MEM_SHARE/LEND/DONATE answered by MEM_FRAG_RX, then FRAG_TX calls until SUCCESS.
  let head = info;
  if (/FRAG_TX/.test(info.name)) {
    for (let k = ix.calls.indexOf(info) - 1; k >= 0; k--) {
      const c = ix.calls[k]!;
      if (/FRAG_TX/.test(c.name)) continue;
      head = c;
      break;
    }
  }
  if (/MEM_(SHARE|LEND|DONATE)/.test(head.name) && head.status === 'MEM_FRAG_RX') {
    const parts: BufferTab[] = [];
    for (let k = ix.calls.indexOf(head); k < ix.calls.length; k++) {
      const c = ix.calls[k]!;
      if (k > ix.calls.indexOf(head) && !/FRAG_TX/.test(c.name)) break;
      const mine: BufferTab[] = [];
      collect(c.first, c.last, head.name, mine, '');
      const tx = mine.find((t) => t.title.includes('hyp-tx'));
      if (tx !== undefined) parts.push(tx);
      if (c.status !== 'MEM_FRAG_RX') break;
    }
    if (parts.length > 1) {
      const total = parts.reduce((n, p) => n + p.bytes.length, 0);
      const all = new Uint8Array(total);
      let o = 0;
      for (const p of parts) {
        all.set(p.bytes, o);
        o += p.bytes.length;
      }
      tabs.push({
        title: `reassembled (${parts.length} fragments)`,
        bytes: all,
        kind: 'mem',
        version: parts[0]!.version,
      });
    }
  }
  return tabs;
}

export class BytesPane {
  readonly el: HTMLElement;
  private readonly tabsEl: HTMLElement;
  private readonly body: HTMLElement;
  private tabs: Tab[] = [];
  private active = 0;
  private lastKey = '';
  private lastIx: TraceIndex | undefined;
  private ann: Annotated | undefined;
  private byteEls: HTMLElement[] = [];
  private fieldEls: HTMLElement[] = [];
  /** For the debug hook. */
  shown: {
    tabs: string[];
    active: number;
    /** The active tab's virtio-msg payload (kind, message name, msg_size, field paths). */
    virtio?: { kind: string; name?: string; size: number; paths: string[] };
    fields: number;
    uncovered: number;
    overlaps: number;
    error?: string;
  } = { tabs: [], active: 0, fields: 0, uncovered: 0, overlaps: 0 };

  constructor() {
    this.tabsEl = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Buffers of this call' });
    this.body = h('div', { class: 'bytes', role: 'tabpanel', tabindex: 0 });
    this.el = h(
      'section',
      { class: 'pane', 'aria-label': 'Bytes' },
      h('h2', {}, 'Bytes', h('span', { class: 'hint', text: 'hover a field or a byte' })),
      this.tabsEl,
      this.body,
    );
    this.tabsEl.addEventListener('click', (e) => {
      const b = (e.target as HTMLElement).closest<HTMLElement>('button[data-tab]');
      if (b === null) return;
      this.active = Number(b.dataset.tab);
      this.render();
    });
    this.body.addEventListener('mouseover', (e) => {
      const t = e.target as HTMLElement;
      if (t.dataset.f !== undefined) this.hot(Number(t.dataset.f));
      else if (t.dataset.o !== undefined) this.hot(this.fieldAt(Number(t.dataset.o)));
    });
    this.body.addEventListener('mouseleave', () => this.hot(-1));
    // Keyboard: the field list is one tab stop; ↑ ↓ Home End move through the fields and outline their bytes.
    this.body.addEventListener('focusin', (e) => {
      const t = e.target as HTMLElement;
      if (t.dataset.f !== undefined) this.hot(Number(t.dataset.f));
    });
    this.body.addEventListener('keydown', (e) => {
      const t = e.target as HTMLElement;
      const list = t.closest<HTMLElement>('.fieldlist');
      if (list === null || !/^(ArrowDown|ArrowUp|Home|End)$/.test(e.key)) return;
      const n = this.fieldEls.length;
      if (n === 0) return;
      const cur = t.dataset.f === undefined ? -1 : Number(t.dataset.f);
      const next =
        e.key === 'Home'
          ? 0
          : e.key === 'End'
            ? n - 1
            : Math.max(0, Math.min(n - 1, cur + (e.key === 'ArrowDown' ? 1 : -1)));
      e.preventDefault();
      e.stopPropagation();
      this.fieldEls[next]?.focus();
    });
  }

  update(ctx: ViewContext): void {
    const i = ctx.state.sel;
    const ix = ctx.ix;
    const call = i < 0 ? -1 : ix.call[i]!;
    // Descriptor tabs belong to the host call; virtio-msg tabs to the selected link, so a REQ2 call keys on the hop.
    const vm = i >= 0 && ix.names[ix.nameId[i]!]?.startsWith('FFA_MSG_SEND_DIRECT') === true;
    const key = `${call}:${vm ? i : ''}`;
    if (key === this.lastKey && ix === this.lastIx) return;
    this.lastKey = key;
    this.lastIx = ix;
    const vtabs = i < 0 || !vm ? [] : virtioTabs(ix, i, matchingHop(ix, i));
    this.tabs = [...(i < 0 ? [] : bufferTabs(ix, i)), ...vtabs.map((t) => ({ ...t, virtio: true as const }))];
    // A virtio-msg exchange opens on the payload of the selected hop: the answer when a return is selected.
    const want = this.tabs.findIndex((t) => t.virtio === true && t.response === (ix.dir[i] === 1));
    this.active = want >= 0 ? want : 0;
    this.render();
  }

  private fieldAt(o: number): number {
    const fs = this.ann?.fields ?? [];
    let best = -1;
    for (let k = 0; k < fs.length; k++) {
      const f = fs[k]!;
      if (o >= f.offset && o < f.offset + f.size && (best < 0 || f.size <= fs[best]!.size)) best = k;
    }
    return best;
  }

  private hot(k: number): void {
    for (const el of this.body.querySelectorAll('.hot')) el.classList.remove('hot');
    const f = this.ann?.fields[k];
    if (f === undefined) return;
    for (let o = f.offset; o < f.offset + f.size; o++) this.byteEls[o]?.classList.add('hot');
    this.fieldEls[k]?.classList.add('hot');
  }

  private render(): void {
    this.tabsEl.replaceChildren(
      ...this.tabs.map((t, k) =>
        h('button', {
          role: 'tab',
          'data-tab': k,
          'aria-selected': k === this.active ? 'true' : 'false',
          text: t.title,
        }),
      ),
    );
    const t = this.tabs[this.active];
    if (t === undefined) {
      this.ann = undefined;
      this.body.replaceChildren(h('div', { class: 'empty', text: 'This call moved no descriptor.' }));
      this.shown = { tabs: [], active: 0, fields: 0, uncovered: 0, overlaps: 0 };
      return;
    }
    const a = t.virtio === true ? virtioAnnotated(t) : annotate(t.bytes, t.kind, t.version);
    this.ann = a;
    const group = new Array<string>(t.bytes.length).fill('');
    const claims = new Uint8Array(t.bytes.length);
    a.fields.forEach((f) => {
      for (let o = f.offset; o < f.offset + f.size && o < t.bytes.length; o++) {
        if (group[o] === '') group[o] = `g-${f.group}`;
        claims[o] = Math.min(255, claims[o]! + 1);
      }
    });
    const unc = new Uint8Array(t.bytes.length);
    for (const u of a.uncovered)
      for (let o = u.offset; o < u.offset + u.size && o < unc.length; o++) unc[o] = 1;
    const ovl = new Uint8Array(t.bytes.length);
    for (const u of a.overlaps)
      for (let o = u.offset; o < u.offset + u.size && o < ovl.length; o++) ovl[o] = 1;
    const errAt = a.error?.at.kind === 'bytes' ? a.error.at.offset : -1;
    const hexEl = h('div', { class: 'hex', 'aria-label': `${t.bytes.length} bytes` });
    this.byteEls = [];
    // Long descriptors: show the first 4 KiB (the field list stays complete).
    const shown = Math.min(t.bytes.length, 4096);
    for (let row = 0; row < shown; row += 16) {
      const line = h('div', {}, h('span', { class: 'off', text: row.toString(16).padStart(4, '0') }));
      for (let o = row; o < Math.min(row + 16, shown); o++) {
        const cls = `b ${ovl[o] ? 'ovl' : unc[o] ? 'unc' : (group[o] ?? '')} ${o === errAt ? 'errb' : ''}`;
        const s = h('span', { class: cls, 'data-o': o, text: t.bytes[o]!.toString(16).padStart(2, '0') });
        this.byteEls[o] = s;
        line.append(s);
      }
      hexEl.append(line);
    }
    this.fieldEls = a.fields.map((f, k) =>
      h(
        'div',
        { 'data-f': k, class: f.mbzViolation ? 'mbzv' : '', tabindex: -1 },
        `${hex(f.offset, 3)} +${f.size} ${f.path} = ${f.value}${f.note ? `  (${f.note})` : ''}${f.mbzViolation ? '  MBZ!' : ''}`,
      ),
    );
    const summary = h(
      'div',
      { class: a.error ? 'fields fail' : 'fields' },
      t.virtio === true
        ? virtioSummary(t, a)
        : `${t.kind} descriptor v${t.version}, ${t.bytes.length} bytes · ${a.fields.length} fields` +
            (t.bytes.length > 4096 ? ' · hex shows the first 4096 bytes' : '') +
            (a.uncovered.length
              ? ` · ${a.uncovered.reduce((n, u) => n + u.size, 0)} bytes no field covers`
              : '') +
            (a.overlaps.length
              ? ` · ${a.overlaps.reduce((n, u) => n + u.size, 0)} bytes claimed twice`
              : '') +
            (a.error ? ` · decode error at byte ${errAt}: ${a.error.code} — ${a.error.message}` : ''),
    );
    this.body.replaceChildren(
      summary,
      hexEl,
      h(
        'div',
        {
          class: 'fields fieldlist',
          role: 'list',
          tabindex: 0,
          'aria-label': 'Fields (arrow keys move, the bytes of the focused field are outlined)',
        },
        ...this.fieldEls.map((e) => {
          e.setAttribute('role', 'listitem');
          return e;
        }),
      ),
    );
    this.shown = {
      tabs: this.tabs.map((x) => x.title),
      active: this.active,
      ...(t.virtio === true
        ? {
            virtio: {
              kind: t.ann.payload.kind,
              ...(t.ann.payload.kind === 'msg' ? { name: t.ann.payload.msg.name } : {}),
              size: t.ann.size,
              paths: a.fields.map((f) => f.path),
            },
          }
        : {}),
      fields: a.fields.length,
      uncovered: a.uncovered.length,
      overlaps: a.overlaps.length,
      ...(a.error ? { error: a.error.code } : {}),
    };
  }
}
