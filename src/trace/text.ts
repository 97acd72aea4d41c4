/**
 * The text trace: one line per hop, aligned, with the decoded call or result, the decisions (the proxy's in
 * yellow, the SPMC's and SPMD's in blue), page-state changes and checks indented under the hop they belong to.
 * Colour only when asked (the CLI asks on a TTY).
 */
import { decodeCall, decodeResult } from '../ffa/calls.ts';
import { formatCall, formatResult } from '../ffa/format.ts';
import { ffaName } from '../ffa/ids.ts';
import { RegisterFile } from '../smccc/regs.ts';
import type { TraceEvent } from './events.ts';
import { virtioSuffix } from './virtio.ts';

export interface TextOptions {
  color?: boolean;
  /** Print each decision's change id and source (`--explain`), the proxy's and the secure world's. */
  explain?: boolean;
  /** Print all 18 registers of every hop. */
  regs?: boolean;
}

const C = {
  dim: '\x1b[2m',
  bold: '\x1b[1m',
  red: '\x1b[31m',
  green: '\x1b[32m',
  yellow: '\x1b[33m',
  blue: '\x1b[34m',
  magenta: '\x1b[35m',
  cyan: '\x1b[36m',
  reset: '\x1b[0m',
};

/** Register file from the trace's hex strings. */
export function regsFromHex(hex: readonly string[]): RegisterFile {
  return RegisterFile.of(hex.map((h) => BigInt(h)));
}

/** One-line decoded call for a hop's registers (never throws). */
export function describeCall(regs: RegisterFile): string {
  const d = decodeCall(regs);
  return (
    (d.ok
      ? formatCall(d.value)
      : `${ffaName(regs.w(0))} ${regs.toHex().slice(1, 4).join(' ')} (${d.error.code})`) + virtioSuffix(regs)
  );
}

/** One-line decoded result of `regs` answering `call` (never throws). */
export function describeResult(regs: RegisterFile, call: RegisterFile | undefined): string {
  const forCall = call === undefined ? undefined : decodeCall(call);
  const d = decodeResult(regs, forCall?.ok ? forCall.value : call?.w(0));
  const text = d.ok ? formatResult(d.value) : `${ffaName(regs.w(0))} (${d.error.code})`;
  return call === undefined ? text : text + virtioSuffix(regs, call);
}

/** Formats a whole trace as text lines. */
export function toText(events: readonly TraceEvent[], o: TextOptions = {}): string {
  const c = (code: keyof typeof C, s: string): string => (o.color ? `${C[code]}${s}${C.reset}` : s);
  const lines: string[] = [];
  const open = new Map<string, RegisterFile[]>();
  let lastCall = -1;
  const pad = '                              ';
  for (const e of events) {
    switch (e.kind) {
      case 'step':
        lines.push(c('bold', `── ${e.text}`));
        break;
      case 'hop': {
        const regs = regsFromHex(e.regs);
        const head = e.call !== lastCall && e.from === 'host' ? `#${e.call}`.padEnd(5) : '     ';
        if (e.from === 'host') lastCall = e.call;
        const arrow =
          e.dir === 'call'
            ? `${e.from.padStart(9)} → ${e.to.padEnd(9)}`
            : `${e.to.padStart(9)} ← ${e.from.padEnd(9)}`;
        let text: string;
        if (e.dir === 'call') {
          const key = `${e.from}>${e.to}`;
          const stack = open.get(key) ?? [];
          stack.push(regs);
          open.set(key, stack);
          text = describeCall(regs);
        } else {
          const key = `${e.to}>${e.from}`;
          const call = open.get(key)?.pop();
          text = describeResult(regs, call);
          if (/ERROR|NOT_SUPPORTED/.test(text)) text = c('red', text);
          else text = c('green', text);
        }
        // Kernel mode names the hyp's code once per host call, on the host → hyp hop.
        const code = e.code !== undefined && e.from === 'host' ? c('dim', `  [hyp: ${e.code}]`) : '';
        lines.push(
          `${c('dim', `${String(e.seq).padStart(5)} ${head}cpu${e.cpu}`)} ${c('cyan', arrow)} ${text}${code}`,
        );
        if (o.regs) lines.push(`${pad}${c('dim', e.regs.map((r, i) => `x${i}=${r}`).join(' '))}`);
        break;
      }
      case 'decision': {
        // Secure-world rules carry their actor in the id (`spmc/…`); name it only when they do not.
        const who = e.actor === undefined || e.rule.startsWith(`${e.actor}/`) ? '' : `${e.actor}: `;
        lines.push(
          `${pad}${c(e.actor === undefined ? 'yellow' : 'blue', `▸ ${who}${e.action} ${e.rule}`)} ${e.text}${o.explain && e.lines === undefined ? c('dim', ` [${e.change}] ${e.source}`) : ''}`,
        );
        // Kernel mode with --coverage: the ffa.c lines that decided, in place of a model rule's source.
        if (o.explain && e.lines !== undefined)
          lines.push(`${pad}  ${c('dim', `${e.source} ran ffa.c lines ${lineRanges(e.lines)}`)}`);
        break;
      }
      case 'pages':
        lines.push(
          `${pad}${c('magenta', `◆ ${e.table} 0x${e.addr.toString(16)} ×${e.pages} ${e.from} → ${e.to}`)}`,
        );
        break;
      case 'check':
        if (e.id === 'invariants' && e.verdict === 'pass') break; // shown only when an invariant breaks
        lines.push(
          `${pad}${e.verdict === 'pass' ? c('green', '✓') : c('red', '✗')} ${e.id === 'expect' ? '' : `${e.id} `}${e.detail}`,
        );
        break;
      case 'warn':
        lines.push(`${pad}${c('red', `! WARN_ON ${e.where}`)}: ${e.text}`);
        break;
      case 'leak':
        lines.push(`${pad}${c('red', '! leak')} ${e.text}`);
        break;
      case 'oob':
        lines.push(`${pad}${c('red', '! out-of-bounds')} ${e.text}`);
        break;
      case 'note':
        lines.push(`${pad}${c('dim', `· ${e.who}: ${e.text}`)}`);
        break;
      case 'buffer':
        if (o.regs)
          lines.push(
            `${pad}${c('dim', `□ ${e.role} @0x${e.addr.toString(16)} ${e.hex.length / 2} bytes (v${e.version})`)}`,
          );
        break;
    }
  }
  return `${lines.join('\n')}\n`;
}

/** `870–874, 901, 905` from line numbers (sorted, each once; runs of consecutive numbers joined). */
export function lineRanges(lines: readonly number[]): string {
  const xs = [...new Set(lines)].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < xs.length; ) {
    let j = i;
    while (j + 1 < xs.length && xs[j + 1] === xs[j]! + 1) j++;
    out.push(j === i ? `${xs[i]}` : `${xs[i]}–${xs[j]}`);
    i = j + 1;
  }
  return out.length === 0 ? '(none)' : out.join(', ');
}
