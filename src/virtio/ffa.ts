/**
 * The virtio-msg FF-A binding (2026 PoC, `virtio_msg_bus_ffa_protocol.h` / `_xfer_direct.c`; peers-and-tests.md
 * §5): a message travels in the 112-byte DIRECT_REQ2/RESP2 payload (x4–x17, byte 0 in the low bits of x4), at
 * most 104 bytes of it; an all-zero RESP2 payload means "busy" and the driver retries at most 3 times; bus
 * addresses are `area_id << 48 | offset`.
 */
import type { RegisterFile } from '../smccc/regs.ts';

/** Device role: the driver's DIRECT_REQ2 target UUID. */
export const VIRTIO_MSG_FFA_DEVICE_UUID = 'c66028b5-2498-4aa1-9de7-77da6122abf0';
/** Driver role. */
export const VIRTIO_MSG_FFA_DRIVER_UUID = 'bd7fd089-6795-472b-b47f-db0c5d9a719d';
/** The RFC-era driver's ID-table UUID ("FIXME: Use the correct UUIDs"). */
export const VIRTIO_MSG_FFA_RFC_UUID = 'c5b82091-d4fe-48bb-b7e7-4d246ebb28be';

/** REQ2/RESP2 payload capacity: x4–x17. */
export const REQ2_PAYLOAD_BYTES = 112;
/** Retries after a busy (all-zero) RESP2. */
export const VIRTIO_MSG_FFA_BUSY_RETRIES = 3;

/** Bus feature bits (bits 0–6). */
export const BUS_FEATURES = {
  DIRECT_RX: 1 << 0,
  DIRECT_TX: 1 << 1,
  INDIRECT_RX: 1 << 2,
  INDIRECT_TX: 1 << 3,
  NOTIF_RX: 1 << 4,
  NOTIF_TX: 1 << 5,
  FIFO: 1 << 6,
} as const;

/** FF-A bus version this model speaks in VERSION **(model value)**. */
export const VIRTIO_MSG_FFA_BUS_VERSION = 1;
/** Transport revision (the 009bce08 draft is revision 1). */
export const VIRTIO_MSG_TRANSPORT_REVISION = 1;

/** A bus address from (area, offset). @throws RangeError when either does not fit (a programming error). */
export function busAddress(areaId: number, offset: number | bigint): bigint {
  const o = BigInt(offset);
  if (areaId < 0 || areaId > 0xffff || o < 0n || o >= 1n << 48n)
    throw new RangeError(`bus address (${areaId}, ${o}) out of range`);
  return (BigInt(areaId) << 48n) | o;
}

/** Splits a bus address into area ID and offset. */
export function splitBusAddress(addr: bigint): { areaId: number; offset: bigint } {
  return { areaId: Number((addr >> 48n) & 0xffffn), offset: addr & 0xffff_ffff_ffffn };
}

/** The 112 payload bytes of a REQ2/RESP2 register file (x4 first, little-endian). */
export function payloadBytes(regs: RegisterFile): Uint8Array {
  const out = new Uint8Array(REQ2_PAYLOAD_BYTES);
  const v = new DataView(out.buffer);
  for (let i = 0; i < 14; i++) v.setBigUint64(8 * i, regs.x(4 + i), true);
  return out;
}

/** Packs up to 112 bytes into the 14 payload registers (zero-padded). @throws RangeError when longer. */
export function bytesToPayload(bytes: Uint8Array): bigint[] {
  if (bytes.length > REQ2_PAYLOAD_BYTES)
    throw new RangeError(`${bytes.length} bytes exceed the REQ2 payload`);
  const pad = new Uint8Array(REQ2_PAYLOAD_BYTES);
  pad.set(bytes);
  const v = new DataView(pad.buffer);
  const out: bigint[] = [];
  for (let i = 0; i < 14; i++) out.push(v.getBigUint64(8 * i, true));
  return out;
}

/** Writes up to 112 bytes into x4–x17 of `regs` (zero-padded). @throws RangeError when longer. */
export function setPayload(regs: RegisterFile, bytes: Uint8Array): RegisterFile {
  const p = bytesToPayload(bytes);
  for (let i = 0; i < 14; i++) regs.setX(4 + i, p[i]!);
  return regs;
}

/** True when x4–x17 are all zero: the binding's "busy" answer. */
export function isBusyPayload(regs: RegisterFile): boolean {
  for (let i = 4; i < 18; i++) if (regs.x(i) !== 0n) return false;
  return true;
}

/** Bytes of a Latin-1 string (console data; the core has no TextEncoder without DOM types). */
export function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

/** The Latin-1 string of bytes. */
export function latin1String(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return s;
}
