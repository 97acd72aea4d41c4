/**
 * UUIDs in memory and in registers (abi.md §11).
 * - Memory: the 16 bytes in RFC 4122 text order (byte 0 = first byte of the text).
 * - 32-bit registers (PARTITION_INFO_GET w1–w4): register k holds bytes 4k..4k+3, lowest byte in bits [7:0]
 *   (a little-endian load), e.g. 12345678-abcd-ef12-3456-7890abcdef00 → w1 = 0x78563412.
 * - 64-bit registers (DIRECT_REQ2 x2/x3, GET_REGS x1/x2): bytes 0–7 with byte 0 in the low bits, then 8–15.
 */

/** The Nil UUID (all partitions / default service). */
export const NIL_UUID: Uint8Array = new Uint8Array(16);

const UUID_RE = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i;

/** Parses RFC 4122 text; undefined when malformed. */
export function uuidParse(text: string): Uint8Array | undefined {
  const m = UUID_RE.exec(text.trim());
  if (m === null) return undefined;
  const hex = m.slice(1).join('');
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Formats 16 bytes as lowercase RFC 4122 text. @throws RangeError unless exactly 16 bytes. */
export function uuidFormat(b: Uint8Array): string {
  if (b.length !== 16) throw new RangeError(`a UUID is 16 bytes, got ${b.length}`);
  let h = '';
  for (const x of b) h += x.toString(16).padStart(2, '0');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function uuidIsNil(b: Uint8Array): boolean {
  for (const x of b) if (x !== 0) return false;
  return true;
}

export function uuidEquals(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** PARTITION_INFO_GET w1–w4. */
export function uuidToW4(b: Uint8Array): [number, number, number, number] {
  const v = new DataView(b.buffer, b.byteOffset, 16);
  return [v.getUint32(0, true), v.getUint32(4, true), v.getUint32(8, true), v.getUint32(12, true)];
}

export function uuidFromW4(w1: number, w2: number, w3: number, w4: number): Uint8Array {
  const out = new Uint8Array(16);
  const v = new DataView(out.buffer);
  v.setUint32(0, w1 >>> 0, true);
  v.setUint32(4, w2 >>> 0, true);
  v.setUint32(8, w3 >>> 0, true);
  v.setUint32(12, w4 >>> 0, true);
  return out;
}

/** DIRECT_REQ2 x2/x3 (GET_REGS x1/x2). */
export function uuidToX2(b: Uint8Array): [bigint, bigint] {
  const v = new DataView(b.buffer, b.byteOffset, 16);
  return [v.getBigUint64(0, true), v.getBigUint64(8, true)];
}

export function uuidFromX2(lo: bigint, hi: bigint): Uint8Array {
  const out = new Uint8Array(16);
  const v = new DataView(out.buffer);
  v.setBigUint64(0, BigInt.asUintN(64, lo), true);
  v.setBigUint64(8, BigInt.asUintN(64, hi), true);
  return out;
}
