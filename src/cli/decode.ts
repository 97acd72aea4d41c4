/**
 * The logic of `ffasim decode`: parse register files given per line and decode them; decode descriptors.
 * Input lines: a JSON array of ≤ 18 values (x0 first; numbers or 0x-hex strings), `x0=0x84000063 x1=0x10002`,
 * or `{"call": […], "ret": […]}`. Blank lines and `#` comments are skipped.
 */
import { decodeCall, decodeResult } from '../ffa/calls.ts';
import { annotate, annotatedToJSON, type DescriptorKind, formatAnnotated } from '../ffa/desc/index.ts';
import type { DescVersion } from '../ffa/desc/types.ts';
import { callToJSON, formatCall, formatResult, resultToJSON } from '../ffa/format.ts';
import { ffaName } from '../ffa/ids.ts';
import type { DecodeError } from '../ffa/result.ts';
import { RegisterFile, U64_MASK } from '../smccc/regs.ts';

export interface InputError {
  line: number;
  column: number;
  message: string;
}

type Parsed = { ok: true; value: RegisterFile } | { ok: false; column: number; message: string };

function toU64(v: unknown): bigint | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : undefined;
  // `_` separates hex digit groups; at least one digit ("0x_" is not a number).
  if (typeof v === 'string' && /^(0x[0-9a-fA-F_]{1,16}|[0-9]{1,20})$/.test(v) && !/^0x_*$/.test(v)) {
    const b = BigInt(v.replace(/_/g, ''));
    return b <= U64_MASK ? b : undefined;
  }
  return undefined;
}

function fromArray(a: unknown, col: number): Parsed {
  if (!Array.isArray(a)) return { ok: false, column: col, message: 'expected an array of register values' };
  if (a.length === 0 || a.length > 18)
    return { ok: false, column: col, message: `expected 1–18 registers, got ${a.length}` };
  const r = new RegisterFile();
  for (let i = 0; i < a.length; i++) {
    const v = toU64(a[i]);
    if (v === undefined)
      return {
        ok: false,
        column: col,
        message: `x${i}: not a u64 (number or 0x-hex string): ${JSON.stringify(a[i])}`,
      };
    r.setX(i, v);
  }
  return { ok: true, value: r };
}

function fromAssignments(t: string, indent: number): Parsed {
  const r = new RegisterFile();
  const re = /\S+/g;
  for (let m = re.exec(t); m !== null; m = re.exec(t)) {
    const col = indent + m.index + 1;
    const kv = /^[xw](\d{1,2})=(\S+)$/.exec(m[0]);
    if (kv === null) return { ok: false, column: col, message: `expected xN=VALUE, got '${m[0]}'` };
    const reg = Number(kv[1]);
    if (reg > 17) return { ok: false, column: col, message: `register x${reg} does not exist (x0–x17)` };
    const v = toU64(kv[2]);
    if (v === undefined)
      return { ok: false, column: col + kv[1]!.length + 2, message: `x${reg}: not a u64: ${kv[2]}` };
    r.setX(reg, v);
  }
  return { ok: true, value: r };
}

const errorTag = (e: DecodeError): string => `[${e.code}${e.rule === undefined ? '' : ` ${e.rule}`}]`;

const errorJSON = (e: DecodeError): Record<string, unknown> => ({
  code: e.code,
  message: e.message,
  at: e.at,
  ...(e.rule === undefined ? {} : { rule: e.rule }),
});

