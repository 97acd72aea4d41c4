/**
 * Descriptor layouts as data (../shared/STYLE.md habit 5): each table lists field name, offset, size, whether it
 * is MBZ, and what it means. The parsers, the builders, strict MBZ checking and the annotated dump
 * (`ffasim decode --descriptor`) all read these tables, so the annotation cannot drift from the code.
 */

export interface FieldSpec {
  readonly name: string;
  readonly off: number;
  readonly size: 1 | 2 | 4 | 8 | 12 | 16;
  /** Reserved, must be zero (reported in strict mode). */
  readonly mbz?: boolean;
  readonly note: string;
}

export interface Layout {
  readonly name: string;
  readonly size: number;
  /** The spec table it comes from. */
  readonly cites: string;
  readonly fields: readonly FieldSpec[];
}

/** FF-A v1.0 Table 5.19 (as HF `ffa_memory_region_v1_0`, OP-TEE `ffa_mem_transaction_1_0`): 32-byte header. */
export const MEM_HEADER_V1_0: Layout = {
  name: 'mem_region_v1_0',
  size: 32,
  cites: 'FF-A v1.0 Table 5.19; abi.md §9.2',
  fields: [
    { name: 'sender', off: 0, size: 2, note: 'sender / owner endpoint ID' },
    { name: 'attributes', off: 2, size: 1, note: 'memory region attributes (8-bit form)' },
    { name: 'reserved0', off: 3, size: 1, mbz: true, note: 'reserved' },
    { name: 'flags', off: 4, size: 4, note: 'transaction flags' },
    { name: 'handle', off: 8, size: 8, note: 'memory region handle' },
    { name: 'tag', off: 16, size: 8, note: 'impdef tag' },
    { name: 'reserved1', off: 24, size: 4, mbz: true, note: 'reserved' },
    { name: 'ep_count', off: 28, size: 4, note: 'EMAD count (EMAD array fixed at offset 32)' },
  ],
};

/** DEN0140 v1.2 Table 1.20 (v1.1 Table 10.20): 48-byte header with EMAD size, count and offset. */
export const MEM_HEADER_V1_1: Layout = {
  name: 'mem_region',
  size: 48,
  cites: 'DEN0140 v1.2 Table 1.20; abi.md §9.2',
  fields: [
    { name: 'sender', off: 0, size: 2, note: 'sender / owner endpoint ID' },
    { name: 'attributes', off: 2, size: 2, note: 'memory region attributes (16-bit form, NS bit 6)' },
    { name: 'flags', off: 4, size: 4, note: 'transaction flags' },
    { name: 'handle', off: 8, size: 8, note: 'memory region handle' },
    { name: 'tag', off: 16, size: 8, note: 'impdef tag' },
    { name: 'ep_mem_size', off: 24, size: 4, note: 'EMAD size (16 in 1.1, 32 in 1.2)' },
    { name: 'ep_count', off: 28, size: 4, note: 'EMAD count' },
    { name: 'ep_mem_offset', off: 32, size: 4, note: 'offset of the EMAD array' },
    { name: 'reserved', off: 36, size: 12, mbz: true, note: 'reserved' },
  ],
};

/** DEN0140 v1.2 Table 1.16 (v1.0/1.1: 16 bytes): endpoint memory access descriptor. */
export const EMAD_V1_0: Layout = {
  name: 'emad',
  size: 16,
  cites: 'FF-A v1.0 Table 5.16 / v1.1 Table 10.16; abi.md §9.2',
  fields: [
    { name: 'endpoint', off: 0, size: 2, note: 'endpoint the permissions apply to' },
    { name: 'permissions', off: 2, size: 1, note: '[1:0] data access, [3:2] instruction access' },
    { name: 'access_flags', off: 3, size: 1, note: 'bit0 non-retrieval borrower (retrieve only)' },
    { name: 'composite_off', off: 4, size: 4, note: 'offset of the composite descriptor (0 = by handle)' },
    { name: 'reserved', off: 8, size: 8, mbz: true, note: 'reserved' },
  ],
};

