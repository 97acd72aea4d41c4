/**
 * The JSONL trace format `ffasim-trace/1` (docs/trace-format.md): a header line, then one event per line.
 * Field order is fixed so equal traces are byte-identical.
 */
import { ffaName } from '../ffa/ids.ts';
import type { TraceEvent } from './events.ts';
import { virtioPairing } from './virtio.ts';

export const TRACE_SCHEMA = 'ffasim-trace/1';

/** The header line's content. */
export interface TraceHeader {
  schema: typeof TRACE_SCHEMA;
  tool: string;
  profile: string;
  changes: readonly string[];
  seed: number;
  scenario?: string;
  world: Record<string, unknown>;
  components: string[];
}

/** Components present in a trace, in exception-level order (host EL1, hyp EL2, SPMD EL3, SPMC, partitions). */
export function componentsOf(events: readonly TraceEvent[]): string[] {
  const seen = new Set<string>(['host', 'hyp', 'spmd', 'spmc']);
  for (const e of events) {
    if (e.kind === 'hop') {
      seen.add(e.from);
      seen.add(e.to);
    }
  }
  const order = (c: string): number =>
    c === 'host' ? 0 : c === 'hyp' ? 1 : c === 'spmd' ? 2 : c === 'spmc' ? 3 : 4;
  return [...seen].sort((a, b) => order(a) - order(b) || a.localeCompare(b));
}

/** One event as a JSON object with a stable key order; hops gain `conv`, `fid` and `name`. */
export function eventToJSON(e: TraceEvent): Record<string, unknown> {
  const base = { seq: e.seq, call: e.call, cpu: e.cpu, kind: e.kind };
  if (e.kind === 'hop') {
    const x0 = e.regs[0] ?? '0x0';
    const w0 = Number.parseInt(x0.slice(-8), 16) >>> 0;
    return {
      ...base,
      from: e.from,
      to: e.to,
      dir: e.dir,
      conv: (w0 & 0x4000_0000) !== 0 ? 'SMC64' : 'SMC32',
      fid: `0x${w0.toString(16).padStart(8, '0')}`,
      name: ffaName(w0),
      regs: e.regs,
      ...(e.code === undefined ? {} : { code: e.code }),
    };
  }
  const { seq: _s, call: _c, cpu: _u, kind: _k, ...rest } = e;
  return { ...base, ...rest };
}

/** Serialises a whole trace: header line + one line per event, each ending in `\n`. */
export function toJSONL(header: TraceHeader, events: readonly TraceEvent[]): string {
  let out = `${JSON.stringify(header)}\n`;
  const pair = virtioPairing();
  for (const e of events) {
    const j = eventToJSON(e);
    const v = e.kind === 'hop' ? pair(e) : undefined;
    out += `${JSON.stringify(v === undefined ? j : { ...j, virtio: v })}\n`;
  }
  return out;
}
