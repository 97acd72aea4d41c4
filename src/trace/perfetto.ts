/**
 * Chrome trace-event JSON (opens in ui.perfetto.dev and chrome://tracing): one process per world component
 * (lanes in exception-level order), one thread per host CPU; every hop is a complete slice (`X`) on the
 * receiving component from its call to its return, so slices nest strictly per track; each host call that
 * crossed more than one boundary is one flow (`bind_id`/`flow_in`/`flow_out`); host stage-2 page-state changes
 * are counters. Time is the logical `seq`
 * (1 µs per event).
 */
import type { TraceEvent } from './events.ts';
import { componentsOf } from './jsonl.ts';
import { describeCall, describeResult, regsFromHex } from './text.ts';

export interface ChromeTraceEvent {
  name: string;
  ph: string;
  ts?: number;
  dur?: number;
  pid: number;
  tid: number;
  cat?: string;
  args?: Record<string, unknown>;
  bind_id?: number;
  flow_in?: boolean;
  flow_out?: boolean;
  s?: string;
}

export function toPerfetto(events: readonly TraceEvent[]): {
  traceEvents: ChromeTraceEvent[];
  displayTimeUnit: string;
} {
  const comps = componentsOf(events);
  const pid = (c: string): number => comps.indexOf(c) + 1;
  const out: ChromeTraceEvent[] = [];
  // Kernel mode: the hyp process names the code that ran (`hyp: ffa.c 7.3.4`).
  let code: string | undefined;
  for (const e of events) if (e.kind === 'hop' && e.code !== undefined) code = e.code;
  comps.forEach((c, i) => {
    const name = c === 'hyp' && code !== undefined ? `hyp: ${code}` : c;
    out.push({ name: 'process_name', ph: 'M', pid: i + 1, tid: 0, args: { name } });
    out.push({ name: 'process_sort_index', ph: 'M', pid: i + 1, tid: 0, args: { sort_index: i } });
  });
  const cpus = new Set<number>();
  const open = new Map<string, { seq: number; call: number; regs: string[] }[]>();
  let sharedPages = 0;
  for (const e of events) {
    cpus.add(e.cpu);
    if (e.kind === 'hop') {
      if (e.dir === 'call') {
        const key = `${e.from}>${e.to}`;
        const st = open.get(key) ?? [];
        st.push({ seq: e.seq, call: e.call, regs: e.regs });
        open.set(key, st);
        continue;
      }
      const call = open.get(`${e.to}>${e.from}`)?.pop();
      if (call === undefined) continue;
      const callRegs = regsFromHex(call.regs);
      const ev: ChromeTraceEvent = {
        name: describeCall(callRegs).split(' ')[0]!,
        ph: 'X',
        ts: call.seq,
        dur: Math.max(1, e.seq - call.seq),
        pid: pid(e.from),
        tid: e.cpu,
        cat: 'hop',
        args: {
          call: describeCall(callRegs),
          result: describeResult(regsFromHex(e.regs), callRegs),
          host_call: e.call,
          from: e.to,
          regs_in: call.regs,
          regs_out: e.regs,
        },
      };
      if (e.call > 0) {
        ev.bind_id = e.call;
        if (e.to === 'host') ev.flow_out = true;
        else ev.flow_in = true;
      }
      out.push(ev);
    } else if (e.kind === 'pages' && e.table === 'host') {
      const delta = e.to === 'SHARED_OWNED' ? e.pages : e.from === 'SHARED_OWNED' ? -e.pages : 0;
      if (delta !== 0) {
        sharedPages += delta;
        out.push({
          name: 'host pages SHARED_OWNED',
          ph: 'C',
          ts: e.seq,
          pid: pid('hyp'),
          tid: 0,
          args: { pages: sharedPages },
        });
      }
    } else if (e.kind === 'decision') {
      out.push({
        name: `${e.action} ${e.rule}`,
        ph: 'i',
        s: 't',
        ts: e.seq,
        pid: pid(e.actor ?? 'hyp'),
        tid: e.cpu,
        cat: 'decision',
        args: { change: e.change, source: e.source, text: e.text },
      });
    } else if (e.kind === 'warn' || e.kind === 'oob' || e.kind === 'leak') {
      out.push({
        name: e.kind,
        ph: 'i',
        s: 'g',
        ts: e.seq,
        pid: pid('hyp'),
        tid: e.cpu,
        cat: 'violation',
        args: { text: e.text },
      });
    }
  }
  // A host call the hyp answered itself has one slice: a flow needs two ends, so it gets none.
  const slicesPerCall = new Map<number, number>();
  for (const ev of out)
    if (ev.bind_id !== undefined) slicesPerCall.set(ev.bind_id, (slicesPerCall.get(ev.bind_id) ?? 0) + 1);
  for (const ev of out) {
    if (ev.bind_id !== undefined && slicesPerCall.get(ev.bind_id) === 1) {
      delete ev.bind_id;
      delete ev.flow_out;
      delete ev.flow_in;
    }
  }
  for (const c of comps)
    for (const cpu of [...cpus].sort((a, b) => a - b))
      out.push({ name: 'thread_name', ph: 'M', pid: pid(c), tid: cpu, args: { name: `cpu${cpu}` } });
  return { traceEvents: out, displayTimeUnit: 'ns' };
}
