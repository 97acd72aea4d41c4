/**
 * Profiles are data (../shared/STYLE.md habit 6): the proxy's behaviour is the baseline `base` plus named
 * changes, and a profile is an ordered list of change ids. Catalogue, sources and profile lists:
 * ../shared/spec/proxy-behaviour.md "Profiles"; bug ids: bug-history.md.
 */

/** One behavioural change of the proxy. */
export interface Change {
  /** kebab-case id (`version-trap`). */
  readonly id: string;
  /** One line: what the change does. */
  readonly effect: string;
  /** Commit subject / Message-ID / tree it comes from. */
  readonly source: string;
  /** bug-history.md ids it fixes or models. */
  readonly bugs?: readonly string[];
  /** Optional: in no shipped profile unless added with --with. */
  readonly optional?: boolean;
  /** Catalogued but not modelled. */
  readonly notModelled?: boolean;
}

/** Source of behaviour that no change alters (the first released proxy, v6.4–v6.9). */
export const BASE_SOURCE =
  'pKVM FF-A proxy as first released (arch/arm64/kvm/hyp/nvhe/ffa.c, v6.4–v6.9); proxy-behaviour.md "Baseline"';

/** The change catalogue, in proxy-behaviour.md order. */
export const CHANGES: readonly Change[] = [
  {
    id: 'direct-req32-allow',
    effect:
      '32-bit FFA_MSG_SEND_DIRECT_REQ is forwarded instead of NOT_SUPPORTED; 32-bit DIRECT_RESP stays denied',
    source:
      '"KVM: arm64: Remove FFA_MSG_SEND_DIRECT_REQ from the denylist", Sebastian Ene, commit ae69e7740770, Message-ID 20240411135700.2140550-1-sebastianene@google.com (6.10)',
    bugs: ['H1'],
  },
  {
    id: 'mem-region-48b',
    effect:
      'Minimum fraglen 48 → 64: the kernel header struct ffa_mem_region grew to the 48-byte v1.1 header',
    source:
      '6.7 FF-A v1.1 driver work (Sudeep Holla) with "KVM: arm64: FFA: Remove access of endpoint memory access descriptor array"',
  },
  {
    id: 'reclaim-rx-release',
    effect: 'Reclaim issues FFA_RX_RELEASE after copying each retrieve-response fragment out of the hyp RX',
    source:
      '"KVM: arm64: FFA: Release hyp rx buffer", Vincent Donnefort, commit d66e50beb911 (kvmarm-fixes-6.10-2)',
    bugs: ['H19'],
  },
  {
    id: 'ffa-range-ff',
    effect: 'FFA_MAX_FUNC_NUM 0x7F → 0xFF: calls 0x80–0xFF fall under the version gate and the deny list',
    source:
      '"KVM: arm64: Update the identification range for the FF-A smcs", Sebastian Ene, kvmarm commit 0dd60c4632a1 (6.11)',
    bugs: ['H2'],
  },
  {
    id: 'version-trap',
    effect:
      'Host FFA_VERSION handled at EL2; other FF-A calls before negotiation → INVALID_PARAMETERS; ID_GET and FEATURES(RXTX_MAP) move to the first host VERSION',
    source:
      '"KVM: arm64: Trap FFA_VERSION host call in pKVM", Sebastian Ene, kvmarm commit c9c012625e12, Message-ID 20240515172258.1680881-2-sebastianene@google.com (6.11)',
    bugs: ['H3'],
  },
  {
    id: 'part-info-copy',
    effect:
      'FFA_PARTITION_INFO_GET handled: forwarded, then count × size bytes copied from hyp RX to host RX',
    source:
      '"KVM: arm64: Add support for FFA_PARTITION_INFO_GET", Sebastian Ene, kvmarm commit 894376385a2d (6.11)',
    bugs: ['H4'],
  },
  {
    id: 'hyp-ffa-v1-1',
    effect: 'Hyp requests and caps at FF-A 1.1; descriptor layout follows hyp_ffa_version (EMAD at 32 / 48)',
    source: '"KVM: arm64: Use FF-A 1.1 with pKVM", kvmarm commit 42fb33dde42b (6.11)',
    bugs: ['H5'],
  },
  {
    id: 'mem-len-check',
    effect: 'MEM_SHARE/LEND with len > ffa_desc_buf.len → NO_MEMORY, under the lock, before any state change',
    source:
      '"KVM: arm64: Add memory length checks and remove inline in do_ffa_mem_xfer", Snehal Koukuntla, upstream f26a525b77e0, Message-ID 20240909180154.3267939-1-snehalreddy@google.com',
    bugs: ['H6'],
  },
  {
    id: 'version-downgrade-reject',
    effect: 'After negotiation, FFA_VERSION with a lower minor → NOT_SUPPORTED',
    source:
      'FF-A 1.2 series 1/6 "KVM: arm64: Correct return value on host version downgrade attempt", Per Larsen, Message-Id 20250730-virtio-msg-ffa-v9-1-7f1b55c8d149@google.com',
    bugs: ['H8'],
  },
  {
    id: 'smccc12-retval-smc64',
    effect:
      "Hyp SMCs use SMCCC 1.2 (x0–x17); host x0–x7 written, x8–x17 only when the caller's function ID is SMC64",
    source: 'FF-A 1.2 series v9 2/6 "Use SMCCC 1.2 for FF-A initialization and in host handler"',
    bugs: ['H11'],
  },
  {
    id: 'smccc12-retval-all',
    effect:
      'Hyp SMCs use SMCCC 1.2 (x0–x17); host x0–x17 written unconditionally after every EL2-handled call',
    source: 'FF-A 1.2 series v10/v11 2/6; review Message-ID aJXv8YXSbV1UFanw@willie-the-truck',
    bugs: ['H11'],
  },
  {
    id: 'deny-notifications',
    effect:
      'The seven 32-bit FFA_NOTIFICATION_* IDs (0x8400007D–0x84000083) → NOT_SUPPORTED, also as FEATURES queries',
    source: 'FF-A 1.2 series 3/6, Message-Id 20250730-virtio-msg-ffa-v9-3-7f1b55c8d149@google.com',
    bugs: ['H10'],
  },
  {
    id: 'deny-ffa12-optional',
    effect:
      'DIRECT_REQ2, DIRECT_RESP2, CONSOLE_LOG (32) and PARTITION_INFO_GET_REGS → NOT_SUPPORTED, also as FEATURES queries',
    source: 'FF-A 1.2 series 4/6, Message-Id 20250820-virtio-msg-ffa-v11-4-497ef43550a3@google.com',
    bugs: ['H10'],
  },
  {
    id: 'deny-el3-intr-handle',
    effect: 'FFA_EL3_INTR_HANDLE (0x8400008C) → NOT_SUPPORTED',
    source:
      'FF-A 1.2 series v9 4/6 only; dropped in v10 after review Message-ID aJXwan8iMtRBkiPX@willie-the-truck',
    bugs: ['H10'],
  },
  {
    id: 'features-rxtx-mask',
    effect:
      "The hyp's own FEATURES(FFA_FN64_RXTX_MAP) answer is decoded from w2 & 0x3; other bits are ignored",
    source:
      'FF-A 1.2 series 5/6 "KVM: arm64: Mask response to FFA_FEATURE call", Per Larsen, Message-Id 20250730-virtio-msg-ffa-v9-5-7f1b55c8d149@google.com',
    bugs: ['H9'],
  },
  {
    id: 'hyp-ffa-v1-2',
    effect: 'Hyp requests and caps at FF-A 1.2 (a 1.3 SPMC is treated as 1.2)',
    source:
      'FF-A 1.2 series 6/6 (v11 cover letter Message-Id 20250820-virtio-msg-ffa-v11-0-497ef43550a3@google.com)',
  },
  {
    id: 'emad-impdef-size',
    effect:
      'struct ffa_mem_region_attributes grows 16 → 32 bytes: the minimum fraglen is 80 for every version',
    source:
      '"firmware: arm_ffa: Add support for IMPDEF value in the memory access descriptor", Sudeep Holla, late 2025 (6.18)',
    bugs: ['D11'],
  },
  {
    id: 'offset-overflow-check',
    effect:
      'composite_off + 16 computed with check_add_overflow; overflow → INVALID_PARAMETERS (observably a no-op on arm64)',
    source:
      '"KVM: arm64: Check the untrusted offset in FF-A memory share", Sebastian Ene, commit 103e17aac09c, patch.msgid 20251017075710.2605118-1-sebastianene@google.com (6.18-rc6)',
    bugs: ['H7'],
  },
  {
    id: 'range-validation',
    effect: 'Host page ranges must satisfy pfn_range_is_valid; failure → −EINVAL → DENIED',
    source:
      '"KVM: arm64: Check range args for pKVM mem transitions", Vincent Donnefort, commit f71f7afd0a0c (6.18-rc6)',
    bugs: ['H12'],
  },
  {
    id: 'emad-offset-validate',
    effect:
      "The EMAD is located through the header's ep_mem_offset (v1.1+); EMAD offset + size > fraglen → INVALID_PARAMETERS; min fraglen 48/64/80 by version",
    source:
      '"KVM: arm64: Validate the offset to the mem access descriptor" (a6b49d27c179) with "firmware: arm_ffa: Fix Endpoint Memory Access Descriptor offset calculation" (b4d961351aa8), 2026',
    bugs: ['H14', 'D14'],
  },
  {
    id: 'emad-offset-header',
    effect:
      "The EMAD is located through the header's ep_mem_offset (v1.1+) with no bound check: an offset past the fragment reads beyond the hyp's buffer",
    source:
      '"firmware: arm_ffa: Fix Endpoint Memory Access Descriptor offset calculation" (b4d961351aa8) alone, without a6b49d27c179; measured in Debian linux-source-6.12 6.12.118-1~deb12u1 (ffa.c: __do_ffa_mem_xfer via arm_ffa.h ffa_mem_desc_offset)',
    bugs: ['H14'],
  },
  {
    id: 'page-aligned-ranges',
    effect: 'Each constituent must satisfy PAGE_ALIGNED(size | address); failure → rollback → DENIED',
    source: '"KVM: arm64: Ensure FFA ranges are page aligned", commit 6a7a181f6921, 2026',
    bugs: ['H15'],
  },
  {
    id: 'zeroed-result',
    effect: 'The handler result struct is zero-initialised: FFA_VERSION replies with no SMC carry x1–x17 = 0',
    source: '"KVM: arm64: Zero out the stack initialized data in the FFA handler", commit 2bd3c6c702f3, 2026',
    bugs: ['H16'],
  },
  {
    id: 'reclaim-bounds',
    effect:
      "Reclaim bounds the SPMC's retrieve response: offset + 16 > len and offset + 16 + 16 × addr_range_cnt > len → ABORTED",
    source: '"KVM: arm64: Fix bounds checking in do_ffa_mem_reclaim()", commit 8c6db30d7952, 2026',
    bugs: ['H13'],
  },
  {
    id: 'direct-req2-forward',
    effect:
      'DIRECT_REQ2 forwarded with the host x0–x17 when hyp_ffa_version ≥ 1.2, else NOT_SUPPORTED; RESP2 stays denied',
    source:
      'Proposed "KVM: arm64: Support FF-A direct messaging interfaces" v2, Per Larsen / Sebastian Ene, 2025-10-30 (merge status unconfirmed); precedent v8 7/7',
  },
  {
    id: 'version-ns-s32',
    effect:
      'NOT_SUPPORTED comparisons in hyp_ffa_init/do_ffa_version use (s32)a0, so a zero-extended 0xFFFFFFFF matches',
    source: 'damonitor/linux 6a7a181f, analogdevicesinc/linux 0aa3b20b ffa.c; commit unconfirmed',
    bugs: ['H17'],
    optional: true,
  },
  {
    id: 'deny-fn64-direct-resp',
    effect:
      'FFA_FN64_MSG_SEND_DIRECT_RESP (0xC4000070) → NOT_SUPPORTED ("The host is never the target of a direct request")',
    source: 'intel-lab-lkp/linux 111ef63a ffa.c only; unconfirmed',
    optional: true,
  },
  {
    id: 'strict-smc-decode',
    effect: 'Non-zero upper 32 bits of x0 → SMCCC NOT_SUPPORTED (x0 = −1) before FF-A dispatch',
    source: 'a newer tree of unconfirmed provenance, possibly not mainline (proxy-behaviour.md §1)',
    optional: true,
  },
  {
    id: 'notifications-forward',
    effect: 'Forward FFA_NOTIFICATION* to TrustZone with strict SBZ checks (catalogued, not modelled)',
    source: 'Proposed "KVM: arm64: Forward FFA_NOTIFICATION* calls to TrustZone" v4, Sebastian Ene, 2026-06',
    optional: true,
    notModelled: true,
  },
];

