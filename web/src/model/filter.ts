/**
 * The flow filter: space-separated terms, all of which must hold (AND); `!` after the colon negates.
 *
 *   name:MEM_SHARE     hop or host call name contains it (FFA_ optional, any case)
 *   from:hyp to:spmc   hop lanes (prefix: `sp` matches every partition)
 *   status:!SUCCESS    what the host got back for the call (SUCCESS, ERROR DENIED, …; `status:DENIED` works)
 *   rule:mem-xfer      a decision of the call has that rule (substring; `rule:spmc/` the SPMC's)
 *   page:0x88000000    the call changed the state of a range holding that address
 *   inv:I1             the call broke that invariant (`inv:` alone: any)
 *   anything else      name or rule contains it
 *
 * Parsing never throws: an unknown key is an error naming the term and its column.
 */
import { type CallInfo, callInfo, F, type TraceIndex } from './trace-index.ts';

export type FilterKey = 'name' | 'from' | 'to' | 'status' | 'rule' | 'page' | 'inv' | 'text';

export interface FilterTerm {
  key: FilterKey;
  value: string;
  negate: boolean;
  /** For `page:`. */
  addr?: number;
}

export type ParsedFilter = { ok: true; terms: FilterTerm[] } | { ok: false; error: string };

const KEYS = new Set<string>(['name', 'from', 'to', 'status', 'rule', 'page', 'inv']);

export function parseFilter(text: string): ParsedFilter {
  const terms: FilterTerm[] = [];
  const re = /\S+/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const tok = m[0];
    const col = m.index + 1;
    const colon = tok.indexOf(':');
    if (colon < 0) {
      const negate = tok.startsWith('!');
      terms.push({ key: 'text', value: (negate ? tok.slice(1) : tok).toUpperCase(), negate });
      continue;
    }
    const key = tok.slice(0, colon);
    if (!KEYS.has(key))
      return {
        ok: false,
        error: `column ${col}: unknown filter key '${key}' (name, from, to, status, rule, page, inv)`,
      };
    let value = tok.slice(colon + 1);
    const negate = value.startsWith('!');
    if (negate) value = value.slice(1);
    if (value === '' && key !== 'inv') return { ok: false, error: `column ${col}: '${key}:' needs a value` };
    const term: FilterTerm = { key: key as FilterKey, value: value.toUpperCase(), negate };
    if (key === 'page') {
      const v = value.replace(/_/g, '');
      const n = /^0x[0-9a-f]+$/i.test(v)
        ? Number.parseInt(v.slice(2), 16)
        : /^\d+$/.test(v)
          ? Number(v)
          : NaN;
      if (!Number.isSafeInteger(n))
        return { ok: false, error: `column ${col}: page:${value} is not an address (0x… or decimal)` };
      term.addr = n;
    }
    if (key === 'from' || key === 'to' || key === 'rule') term.value = value.toLowerCase();
    terms.push(term);
  }
  return { ok: true, terms };
}

const bare = (s: string): string => s.toUpperCase().replace(/^FFA_/, '');
const statusKey = (s: string): string => bare(s).replace(/[\s_]+/g, ' ');

/**
 * Hop events that pass the filter, in order. Terms about the host call (status, rule, page, inv) are decided once
 * per call, names are normalised once per distinct name: 10⁵ hops filter in milliseconds.
 */
export function filterHops(ix: TraceIndex, terms: readonly FilterTerm[]): Int32Array {
  if (terms.length === 0) return ix.hops;
  const names = ix.names.map(bare);
  const callKeys = new Set<FilterKey>(['status', 'rule', 'page', 'inv']);
  const perCall = terms.filter((t) => callKeys.has(t.key));
  const perHop = terms.filter((t) => !callKeys.has(t.key));
  const vals = perHop.map((t) => bare(t.value));
  const out = new Int32Array(ix.hops.length);
  let n = 0;
  let curCall = -1;
  let callOk = true;
  let callName = '';
  let info: CallInfo | undefined;
  let pageCursor = 0;
  for (const h of ix.hops) {
    const c = ix.call[h]!;
    if (c !== curCall) {
      curCall = c;
      info = callInfo(ix, c);
      callName = bare(info?.name ?? '');
      // Page changes are in event order; move the cursor to this call's first.
      while (pageCursor < ix.pages.length && ix.pages[pageCursor]!.event < (info?.first ?? 0)) pageCursor++;
      callOk = perCall.every((t) => callTerm(ix, info, t, pageCursor) !== t.negate);
    }
    if (!callOk) continue;
    let ok = true;
    for (let k = 0; k < perHop.length; k++) {
      const t = perHop[k]!;
      const v = vals[k]!;
      let hit: boolean;
      switch (t.key) {
        case 'name':
          hit = (names[ix.nameId[h]!] ?? '').includes(v) || callName.includes(v);
          break;
        case 'from':
          hit = (ix.components[ix.from[h]!] ?? '').startsWith(t.value);
          break;
        case 'to':
          hit = (ix.components[ix.to[h]!] ?? '').startsWith(t.value);
          break;
        default:
          hit =
            (names[ix.nameId[h]!] ?? '').includes(v) ||
            callName.includes(v) ||
            (info?.rules ?? []).some((r) => r.toUpperCase().includes(t.value));
      }
      if (hit === t.negate) {
        ok = false;
        break;
      }
    }
    if (ok) out[n++] = h;
  }
  return out.slice(0, n);
}

function callTerm(ix: TraceIndex, info: CallInfo | undefined, t: FilterTerm, pageCursor: number): boolean {
  switch (t.key) {
    case 'status':
      // `ERROR DENIED`: `status:ERROR`, `status:DENIED` and `status:ERROR_DENIED` all match it.
      return statusKey(info?.status ?? '').includes(statusKey(t.value));
    case 'rule':
      return (info?.rules ?? []).some((r) => r.includes(t.value));
    case 'inv':
      return t.value === ''
        ? ((info?.flags ?? 0) & F.INV) !== 0
        : (info?.fails ?? []).some((f) => f.toUpperCase() === t.value);
    case 'page': {
      if (info === undefined) return false;
      const a = t.addr ?? -1;
      for (let k = pageCursor; k < ix.pages.length && ix.pages[k]!.event <= info.last; k++) {
        const p = ix.pages[k]!;
        if (a >= p.addr && a < p.addr + p.size) return true;
      }
      return false;
    }
    default:
      return true;
  }
}
