/**
 * Mermaid `sequenceDiagram` of a trace: one participant per component (host, hyp, spmd, spmc, partitions), one
 * arrow per hop (solid for calls, dashed for returns), notes for steps, decisions (proxy, SPMC, SPMD) and page changes.
 * Renders as is in GitHub Markdown, mermaid.live or `mmdc`.
 */

import type { RegisterFile } from '../smccc/regs.ts';
import type { TraceEvent } from './events.ts';
import { componentsOf } from './jsonl.ts';
import { describeCall, describeResult, regsFromHex } from './text.ts';

const LABEL: Record<string, string> = {
  host: 'host (EL1)',
  hyp: 'pKVM (EL2)',
  spmd: 'SPMD (EL3)',
  spmc: 'SPMC (S-EL2)',
};

/** Mermaid identifiers: letters, digits, underscores. */
function ident(c: string): string {
  return c.replace(/[^A-Za-z0-9]/g, '_');
}

/** Message text safe inside Mermaid (`;` ends a statement, `#` starts an entity). */
function safe(s: string): string {
  return s.replace(/#/g, '#35;').replace(/;/g, '#59;').replace(/\n/g, ' ');
}

export interface MermaidOptions {
  /** Also draw decisions and page-state changes as notes (default true). */
  notes?: boolean;
}

export function toMermaid(events: readonly TraceEvent[], o: MermaidOptions = {}): string {
  const comps = componentsOf(events);
  const lines = ['sequenceDiagram'];
  // Kernel mode: the hyp participant names the code that ran (`pKVM (EL2) ffa.c 7.3.4`).
  let code: string | undefined;
  for (const e of events) if (e.kind === 'hop' && e.code !== undefined) code = e.code;
  for (const c of comps) {
    const label = LABEL[c] ?? (c.startsWith('sp:') ? `SP ${c.slice(3)}` : c);
    lines.push(
      `  participant ${ident(c)} as ${c === 'hyp' && code !== undefined ? `${label} ${safe(code)}` : label}`,
    );
  }
  const open = new Map<string, RegisterFile[]>();
  for (const e of events) {
    if (e.kind === 'hop') {
      const regs = regsFromHex(e.regs);
      if (e.dir === 'call') {
        const key = `${e.from}>${e.to}`;
        const st = open.get(key) ?? [];
        st.push(regs);
        open.set(key, st);
        lines.push(`  ${ident(e.from)}->>${ident(e.to)}: ${safe(describeCall(regs))}`);
      } else {
        const call = open.get(`${e.to}>${e.from}`)?.pop();
        lines.push(`  ${ident(e.from)}-->>${ident(e.to)}: ${safe(describeResult(regs, call))}`);
      }
    } else if (e.kind === 'step') {
      lines.push(`  Note over ${ident(comps[0]!)},${ident(comps[comps.length - 1]!)}: ${safe(e.text)}`);
    } else if (o.notes !== false && e.kind === 'decision') {
      lines.push(`  Note right of ${e.actor ?? 'hyp'}: ${safe(`${e.action} ${e.rule} [${e.change}]`)}`);
    } else if (o.notes !== false && e.kind === 'pages') {
      lines.push(
        `  Note right of hyp: ${safe(`${e.table} 0x${e.addr.toString(16)} ×${e.pages} ${e.from} → ${e.to}`)}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