const CHANGE_BY_ID = new Map(CHANGES.map((c) => [c.id, c]));

/** The change record for an id, or undefined. */
export function changeById(id: string): Change | undefined {
  return CHANGE_BY_ID.get(id);
}

/** A named profile: an ordered list of change ids. */
export interface ProfileDef {
  readonly name: string;
  readonly models: string;
  readonly changes: readonly string[];
}

const P_6_10 = ['direct-req32-allow', 'mem-region-48b', 'reclaim-rx-release'];
const P_6_11 = [...P_6_10, 'ffa-range-ff', 'version-trap', 'part-info-copy', 'hyp-ffa-v1-1'];
const P_V9 = [
  ...P_6_11,
  'mem-len-check',
  'version-downgrade-reject',
  'smccc12-retval-smc64',
  'deny-notifications',
  'deny-ffa12-optional',
  'deny-el3-intr-handle',
  'features-rxtx-mask',
  'hyp-ffa-v1-2',
];
const P_1_2 = [
  ...P_6_11,
  'mem-len-check',
  'version-downgrade-reject',
  'smccc12-retval-all',
  'deny-notifications',
  'deny-ffa12-optional',
  'features-rxtx-mask',
  'hyp-ffa-v1-2',
  'emad-impdef-size',
  'offset-overflow-check',
  'range-validation',
];
const P_HARD = [...P_1_2, 'emad-offset-validate', 'page-aligned-ranges', 'zeroed-result', 'reclaim-bounds'];