/** DEN0140 v1.2 Table 1.16: the 32-byte EMAD with a 16-byte impdef value. */
export const EMAD_V1_2: Layout = {
  name: 'emad',
  size: 32,
  cites: 'DEN0140 v1.2 Table 1.16; abi.md §9.2',
  fields: [
    { name: 'endpoint', off: 0, size: 2, note: 'endpoint the permissions apply to' },
    { name: 'permissions', off: 2, size: 1, note: '[1:0] data access, [3:2] instruction access' },
    { name: 'access_flags', off: 3, size: 1, note: 'bit0 non-retrieval borrower (retrieve only)' },
    { name: 'composite_off', off: 4, size: 4, note: 'offset of the composite descriptor (0 = by handle)' },
    { name: 'impdef', off: 8, size: 16, note: 'implementation-defined value (1.2)' },
    { name: 'reserved', off: 24, size: 8, mbz: true, note: 'reserved' },
  ],
};

/** DEN0140 Table 1.13: composite memory region descriptor. */
export const COMPOSITE: Layout = {
  name: 'composite',
  size: 16,
  cites: 'DEN0140 Table 1.13; abi.md §9.2',
  fields: [
    { name: 'total_pg_cnt', off: 0, size: 4, note: 'total 4 KiB pages (= sum of constituents)' },
    { name: 'addr_range_cnt', off: 4, size: 4, note: 'number of constituents' },
    { name: 'reserved', off: 8, size: 8, mbz: true, note: 'reserved' },
  ],
};

/** DEN0140 Table 1.14: constituent memory region descriptor. */
export const CONSTITUENT: Layout = {
  name: 'constituent',
  size: 16,
  cites: 'DEN0140 Table 1.14; abi.md §9.2',
  fields: [
    { name: 'address', off: 0, size: 8, note: 'base address (4 KiB aligned)' },
    { name: 'pg_cnt', off: 8, size: 4, note: '4 KiB pages' },
    { name: 'reserved', off: 12, size: 4, mbz: true, note: 'reserved' },
  ],
};

/** FF-A v1.1 Table 16.25: memory relinquish descriptor (endpoint IDs follow). */
export const RELINQUISH: Layout = {
  name: 'relinquish',
  size: 16,
  cites: 'FF-A v1.1 Table 16.25; abi.md §9.2',
  fields: [
    { name: 'handle', off: 0, size: 8, note: 'memory region handle' },
    { name: 'flags', off: 8, size: 4, note: 'bit0 zero after relinquish, bit1 time slicing' },
    { name: 'ep_count', off: 12, size: 4, note: 'endpoint count (2-byte IDs follow)' },
  ],
};

/** FF-A v1.0 Table 8.25: partition information descriptor, 8 bytes. */
export const PARTITION_INFO_V1_0: Layout = {
  name: 'partition_info_v1_0',
  size: 8,
  cites: 'FF-A v1.0 Table 8.25; abi.md §5.2',
  fields: [
    { name: 'id', off: 0, size: 2, note: 'partition ID' },
    { name: 'exec_ctx', off: 2, size: 2, note: 'execution contexts / proxy ID' },
    { name: 'properties', off: 4, size: 4, note: 'partition properties ([2:0] in 1.0)' },
  ],
};

/** FF-A v1.2 Table 6.1: partition information descriptor, 24 bytes. */
export const PARTITION_INFO_V1_1: Layout = {
  name: 'partition_info',
  size: 24,
  cites: 'FF-A v1.2 Table 6.1; abi.md §5.2',
  fields: [
    { name: 'id', off: 0, size: 2, note: 'partition ID' },
    { name: 'exec_ctx', off: 2, size: 2, note: 'execution contexts / proxy ID' },
    { name: 'properties', off: 4, size: 4, note: 'partition properties (v1.2 Table 6.2)' },
    { name: 'uuid', off: 8, size: 16, note: 'UUID (Nil-UUID requests only)' },
  ],
};

