/**
 * Details pane: a Wireshark-style tree (ARIA tree) of the selected hop — the decoded call and result (src/ffa),
 * the proxy's decisions with their profile change and source (the `--explain` text), the SPMC's and SPMD's
 * decisions (rejections and special answers, with reason and source) apart, page changes, checks, hazards and
 * buffers of the same host call.
 */

import { decodeCall, decodeResult } from '../../../src/ffa/calls.ts';
import { callToJSON, resultToJSON } from '../../../src/ffa/format.ts';
import { regsFromHex } from '../../../src/trace/text.ts';
import { h, hex, laneLabel, type ViewContext } from '../ctx.ts';
import { stateLabel } from '../model/pages.ts';
import { callInfo, eventAt, KIND_NAMES, matchingHop } from '../model/trace-index.ts';

interface Node {
  label: string | Node[] | HTMLElement;
  children?: Node[];
  open?: boolean;
  cls?: string;
}

function jsonNodes(v: unknown): Node[] {
  if (v === null || typeof v !== 'object') return [];
  return Object.entries(v as Record<string, unknown>).map(([k, x]) => {
    if (x !== null && typeof x === 'object' && !Array.isArray(x))
      return { label: k, children: jsonNodes(x), open: true };
    if (Array.isArray(x)) return { label: `${k} = [${x.map((y) => String(y)).join(', ')}]` };
    return {
      label: `${k} = ${typeof x === 'number' && k !== 'code' && k !== 'count' && k !== 'size' ? `${x} (${hex(x)})` : String(x)}`,
    };
  });
}

export function regsOf(e: Record<string, unknown>): string[] | undefined {
  const r = e.regs;
  return Array.isArray(r) &&
    r.length === 18 &&
    r.every((x) => typeof x === 'string' && /^0x[0-9a-f]{1,16}$/i.test(x))
    ? (r as string[])
    : undefined;
}

export function decodeNodes(callRegs: string[] | undefined, retRegs: string[] | undefined): Node[] {
  const out: Node[] = [];
  let callDecoded: ReturnType<typeof decodeCall> | undefined;
  if (callRegs !== undefined) {
    callDecoded = decodeCall(regsFromHex(callRegs));
    out.push(
      callDecoded.ok
        ? {
            label: `Call ${callDecoded.value.name}${callDecoded.value.smc64 ? ' (SMC64)' : ' (SMC32)'}`,
            children: jsonNodes(callToJSON(callDecoded.value)),
            open: true,
          }
        : {
            label: `Call: decode error ${callDecoded.error.code}`,
            children: [{ label: callDecoded.error.message, cls: 'fail' }],
            open: true,
          },
    );
  }
  if (retRegs !== undefined) {
    const forCall = callDecoded?.ok
      ? callDecoded.value
      : callRegs === undefined
        ? undefined
        : Number(BigInt(callRegs[0]!) & 0xffffffffn);
    const d = decodeResult(regsFromHex(retRegs), forCall);
    out.push(
      d.ok
        ? { label: `Result ${d.value.kind}`, children: jsonNodes(resultToJSON(d.value)), open: true }
        : {
            label: `Result: decode error ${d.error.code}`,
            children: [{ label: d.error.message, cls: 'fail' }],
            open: true,
          },
    );
  }
  return out;
}

export class DetailsPane {
  readonly el: HTMLElement;
  private readonly tree: HTMLElement;

  constructor() {
    this.tree = h('div', {
      class: 'tree',
      role: 'tree',
      'aria-label': 'Details of the selected hop',
    });
    this.el = h(
      'section',
      { class: 'pane', 'aria-label': 'Details' },
      h('h2', {}, 'Details', h('span', { class: 'hint', text: 'e explain' })),
      this.tree,
    );
    this.tree.addEventListener('click', (e) => {
      const li = (e.target as HTMLElement).closest<HTMLElement>('li');
      if (li === null) return;
      if (li.hasAttribute('aria-expanded'))
        li.setAttribute('aria-expanded', li.getAttribute('aria-expanded') === 'true' ? 'false' : 'true');
      this.focusItem(li);
    });
    this.tree.addEventListener('keydown', (e) => this.key(e));
  }