/**
 * Debian's 6.12 stable tree (linux-source-6.12 6.12.118-1~deb12u1), measured with `ffasim diff` and read in its
 * ffa.c: the 6.11 FF-A 1.1 proxy (`struct arm_smccc_res`, the uninitialised `res` of H16) plus the stable
 * backports of the length check, the offset-overflow check, pfn range validation and the EMAD located through
 * ep_mem_offset without its bound check.
 */
const P_DEB_6_12 = [
  ...P_6_11,
  'mem-len-check',
  'offset-overflow-check',
  'range-validation',
  'emad-offset-header',
];
/**
 * Debian's 7.3 tree (linux-source-7.3 7.3.4-1~bpo13+1): the merged FF-A 1.2 series with the 2026 fixes, and the
 * `(s32)` NOT_SUPPORTED comparisons in hyp_ffa_init / do_ffa_version (H17), measured with `ffasim diff`.
 */
const P_DEB_7_3 = [...P_HARD, 'version-ns-s32'];

/** The shipped profiles (proxy-behaviour.md "Profile definitions"; the Debian trees measured by `ffasim diff`). */
export const PROFILES: readonly ProfileDef[] = [
  { name: 'linux-6.6', models: 'the proxy as in the 6.6 release (base only)', changes: [] },
  { name: 'linux-6.10', models: 'the 6.10 release: still the FF-A 1.0 proxy', changes: P_6_10 },
  { name: 'linux-6.11', models: "the FF-A 1.1 proxy of 6.11–6.17 (the series' base)", changes: P_6_11 },
  {
    name: 'linux-6.12',
    models: "Debian's 6.12 stable tree (6.12.118): the FF-A 1.1 proxy with stable backports",
    changes: P_DEB_6_12,
  },
  { name: 'ffa-1.2-v9', models: 'the FF-A 1.2 series exactly as posted in v9 (2025-07-30)', changes: P_V9 },
  { name: 'ffa-1.2', models: 'the merged v11 series as first released (6.18) — default', changes: P_1_2 },
  { name: 'ffa-1.2-hardened', models: '6.18 plus the 2026 fixes', changes: P_HARD },
  {
    name: 'linux-7.3',
    models: "Debian's 7.3 tree (7.3.4): the FF-A 1.2 proxy with the 2026 fixes and (s32) version checks",
    changes: P_DEB_7_3,
  },
  {
    name: 'ffa-1.2-direct-msg',
    models: 'hardened plus the proposed DIRECT_REQ2 forwarding',
    changes: [...P_HARD, 'direct-req2-forward'],
  },
];

