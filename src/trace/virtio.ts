/**
 * virtio-msg payloads inside DIRECT_REQ2/RESP2 hops, decoded for every trace format (text, Mermaid, Perfetto
 * and the report go through `describeCall`/`describeResult` in ./text.ts; JSONL adds a `virtio` field). A REQ2
 * carries virtio-msg when its UUID is the binding's device role (or the RFC-era UUID); its RESP2 is decoded
 * because it answers that call. Never throws: a malformed message shows its located error.
 */
import { FFA } from '../ffa/ids.ts';
import { uuidFormat, uuidFromX2 } from '../ffa/uuid.ts';
import { RegisterFile } from '../smccc/regs.ts';
import {
  decodeVirtioMsg,
  describeVirtioMsg,
  isBusyPayload,
  payloadBytes,
  VIRTIO_MSG_FFA_DEVICE_UUID,
  VIRTIO_MSG_FFA_RFC_UUID,
  type VirtioMsg,
} from '../virtio/index.ts';

/** True when `call` is a DIRECT_REQ2 to a virtio-msg UUID. */
export function isVirtioCall(call: RegisterFile): boolean {
  if (call.w(0) !== FFA.MSG_SEND_DIRECT_REQ2) return false;
  const u = uuidFormat(uuidFromX2(call.x(2), call.x(3)));
  return u === VIRTIO_MSG_FFA_DEVICE_UUID || u === VIRTIO_MSG_FFA_RFC_UUID;
}

/** The decoded message of a virtio-msg REQ2/RESP2 payload: the message, busy, or a located error. */
export type VirtioPayload =
  | { kind: 'msg'; msg: VirtioMsg }
  | { kind: 'busy' }
  | { kind: 'error'; code: string; message: string };

function decodePayload(regs: RegisterFile): VirtioPayload {
  if (isBusyPayload(regs)) return { kind: 'busy' };
  const d = decodeVirtioMsg(payloadBytes(regs));
  return d.ok
    ? { kind: 'msg', msg: d.value }
    : { kind: 'error', code: d.error.code, message: d.error.message };
}

/** The virtio-msg carried by a hop: `regs` is the call or, with `call`, the result answering it. */
export function virtioPayload(regs: RegisterFile, call?: RegisterFile): VirtioPayload | undefined {
  if (call === undefined) return isVirtioCall(regs) ? decodePayload(regs) : undefined;
  if (!isVirtioCall(call) || regs.w(0) !== FFA.MSG_SEND_DIRECT_RESP2) return undefined;
  return decodePayload(regs);
}

/** One-line text of a decoded payload. */
export function describeVirtioPayload(p: VirtioPayload): string {
  return p.kind === 'msg'
    ? describeVirtioMsg(p.msg)
    : p.kind === 'busy'
      ? 'virtio-msg busy (all-zero payload)'
      : `virtio-msg malformed: ${p.code} ${p.message}`;
}

/** ` ⇒ virtio-msg …` for a hop that carries one, else ''. */
export function virtioSuffix(regs: RegisterFile, call?: RegisterFile): string {
  const p = virtioPayload(regs, call);
  return p === undefined ? '' : ` ⇒ ${describeVirtioPayload(p)}`;
}

/** The JSONL `virtio` field of a hop (docs/trace-format.md). */
export interface VirtioJSON {
  text: string;
  name?: string;
  response?: boolean;
  devNum?: number;
  token?: number;
  busy?: true;
  error?: string;
}

/**
 * A pairing of hops over one trace in order: returns the `virtio` field of each hop that carries virtio-msg
 * (a RESP2 is paired with the REQ2 it answers on the same link).
 */
export function virtioPairing(): (e: {
  from: string;
  to: string;
  dir: 'call' | 'ret';
  regs: readonly string[];
}) => VirtioJSON | undefined {
  const open = new Map<string, RegisterFile[]>();
  return (e) => {
    const regs = RegisterFile.of(e.regs.map((h) => BigInt(h)));
    let p: VirtioPayload | undefined;
    if (e.dir === 'call') {
      const key = `${e.from}>${e.to}`;
      const st = open.get(key) ?? [];
      st.push(regs);
      open.set(key, st);
      p = virtioPayload(regs);
    } else {
      const call = open.get(`${e.to}>${e.from}`)?.pop();
      p = call === undefined ? undefined : virtioPayload(regs, call);
    }
    if (p === undefined) return undefined;
    const text = describeVirtioPayload(p);
    if (p.kind === 'busy') return { text, busy: true };
    if (p.kind === 'error') return { text, error: p.code };
    return { text, name: p.msg.name, response: p.msg.response, devNum: p.msg.devNum, token: p.msg.token };
  };
}
