/**
 * Registers pane: x0–x17 side by side in one of three diff modes (`r` cycles) —
 *   inout     the selected hop's call registers vs the return that answers it;
 *   proxy     what the proxy changed: host → hyp vs hyp → SPMD of the same host call (FN32 → FN64 reissue,
 *             masking), or SPMD → hyp vs hyp → host for returns; a rejected call shows no forward;
 *   profiles  what the host got back under profile A (this trace) vs profile B (`b`).
 * SMC32 hops show w-views. A bit strip shows the focused register (click a row) with field boundaries and MBZ
 * bits from the call layout; a set MBZ bit is red.
 */
import { h, type ViewContext } from '../ctx.ts';
import { hasLayout, mbzMask, registerFields } from '../model/regfields.ts';
import { eventAt, findHop, hostCallHop, matchingHop, type TraceIndex } from '../model/trace-index.ts';
import { regsOf } from './details.ts';

interface Side {
  title: string;
  regs: string[] | undefined;
}

const regsAt = (ix: TraceIndex, i: number | undefined): string[] | undefined =>
  i === undefined ? undefined : regsOf(eventAt(ix, i));

/** The two register files the current mode compares, with titles. */
export function registerSides(ctx: ViewContext): { a: Side; b: Side; note: string } {
  const ix = ctx.ix;
  const i = ctx.state.sel;
  const call = ix.call[i]!;
  const isRet = ix.dir[i] === 1;
  switch (ctx.state.mode) {
    case 'inout': {
      const m = matchingHop(ix, i);
      const mine = regsAt(ix, i);
      const other = regsAt(ix, m);
      return {
        a: { title: 'in', regs: isRet ? other : mine },
        b: { title: 'out', regs: isRet ? mine : other },
        note: 'call registers vs the return that answers them',
      };
    }
    case 'proxy': {
      if (!isRet) {
        const a = regsAt(ix, findHop(ix, call, 'host', 'hyp', 0, false));
        const fwd = findHop(ix, call, 'hyp', 'spmd', 0, false);
        return {
          a: { title: 'host→hyp', regs: a },
          b: { title: 'hyp→SPMD', regs: regsAt(ix, fwd) },
          note:
            fwd === undefined
              ? 'not forwarded: the proxy handled or rejected the call itself'
              : 'what the proxy sent on',
        };
      }
      const back = findHop(ix, call, 'spmd', 'hyp', 1, true);
      return {
        a: { title: 'SPMD→hyp', regs: regsAt(ix, back) },
        b: { title: 'hyp→host', regs: regsAt(ix, findHop(ix, call, 'hyp', 'host', 1, true)) },
        note:
          back === undefined
            ? 'the SPMC was not asked: the host got the proxy’s own answer'
            : 'what the proxy passed back',
      };
    }
    case 'profiles': {
      const tb = ctx.traceB;
      const a = regsAt(ix, findHop(ix, call, 'hyp', 'host', 1, true));
      if (tb === undefined)
        return {
          a: { title: `A ${String(ix.header?.profile ?? '')}`, regs: a },
          b: { title: 'B', regs: undefined },
          note: 'press b to choose profile B',
        };
      const hb = hostCallHop(tb, call);
      const b = hb === undefined ? undefined : regsAt(tb, findHop(tb, call, 'hyp', 'host', 1, true));
      return {
        a: { title: `A ${String(ix.header?.profile ?? '')}`, regs: a },
        b: { title: `B ${String(tb.header?.profile ?? '')}`, regs: b },
        note: 'what the host got back under each profile',
      };
    }
  }
}

export class RegistersPane {
  readonly el: HTMLElement;
  private readonly body: HTMLElement;
  private readonly strip: HTMLElement;
  private readonly names: HTMLElement;
  private readonly mode: HTMLElement;
  private ctx: ViewContext | undefined;
  /** What the pane shows, for the debug hook. */
  shown: { mode: string; a: string[] | undefined; b: string[] | undefined; changed: number[] } = {
    mode: '',
    a: undefined,
    b: undefined,
    changed: [],
  };

  constructor() {
    this.body = h('div', { class: 'regs', tabindex: 0, role: 'region', 'aria-label': 'Register values' });
    this.strip = h('div', { class: 'bits', role: 'img' });
    this.names = h('div', { class: 'fieldnames' });
    this.mode = h('span', { class: 'hint' });
    this.el = h(
      'section',
      { class: 'pane', 'aria-label': 'Registers' },
      h('h2', {}, 'Registers', this.mode),
      this.body,
      this.strip,
      this.names,
    );
    this.body.addEventListener('click', (e) => {
      const tr = (e.target as HTMLElement).closest<HTMLElement>('tr[data-reg]');
      if (tr !== null) this.ctx?.setReg(Number(tr.dataset.reg));
    });
    // Arrow keys on a register button move the focus register, and keyboard focus with it.
    this.body.addEventListener('keydown', (e) => {
      const b = (e.target as HTMLElement).closest<HTMLElement>('button[data-reg]');
      if (b === null || (e.key !== 'ArrowDown' && e.key !== 'ArrowUp')) return;
      e.preventDefault();
      e.stopPropagation();
      const r = Math.max(0, Math.min(17, Number(b.dataset.reg) + (e.key === 'ArrowDown' ? 1 : -1)));
      this.ctx?.setReg(r);
      this.body.querySelector<HTMLElement>(`button[data-reg="${r}"]`)?.focus();
    });
  }

