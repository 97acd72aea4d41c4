/**
 * Adversarial descriptors that are hard to express as a mutation of a standard one, shared by the H14 scenario
 * and the fuzzer.
 */

/**
 * The decoy-EMAD share of bug-history.md H14 (v1.1 offsets, 144 bytes): `ep_mem_offset` = 64; a decoy EMAD at
 * 48 points at composite A (112) with `decoy`; the real EMAD at 64 points at composite B (80) with `real`. A
 * proxy that reads the EMAD at the fixed offset 48 validates `decoy` while an SPMC honouring `ep_mem_offset`
 * shares `real`. Receiver 0x8001 RW, one 4 KiB page each.
 */
export function decoyEmadShare(real: bigint, decoy: bigint, receiver = 0x8001): Uint8Array {
  const b = new Uint8Array(144);
  const v = new DataView(b.buffer);
  v.setUint16(2, 0x2f, true); // attributes: normal WB inner-shareable
  v.setUint32(24, 16, true); // ep_mem_size
  v.setUint32(28, 1, true); // ep_count
  v.setUint32(32, 64, true); // ep_mem_offset
  for (const [at, composite] of [
    [48, 112],
    [64, 80],
  ] as const) {
    v.setUint16(at, receiver, true);
    v.setUint8(at + 2, 2);
    v.setUint32(at + 4, composite, true);
  }
  for (const [composite, address] of [
    [80, real],
    [112, decoy],
  ] as const) {
    v.setUint32(composite, 1, true);
    v.setUint32(composite + 4, 1, true);
    v.setBigUint64(composite + 16, address, true);
    v.setUint32(composite + 24, 1, true);
  }
  return b;
}