/** The default profile. */
export const DEFAULT_PROFILE = 'ffa-1.2';

/** A composed profile the proxy runs with. */
export interface Profile {
  /** Display name: `ffa-1.2`, or `ffa-1.2 +version-ns-s32 -zeroed-result`. */
  readonly name: string;
  /** Base profile name. */
  readonly base: string;
  /** Effective ordered change list. */
  readonly changes: readonly string[];
  has(id: string): boolean;
  /** Index of a change in the list (−1 when absent); later wins where two changes touch the same behaviour. */
  indexOf(id: string): number;
}

/** A problem composing a profile (unknown name or change id). */
export class ProfileError extends Error {
  readonly code: 'PROFILE_UNKNOWN' | 'CHANGE_UNKNOWN';
  constructor(code: 'PROFILE_UNKNOWN' | 'CHANGE_UNKNOWN', message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * Composes a profile: a shipped profile, plus changes (`with`, appended in order) minus changes (`without`).
 * @throws ProfileError for an unknown profile or change id (a usage error the CLI reports with exit code 2).
 */
export function createProfile(
  name: string = DEFAULT_PROFILE,
  o: { with?: readonly string[]; without?: readonly string[] } = {},
): Profile {
  const def = PROFILES.find((p) => p.name === name);
  if (def === undefined) {
    throw new ProfileError(
      'PROFILE_UNKNOWN',
      `unknown profile '${name}' (known: ${PROFILES.map((p) => p.name).join(', ')})`,
    );
  }
  const add = o.with ?? [];
  const remove = o.without ?? [];
  for (const id of [...add, ...remove]) {
    if (!CHANGE_BY_ID.has(id))
      throw new ProfileError('CHANGE_UNKNOWN', `unknown change '${id}' (see 'ffasim profiles')`);
  }
  const list = def.changes.filter((c) => !remove.includes(c));
  for (const c of add) {
    const at = list.indexOf(c);
    if (at >= 0) list.splice(at, 1);
    list.push(c);
  }
  const set = new Set(list);
  const suffix = [...add.map((c) => `+${c}`), ...remove.map((c) => `-${c}`)].join(' ');
  return {
    name: suffix === '' ? name : `${name} ${suffix}`,
    base: name,
    changes: list,
    has: (id) => set.has(id),
    indexOf: (id) => list.indexOf(id),
  };
}
