/**
 * Why the model secure world answers as it does: every rejection or special answer of the SPMC (./spmc.ts) and
 * the SPMD (./spmd.ts) has a stable rule id here, with a one-line reason and its source: the FF-A spec section
 * (as our notes quote it; "section unconfirmed" where they quote none), the Hafnium or TF-A behaviour the model
 * follows, and the section of ../shared/spec/abi.md (or peers-and-tests.md) that holds the facts. Components emit
 * these as `decision` events with `actor` spmc / spmd, the way the proxy names its own rules (docs/trace-format.md
 * lists them all).
 *
 * Emitting costs nothing without a trace: callers pass raw values (numbers, bigints, short strings) and the text
 * is only formatted in `emitRule`, which the components call only when a sink is attached.
 */
import { ffaName } from '../ffa/ids.ts';
import type { TraceSink } from '../trace/events.ts';

/** A raw value a rule's text may show. */
export type RuleArg = number | bigint | string | undefined;

export interface SecureRule {
  /** `reject`: the answer is an error (FFA_ERROR or SMCCC NOT_SUPPORTED); `answer`: a special, non-error answer. */
  action: 'reject' | 'answer';
  /** The reason, one line (a function of the call's values where they help). */
  text: string | ((a: RuleArg, b: RuleArg) => string);
  /** FF-A (or SMCCC) spec section, as the notes quote it; omitted when the notes quote none. */
  spec?: string;
  /** The reference behaviour the model follows (Hafnium, TF-A SPMD / EL3 SPMC, the ACS). */
  follows: string;
  /** Where the facts are in the spec notes. */
  notes: string;
  /**
   * The world setting that selects this behaviour (`spmc.versionLock=tfa`, `spmc.quirks.shareSuccess64`), or
   * `base` for the default Hafnium-like secure world. A function when it depends on the SPMC's options.
   */
  change?: string | ((o: RuleContext) => string);
}

/** What a rule's `change` may depend on. */
export interface RuleContext {
  versionLock: 'hafnium' | 'tfa' | 'none';
}

const hx = (v: RuleArg): string =>
  typeof v === 'bigint' || typeof v === 'number' ? `0x${v.toString(16)}` : String(v);
/** A function ID by name. */
const nm = (v: RuleArg): string => (typeof v === 'number' ? ffaName(v) : String(v));
/** A version word as major.minor. */
const ver = (v: RuleArg): string =>
  typeof v === 'number' ? `${(v >>> 16) & 0x7fff}.${v & 0xffff}` : String(v);
const HF = 'Hafnium';
const MEM_HF = 'Hafnium ffa_memory_send_validate / ffa_memory_region_sanity_check';

/**
 * Every rule of the secure world. Ids are `spmc/<abi>/<what>` or `spmd/<what>`; they are stable (tools and docs
 * name them), so rename only with a note in docs/trace-format.md.
 */