  update(ctx: ViewContext): void {
    this.ctx = ctx;
    const i = ctx.state.sel;
    if (i < 0) {
      this.body.replaceChildren(h('div', { class: 'empty', text: 'No hop selected.' }));
      this.strip.replaceChildren();
      this.names.textContent = '';
      this.shown = { mode: ctx.state.mode, a: undefined, b: undefined, changed: [] };
      return;
    }
    const { a, b, note } = registerSides(ctx);
    this.mode.textContent = `r: ${ctx.state.mode} — ${note}`;
    const e = eventAt(ctx.ix, i);
    const smc64 = e.conv === 'SMC64';
    const thead = h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col', text: 'reg' }),
        h('th', { scope: 'col', text: a.title }),
        h('th', { scope: 'col', text: b.title }),
        h('th', { scope: 'col', text: smc64 ? '' : 'w (a / b)' }),
      ),
    );
    const tbody = h('tbody');
    const changed: number[] = [];
    for (let r = 0; r < 18; r++) {
      const va = a.regs?.[r];
      const vb = b.regs?.[r];
      const diff = va !== undefined && vb !== undefined && va !== vb;
      if (diff) changed.push(r);
      tbody.append(
        h(
          'tr',
          {
            'data-reg': r,
            class: `${diff ? 'changed' : ''} ${ctx.state.reg === r ? 'focus' : ''}`,
          },
          h(
            'th',
            { scope: 'row' },
            h('button', {
              type: 'button',
              class: 'regbtn',
              'data-reg': r,
              'aria-pressed': ctx.state.reg === r ? 'true' : 'false',
              title: `show x${r} in the bit strip`,
              text: `x${r}`,
            }),
          ),
          h('td', { text: va ?? '—' }),
          h('td', { class: 'v2', text: vb ?? '—' }),
          h('td', {
            text: smc64
              ? ''
              : `${va === undefined ? '—' : `0x${va.slice(-8)}`} / ${vb === undefined ? '—' : `0x${vb.slice(-8)}`}`,
          }),
        ),
      );
    }
    this.body.replaceChildren(h('table', { 'aria-label': `x0–x17, ${a.title} vs ${b.title}` }, thead, tbody));
    this.shown = { mode: ctx.state.mode, a: a.regs, b: b.regs, changed };
    this.renderStrip(ctx, regsOf(e), String(e.name ?? ''), smc64);
  }

  private renderStrip(ctx: ViewContext, regs: string[] | undefined, name: string, smc64: boolean): void {
    const r = ctx.state.reg;
    const value = regs === undefined ? 0n : BigInt(regs[r] ?? '0');
    const fields = registerFields(name, smc64, r);
    const known = hasLayout(name) || r === 0;
    const mbz = mbzMask(fields, known);
    const edges = new Set<number>();
    for (const f of fields) {
      edges.add(f.lo);
      edges.add(f.lo + f.width);
    }
    const cells: HTMLElement[] = [];
    for (let bit = 63; bit >= 0; bit--) {
      const set = ((value >> BigInt(bit)) & 1n) === 1n;
      const isMbz = ((mbz >> BigInt(bit)) & 1n) === 1n;
      const cls = `${isMbz ? (set ? 'mbzbad' : 'mbz') : set ? 'b1' : ''} ${edges.has(bit) && bit !== 0 ? 'edge' : ''}`;
      cells.push(
        h('div', { class: cls, title: `bit ${bit}${isMbz ? ' (MBZ)' : ''}`, text: set ? '1' : '0' }),
      );
    }
    const bad = value & mbz;
    this.strip.replaceChildren(...cells);
    this.strip.setAttribute(
      'aria-label',
      `x${r} bits 63 to 0 of ${name}: ${fields.map((f) => `${f.name} bits ${f.lo + f.width - 1}:${f.lo}`).join(', ') || 'no known fields'}${bad !== 0n ? `; MBZ bits set: 0x${bad.toString(16)}` : ''}`,
    );
    this.names.textContent = `x${r}: ${fields.map((f) => `${f.name} [${f.lo + f.width - 1}:${f.lo}]`).join(' · ') || (known ? 'all bits MBZ' : 'layout unknown')}${bad !== 0n ? ` · MBZ violation 0x${bad.toString(16)}` : ''}`;
    this.names.classList.toggle('fail', bad !== 0n);
  }
}