  /** Tree items a user can reach now (not inside a collapsed item), in document order. */
  private visibleItems(): HTMLElement[] {
    return [...this.tree.querySelectorAll<HTMLElement>('li[role="treeitem"]')].filter(
      (li) => li.parentElement?.closest('li[aria-expanded="false"]') === null,
    );
  }

  private focusItem(li: HTMLElement): void {
    for (const x of this.tree.querySelectorAll<HTMLElement>('li[tabindex="0"]')) x.tabIndex = -1;
    li.tabIndex = 0;
    li.focus();
  }

  /** The ARIA tree keyboard pattern: ↑ ↓ move, → expands or enters, ← collapses or leaves, Enter/Space toggle. */
  private key(e: KeyboardEvent): void {
    const cur = (e.target as HTMLElement).closest<HTMLElement>('li[role="treeitem"]');
    const items = this.visibleItems();
    if (items.length === 0) return;
    const at = cur === null ? -1 : items.indexOf(cur);
    const expanded = cur?.getAttribute('aria-expanded');
    let next: HTMLElement | undefined;
    switch (e.key) {
      case 'ArrowDown':
        next = items[Math.min(items.length - 1, at + 1)];
        break;
      case 'ArrowUp':
        next = items[Math.max(0, at - 1)];
        break;
      case 'Home':
        next = items[0];
        break;
      case 'End':
        next = items[items.length - 1];
        break;
      case 'ArrowRight':
        if (expanded === 'false') cur?.setAttribute('aria-expanded', 'true');
        else if (expanded === 'true') next = items[at + 1];
        break;
      case 'ArrowLeft':
        if (expanded === 'true') cur?.setAttribute('aria-expanded', 'false');
        else next = cur?.parentElement?.closest<HTMLElement>('li[role="treeitem"]') ?? undefined;
        break;
      case 'Enter':
      case ' ':
        if (expanded !== null && expanded !== undefined)
          cur?.setAttribute('aria-expanded', expanded === 'true' ? 'false' : 'true');
        break;
      default:
        return;
    }
    e.preventDefault();
    if (next !== undefined) this.focusItem(next);
  }

