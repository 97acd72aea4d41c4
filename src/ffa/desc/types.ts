/**
 * Typed values of the FF-A descriptors (abi.md §5.2, §6.1, §8.1, §9.2). Parsers in this folder turn untrusted
 * bytes into these (or a located DecodeError); builders turn them into bytes (and throw on invalid values).
 */

/** Descriptor layout generation. v1.0: 32-byte header, 16-byte EMADs at 32; v1.1: 48-byte header, 16-byte EMADs;
 * v1.2: 48-byte header, 32-byte EMADs with a 16-byte impdef value. */
export type DescVersion = '1.0' | '1.1' | '1.2';

/** Memory access permissions descriptor (4 bytes; DEN0140 Table 1.15). */
export interface MemAccessPerm {
  /** Endpoint the permissions apply to. */
  endpointId: number;
  /** [1:0] data access (0 unspecified, 1 RO, 2 RW, 3 reserved); [3:2] instruction access (0 unspecified, 1 XN, 2 X). */
  permissions: number;
  /** Bit 0: non-retrieval borrower (retrieve only); others MBZ. */
  flags: number;
}

/** Endpoint memory access descriptor (16 bytes in 1.0/1.1, 32 in 1.2; DEN0140 v1.2 Table 1.16). */
export interface EMAD {
  access: MemAccessPerm;
  /** Offset of the composite descriptor from the start of the transaction descriptor; 0 = "by handle". */
  compositeOffset: number;
  /** 1.2 only: 16 impdef bytes (all zero when unused). */
  impdef?: Uint8Array;
}

/** Constituent memory region descriptor (16 bytes; Table 1.14). */
export interface Constituent {
  /** Base address (PA/IPA), 4 KiB aligned in a valid descriptor. */
  address: bigint;
  /** Number of 4 KiB pages. */
  pageCount: number;
}

/** Composite memory region descriptor (16 bytes + constituents; Table 1.13). */
export interface Composite {
  /** Total page count as written (must equal the sum of the constituents' counts in a valid descriptor). */
  totalPageCount: number;
  constituents: Constituent[];
}

/** Memory transaction descriptor (send, retrieve request, retrieve response; abi.md §9.2). */
export interface MemTransaction {
  version: DescVersion;
  /** Sender / owner endpoint ID. */
  sender: number;
  /** Memory region attributes (8-bit in 1.0, 16-bit from 1.1). */
  attributes: number;
  flags: number;
  handle: bigint;
  tag: bigint;
  /** EMAD size in bytes (16 or 32); implied by the version for 1.0. */
  emadSize: number;
  /** Offset of the EMAD array (32 in 1.0; the header field from 1.1). */
  emadOffset: number;
  emads: EMAD[];
  /** The composite at the EMADs' composite offset, when it is non-zero and present. */
  composite?: Composite;
}

/** Partition information descriptor (8 bytes in 1.0, 24 in 1.1/1.2; abi.md §5.2). */
export interface PartitionInfo {
  id: number;
  /** Execution-context count (PE endpoints) or proxy ID (dependent peripherals). */
  execContexts: number;
  properties: number;
  /** 1.1+: 16 UUID bytes in memory order (zero for a non-Nil request). */
  uuid?: Uint8Array;
}

/** Memory relinquish descriptor (v1.1 Table 16.25). */
export interface Relinquish {
  handle: bigint;
  flags: number;
  endpoints: number[];
}

/** Partition message header of FFA_MSG_SEND2 (20 bytes in 1.1, 40 in 1.2; abi.md §8.1). */
export interface Send2Header {
  version: '1.1' | '1.2';
  flags: number;
  payloadOffset: number;
  receiver: number;
  sender: number;
  payloadSize: number;
  /** 1.2 only. */
  uuid?: Uint8Array;
}

/** Endpoint RX/TX descriptor used when a hypervisor forwards a VM's RXTX_MAP (abi.md §6.1). */
export interface EndpointRxTx {
  endpointId: number;
  rxCompositeOffset: number;
  txCompositeOffset: number;
}