/** FF-A v1.1 Table 7.1: partition message header, 20 bytes. */
export const SEND2_V1_1: Layout = {
  name: 'partition_msg_v1_1',
  size: 20,
  cites: 'FF-A v1.1 Table 7.1; abi.md §8.1',
  fields: [
    { name: 'flags', off: 0, size: 4, note: 'reserved (SBZ)' },
    { name: 'reserved0', off: 4, size: 4, note: 'reserved (SBZ)' },
    { name: 'offset', off: 8, size: 4, note: 'offset of the payload' },
    { name: 'receiver', off: 12, size: 2, note: 'receiver ID' },
    { name: 'sender', off: 14, size: 2, note: 'sender ID' },
    { name: 'size', off: 16, size: 4, note: 'payload size' },
  ],
};

/** FF-A v1.2 §7.3: partition message header, 40 bytes (adds a UUID). */
export const SEND2_V1_2: Layout = {
  name: 'partition_msg',
  size: 40,
  cites: 'FF-A v1.2 §7.3; abi.md §8.1',
  fields: [
    ...SEND2_V1_1.fields,
    { name: 'reserved1', off: 20, size: 4, note: 'reserved (SBZ)' },
    { name: 'uuid', off: 24, size: 16, note: 'protocol UUID' },
  ],
};

/** FF-A v1.1 Table 13.27: endpoint RX/TX descriptor (a hypervisor forwarding a VM's RXTX_MAP). */
export const ENDPOINT_RXTX: Layout = {
  name: 'endpoint_rxtx',
  size: 16,
  cites: 'FF-A v1.1 Table 13.27; abi.md §6.1',
  fields: [
    { name: 'endpoint', off: 0, size: 2, note: 'endpoint ID' },
    { name: 'reserved0', off: 2, size: 2, mbz: true, note: 'reserved' },
    { name: 'rx_composite_off', off: 4, size: 4, note: 'offset of the RX composite (8-aligned)' },
    { name: 'tx_composite_off', off: 8, size: 4, note: 'offset of the TX composite (8-aligned)' },
    { name: 'reserved1', off: 12, size: 4, mbz: true, note: 'reserved' },
  ],
};

/** A field's value read from a DataView (bounds already checked by the caller). */
export type FieldValue = number | bigint | Uint8Array;

export function readField(v: DataView, at: number, f: FieldSpec): FieldValue {
  const o = at + f.off;
  switch (f.size) {
    case 1:
      return v.getUint8(o);
    case 2:
      return v.getUint16(o, true);
    case 4:
      return v.getUint32(o, true);
    case 8:
      return v.getBigUint64(o, true);
    default: {
      // One small allocation, where a view and its slice would be two.
      const out = new Uint8Array(f.size);
      for (let i = 0; i < f.size; i++) out[i] = v.getUint8(o + i);
      return out;
    }
  }
}

export function writeField(v: DataView, at: number, f: FieldSpec, value: FieldValue): void {
  const o = at + f.off;
  switch (f.size) {
    case 1:
      v.setUint8(o, Number(value));
      return;
    case 2:
      v.setUint16(o, Number(value), true);
      return;
    case 4:
      v.setUint32(o, Number(value), true);
      return;
    case 8:
      v.setBigUint64(
        o,
        BigInt.asUintN(64, typeof value === 'bigint' ? value : BigInt(value as number)),
        true,
      );
      return;
    default: {
      const bytes = value instanceof Uint8Array ? value : new Uint8Array(f.size);
      if (bytes.length !== f.size)
        throw new RangeError(`${f.name}: ${f.size} bytes expected, got ${bytes.length}`);
      new Uint8Array(v.buffer, v.byteOffset + o, f.size).set(bytes);
    }
  }
}

export function isZeroValue(x: FieldValue): boolean {
  if (x instanceof Uint8Array) return x.every((b) => b === 0);
  return x === 0 || x === 0n;
}

/**
 * Several fields of a layout by name, looked up once (at module load): hot paths read and write through these
 * specs, never by name per call. Throws for a name the layout does not have.
 */
export function fieldsOf<const N extends string>(
  l: Layout,
  names: readonly N[],
): Readonly<Record<N, FieldSpec>> {
  const out = {} as Record<N, FieldSpec>;
  for (const n of names) out[n] = fieldOf(l, n);
  return out;
}

export function fieldOf(l: Layout, name: string): FieldSpec {
  const f = l.fields.find((x) => x.name === name);
  if (f === undefined) throw new Error(`layout ${l.name} has no field ${name}`);
  return f;
}