export const SECURE_RULES = {
  // ---------------------------------------------------------------------------------------------------------------
  // SPMD (EL3)
  'spmd/not-ffa': {
    action: 'reject',
    text: (a) => `function ID ${hx(a)} is not an FF-A fast call (owner 4, number 0x60–0xFF): not the SPMD's`,
    spec: 'SMCCC unknown function ID → NOT_SUPPORTED (−1); FF-A v1.2 reserves 0x84000060–0x840000FF / 0xC4000060–0xC40000FF',
    follows: 'TF-A SPMD (services/std_svc/spmd) routes only FF-A FIDs to the SPMC',
    notes: 'abi.md §1.1 (FF-A range), peers-and-tests.md §2.2',
  },
  'spmd/el3-intr-handle': {
    action: 'reject',
    text: 'FFA_EL3_INTR_HANDLE is for the SPMC → SPMD direction only',
    spec: 'FF-A v1.2 Table 17.2 ("reserved for secure endpoints", cited by the pKVM series)',
    follows: 'TF-A spmd_main.c answers NOT_SUPPORTED from the normal world',
    notes: 'abi.md §10, §2.2',
  },

  // ---------------------------------------------------------------------------------------------------------------
  // Dispatch at the NS physical instance
  'spmc/dispatch/unknown-fid': {
    action: 'reject',
    text: (a) => `${hx(a)} is not an FF-A function this SPMC knows`,
    spec: 'FF-A NOT_SUPPORTED: ABI not implemented at this instance',
    follows: `${HF} api.c: unknown FF-A function → NOT_SUPPORTED`,
    notes: 'abi.md §1.1, §2, §3.1',
  },
  'spmc/dispatch/newer-than-caller': {
    action: 'reject',
    text: (a, b) => `${nm(a)} was introduced in FF-A ${b}, after the version the caller negotiated`,
    spec: 'FF-A: IDs (and SMC64 forms) newer than the negotiated version do not exist for the caller',
    follows: `${HF} (per-ABI checks against the caller's version)`,
    notes: 'abi.md §2, §3.4',
  },
  'spmc/dispatch/not-at-nsp': {
    action: 'reject',
    text: (a) => `${nm(a)} is not valid from the NS physical instance`,
    spec: 'FF-A per-instance validity of each ABI (the exact table is unconfirmed, abi.md §14 #1)',
    follows: `${HF} / TF-A EL3 SPMC per-instance restrictions (ffa_features_function, ffa_features_handler)`,
    notes: 'abi.md §2.2',
  },
  'spmc/relinquish/not-at-nsp': {
    action: 'reject',
    text: 'MEM_RELINQUISH from the NS endpoint: it is never a borrower here (partitions relinquish at the SV instance)',
    spec: 'FF-A v1.0 §11.6 (ACS): the borrower relinquishes',
    follows: 'TF-A EL3 SPMC: MEM_RELINQUISH is for SPs only',
    notes: 'abi.md §9.1 (typical flow), §2.2; peers-and-tests.md §2.2',
  },
  'spmc/rx-acquire/no-vms': {
    action: 'reject',
    text: 'FFA_RX_ACQUIRE: no VM behind this NS endpoint has an RX buffer the SPMC produces into',
    spec: 'FF-A v1.1 RX_ACQUIRE: INVALID_PARAMETERS for no such VM / no RX mapped',
    follows: `${HF} (hypervisor → SPMC only)`,
    notes: 'abi.md §6.3',
  },

  // ---------------------------------------------------------------------------------------------------------------
  // FFA_VERSION
  'spmc/version/bit31': {
    action: 'reject',
    text: (a) => `requested version ${hx(a)} has bit 31 set (MBZ)`,
    spec: 'FF-A version word: bit 31 MBZ',
    follows: `${HF} api_ffa_version, TF-A EL3 SPMC and SPMD: NOT_SUPPORTED`,
    notes: 'abi.md §3.3',
  },
  'spmc/version/incompatible': {
    action: 'reject',
    text: (a, b) =>
      `requested ${ver(a)} is incompatible with the SPMC's ${ver(b)} (other major, or higher minor)`,
    spec: 'FF-A v1.0 §8.1.2 callee rules 2–3 (as quoted by the ACS)',
    follows: `${HF} api_ffa_version answers NOT_SUPPORTED to every incompatible request`,
    notes: 'abi.md §3.3, §13 #11',
  },
  'spmc/version/incompatible-own': {
    action: 'answer',
    text: (a, b) => `requested ${ver(a)} is incompatible: the SPMC answers its own version ${ver(b)}`,
    spec: 'FF-A v1.0 §8.1.2 callee rule 3 (as quoted by the ACS)',
    follows: 'TF-A EL3 SPMC ffa_version_handler (and XEN) return their own version',
    notes: 'abi.md §3.3, §13 #11',
    change: (o) => `spmc.versionLock=${o.versionLock}`,
  },
  'spmc/version/locked-differs': {
    action: 'reject',
    text: (a, b) => `negotiation is locked at ${ver(b)} (another ABI was called): ${ver(a)} differs`,
    spec: 'FF-A v1.2 §13.2.2 (negotiation complete once another ABI is invoked)',
    follows: `${HF} api_ffa_version (lock since v2.12); ACS v1.2 ffa_version_negotiation expects NOT_SUPPORTED`,
    notes: 'abi.md §3.3, §13 #12; peers-and-tests.md §2.1',
  },
  'spmc/version/locked-same': {
    action: 'answer',
    text: (a) =>
      `negotiation is locked; the negotiated ${ver(a)} asked again: the SPMC's version is returned`,
    spec: 'FF-A v1.2 §13.2.2',
    follows: `${HF} api_ffa_version allows repeating the recorded version`,
    notes: 'abi.md §3.3',
  },
  'spmc/version/locked-tfa': {
    action: 'answer',
    text: (a, b) => `negotiation is locked: ${ver(a)} asked, the negotiated ${ver(b)} is answered`,
    spec: 'FF-A v1.2 §13.2.2 (the callee treats the negotiated version as the only one)',
    follows: 'TF-A EL3 SPMC ffa_version_handler (HEAD); fails the ACS downgrade check',
    notes: 'abi.md §3.3, §13 #12',
    change: 'spmc.versionLock=tfa',
  },
  'spmc/quirk/version-not-supported32': {
    action: 'answer',
    text: 'NOT_SUPPORTED as a zero-extended 32-bit 0x00000000_FFFFFFFF (quirk for bug H17)',
    spec: 'FF-A: FFA_VERSION answers a plain w0 (NOT_SUPPORTED = 0xFFFFFFFF); SMCCC upper halves unconfirmed',
    follows: `${HF} zero-extends (codes are uint32_t); bug-history.md H17`,
    notes: 'abi.md §3.2, §13 #3',
    change: 'spmc.quirks.versionNotSupported32',
  },

  // ---------------------------------------------------------------------------------------------------------------
  // FFA_FEATURES
  'spmc/features/feature-id-mbz': {
    action: 'reject',
    text: (a, b) => `feature-ID query ${hx(a)} with w1[30:8] or input properties ${hx(b)} ≠ 0`,
    spec: 'FF-A v1.0 §8.2 (ACS); w1[30:8] MBZ for feature IDs',
    follows: `${HF} ffa_features_feature`,
    notes: 'abi.md §4.1',
  },
  'spmc/features/feature-id-unsupported': {
    action: 'reject',
    text: (a) =>
      `feature ID ${hx(a)}: NPI/MEI are for partitions at virtual instances; SRI needs a ≥1.1 caller`,
    spec: 'FF-A v1.1 feature IDs (ACS v1.1 ffa_features_intr)',
    follows: `${HF}: "report the IDs as supported only to partitions at the virtual FF-A instances"`,
    notes: 'abi.md §4.1',
  },
  'spmc/features/not-implemented': {
    action: 'reject',
    text: (a) => `${nm(a)} is not implemented for the NS physical instance`,
    spec: 'FF-A v1.0 §8.2 (ACS)',
    follows: `${HF} ffa_features_function`,
    notes: 'abi.md §4.1, §2.2',
  },
  'spmc/features/newer-than-caller': {
    action: 'reject',
    text: (a, b) => `${nm(a)} was introduced in FF-A ${b}, after the caller's version`,
    spec: 'FF-A v1.0 §8.2 (ACS)',
    follows: `${HF} ffa_features_function (per caller version)`,
    notes: 'abi.md §2, §4',
  },
  'spmc/quirk/features-rxtx-extra-bits': {
    action: 'answer',
    text: (a) => `FEATURES(RXTX_MAP) w2 carries extra bits ${hx(a)} (quirk for bug H9)`,
    spec: 'FF-A v1.2 FEATURES(RXTX_MAP) w2: [1:0] minimum size, [31:16] maximum pages',
    follows: 'bug-history.md H9',
    notes: 'abi.md §4.2',
    change: 'spmc.quirks.featuresRxtxExtraBits',
  },

  // ---------------------------------------------------------------------------------------------------------------
  // RX/TX buffers
  'spmc/rxtx-map/address': {
    action: 'reject',
    text: 'buffer address beyond the modelled physical address space',
    spec: 'FF-A v1.0 §8.4/§8.5 (ACS): the caller must own the memory',
    follows: `${HF} api_vm_configure_pages (INVALID_PARAMETERS)`,
    notes: 'abi.md §6.1',
  },
  'spmc/rxtx-map/forwarding-form': {
    action: 'reject',
    text: 'w1 = w2 = w3 = 0 is the hypervisor-forwarding form (endpoint RX/TX descriptor): not supported here',
    spec: 'FF-A v1.1 Table 13.27 (endpoint RX/TX descriptor)',
    follows: 'TF-A EL3 SPMC rejects the forwarding form',
    notes: 'abi.md §6.1',
  },
  'spmc/rxtx-map/w3-mbz': {
    action: 'reject',
    text: (a) => `w3 = ${hx(a)}: bits [31:6] MBZ`,
    spec: 'FF-A RXTX_MAP w3[5:0] page count, [31:6] MBZ',
    follows: `${HF} rejects counts it cannot take (TF-A masks with 0x1F instead)`,
    notes: 'abi.md §6.1, §13 #2',
  },
  'spmc/rxtx-map/page-count': {
    action: 'reject',
    text: (a, b) => `page count ${a} is 0, below the minimum or above the maximum (${b})`,
    spec: 'FF-A v1.0 §8.4/§8.5/§4.2.2.3 (ACS)',
    follows: `${HF} api_vm_configure_pages, TF-A rxtx_map_handler`,
    notes: 'abi.md §6.1',
  },
  'spmc/rxtx-map/alignment': {
    action: 'reject',
    text: (a) => `TX or RX not aligned to the ${a}-byte minimum buffer size`,
    spec: 'FF-A v1.0 §8.4/§8.5 (ACS): alignment equals the translation granule FEATURES reports',
    follows: `${HF} api_vm_configure_pages`,
    notes: 'abi.md §6.1, §4.2',
  },
  'spmc/rxtx-map/overlap': {
    action: 'reject',
    text: 'TX and RX overlap',
    spec: 'FF-A v1.0 §8.4/§8.5 (ACS)',
    follows: `${HF} (must not overlap), TF-A (must differ)`,
    notes: 'abi.md §6.1',
  },
  'spmc/rxtx-map/already-mapped': {
    action: 'reject',
    text: 'a buffer pair is already registered for this endpoint',
    spec: 'FF-A v1.0 §8.4/§8.5 (ACS)',
    follows: `${HF} api_vm_configure_pages`,
    notes: 'abi.md §6.1',
  },
  'spmc/rxtx-unmap/id': {
    action: 'reject',
    text: (a) => `w1 = ${hx(a)}: must be 0 for the caller's own pair`,
    spec: 'FF-A RXTX_UNMAP w1[31:16] endpoint ID (hypervisor forwarding only), w1[15:0] MBZ',
    follows: HF,
    notes: 'abi.md §6.2',
  },
  'spmc/rxtx-unmap/not-mapped': {
    action: 'reject',
    text: 'no buffer pair registered',
    spec: 'FF-A RXTX_UNMAP (ACS)',
    follows: HF,
    notes: 'abi.md §6.2',
  },
  'spmc/rx-release/id': {
    action: 'reject',
    text: (a) => `w1[15:0] = ${hx(a)}: VM ID only when a hypervisor releases for a VM; MBZ here`,
    spec: 'FF-A v1.0 §8.3 (ACS)',
    follows: HF,
    notes: 'abi.md §6.3',
  },
  'spmc/rx-release/not-owned': {
    action: 'reject',
    text: 'the caller does not own its RX buffer (nothing to release, or no buffers)',
    spec: 'FF-A v1.0 §8.3 (ACS)',
    follows: `${HF} (mailbox empty → DENIED), TF-A (state ≠ FULL → DENIED)`,
    notes: 'abi.md §6.3, §6.4',
  },

  // ---------------------------------------------------------------------------------------------------------------
  // Discovery
  'spmc/part-info/flags': {
    action: 'reject',
    text: (a) => `w5 flags ${hx(a)}: bits [31:1] MBZ`,
    spec: 'FF-A v1.1 PARTITION_INFO_GET w5 (count-only flag)',
    follows: `${HF} api_ffa_partition_info_get (and the arm-ffa crate) reject`,
    notes: 'abi.md §5.2',
  },
  'spmc/part-info/unknown-uuid': {
    action: 'reject',
    text: (a) => `no partition implements UUID ${a}`,
    spec: 'FF-A v1.0 §8.6 (ACS)',
    follows: `${HF} api_ffa_partition_info_get`,
    notes: 'abi.md §5.2',
  },
  'spmc/part-info/no-rx': {
    action: 'reject',
    text: 'no RX buffer mapped to write the descriptors into',
    spec: 'FF-A v1.0 §8.6 (ACS): DENIED when the callee is not in a state to handle the request',
    follows: HF,
    notes: 'abi.md §5.2, §6.4',
  },
  'spmc/part-info/rx-busy': {
    action: 'reject',
    text: 'the RX buffer is still owned by the caller (not released)',
    spec: 'FF-A v1.0 §8.6 (ACS)',
    follows: `${HF} (mailbox not empty → BUSY)`,
    notes: 'abi.md §5.2, §6.4',
  },
  'spmc/part-info/no-memory': {
    action: 'reject',
    text: (a, b) => `${a} bytes of descriptors do not fit the ${b}-byte RX buffer`,
    spec: 'FF-A v1.0 §8.6 (ACS)',
    follows: HF,
    notes: 'abi.md §5.2',
  },
  'spmc/quirk/part-info-count': {
    action: 'answer',
    text: (a, b) => `w2 (count) answered as ${a}, not ${b} (quirk)`,
    spec: 'FF-A v1.0 §8.6: w2 = partition count',
    follows: 'a misbehaving SPMC, to test the proxy (proxy-behaviour.md §8)',
    notes: 'abi.md §5.2',
    change: 'spmc.quirks.partitionInfoCount',
  },
  'spmc/quirk/part-info-size': {
    action: 'answer',
    text: (a, b) => `w3 (descriptor size) answered as ${a}, not ${b} (quirk)`,
    spec: 'FF-A v1.1 PARTITION_INFO_GET w3 = descriptor size',
    follows: 'a misbehaving SPMC, to test the proxy (proxy-behaviour.md §8)',
    notes: 'abi.md §5.2',
    change: 'spmc.quirks.partitionInfoSize',
  },
  'spmc/part-info-regs/tag': {
    action: 'reject',
    text: (a) => `UUID-info tag ${hx(a)} ≠ 0: the tag no longer matches`,
    spec: 'FF-A v1.2 §13.9.1, Tables 13.39–13.41',
    follows: `${HF} answers RETRY to any non-zero tag`,
    notes: 'abi.md §5.3',
  },
  'spmc/part-info-regs/unknown-uuid': {
    action: 'reject',
    text: (a) => `no partition implements UUID ${a}`,
    spec: 'FF-A v1.2 §13.9.1',
    follows: HF,
    notes: 'abi.md §5.3',
  },
  'spmc/part-info-regs/start-index': {
    action: 'reject',
    text: (a, b) => `start index ${a} ≥ descriptor count ${b}`,
    spec: 'FF-A v1.2 §13.9.1',
    follows: HF,
    notes: 'abi.md §5.3',
  },

  // ---------------------------------------------------------------------------------------------------------------
  // Direct messaging and FFA_RUN
  'spmc/direct/sender': {
    action: 'reject',
    text: (a) => `sender ${hx(a)} in w1[31:16] is not the caller (the NS endpoint is 0)`,
    spec: 'FF-A v1.0 §10.2/§10.3 (ACS): bad endpoint ID',
    follows: `${HF} api_ffa_msg_send_direct_req`,
    notes: 'abi.md §7.1',
  },
  'spmc/direct/unknown-receiver': {
    action: 'reject',
    text: (a) => `no partition ${hx(a)}`,
    spec: 'FF-A v1.0 §10.2/§10.3 (ACS)',
    follows: `${HF} api_ffa_msg_send_direct_req`,
    notes: 'abi.md §7.1',
  },
  'spmc/direct/not-receiver': {
    action: 'reject',
    text: (a) => `partition ${hx(a)} does not receive direct requests (property bit 0 clear)`,
    spec: 'FF-A v1.0 §10.2/§10.3 (ACS); partition properties v1.2 Table 6.2',
    follows: `${HF} is_direct_request_supported`,
    notes: 'abi.md §7.1, §5.2',
  },
  'spmc/direct/w2-mbz': {
    action: 'reject',
    text: (a) =>
      `w2 = ${hx(a)}: MBZ for a partition message (framework messages are not taken from the NS endpoint)`,
    spec: 'FF-A v1.2 Table 16.6',
    follows: `${HF} returns INVALID_PARAMETERS if w2 ≠ 0`,
    notes: 'abi.md §7.1',
  },
  'spmc/direct/req2-not-receiver': {
    action: 'reject',
    text: (a) => `partition ${hx(a)} does not receive DIRECT_REQ2 (property bit 9 clear)`,
    spec: 'FF-A v1.2 §15.4; partition properties v1.2 Table 6.2',
    follows: `${HF} is_direct_request_supported`,
    notes: 'abi.md §7.2',
  },
  'spmc/direct/req2-unknown-uuid': {
    action: 'reject',
    text: (a, b) => `partition ${hx(a)} does not implement UUID ${b} (Nil is accepted)`,
    spec: 'FF-A v1.2 §15.4',
    follows: `${HF} api_ffa_msg_send_direct_req`,
    notes: 'abi.md §7.2',
  },
  'spmc/direct/busy': {
    action: 'reject',
    text: (a) => `partition ${hx(a)} has an interrupted request pending: resume it with FFA_RUN first`,
    spec: 'FF-A v1.0 §10.2/§10.3 (ACS): BUSY, target busy',
    follows: HF,
    notes: 'abi.md §7.1',
  },
  'spmc/direct/yield': {
    action: 'answer',
    text: (a) => `partition ${hx(a)} yielded: FFA_YIELD with w1 = its target info; resume with FFA_RUN`,
    spec: 'FF-A v1.1+: an SP may YIELD inside a direct request (exact 1.2 rule unconfirmed)',
    follows: `${HF}; Linux sleeps then calls FFA_RUN; ACS v1.2 sp_yield_spmc_mode`,
    notes: 'abi.md §7.1, §7.3',
  },
  'spmc/direct/interrupt': {
    action: 'answer',
    text: (a) =>
      `partition ${hx(a)} was interrupted: FFA_INTERRUPT with w1 = its target info; resume with FFA_RUN`,
    spec: 'FF-A v1.0 §10.2 (ACS): the callee may return FFA_INTERRUPT',
    follows: HF,
    notes: 'abi.md §7.1, §7.3',
  },
  'spmc/direct/bad-response': {
    action: 'reject',
    text: (a, b) => `partition ${hx(a)} answered ${nm(b)}, not the matching DIRECT_RESP or FFA_ERROR`,
    spec: 'FF-A v1.0 §10.2/§10.3 (ACS): ABORTED, target aborted',
    follows: HF,
    notes: 'abi.md §7.1',
  },
  'spmc/run/unknown-partition': {
    action: 'reject',
    text: (a) => `FFA_RUN target ${hx(a)} is not a partition`,
    spec: 'FF-A v1.0 §9.3 (ACS)',
    follows: `${HF}; TF-A (also for an NWd ID)`,
    notes: 'abi.md §7.3',
  },
  'spmc/run/nothing-pending': {
    action: 'reject',
    text: (a) => `partition ${hx(a)} has no interrupted request to resume`,
    spec: 'FF-A v1.0 §9.3 (ACS): DENIED',
    follows: HF,
    notes: 'abi.md §7.3',
  },

  // ---------------------------------------------------------------------------------------------------------------
  // Memory: send (SHARE / LEND / DONATE) and FRAG_TX
  'spmc/mem-send/dynamic-buffer': {
    action: 'reject',
    text: 'w3/w4 name a caller buffer: dynamic buffers are not supported (descriptor must be in TX)',
    spec: 'FF-A v1.0 §11.1–§11.4 (ACS)',
    follows: `${HF} api_ffa_mem_send (address and page count must be 0)`,
    notes: 'abi.md §9.5 #1',
  },
  'spmc/mem-send/no-tx': {
    action: 'reject',
    text: 'no TX buffer mapped to read the descriptor from',
    spec: 'FF-A TX ownership (the callee reads the descriptor from the caller TX); code for a missing TX unconfirmed',
    follows: `${HF} (DENIED, as for MSG_SEND2 without TX)`,
    notes: 'abi.md §6.4, §8.1',
  },
  'spmc/mem-send/fragment-length': {
    action: 'reject',
    text: (a, b) => `fragment length ${a} is 0, > total ${b}, or > the TX buffer`,
    spec: 'FF-A v1.0 §11.1–§11.4 (ACS)',
    follows: HF,
    notes: 'abi.md §9.5 #2',
  },
  'spmc/mem-send/total-length': {
    action: 'reject',
    text: (a) => `total length ${a} is more than the SPMC keeps for one transaction`,
    spec: 'FF-A NO_MEMORY: not enough memory',
    follows: `${HF} (operations beyond what the relayer can keep → NO_MEMORY)`,
    notes: 'abi.md §9.5 #24',
  },
  'spmc/mem-send/first-fragment': {
    action: 'reject',
    text: (a) =>
      `first fragment of ${a} bytes does not hold the header, the EMADs and the composite header whole, or cuts a constituent`,
    spec: 'DEN0077A v1.0 §5.12.3 (ACS)',
    follows: `${HF} (first fragment ≥ header + EMADs + composite header; multiples of 16)`,
    notes: 'abi.md §9.5 #3, #6',
  },
  'spmc/mem-send/descriptor': {
    action: 'reject',
    text: (a, b) => `${a} descriptor malformed: ${b}`,
    spec: 'DEN0077A v1.0 §5.12.3 (ACS)',
    follows: MEM_HF,
    notes: 'abi.md §9.5 #4–#12',
  },
  'spmc/mem-send/sender': {
    action: 'reject',
    text: (a) => `descriptor sender ${hx(a)} is not the caller (0)`,
    spec: 'FF-A v1.0 §11.1–§11.3 (ACS)',
    follows: MEM_HF,
    notes: 'abi.md §9.5 #13',
  },
  'spmc/mem-send/donate-receivers': {
    action: 'reject',
    text: (a) => `DONATE to ${a} receivers: exactly one`,
    spec: 'FF-A v1.0 §5.12.3 (ACS)',
    follows: MEM_HF,
    notes: 'abi.md §9.5 #5',
  },
  'spmc/mem-send/receiver': {
    action: 'reject',
    text: (a) => `receiver ${hx(a)} is the sender, appears twice, or is not a partition`,
    spec: 'DEN0077A v1.0 §5.12.3 (ACS)',
    follows: MEM_HF,
    notes: 'abi.md §9.5 #14',
  },
  'spmc/mem-send/access-mbz': {
    action: 'reject',
    text: (a) => `receiver ${hx(a)}: reserved permission bits [7:4] or access flags ≠ 0`,
    spec: 'FF-A memory access permissions descriptor (reserved MBZ)',
    follows: MEM_HF,
    notes: 'abi.md §9.2, §9.5 #4',
  },
  'spmc/mem-send/data-access': {
    action: 'reject',
    text: (a) => `receiver ${hx(a)}: SHARE / LEND must specify data access RO or RW`,
    spec: 'DEN0077A v1.0 §5.11 (ACS)',
    follows: `${HF} ffa_memory_send_validate`,
    notes: 'abi.md §9.3',
  },
  'spmc/mem-send/instruction-access': {
    action: 'reject',
    text: (a) => `receiver ${hx(a)}: instruction access must be "not specified" on send`,
    spec: 'DEN0077A v1.0 §5.11 (ACS)',
    follows: `${HF} ffa_memory_send_validate (for all three)`,
    notes: 'abi.md §9.3',
  },
  'spmc/mem-send/ns-bit': {
    action: 'reject',
    text: 'memory region attributes bit 6 (NS) set on send: MBZ',
    spec: 'FF-A v1.1 §10.10.4.1 (ACS)',
    follows: HF,
    notes: 'abi.md §9.3',
  },
  'spmc/mem-send/flags': {
    action: 'reject',
    text: (a) => `flags ${hx(a)}: only bit 0 (zero memory) is accepted on send`,
    follows: `${HF} ffa_memory_send_validate rejects every flag but bit 0 (time slicing too)`,
    notes: 'abi.md §9.4',
  },
  'spmc/mem-send/share-zero': {
    action: 'reject',
    text: 'SHARE with the zero-memory flag: MBZ for SHARE',
    spec: 'DEN0077A flags field: bit 0 MBZ for SHARE',
    follows: HF,
    notes: 'abi.md §9.4',
  },
  'spmc/mem-send/share-attributes': {
    action: 'reject',
    text: (a) =>
      `attributes ${hx(a)}: SHARE / multi-borrower LEND takes only normal WB inner-shareable (0x2f) or device nGnRnE`,
    spec: 'DEN0077A v1.0 §5.11 (ACS)',
    follows: `${HF} ffa_memory_send_validate (DENIED)`,
    notes: 'abi.md §9.3',
  },
  'spmc/mem-send/lend-attributes': {
    action: 'reject',
    text: (a) =>
      `attributes ${hx(a)}: single-borrower LEND / DONATE must leave the memory type not specified`,
    spec: 'DEN0077A v1.0 §5.11 (ACS)',
    follows: `${HF} ffa_memory_send_validate`,
    notes: 'abi.md §9.3',
  },
  'spmc/mem-send/not-exclusive': {
    action: 'reject',
    text: (a) => `constituent at ${hx(a)} is part of another live transaction (not Owner-EA)`,
    spec: 'FF-A v1.0 ch.5 state machine (ACS state-machine tests)',
    follows: `${HF} ffa_send_check_transition`,
    notes: 'abi.md §9.5 #16',
  },
  'spmc/quirk/share-success64': {
    action: 'answer',
    text: 'completed send answered with FFA_SUCCESS64 (0xC4000061), not FFA_SUCCESS32 (quirk for bug H20)',
    spec: 'FF-A: plain results use FFA_SUCCESS_32',
    follows: 'bug-history.md H20',
    notes: 'abi.md §3.2, §9.1',
    change: 'spmc.quirks.shareSuccess64',
  },
  'spmc/quirk/frag-rx-offset-skew': {
    action: 'answer',
    text: (a, b) => `FRAG_RX offset ${a} answered for ${b} bytes received (quirk)`,
    spec: 'FF-A MEM_FRAG_RX w3 = bytes received so far',
    follows: 'a misbehaving SPMC, to test the proxy (proxy-behaviour.md §7.2, §7.3)',
    notes: 'abi.md §9.1',
    change: 'spmc.quirks.fragRxOffsetSkew',
  },
  'spmc/frag-tx/unknown-handle': {
    action: 'reject',
    text: (a) => `handle ${hx(a)} is not a send in progress`,
    follows: `${HF} ffa_memory_send_continue_validate`,
    notes: 'abi.md §9.5 #25',
  },
  'spmc/frag-tx/complete': {
    action: 'reject',
    text: (a) => `handle ${hx(a)}: its send is already complete`,
    follows: `${HF} ffa_memory_send_continue_validate`,
    notes: 'abi.md §9.5 #25',
  },
  'spmc/frag-tx/no-tx': {
    action: 'reject',
    text: 'no TX buffer mapped to read the fragment from',
    follows: HF,
    notes: 'abi.md §9.5 #25, §6.4',
  },
  'spmc/frag-tx/sender': {
    action: 'reject',
    text: (a) => `w4 = ${hx(a)}: the sender ID is for hypervisor forwarding only (MBZ here)`,
    follows: `${HF} ffa_memory_send_continue_validate (wrong sender)`,
    notes: 'abi.md §9.1, §9.5 #25',
  },
  'spmc/frag-tx/length': {
    action: 'reject',
    text: (a, b) =>
      `fragment of ${a} bytes is 0, not a multiple of 16, > the TX buffer or past total ${b}: transaction dropped`,
    follows: `${HF} (non-zero multiple of 16, ≤ TX size)`,
    notes: 'abi.md §9.1, §9.5 #3',
  },
  'spmc/frag-tx/too-many': {
    action: 'reject',
    text: (a) => `more than ${a} fragments: transaction dropped`,
    follows: `${HF} (MAX_FRAGMENTS → NO_MEMORY)`,
    notes: 'abi.md §9.5 #24',
  },

  // ---------------------------------------------------------------------------------------------------------------
  // Memory: the hypervisor retrieve request, FRAG_RX, reclaim
  'spmc/retrieve/args': {
    action: 'reject',
    text: (a, b) =>
      `total ${a} / fragment ${b}: no fragmented retrieve requests, address and page count must be 0, length ≠ 0`,
    spec: 'FF-A v1.0 §5.12.1–§5.12.2 (ACS)',
    follows: `${HF} api_ffa_mem_retrieve_req`,
    notes: 'abi.md §9.1',
  },
  'spmc/retrieve/no-rxtx': {
    action: 'reject',
    text: 'no RX/TX buffers mapped (request in TX, response in RX)',
    follows: HF,
    notes: 'abi.md §9.1, §6.4',
  },
  'spmc/retrieve/length': {
    action: 'reject',
    text: (a) => `request of ${a} bytes is longer than the TX buffer or shorter than a transaction header`,
    follows: `${HF} (length ≤ buffer)`,
    notes: 'abi.md §9.1, §9.5 #20',
  },
  'spmc/retrieve/borrower-request': {
    action: 'reject',
    text: (a) =>
      `EMAD count ${a} ≠ 0: only the hypervisor retrieve request is valid from the NS endpoint (no NS borrowers here)`,
    spec: 'FF-A v1.2 ALP0 §17.4.3 (hypervisor retrieve, per Hafnium)',
    follows: `${HF} api_ffa_memory_hypervisor_retrieve_request_validate`,
    notes: 'abi.md §9.1, §9.5 #19',
  },
  'spmc/retrieve/mbz': {
    action: 'reject',
    text: (a) => `hypervisor retrieve request: byte ${a} ≠ 0 (every field but the handle MBZ)`,
    spec: 'FF-A v1.2 ALP0 §17.4.3 (per Hafnium)',
    follows: `${HF} api_ffa_memory_hypervisor_retrieve_request_validate`,
    notes: 'abi.md §9.1',
  },
  'spmc/retrieve/unknown-handle': {
    action: 'reject',
    text: (a) => `handle ${hx(a)} is not a transaction this SPMC holds (never allocated, or reclaimed)`,
    spec: 'FF-A v1.0 §5.12.1–§5.12.2 (ACS): handle allocated by this relayer',
    follows: `${HF} ffa_memory_retrieve_validate / hypervisor retrieve (INVALID_PARAMETERS)`,
    notes: 'abi.md §9.5 #17',
  },
  'spmc/retrieve/incomplete': {
    action: 'reject',
    text: (a) => `handle ${hx(a)}: its send is still in progress (fragments missing)`,
    spec: 'FF-A v1.0 §5.12.1–§5.12.2 (ACS)',
    follows: HF,
    notes: 'abi.md §9.5 #17, #23',
  },
  'spmc/retrieve/rx-busy': {
    action: 'reject',
    text: 'the RX buffer is still owned by the caller',
    follows: `${HF} (writing a result into a non-empty RX → BUSY)`,
    notes: 'abi.md §6.4',
  },
  'spmc/quirk/retrieve-response': {
    action: 'answer',
    text: (a) => `retrieve response for handle ${hx(a)} replaced or mutated (quirk for bugs H13/H14)`,
    spec: 'FF-A v1.2 ALP0 §17.4.3 (per Hafnium): the response lists all receivers',
    follows: 'bug-history.md H13, H14',
    notes: 'abi.md §9.1, §9.2',
    change: 'spmc.quirks.retrieveResponse',
  },
  'spmc/frag-rx/unknown-handle': {
    action: 'reject',
    text: (a) => `handle ${hx(a)} has no retrieve response being served in fragments`,
    follows: `${HF} ffa_memory_retrieve_continue`,
    notes: 'abi.md §9.1, §9.5 #25',
  },
  'spmc/frag-rx/no-rxtx': {
    action: 'reject',
    text: 'no RX buffer mapped to write the fragment into',
    follows: HF,
    notes: 'abi.md §9.1, §6.4',
  },
  'spmc/frag-rx/sender': {
    action: 'reject',
    text: (a) => `w4 = ${hx(a)}: the sender ID is for hypervisor forwarding only (MBZ here)`,
    follows: HF,
    notes: 'abi.md §9.1',
  },
  'spmc/frag-rx/rx-busy': {
    action: 'reject',
    text: 'the RX buffer is still owned by the caller',
    follows: `${HF} (BUSY if RX not free)`,
    notes: 'abi.md §9.1, §6.4',
  },
  'spmc/frag-rx/offset': {
    action: 'reject',
    text: (a, b) => `offset ${a} ≥ response length ${b}: response dropped`,
    follows: HF,
    notes: 'abi.md §9.1',
  },
  'spmc/quirk/frag-rx-length': {
    action: 'answer',
    text: (a, b) => `FRAG_TX length ${a} answered for a ${b}-byte fragment (quirk)`,
    spec: 'FF-A MEM_FRAG_TX w3 = fragment length',
    follows: 'a misbehaving SPMC, to test the proxy (proxy-behaviour.md §7.4)',
    notes: 'abi.md §9.1',
    change: 'spmc.quirks.fragRxLength',
  },
  'spmc/reclaim/flags': {
    action: 'reject',
    text: (a) => `flags ${hx(a)}: bits [31:2] MBZ`,
    spec: 'FF-A MEM_RECLAIM w3: bit 0 zero memory, bit 1 time slicing, [31:2] MBZ',
    follows: 'arm-ffa crate; Hafnium',
    notes: 'abi.md §9.1, §9.4',
  },
  'spmc/reclaim/unknown-handle': {
    action: 'reject',
    text: (a) =>
      `handle ${hx(a)} is not a transaction this SPMC holds (never allocated, or already reclaimed)`,
    spec: 'FF-A v1.0 §11.7 (ACS): handle valid and owned by the caller',
    follows: `${HF} ffa_memory_reclaim (INVALID_PARAMETERS)`,
    notes: 'abi.md §9.5 #23',
  },
  'spmc/reclaim/incomplete': {
    action: 'reject',
    text: (a) => `handle ${hx(a)}: its send is still in progress`,
    spec: 'FF-A v1.0 §11.7 (ACS): sending complete',
    follows: `${HF} refuses a partly sent transaction`,
    notes: 'abi.md §9.5 #23',
  },
  'spmc/reclaim/retrieved': {
    action: 'reject',
    text: (a, b) => `handle ${hx(a)} is still retrieved by ${b}: every borrower must relinquish first`,
    spec: 'FF-A v1.0 §11.7 (ACS)',
    follows: `${HF} reclaim_shared_state (DENIED)`,
    notes: 'abi.md §9.5 #23, #22',
  },
  'spmc/reclaim/zeroed': {
    action: 'answer',
    text: (a) => `handle ${hx(a)}: memory zeroed before it returns to the owner (flag bit 0)`,
    spec: 'FF-A MEM_RECLAIM w3 bit 0',
    follows: HF,
    notes: 'abi.md §9.4',
  },

  // ---------------------------------------------------------------------------------------------------------------
  // Retrieve / relinquish by a partition (PartitionContext, from inside a direct-message handler)
  'spmc/sp-retrieve/unknown-handle': {
    action: 'reject',
    text: (a, b) => `partition ${hx(a)}: handle ${hx(b)} is not a complete transaction this SPMC holds`,
    spec: 'FF-A v1.0 §5.12.1–§5.12.2 (ACS)',
    follows: `${HF} ffa_memory_retrieve_validate`,
    notes: 'abi.md §9.5 #17',
  },
  'spmc/sp-retrieve/not-borrower': {
    action: 'reject',
    text: (a, b) => `partition ${hx(a)} is not a receiver of handle ${hx(b)}`,
    follows: `${HF} ffa_memory_retrieve_validate`,
    notes: 'abi.md §9.5 #18, #19',
  },
  'spmc/sp-relinquish/not-retrieved': {
    action: 'reject',
    text: (a, b) => `partition ${hx(a)} does not hold a retrieval of handle ${hx(b)}`,
    spec: 'FF-A v1.0 §11.6 (ACS)',
    follows: `${HF} ffa_memory_relinquish`,
    notes: 'abi.md §9.5 #21',
  },

  // ---------------------------------------------------------------------------------------------------------------
  // Notifications and indirect messages
  'spmc/notif/bitmap-create-id': {
    action: 'reject',
    text: (a) => `w1 = ${hx(a)}: a VM ID (< 0x8000) in w1[15:0], w1[31:16] MBZ`,
    spec: 'FF-A v1.1 NOTIFICATION_BITMAP_CREATE',
    follows: HF,
    notes: 'abi.md §8.2',
  },
  'spmc/notif/bitmap-exists': {
    action: 'reject',
    text: (a) => `a bitmap for VM ${hx(a)} already exists`,
    spec: 'FF-A v1.1 NOTIFICATION_BITMAP_CREATE',
    follows: HF,
    notes: 'abi.md §8.2',
  },
  'spmc/notif/bitmap-destroy': {
    action: 'reject',
    text: (a) => `VM ${hx(a)} has no bitmap, or notifications are still pending`,
    spec: 'FF-A v1.1 NOTIFICATION_BITMAP_DESTROY',
    follows: HF,
    notes: 'abi.md §8.2',
  },
  'spmc/notif/receiver': {
    action: 'reject',
    text: (a) => `receiver ${hx(a)} is not the caller (0)`,
    spec: 'FF-A v1.1 NOTIFICATION_BIND/UNBIND/GET',
    follows: HF,
    notes: 'abi.md §8.2',
  },
  'spmc/notif/no-bitmap': {
    action: 'reject',
    text: 'the NS endpoint has no notification bitmap (BITMAP_CREATE first)',
    spec: 'FF-A v1.1 notifications',
    follows: HF,
    notes: 'abi.md §8.2',
  },
  'spmc/notif/bind-args': {
    action: 'reject',
    text: (a) => `sender ${hx(a)} is not a partition, the bitmap is empty, or flags ≠ 0`,
    spec: 'FF-A v1.1 NOTIFICATION_BIND/UNBIND',
    follows: `${HF} (rejects every bind flag: per-vCPU dropped in v1.3)`,
    notes: 'abi.md §8.2, §13 #8',
  },
  'spmc/notif/bind-conflict': {
    action: 'reject',
    text: (a) => `notification ${a} is bound to another sender (or not to this one), or pending`,
    spec: 'FF-A v1.1 NOTIFICATION_BIND/UNBIND',
    follows: HF,
    notes: 'abi.md §8.2',
  },
  'spmc/notif/set-args': {
    action: 'reject',
    text: (a) => `sender ${hx(a)} is not the caller (0), the bitmap is empty, or the receiver is unknown`,
    spec: 'FF-A v1.1 NOTIFICATION_SET',
    follows: HF,
    notes: 'abi.md §8.2',
  },
  'spmc/notif/set-denied': {
    action: 'reject',
    text: (a) => `partition ${hx(a)} does not receive notifications, or a bit is not bound to the caller`,
    spec: 'FF-A v1.1 NOTIFICATION_SET',
    follows: HF,
    notes: 'abi.md §8.2, §5.2 (property bit 3)',
  },
  'spmc/notif/no-data': {
    action: 'reject',
    text: 'no notifications pending for the NS endpoint',
    spec: 'FF-A v1.1 §16.7.1.1 NOTIFICATION_INFO_GET',
    follows: HF,
    notes: 'abi.md §8.2',
  },
  'spmc/send2/flags': {
    action: 'reject',
    text: (a, b) => `w1 = ${hx(a)}, w2 = ${hx(b)}: both MBZ from an NS endpoint`,
    spec: 'FF-A v1.1 FFA_MSG_SEND2',
    follows: HF,
    notes: 'abi.md §8.1',
  },
  'spmc/send2/no-tx': {
    action: 'reject',
    text: 'no TX buffer mapped to read the message from',
    spec: 'FF-A v1.1 FFA_MSG_SEND2',
    follows: HF,
    notes: 'abi.md §8.1',
  },
  'spmc/send2/header': {
    action: 'reject',
    text: (a) => `partition message header malformed: ${a}`,
    spec: 'FF-A v1.1 Table 7.1; v1.2 §7.3',
    follows: HF,
    notes: 'abi.md §8.1',
  },
  'spmc/send2/endpoints': {
    action: 'reject',
    text: (a, b) => `header sender ${hx(a)} is not the caller, or receiver ${hx(b)} is 0 or not a partition`,
    spec: 'FF-A v1.1 FFA_MSG_SEND2',
    follows: HF,
    notes: 'abi.md §8.1',
  },
  'spmc/send2/not-supported': {
    action: 'reject',
    text: (a) => `partition ${hx(a)} does not take indirect messages (property bit 2 clear)`,
    spec: 'FF-A v1.1 FFA_MSG_SEND2; partition properties v1.2 Table 6.2',
    follows: HF,
    notes: 'abi.md §8.1, §5.2',
  },
  'spmc/send2/busy': {
    action: 'reject',
    text: (a) => `partition ${hx(a)} has not read its previous message`,
    spec: 'FF-A v1.1 FFA_MSG_SEND2',
    follows: HF,
    notes: 'abi.md §8.1, §6.4',
  },
} as const satisfies Record<string, SecureRule>;

