/**
 * A lean trace sink (a fuzz campaign's coverage bus) is told less — no buffer bytes, hops with x0 alone, each
 * kind of page transition once per stage-2 update — but it must see the same decisions, page transitions, EL3
 * calls, out-of-bounds accesses and warnings as a full bus, and the world must behave the same with it.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BUILTIN_SCENARIOS } from '../../src/scenario/builtin/index.ts';
import { runScenario } from '../../src/scenario/scenario.ts';
import { TraceBus, type TraceEvent } from '../../src/trace/events.ts';
import type { World } from '../../src/world/world.ts';

class LeanBus extends TraceBus {
  override readonly lean = true;
}

/** What coverage reads from a trace, as a sorted list of keys (the campaign's key kinds). */
function coverage(events: readonly TraceEvent[]): string[] {
  const keys = new Set<string>();
  for (const e of events) {
    if (e.kind === 'decision') keys.add(`${e.actor ?? 'hyp'}:${e.rule}:${e.action}`);
    else if (e.kind === 'pages') keys.add(`p:${e.table}:${e.from}>${e.to}`);
    else if (e.kind === 'hop') keys.add(`hop:${e.from}>${e.to}:${e.dir}:${e.regs[0]}`);
    else if (e.kind === 'oob') keys.add(`oob:${e.buffer}:${e.text}`);
    else if (e.kind === 'warn') keys.add(`warn:${e.where}:${e.text}`);
    else if (e.kind === 'check') keys.add(`check:${e.id}:${e.verdict}:${e.detail}`);
  }
  return [...keys].sort();
}

/** The world's snapshot (memory, page states, SPMC, host), bytes hashed, without the trace bus it refers to. */
function state(w: World): string {
  // Worlds with custom handlers or quirk functions refuse whole snapshots: their memory and page states, then.
  const snap =
    w.noSnapshot === undefined ? w.snapshot() : { mem: w.mem.snapshot(), stage2: w.stage2.snapshot() };
  return JSON.stringify(snap, (k, v: unknown) => {
    if (k === 'trace') return undefined;
    if (typeof v === 'bigint') return `${v}n`;
    if (ArrayBuffer.isView(v))
      return createHash('sha256')
        .update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength))
        .digest('hex');
    return v;
  });
}

describe('lean trace sinks', () => {
  it.each(BUILTIN_SCENARIOS.map((s) => [s.name, s] as const))('%s: same coverage, same world', (_name, s) => {
    const full = new TraceBus();
    const lean = new LeanBus();
    const a = runScenario(s, { trace: full });
    const b = runScenario(s, { trace: lean });
    expect(b.crash).toBe(a.crash);
    expect(b.expectations).toEqual(a.expectations);
    expect(coverage(lean.events)).toEqual(coverage(full.events));
    expect(state(b.world)).toEqual(state(a.world));
    // And it is leaner: no buffer bytes, one register per hop.
    expect(lean.events.some((e) => e.kind === 'buffer')).toBe(false);
    expect(lean.events.every((e) => e.kind !== 'hop' || e.regs.length === 1)).toBe(true);
    expect(lean.events.length).toBeLessThanOrEqual(full.events.length);
  });
});
