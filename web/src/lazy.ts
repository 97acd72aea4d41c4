/**
 * Loaded on first use (a separate chunk in the served build): the what-if engine — the whole model — and the
 * exporters (Perfetto via src/trace/perfetto.ts, the same exporter as `ffasim run --format perfetto`; Mermaid;
 * replay lines; crash-log register dumps).
 */
import { smcLine } from '../../src/scenario/replay.ts';
import type { TraceEvent } from '../../src/trace/events.ts';
import { toMermaid } from '../../src/trace/mermaid.ts';
import { toPerfetto } from '../../src/trace/perfetto.ts';
import { regsFromHex } from '../../src/trace/text.ts';
import { callInfo, eventAt, type TraceIndex } from './model/trace-index.ts';

export {
  firstDivergence,
  hostCallHop,
  PROFILE_NAMES,
  profileOfHeader,
  runWhatIf,
  whatIfAvailable,
} from './model/whatif.ts';

function events(ix: TraceIndex, first = 0, last = ix.n - 1): TraceEvent[] {
  const out: TraceEvent[] = [];
  for (let i = first; i <= last; i++) out.push(eventAt(ix, i) as unknown as TraceEvent);
  return out;
}

/** Chrome trace-event JSON of the whole trace. */
export function perfettoJSON(ix: TraceIndex): string {
  return JSON.stringify(toPerfetto(events(ix)));
}

/** Mermaid sequence diagram of the given host calls. */
export function mermaidOf(ix: TraceIndex, calls: readonly number[]): string {
  const evs: TraceEvent[] = [];
  for (const c of calls) {
    const info = callInfo(ix, c);
    if (info !== undefined) for (const e of events(ix, info.first, info.last)) evs.push(e);
  }
  return toMermaid(evs);
}

/** A replay line (docs/replay.md) for a host call, as the fuzzer writes them. */
export function replayLine(regs: readonly string[], cpu: number): string {
  return JSON.stringify(smcLine(regsFromHex(regs), cpu));
}

/** Registers as an arm64 crash log prints them (`x17: … x16: …`, pairs from the top). */
export function crashDump(regs: readonly string[]): string {
  const v = (i: number): string =>
    BigInt(regs[i] ?? '0')
      .toString(16)
      .padStart(16, '0');
  const lines: string[] = [];
  for (let i = regs.length - 1; i >= 0; i -= 2) {
    const a = `x${i}`.padStart(3);
    lines.push(i - 1 >= 0 ? `${a}: ${v(i)} ${`x${i - 1}`.padStart(3)}: ${v(i - 1)}` : `${a}: ${v(i)}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Opens the Perfetto UI and hands it the trace with its documented postMessage handshake: PING until PONG, then
 * `{perfetto: {buffer, title, fileName, keepApiOpen}}`, then the selected time range (`timeStart`/`timeEnd` in
 * seconds; the exporter's clock is 1 µs per seq).
 */
export function sendToPerfetto(
  url: string,
  json: string,
  title: string,
  range: [number, number] | undefined,
): Promise<string> {
  const win = window.open(url);
  if (win === null)
    return Promise.resolve('the browser blocked the Perfetto window (allow pop-ups for this page)');
  const origin = new URL(url, location.href).origin;
  return new Promise((resolve) => {
    let tries = 0;
    const timer = setInterval(() => {
      if (++tries > 400) {
        clearInterval(timer);
        window.removeEventListener('message', onMsg);
        resolve('Perfetto did not answer PING within 20 s');
        return;
      }
      win.postMessage('PING', origin);
    }, 50);
    const onMsg = (e: MessageEvent): void => {
      if (e.source !== win || e.data !== 'PONG') return;
      clearInterval(timer);
      window.removeEventListener('message', onMsg);
      const buffer = new TextEncoder().encode(json).buffer;
      win.postMessage(
        { perfetto: { buffer, title, fileName: 'ffasim-trace.json', keepApiOpen: true } },
        origin,
        [buffer],
      );
      if (range !== undefined)
        win.postMessage(
          { perfetto: { timeStart: range[0] / 1e6, timeEnd: range[1] / 1e6, viewPercentage: 0.8 } },
          origin,
        );
      resolve(`sent ${json.length} bytes to ${origin}`);
    };
    window.addEventListener('message', onMsg);
  });
}