  update(ctx: ViewContext): void {
    const ix = ctx.ix;
    const i = ctx.state.sel;
    if (i < 0 || i >= ix.n) {
      this.tree.replaceChildren(h('div', { class: 'empty', text: 'Select a hop (j/k, click).' }));
      return;
    }
    const e = eventAt(ix, i);
    const m = matchingHop(ix, i);
    const isRet = e.dir === 'ret';
    const me = regsOf(e);
    const other = m === undefined ? undefined : regsOf(eventAt(ix, m));
    const callRegs = isRet ? other : me;
    const retRegs = isRet ? me : other;
    const nodes: Node[] = [];
    nodes.push({
      label: `Hop #${String(e.seq)} ${laneLabel(String(e.from))} → ${laneLabel(String(e.to))} (${String(e.dir)}) ${String(e.conv ?? '')} ${String(e.fid ?? '')} ${String(e.name ?? '')}`,
      children: [{ label: `host call ${String(e.call)} · cpu ${String(e.cpu)} · file line ${ix.lineNo[i]}` }],
      open: false,
    });
    for (const n of decodeNodes(callRegs, retRegs)) nodes.push(n);
    // virtio-msg carried in this hop's DIRECT_REQ2/RESP2 payload (the JSONL `virtio` field; docs/virtio-msg.md).
    const vm = e.virtio as { text?: unknown } | undefined;
    if (vm !== undefined && typeof vm.text === 'string') nodes.push({ label: vm.text, open: true });
    const info = callInfo(ix, ix.call[i]!);
    if (info !== undefined) {
      const dec: Node[] = [];
      /** Secure-world decisions (`actor` spmc / spmd), in their own group. */
      const sec: Node[] = [];
      const pages: Node[] = [];
      const checks: Node[] = [];
      const haz: Node[] = [];
      const bufs: Node[] = [];
      const notes: Node[] = [];
      for (let k = info.first; k <= info.last; k++) {
        const kind = KIND_NAMES[ix.kind[k]!];
        if (kind === 'hop') continue;
        const x = eventAt(ix, k);
        switch (kind) {
          case 'decision':
            (x.actor === 'spmc' || x.actor === 'spmd' ? sec : dec).push({
              label: `${String(x.action)} · ${String(x.rule)} · change ${String(x.change)}`,
              cls: x.action === 'reject' ? 'fail' : '',
              open: ctx.state.explain,
              children: [{ label: String(x.text) }, { label: `source: ${String(x.source)}` }],
            });
            break;
          case 'pages':
            pages.push({
              label: `${String(x.table)} ${hex(Number(x.addr))} +${String(x.pages)} page(s): ${String(x.from)} → ${String(x.to)}`,
              ...(x.table === 'host' ? { children: [{ label: stateLabel(String(x.to), '?') }] } : {}),
            });
            break;
          case 'check':
            checks.push({
              label: `${String(x.id)} ${String(x.verdict)}: ${String(x.detail)}`,
              cls: x.verdict === 'fail' ? 'fail' : 'pass',
            });
            break;
          case 'warn':
          case 'leak':
          case 'oob':
            haz.push({ label: `${kind}: ${String(x.text)}`, cls: 'fail' });
            break;
          case 'buffer':
            bufs.push({
              label: `${String(x.owner)} ${String(x.role)} @ ${hex(Number(x.addr))} · ${String(x.hex ?? '').length / 2} bytes (Bytes pane)`,
            });
            break;
          case 'note':
          case 'step':
            notes.push({ label: String(x.text) });
            break;
        }
      }
      const title =
        info.call === 0 ? 'World set-up' : `Host call #${info.call} ${info.name} → ${info.status || '…'}`;
      nodes.push({
        label: title,
        open: true,
        children: [
          ...(dec.length ? [{ label: `Proxy decisions (${dec.length})`, children: dec, open: true }] : []),
          ...(sec.length
            ? [{ label: `SPMC/SPMD decisions (${sec.length})`, children: sec, open: true }]
            : []),
          ...(pages.length
            ? [{ label: `Page-state changes (${pages.length})`, children: pages, open: true }]
            : []),
          ...(checks.length
            ? [
                {
                  label: `Checks (${checks.length})`,
                  children: checks,
                  open: checks.some((c) => c.cls === 'fail'),
                },
              ]
            : []),
          ...(haz.length ? [{ label: `EL2 hazards (${haz.length})`, children: haz, open: true }] : []),
          ...(bufs.length ? [{ label: `Buffers (${bufs.length})`, children: bufs, open: false }] : []),
          ...(notes.length ? [{ label: `Notes (${notes.length})`, children: notes, open: false }] : []),
        ],
      });
    }
    this.tree.replaceChildren(this.renderList(nodes, 1));
    // Roving tabindex: the first item is the tree's one tab stop.
    const firstItem = this.tree.querySelector<HTMLElement>('li[role="treeitem"]');
    if (firstItem !== null) firstItem.tabIndex = 0;
  }

  private renderList(nodes: Node[], level: number): HTMLElement {
    const ul = h('ul', { role: level === 1 ? 'none' : 'group' });
    nodes.forEach((n, k) => {
      const has = n.children !== undefined && n.children.length > 0;
      const li = h('li', {
        role: 'treeitem',
        tabindex: -1,
        'aria-level': level,
        'aria-setsize': nodes.length,
        'aria-posinset': k + 1,
        ...(has ? { 'aria-expanded': n.open === false ? 'false' : 'true' } : {}),
      });
      li.append(h('span', { class: `label ${n.cls ?? ''}` }, typeof n.label === 'string' ? n.label : ''));
      if (has) li.append(this.renderList(n.children!, level + 1));
      ul.append(li);
    });
    return ul;
  }
}
