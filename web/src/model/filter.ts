/**
 * The flow filter: space-separated terms, all of which must hold (AND); `!` after the colon negates.
 *
 *   name:MEM_SHARE     hop or host call name contains it (FFA_ optional, any case)
 *   from:hyp to:spmc   hop lanes (prefix: `sp` matches every partition)
 *   status:!SUCCESS    what the host got back for the call (SUCCESS, ERROR DENIED, …)
 *   rule:mem-xfer      a proxy decision of the call has that rule (substring)
 *   page:0x88000000    the call changed the state of a range holding that address
 *   inv:I1             the call broke that invariant (`inv:` alone: any)
 *   anything else      name or rule contains it
 *
 * Parsing never throws: an unknown key is an error naming the term and its column.
 */
import { callInfo, F, K_HOP, type TraceIndex } from './trace-index.ts';

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

/** Whether hop event `i` passes every term. */
export function matchHop(ix: TraceIndex, i: number, terms: readonly FilterTerm[]): boolean {
  if (ix.kind[i] !== K_HOP) return false;
  const info = callInfo(ix, ix.call[i]!);
  for (const t of terms) {
    let hit: boolean;
    switch (t.key) {
      case 'name': {
        const v = bare(t.value);
        hit = bare(ix.names[ix.nameId[i]!] ?? '').includes(v) || bare(info?.name ?? '').includes(v);
        break;
      }
      case 'from':
        hit = (ix.components[ix.from[i]!] ?? '').startsWith(t.value);
        break;
      case 'to':
        hit = (ix.components[ix.to[i]!] ?? '').startsWith(t.value);
        break;
      case 'status':
        hit = bare(info?.status ?? '').startsWith(bare(t.value));
        break;
      case 'rule':
        hit = (info?.rules ?? []).some((r) => r.includes(t.value));
        break;
      case 'inv':
        hit =
          t.value === ''
            ? ((info?.flags ?? 0) & F.INV) !== 0
            : (info?.fails ?? []).some((f) => f.toUpperCase() === t.value);
        break;
      case 'page': {
        const a = t.addr ?? -1;
        hit =
          info !== undefined &&
          ix.pages.some(
            (p) => p.event >= info.first && p.event <= info.last && a >= p.addr && a < p.addr + p.size,
          );
        break;
      }
      case 'text':
        hit =
          bare(ix.names[ix.nameId[i]!] ?? '').includes(bare(t.value)) ||
          bare(info?.name ?? '').includes(bare(t.value)) ||
          (info?.rules ?? []).some((r) => r.toUpperCase().includes(t.value));
        break;
    }
    if (hit === t.negate) return false;
  }
  return true;
}

/** Hop events that pass the filter, in order. */
export function filterHops(ix: TraceIndex, terms: readonly FilterTerm[]): Int32Array {
  if (terms.length === 0) return ix.hops;
  const out = new Int32Array(ix.hops.length);
  let n = 0;
  for (const h of ix.hops) if (matchHop(ix, h, terms)) out[n++] = h;
  return out.slice(0, n);
}
