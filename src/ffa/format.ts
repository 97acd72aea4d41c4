/**
 * One-line readable forms and JSON-safe forms of decoded calls and results (traces, `ffasim decode`, the web
 * view). Payload arrays drop trailing zero words; bigints print as hex.
 */
import type { FfaCall, FfaResult } from './calls.ts';
import { ffaErrorLabel } from './errors.ts';
import { ffaName } from './ids.ts';
import { formatVersion } from './version.ts';

const hex = (v: number | bigint): string => `0x${v.toString(16)}`;

function trimPayload(p: readonly bigint[]): bigint[] {
  let n = p.length;
  while (n > 0 && p[n - 1] === 0n) n--;
  return p.slice(0, n);
}

function fmtArg(name: string, v: number | bigint | string | bigint[]): string {
  if (Array.isArray(v)) return `${name}=[${trimPayload(v).map(hex).join(',')}]`;
  if (typeof v === 'string') return `${name}=${v}`;
  if (name === 'requested') return `${name}=${formatVersion(Number(v))}`;
  if (name === 'id' && typeof v === 'number') return `${name}=${ffaName(v)}`;
  if (typeof v === 'number' && /length|count|offset|index/i.test(name)) return `${name}=${v}`;
  if (typeof v === 'bigint' || v > 9) return `${name}=${hex(v)}`;
  return `${name}=${v}`;
}

/** `FFA_MEM_SHARE_64 totalLength=112 fragmentLength=112 address=0x0 pageCount=0`. */
export function formatCall(c: FfaCall): string {
  const parts = [ffaName(c.fid & ~0x10000)];
  if (
    c.name === 'FFA_MSG_SEND_DIRECT_REQ' ||
    c.name === 'FFA_MSG_SEND_DIRECT_REQ2' ||
    c.name === 'FFA_MSG_SEND_DIRECT_RESP' ||
    c.name === 'FFA_MSG_SEND_DIRECT_RESP2'
  ) {
    parts.push(`${hex(Number(c.args.sender))}→${hex(Number(c.args.receiver))}`);
    for (const [k, v] of Object.entries(c.args))
      if (k !== 'sender' && k !== 'receiver' && !(k === 'flags' && v === 0)) parts.push(fmtArg(k, v));
    return parts.join(' ');
  }
  for (const [k, v] of Object.entries(c.args)) parts.push(fmtArg(k, v));
  return parts.join(' ');
}

/** `FFA_SUCCESS handle=0x1`, `FFA_ERROR DENIED (-6)`, `FFA_VERSION → 1.2`. */
export function formatResult(r: FfaResult): string {
  switch (r.kind) {
    case 'SUCCESS': {
      const name = r.smc64 ? 'FFA_SUCCESS_64' : 'FFA_SUCCESS';
      if (r.payload !== undefined)
        return `${name} ${Object.entries(r.payload)
          .map(([k, v]) => `${k}=${typeof v === 'bigint' || v > 9 ? hex(v) : v}`)
          .join(' ')}`;
      const args = trimPayload(r.args);
      return args.length === 0 ? name : `${name} [${args.map(hex).join(',')}]`;
    }
    case 'ERROR':
      return `FFA_ERROR ${ffaErrorLabel(r.code)} (${r.code})`;
    case 'VERSION':
      return `FFA_VERSION → ${r.notSupported ? 'NOT_SUPPORTED' : formatVersion(r.version)}`;
    case 'MEM_FRAG_RX':
      return `FFA_MEM_FRAG_RX handle=${hex(r.handle)} offset=${r.offset}`;
    case 'MEM_FRAG_TX':
      return `FFA_MEM_FRAG_TX handle=${hex(r.handle)} length=${r.length}`;
    case 'MEM_RETRIEVE_RESP':
      return `FFA_MEM_RETRIEVE_RESP total=${r.totalLength} fragment=${r.fragmentLength}`;
    case 'DIRECT_RESP':
      return `${r.smc64 ? 'FFA_MSG_SEND_DIRECT_RESP_64' : 'FFA_MSG_SEND_DIRECT_RESP'} ${hex(r.sender)}→${hex(r.receiver)} payload=[${trimPayload(r.payload).map(hex).join(',')}]`;
    case 'DIRECT_RESP2':
      return `FFA_MSG_SEND_DIRECT_RESP2 ${hex(r.sender)}→${hex(r.receiver)} payload=[${trimPayload(r.payload).map(hex).join(',')}]`;
    case 'INTERRUPT':
      return `FFA_INTERRUPT target=${hex(r.targetInfo)} intid=${r.interruptId}`;
    case 'YIELD':
      return `FFA_YIELD target=${hex(r.targetInfo)}`;
    case 'MSG_WAIT':
      return 'FFA_MSG_WAIT';
    case 'MEM_OP_PAUSE':
      return `FFA_MEM_OP_PAUSE handle=${hex(r.handle)}`;
    case 'SMCCC_NOT_SUPPORTED':
      return 'SMCCC NOT_SUPPORTED (x0 = -1)';
    case 'UNKNOWN':
      return `unknown answer ${ffaName(r.w0)}`;
  }
}

function jsonValue(v: unknown): unknown {
  if (typeof v === 'bigint') return hex(v);
  if (Array.isArray(v)) return v.map(jsonValue);
  if (v instanceof Uint8Array) return [...v].map((b) => b.toString(16).padStart(2, '0')).join('');
  if (v !== null && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonValue(x)]));
  return v;
}

/** JSON-safe call: bigints as 0x-hex strings. */
export function callToJSON(c: FfaCall): Record<string, unknown> {
  return {
    name: c.name,
    fid: `0x${(c.fid >>> 0).toString(16).padStart(8, '0')}`,
    conv: c.smc64 ? 'SMC64' : 'SMC32',
    args: jsonValue(c.args),
  };
}

/** JSON-safe result. */
export function resultToJSON(r: FfaResult): Record<string, unknown> {
  return jsonValue(r) as Record<string, unknown>;
}
