/** Public types of the secure-world model. */
import type { DescVersion } from '../ffa/desc/types.ts';
import type { VersionWord } from '../ffa/version.ts';
import type { PhysMem } from '../mem/phys.ts';
import type { RegisterFile } from '../smccc/regs.ts';
import type { TraceSink } from '../trace/events.ts';

/** A secure partition as configured. */
export interface PartitionConfig {
  id: number;
  /** Service UUIDs (RFC text); several are allowed from FF-A 1.2. */
  uuids: string[];
  /** Partition properties (abi.md §5.2). */
  properties: number;
  execContexts: number;
  handler?: DirectHandler;
  name?: string;
}

/** What a partition may do from inside a direct-message handler. */
export interface PartitionContext {
  readonly id: number;
  /** The UUID of a DIRECT_REQ2 (undefined for DIRECT_REQ). */
  readonly uuid: string | undefined;
  /** How many times this request was resumed with FFA_RUN after a YIELD/INTERRUPT. */
  readonly resumed: number;
  /** FFA_MEM_RETRIEVE_REQ of a share/lend sent to this partition. */
  retrieve(
    handle: bigint,
  ): { ok: true; constituents: { address: bigint; pageCount: number }[] } | { ok: false; error: string };
  /** FFA_MEM_RELINQUISH. */
  relinquish(handle: bigint): { ok: true } | { ok: false; error: string };
  /** Reads memory this partition has retrieved; undefined if it has not. */
  read(addr: number, len: number): Uint8Array | undefined;
  /** Writes memory this partition has retrieved with RW; false if it may not. */
  write(addr: number, bytes: Uint8Array): boolean;
  log(text: string): void;
}

/**
 * A direct-message handler: the request exactly as the partition sees it (DIRECT_REQ 32/64 or REQ2 registers),
 * returning the partition's answer (DIRECT_RESP/RESP2, or FFA_ERROR, FFA_YIELD, FFA_INTERRUPT).
 */
export type DirectHandler = (req: RegisterFile, ctx: PartitionContext) => RegisterFile;

/** Knobs for testing the proxy's trust in EL3 (issue 4; bug-history.md). */
export interface SPMCQuirks {
  /** Answer a completed MEM_SHARE/LEND/FRAG_TX with FFA_SUCCESS64 (0xC4000061) — bug H20. */
  shareSuccess64?: boolean;
  /** Answer an unsupported FFA_VERSION with zero-extended 0x00000000_FFFFFFFF — bug H17. */
  versionNotSupported32?: boolean;
  /** Bits OR'ed into w2 of FEATURES(RXTX_MAP) — bug H9. */
  featuresRxtxExtraBits?: number;
  /** Replace or mutate the hypervisor retrieve response — bugs H13, H14. */
  retrieveResponse?: (
    desc: Uint8Array,
    info: { handle: bigint; version: DescVersion },
  ) => { bytes: Uint8Array; totalLength?: number; fragmentLength?: number };
  /** FRAG_TX fragment lengths of the SPMC's choosing when serving FFA_MEM_FRAG_RX. */
  fragRxLength?: (offset: number, natural: number) => number;
  /** Added to w3 of the FRAG_RX answer to a first fragment. */
  fragRxOffsetSkew?: number;
  /** Override w3 (descriptor size) of PARTITION_INFO_GET. */
  partitionInfoSize?: number;
  /** Override w2 (count) of PARTITION_INFO_GET. */
  partitionInfoCount?: number;
}

export interface SPMCOptions {
  mem: PhysMem;
  /** The SPMC's FF-A version (default 1.2). */
  version?: VersionWord;
  partitions: PartitionConfig[];
  quirks?: SPMCQuirks;
  trace?: TraceSink;
  /** The SPMC's own ID (FFA_SPM_ID_GET). */
  spmcId?: number;
  /** FEATURES(RXTX_MAP) w2[1:0]. */
  rxtxMinSize?: 0 | 1 | 2;
  /** FEATURES(RXTX_MAP) w2[31:16] for ≥1.2 callers. */
  rxtxMaxPages?: number;
  /** FFA_VERSION policy after negotiation (abi.md §13 #11/#12). */
  versionLock?: 'hafnium' | 'tfa' | 'none';
  /**
   * Require (total − composite offset − 16) / 16 to equal the address range count exactly (Hafnium, abi.md §9.5
   * #9; default true). False models SPMCs that only check that the constituents fit (the arm-ffa crate's unpack),
   * which is what makes the H14 decoy-EMAD differential reachable.
   */
  exactLength?: boolean;
  /** Most fragments one transaction may have (HF: NO_MEMORY beyond). */
  maxFragments?: number;
  /** Largest RX/TX buffer accepted, in 4 KiB pages. */
  mailboxPages?: number;
  /**
   * Hardware truth for invariant I1: called when a partition maps retrieved pages; returns a reason when the
   * host stage-2 does not have them in the FF-A shared state. The SPMC cannot stop the mapping (nothing on
   * hardware would); it reports the violation as a `check` event.
   */
  checkMap?: (addr: bigint, pages: number) => string | undefined;
}

/** A memory transaction as the SPMC holds it. */
export interface SPMCTransaction {
  handle: bigint;
  sender: number;
  kind: 'share' | 'lend' | 'donate';
  receivers: { id: number; permissions: number }[];
  constituents: { address: bigint; pageCount: number }[];
  complete: boolean;
  /** Partitions that currently hold a retrieval (with multiplicity). */
  retrievedBy: number[];
}