/** Decodes every line; never throws. */
export function decodeLines(
  text: string,
  opts: { json: boolean; strict?: boolean },
): { out: string; errors: InputError[] } {
  const errors: InputError[] = [];
  let out = '';
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.replace(/\r$/, '');
    const t = raw.trim();
    if (t === '' || t.startsWith('#')) continue;
    const indent = raw.indexOf(t);
    let call: Parsed;
    let ret: Parsed | undefined;
    if (t.startsWith('[') || t.startsWith('{')) {
      let j: unknown;
      try {
        j = JSON.parse(t);
      } catch (e) {
        const m = /position (\d+)/.exec((e as Error).message);
        errors.push({
          line: i + 1,
          column: indent + 1 + (m ? Number(m[1]) : 0),
          message: `not valid JSON: ${(e as Error).message}`,
        });
        continue;
      }
      if (Array.isArray(j)) call = fromArray(j, indent + 1);
      else if (j !== null && typeof j === 'object' && 'call' in j) {
        const o = j as Record<string, unknown>;
        const extra = Object.keys(o).find((k) => k !== 'call' && k !== 'ret');
        if (extra !== undefined) {
          errors.push({
            line: i + 1,
            column: indent + 1 + t.indexOf(`"${extra}"`),
            message: `unknown key '${extra}' (expected call, ret)`,
          });
          continue;
        }
        call = fromArray(o.call, indent + 1 + t.indexOf('"call"'));
        if ('ret' in o) ret = fromArray(o.ret, indent + 1 + t.indexOf('"ret"'));
      } else {
        errors.push({
          line: i + 1,
          column: indent + 1,
          message: 'expected an array or {"call": [...], "ret": [...]}',
        });
        continue;
      }
    } else {
      call = fromAssignments(t, indent);
    }
    if (!call.ok) {
      errors.push({ line: i + 1, column: call.column, message: call.message });
      continue;
    }
    if (ret !== undefined && !ret.ok) {
      errors.push({ line: i + 1, column: ret.column, message: `ret: ${ret.message}` });
      continue;
    }
    const d = decodeCall(call.value, { strict: opts.strict === true });
    const strict = opts.strict === true;
    const r = ret?.ok
      ? decodeResult(ret.value, d.ok ? d.value : call.value.w(0), { strict, callRegs: call.value })
      : undefined;
    if (opts.json) {
      const o: Record<string, unknown> = { line: i + 1 };
      if (d.ok) o.call = callToJSON(d.value);
      else o.callError = errorJSON(d.error);
      if (r !== undefined) o.ret = r.ok ? resultToJSON(r.value) : { error: errorJSON(r.error) };
      out += `${JSON.stringify(o)}\n`;
    } else {
      const fid = call.value.w(0);
      const head = `${ffaName(fid)} (0x${fid.toString(16).padStart(8, '0')}, ${(fid & 0x4000_0000) !== 0 ? 'SMC64' : 'SMC32'})`;
      out += d.ok
        ? `${head}: ${formatCall(d.value)}\n`
        : `${head}: cannot decode: ${d.error.message} ${errorTag(d.error)}\n`;
      if (r !== undefined)
        out += `  → ${r.ok ? formatResult(r.value) : `cannot decode: ${r.error.message} ${errorTag(r.error)}`}\n`;
    }
  }
  return { out, errors };
}

/** Raw binary, or hex text (whitespace, `0x`, `:`, `,` separators allowed). */
export function parseHexOrBinary(input: Uint8Array): Uint8Array {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(input);
  const cleaned = text.replace(/0x/gi, '').replace(/[\s:,]/g, '');
  if (cleaned.length > 0 && cleaned.length % 2 === 0 && /^[0-9a-fA-F]+$/.test(cleaned)) {
    const out = new Uint8Array(cleaned.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(cleaned.slice(2 * i, 2 * i + 2), 16);
    return out;
  }
  return input;
}

/** Decodes one descriptor as annotated text or JSON. */
export function decodeDescriptorCommand(
  bytes: Uint8Array,
  opts: { ffaVersion: DescVersion; kind: DescriptorKind; json: boolean; count?: number; strict?: boolean },
): { out: string; ok: boolean } {
  const a = annotate(bytes, opts.kind, opts.ffaVersion, {
    strict: opts.strict === true,
    ...(opts.count === undefined ? {} : { count: opts.count }),
  });
  return {
    out: opts.json ? `${JSON.stringify(annotatedToJSON(a))}\n` : formatAnnotated(a),
    ok: a.error === undefined,
  };
}
