/**
 * The trace bus: every hop (register file in/out), decision (proxy, SPMC, SPMD), buffer, page-state change and
 * check is one event. Components emit only when a sink is attached (`trace?.emit(…)`), so tracing costs nothing
 * when off (../shared/STYLE.md habit 9). `seq` is the only clock: logical and deterministic.
 */

import type { RegisterFile } from '../smccc/regs.ts';

/** A world component. Partitions are `sp:0x8001`. */
export type Component = 'host' | 'hyp' | 'spmd' | 'spmc' | `sp:0x${string}`;

/** Page-state table an event refers to. */
export type PageTable = 'host' | 'hyp';

/** Event bodies as components emit them; the bus adds seq, call and cpu. */
export type TraceEventBody =
  | {
      kind: 'hop';
      from: Component;
      to: Component;
      dir: 'call' | 'ret';
      /** 0x-prefixed 16-digit hex, x0–x17. */
      regs: string[];
      /** The hyp's code when it is not the model proxy (kernel mode: `ffa.c 7.3.4`); on hops to or from the hyp. */
      code?: string;
    }
  | {
      kind: 'decision';
      /**
       * Who decided: absent for the proxy (hyp); `spmc` or `spmd` for the secure world's rejections and special
       * answers (their rules are in ../spmc/rules.ts).
       */
      actor?: 'spmc' | 'spmd';
      /** What was done: the proxy `forward`s, `reject`s or `handle`s; the secure world `reject`s or `answer`s. */
      action: string;
      /** The rule (a short id of the check or path, e.g. `mem-xfer/fraglen-min`, `spmc/reclaim/unknown-handle`). */
      rule: string;
      /**
       * The profile change that made this behaviour, or `base`. For secure-world decisions: the world setting that
       * selects it (`spmc.versionLock=tfa`, `spmc.quirks.shareSuccess64`), or `base` for the default SPMC.
       */
      change: string;
      /** Commit subject, Message-ID or spec section (secure world: FF-A section; behaviour followed; notes). */
      source: string;
      /** One line for humans. */
      text: string;
      /** Kernel mode with `--coverage`: the ffa.c lines this host call ran (in order, each once). */
      lines?: number[];
    }
  | {
      kind: 'buffer';
      owner: Component;
      /** What the buffer is: `hyp-tx`, `host-tx`, `hyp-rx`, `desc-buf`, … */
      role: string;
      addr: number;
      /** FF-A version the bytes are laid out for (`1.2`). */
      version: string;
      hex: string;
    }
  | {
      kind: 'pages';
      table: PageTable;
      /** Physical address of the first page. */
      addr: number;
      pages: number;
      /** Page size of that table in bytes. */
      pageSize: number;
      from: string;
      to: string;
    }
  | { kind: 'check'; id: string; verdict: 'pass' | 'fail'; detail: string }
  | { kind: 'warn'; where: string; text: string }
  | { kind: 'leak'; regs: number[]; text: string }
  | { kind: 'oob'; buffer: string; offset: number; size: number; limit: number; text: string }
  | { kind: 'note'; who: Component; text: string }
  /** A scenario step heading. */
  | { kind: 'step'; text: string };

/** A trace event as stored: body plus the bus's clock and context. */
export type TraceEvent = TraceEventBody & { seq: number; call: number; cpu: number };

/** Where components send events. */
export interface TraceSink {
  emit(e: TraceEventBody): void;
  /**
   * A sink that reads neither buffer contents nor hop registers past x0 nor every run of pages (a fuzz campaign's
   * coverage bus): emitters skip `buffer` events, give hops x0 alone ({@link hopRegs}), and Stage2 reports each
   * kind of page transition once per update. Hex-encoding mailboxes and eighteen registers per hop, and one event
   * per constituent, are most of a traced call's cost.
   */
  readonly lean?: boolean;
}

/** A hop's registers as `sink` wants them: x0–x17, or x0 alone for a {@link TraceSink.lean} sink. */
export function hopRegs(sink: TraceSink, r: RegisterFile): string[] {
  if (sink.lean !== true) return r.toHex();
  const hi = r.hi(0);
  const lo = r.w(0);
  if (hi !== 0) return [`0x${hi.toString(16).padStart(8, '0')}${lo.toString(16).padStart(8, '0')}`];
  // A campaign sees a few dozen function IDs and error codes in x0: one frozen list each.
  let x0 = LEAN_X0.get(lo);
  if (x0 === undefined) {
    x0 = Object.freeze([`0x00000000${lo.toString(16).padStart(8, '0')}`]) as string[];
    if (LEAN_X0.size < 4096) LEAN_X0.set(lo, x0);
  }
  return x0;
}

const LEAN_X0 = new Map<number, string[]>();

/** Collects events in order and stamps them with seq / call / cpu. */
export class TraceBus implements TraceSink {
  readonly events: TraceEvent[] = [];
  private seq = 0;
  /** Current host call number (0 before the first host call; world init events carry 0). */
  call = 0;
  /** CPU of the current host call. */
  cpu = 0;
  private readonly listeners: ((e: TraceEvent) => void)[] = [];
  /** When false, events are passed to listeners but not stored. */
  keep = true;
  /** See {@link TraceSink.lean}. */
  readonly lean: boolean = false;

  emit(e: TraceEventBody): void {
    const ev = { ...e, seq: this.seq++, call: this.call, cpu: this.cpu } as TraceEvent;
    if (this.keep) this.events.push(ev);
    for (const l of this.listeners) l(ev);
  }

  /** Registers a listener called for every event. */
  on(listener: (e: TraceEvent) => void): void {
    this.listeners.push(listener);
  }
}