export type SecureRuleId = keyof typeof SECURE_RULES;

/** Who decided: the SPMD for `spmd/…` rules, else the SPMC. */
export function ruleActor(rule: SecureRuleId): 'spmc' | 'spmd' {
  return rule.startsWith('spmd/') ? 'spmd' : 'spmc';
}

/** The `source` string of a rule: spec section; the behaviour it follows; the notes. */
export function ruleSource(r: SecureRule): string {
  return `${r.spec ?? 'FF-A section unconfirmed'}; ${r.follows}; ${r.notes}`;
}

const DEFAULT_CONTEXT: RuleContext = { versionLock: 'hafnium' };

/**
 * Emits one secure-world decision. `answer` is what the caller gets when it is an error (`INVALID_PARAMETERS`,
 * `SMCCC NOT_SUPPORTED`), shown after the reason. Call only with a sink attached.
 */
export function emitRule(
  trace: TraceSink,
  rule: SecureRuleId,
  answer: string | undefined,
  a?: RuleArg,
  b?: RuleArg,
  ctx: RuleContext = DEFAULT_CONTEXT,
): void {
  const r: SecureRule = SECURE_RULES[rule];
  const reason = typeof r.text === 'function' ? r.text(a, b) : r.text;
  const change = r.change === undefined ? 'base' : typeof r.change === 'function' ? r.change(ctx) : r.change;
  trace.emit({
    kind: 'decision',
    actor: ruleActor(rule),
    action: r.action,
    rule,
    change,
    source: ruleSource(r),
    text: answer === undefined ? reason : `${reason} → ${answer}`,
  });
}
