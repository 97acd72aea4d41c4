/**
 * `ffasim check`: a conformance suite of named rules. Each rule has an id, a one-line statement, its source and
 * an expected outcome per profile. Expectations come from the spec's tables (proxy-behaviour.md §2, §11 and the
 * profile definitions, ../shared/spec/peers-and-tests.md §3 for the ACS subset) — the named profile's *published*
 * change list, never the composed profile under test — so `--without CHANGE` makes the rules that depend on it
 * fail, by name.
 */
import { FFA, FFA_FUNCTIONS, ffaName } from '../ffa/ids.ts';
import { PROFILES, type Profile } from '../hyp/profiles.ts';
import { BUG_SCENARIOS } from '../scenario/builtin/bugs.ts';
import { runScenario } from '../scenario/scenario.ts';
import { defaultWorldConfig, type WorldConfig } from '../world/config.ts';
import { createWorld, type World, type WorldOptions } from '../world/world.ts';
import { disposition, resultLabel as errName, ready } from './observe.ts';
import { virtioRules } from './virtio-rules.ts';

export interface Rule {
  id: string;
  statement: string;
  source: string;
  /** Expected outcome on a named (shipped) profile; `undefined` = the rule does not apply there. */
  expected(profile: string): string | undefined;
  /** The outcome observed on the composed profile under test. */
  observe(profile: Profile): string;
}

export interface RuleResult {
  id: string;
  statement: string;
  source: string;
  profile: string;
  expected: string;
  observed: string;
  pass: boolean;
}

/** Whether a shipped profile's published change list has a change (spec data, proxy-behaviour.md "Profiles"). */
export function specHas(profile: string, change: string): boolean {
  return PROFILES.find((p) => p.name === profile)?.changes.includes(change) ?? false;
}

const ORDER = PROFILES.map((p) => p.name);
const fromEra = (era: string, p: string): boolean => ORDER.indexOf(p) >= ORDER.indexOf(era);

/**
 * The hyp of the check that is running (kernel mode: a tree's real ffa.c); set by {@link runCheck} for its
 * duration, so that every world a rule builds runs that hyp. Checks are synchronous: no other check interleaves.
 */
let checkHyp: WorldOptions['hyp'];

function world(profile: Profile, cfg?: (c: WorldConfig) => void, trace = true): World {
  const config = defaultWorldConfig();
  cfg?.(config);
  return createWorld({ config, profile, trace, ...(checkHyp === undefined ? {} : { hyp: checkHyp }) });
}

// Spec tables (proxy-behaviour.md §2 "Deny-list contents" and the behaviour matrix), independent of src/hyp.
const DENY_BASE = [
  0xc4000074, 0x84000075, 0x84000076, 0x84000078, 0x84000079, 0x8400007a, 0xc4000071, 0x8400006e, 0x8400006a,
  0x8400006b, 0x84000070, 0x84000066, 0x84000071, 0x84000074,
];
const NOTIF32 = [0x8400007d, 0x8400007e, 0x8400007f, 0x84000080, 0x84000081, 0x84000082, 0x84000083];
const OPT12 = [0xc400008d, 0xc400008e, 0x8400008a, 0xc400008b];
const HANDLED = [
  0xc4000066, 0x84000067, 0x84000073, 0xc4000073, 0x84000072, 0xc4000072, 0x84000077, 0x8400007b,
];

/** Expected disposition of one ID on a shipped profile, from the spec tables. */
export function specDisposition(profile: string, fid: number): 'F' | 'H' | 'NS' {
  const max = specHas(profile, 'ffa-range-ff') ? 0xff : 0x7f;
  if ((fid & 0xffff) > max) return 'F';
  const handled = [
    ...HANDLED,
    ...(specHas(profile, 'version-trap') ? [FFA.VERSION] : []),
    ...(specHas(profile, 'part-info-copy') ? [FFA.PARTITION_INFO_GET] : []),
  ];
  if (handled.includes(fid)) return 'H';
  const deny = new Set(DENY_BASE);
  if (!specHas(profile, 'direct-req32-allow')) deny.add(FFA.MSG_SEND_DIRECT_REQ);
  if (specHas(profile, 'deny-notifications')) for (const x of NOTIF32) deny.add(x);
  if (specHas(profile, 'deny-ffa12-optional')) for (const x of OPT12) deny.add(x);
  if (specHas(profile, 'deny-el3-intr-handle')) deny.add(FFA.EL3_INTR_HANDLE);
  if (specHas(profile, 'direct-req2-forward')) deny.delete(FFA.MSG_SEND_DIRECT_REQ2); // forwarded by its handler
  return deny.has(fid) ? 'NS' : 'F';
}

function fidRules(): Rule[] {
  const out: Rule[] = [];
  for (const f of FFA_FUNCTIONS) {
    for (const id of [f.id32, f.id64]) {
      if (id === undefined || id === FFA.VERSION) continue;
      out.push({
        id: `fid/${ffaName(id)}`,
        statement: `${ffaName(id)} (0x${id.toString(16)}) after negotiation is forwarded (F), handled (H) or NOT_SUPPORTED (NS)`,
        source: 'proxy-behaviour.md §2 function-ID table and deny list',
        expected: (p) => specDisposition(p, id),
        observe: (profile) => {
          const w = world(profile);
          ready(w);
          return disposition(w, id);
        },
      });
    }
  }
  return out;
}

/** Rules from the FF-A ACS Linux/Xen NS-endpoint subset (peers-and-tests.md §3), as the host runs them through the proxy. */
function acsRules(): Rule[] {
  const trap = (p: string) => specHas(p, 'version-trap');
  return [
    {
      id: 'acs/ffa_version_negotiation',
      statement:
        'after negotiation, FFA_VERSION(minor − 1) → NOT_SUPPORTED, the negotiated version → that version',
      source: 'ACS v1.2 test/v1.2/setup_discovery/ffa_version_negotiation; FF-A v1.2 §13.2.2',
      expected: (p) =>
        !trap(p)
          ? undefined
          : specHas(p, 'version-downgrade-reject')
            ? 'NOT_SUPPORTED, then negotiated'
            : 'negotiated, then negotiated',
      observe: (profile) => {
        const w = world(profile);
        const v = w.smc([FFA.VERSION, 0x10002]).w(0);
        const down = w.smc([FFA.VERSION, ((v & 0xffff) - 1) | 0x10000]);
        const same = w.smc([FFA.VERSION, v]);
        return `${down.x(0) === 0xffff_ffff_ffff_ffffn ? 'NOT_SUPPORTED' : down.w(0) === v ? 'negotiated' : 'other'}, then ${same.w(0) === v ? 'negotiated' : 'other'}`;
      },
    },
    {
      id: 'version/negotiated',
      statement:
        'host FFA_VERSION(1.2) against a 1.2 SPMC → the version the hyp caps at (1.1 in 6.11–6.17, 1.2 from the series)',
      source: 'proxy-behaviour.md §3.1 (hyp_ffa_version); FF-A 1.2 series 6/6',
      expected: (p) => (!trap(p) ? undefined : specHas(p, 'hyp-ffa-v1-2') ? '0x10002' : '0x10001'),
      observe: (profile) => `0x${world(profile).smc([FFA.VERSION, 0x10002]).w(0).toString(16)}`,
    },
    {
      id: 'acs/ffa_version',
      statement: 'FFA_VERSION with the negotiated version returns it with w1–w7 zero (ACS MBZ check)',
      source: 'ACS v1.0 setup_discovery/ffa_version; proxy-behaviour.md §3.2 (uninitialised res, H16)',
      expected: (p) =>
        !trap(p) ? undefined : specHas(p, 'zeroed-result') ? 'w1–w7 zero' : 'w1–w7 not all zero',
      observe: (profile) => {
        const w = world(profile);
        ready(w);
        w.smc([FFA.PARTITION_INFO_GET]);
        const r = w.smc([FFA.VERSION, w.hyp.hypVersion]);
        let zero = true;
        for (let i = 1; i <= 7; i++) if (!r.isZero(i)) zero = false;
        return zero ? 'w1–w7 zero' : 'w1–w7 not all zero';
      },
    },
    {
      id: 'acs/ffa_id_get',
      statement: 'FFA_ID_GET returns 0 at the NS physical instance',
      source: 'ACS v1.0 setup_discovery/ffa_id_get (v1.0 §8.7)',
      expected: () => 'SUCCESS id 0',
      observe: (profile) => {
        const w = world(profile);
        w.smc([FFA.VERSION, 0x10002]);
        const r = w.smc([FFA.ID_GET]);
        return r.w(0) === FFA.SUCCESS ? `SUCCESS id ${r.w(2)}` : errName(r);
      },
    },
    {
      id: 'acs/ffa_rxtx_map_and_unmap',
      statement:
        'UNMAP before MAP → INVALID_PARAMETERS; bad page count → INVALID_PARAMETERS; MAP; second MAP → DENIED; UNMAP',
      source: 'ACS v1.0 setup_discovery/ffa_rxtx_map_and_unmap; proxy-behaviour.md §6',
      expected: () => 'INVALID_PARAMETERS INVALID_PARAMETERS FFA_SUCCESS DENIED FFA_SUCCESS',
      observe: (profile) => {
        const w = world(profile);
        w.smc([FFA.VERSION, 0x10002]);
        const tx = w.allocHostPages(1);
        const rx = w.allocHostPages(1);
        return [
          w.smc([FFA.RXTX_UNMAP, 0]),
          w.smc([FFA.RXTX_MAP64, tx, rx, 3]),
          w.smc([FFA.RXTX_MAP64, tx, rx, 1]),
          w.smc([FFA.RXTX_MAP64, tx, rx, 1]),
          w.smc([FFA.RXTX_UNMAP, 0]),
        ]
          .map(errName)
          .join(' ');
      },
    },
    {
      id: 'acs/ffa_partition_info_get',
      statement:
        'PARTITION_INFO_GET of all partitions lands in the host RX; a second query before RX_RELEASE → BUSY',
      source: 'ACS v1.0 setup_discovery/ffa_partition_info_get; proxy-behaviour.md §8',
      expected: (p) => (specHas(p, 'part-info-copy') ? 'copied, then BUSY' : 'not copied, then BUSY'),
      observe: (profile) => {
        const w = world(profile, (c) => {
          c.spmc.versionLock = 'tfa';
        });
        ready(w);
        const r = w.smc([FFA.PARTITION_INFO_GET]);
        const copied = r.w(0) === FFA.SUCCESS && w.mem.read(w.host.rx, 2)[1] === 0x80;
        const again = w.smc([FFA.PARTITION_INFO_GET]);
        return `${copied ? 'copied' : 'not copied'}, then ${errName(again)}`;
      },
    },
    {
      id: 'acs/ffa_direct_message_32',
      statement: 'SMC32 DIRECT_REQ to SP1 completes with DIRECT_RESP_32; a stray DIRECT_RESP_32 is an error',
      source: 'ACS v1.0 direct_messaging/ffa_direct_message_32; bug-history.md H1',
      expected: (p) =>
        specHas(p, 'direct-req32-allow')
          ? 'FFA_MSG_SEND_DIRECT_RESP, NOT_SUPPORTED'
          : 'NOT_SUPPORTED, NOT_SUPPORTED',
      observe: (profile) => {
        const w = world(profile, (c) => {
          c.spmc.versionLock = 'tfa';
        });
        w.smc([FFA.VERSION, 0x10002]);
        return `${errName(w.smc([FFA.MSG_SEND_DIRECT_REQ, 0x8001, 0, 1]))}, ${errName(w.smc([FFA.MSG_SEND_DIRECT_RESP, 0x80010000]))}`;
      },
    },
    {
      id: 'acs/ffa_direct_message_64',
      statement: 'SMC64 DIRECT_REQ to SP1 completes with DIRECT_RESP_64',
      source: 'ACS v1.0 direct_messaging/ffa_direct_message_64',
      expected: () => 'FFA_MSG_SEND_DIRECT_RESP_64',
      observe: (profile) => {
        const w = world(profile, (c) => {
          c.spmc.versionLock = 'tfa';
        });
        w.smc([FFA.VERSION, 0x10002]);
        return errName(w.smc([FFA.MSG_SEND_DIRECT_REQ64, 0x8001, 0, 1]));
      },
    },
    {
      id: 'acs/ffa_direct_message2',
      statement:
        'DIRECT_REQ2 by UUID: FEATURES gate, then RESP2 (or NOT_SUPPORTED from the proxy, so ACS skips)',
      source: 'ACS v1.2 direct/ffa_direct_message2; proxy-behaviour.md §9',
      // Without deny-ffa12-optional REQ2 is forwarded, but the hyp negotiated < 1.2 with the SPMC, which then refuses
      // a 1.2 call from that endpoint with NOT_SUPPORTED (abi.md §2: a caller using a later ID gets NOT_SUPPORTED).
      expected: (p) => (specHas(p, 'direct-req2-forward') ? 'FFA_MSG_SEND_DIRECT_RESP2' : 'NOT_SUPPORTED'),
      observe: (profile) => {
        const w = world(profile);
        w.host.negotiate();
        return errName(w.smc([FFA.MSG_SEND_DIRECT_REQ2, 0x8001, 0, 0, 7]));
      },
    },
    {
      id: 'acs/ffa_mem_share',
      statement: 'MEM_SHARE to one SP, reclaim: SUCCESS twice, the page back to OWNED',
      source: 'ACS v1.0 memory_manage/ffa_mem_share; proxy-behaviour.md §7',
      expected: (p) => (fromEra('linux-6.11', p) ? 'share ok, reclaim ok, OWNED' : undefined),
      observe: (profile) => {
        const w = world(profile);
        ready(w);
        const p = w.allocHostPages(1);
        const s = w.host.memShare({
          receivers: [{ id: 0x8001, perm: 'RW' }],
          constituents: [{ address: p, pageCount: 1 }],
        });
        const r = s.ok ? w.host.memReclaim(s.value.handle) : s;
        return `share ${s.ok ? 'ok' : s.error}, reclaim ${r.ok ? 'ok' : r.error}, ${w.stage2.hostState(p)}`;
      },
    },
    {
      id: 'acs/share_state_machine',
      statement: 'sharing pages that are already shared fails (any FFA_ERROR); the state is unchanged',
      source: 'ACS v1.0 memory_manage/share_state_machine_5; proxy-behaviour.md §7.5',
      expected: (p) => (fromEra('linux-6.11', p) ? 'DENIED, unchanged' : undefined),
      observe: (profile) => {
        const w = world(profile);
        ready(w);
        const p = w.allocHostPages(1);
        w.host.memShare({
          receivers: [{ id: 0x8001, perm: 'RW' }],
          constituents: [{ address: p, pageCount: 1 }],
        });
        const before = w.stage2.fingerprint();
        const s = w.host.memShare({
          receivers: [{ id: 0x8001, perm: 'RW' }],
          constituents: [{ address: p, pageCount: 1 }],
        });
        return `${s.ok ? 'ok' : s.error}, ${w.stage2.fingerprint() === before ? 'unchanged' : 'changed'}`;
      },
    },
    {
      id: 'acs/share_invalid_handle_tag',
      statement: 'reclaim of an unknown handle fails with the error of the proxy’s internal RETRIEVE_REQ',
      source: 'ACS v1.0 memory_manage/share_invalid_handle_tag; proxy-behaviour.md §7.4 step 3',
      expected: () => 'INVALID_PARAMETERS',
      observe: (profile) => {
        const w = world(profile);
        ready(w);
        return errName(w.smc([FFA.MEM_RECLAIM, 0x1234, 0, 0]));
      },
    },
    {
      id: 'acs/ffa_rx_release',
      statement: 'RX_RELEASE without owning the RX buffer → DENIED (the SPMC judges the hyp RX)',
      source: 'ACS v1.0 setup_discovery/ffa_rx_release (v1.0 §8.3)',
      expected: () => 'DENIED',
      observe: (profile) => {
        const w = world(profile, (c) => {
          c.spmc.versionLock = 'tfa';
        });
        ready(w);
        return errName(w.smc([FFA.RX_RELEASE]));
      },
    },
    {
      id: 'acs/ffa_mem_perm_get',
      statement: 'MEM_PERM_GET_32 from the NS endpoint → NOT_SUPPORTED',
      source: 'ACS v1.1 memory/ffa_mem_perm_get',
      expected: () => 'NOT_SUPPORTED',
      observe: (profile) => {
        const w = world(profile);
        w.smc([FFA.VERSION, 0x10002]);
        return errName(w.smc([FFA.MEM_PERM_GET, 0x1000]));
      },
    },
  ];
}

/** Rows of the proxy's error table (proxy-behaviour.md §11) as rules. */
function errorRules(): Rule[] {
  const trap = (p: string) => specHas(p, 'version-trap');
  const minFrag = (p: string) =>
    specHas(p, 'emad-offset-validate')
      ? 80
      : specHas(p, 'emad-impdef-size')
        ? 80
        : specHas(p, 'mem-region-48b')
          ? 64
          : 48;
  const row = (
    id: string,
    statement: string,
    expected: (p: string) => string | undefined,
    observe: (w: World) => string,
    cfg?: (c: WorldConfig) => void,
  ): Rule => ({
    id: `err/${id}`,
    statement,
    source: 'proxy-behaviour.md §11 error table',
    expected,
    observe: (profile) => {
      const w = world(profile, cfg);
      ready(w);
      return observe(w);
    },
  });
  return [
    row(
      'gate',
      'any FF-A call before FFA_VERSION → INVALID_PARAMETERS (6.11 on)',
      (p) => (trap(p) ? 'INVALID_PARAMETERS' : 'FFA_SUCCESS'),
      (w) => {
        const fresh = world(w.profile, undefined, false);
        return errName(fresh.smc([FFA.ID_GET]));
      },
    ),
    row(
      'version/major',
      'FFA_VERSION with major ≠ 1 → NOT_SUPPORTED',
      (p) => (trap(p) ? 'NOT_SUPPORTED(x0)' : undefined),
      (w) => errName(w.smc([FFA.VERSION, 0x20000])),
    ),
    row(
      'features/mem',
      'FEATURES(MEM_SHARE) → SUCCESS w2 = 0 from the hyp',
      () => 'FFA_SUCCESS w2=0',
      (w) => {
        const r = w.smc([FFA.FEATURES, FFA.MEM_SHARE64]);
        return `${errName(r)} w2=${r.w(2)}`;
      },
    ),
    row(
      'rxtx-map/page-count',
      'RXTX_MAP with a page count ≠ PAGE_SIZE/4K → INVALID_PARAMETERS',
      () => 'INVALID_PARAMETERS',
      (w) => {
        w.host.rxtxUnmap();
        return errName(w.smc([FFA.RXTX_MAP64, w.allocHostPages(1), w.allocHostPages(1), 2]));
      },
    ),
    row(
      'rxtx-map/guest-page',
      'RXTX_MAP of a guest-owned TX → INVALID_PARAMETERS, state unchanged',
      () => 'INVALID_PARAMETERS unchanged',
      (w) => {
        w.host.rxtxUnmap();
        const before = w.stage2.fingerprint();
        const r = w.smc([FFA.RXTX_MAP64, 0xf000_0000, w.allocHostPages(1), 1]);
        return `${errName(r)} ${w.stage2.fingerprint() === before ? 'unchanged' : 'changed'}`;
      },
    ),
    row(
      'rxtx-unmap/id',
      'RXTX_UNMAP with w1 ≠ 0 → INVALID_PARAMETERS',
      () => 'INVALID_PARAMETERS',
      (w) => errName(w.smc([FFA.RXTX_UNMAP, 0x10000])),
    ),
    row(
      'mem-xfer/fraglen-min',
      'the smallest first fragment MEM_SHARE accepts past its length check (48 / 64 / 80 by era)',
      (p) => `min ${minFrag(p)}`,
      (w) => {
        for (const n of [48, 64, 80, 96]) {
          const before = w.trace?.events.length ?? 0;
          w.smc([FFA.MEM_SHARE64, n, n]);
          const rules = (w.trace?.events ?? [])
            .slice(before)
            .flatMap((e) => (e.kind === 'decision' ? [e.rule] : []));
          if (!rules.includes('mem-xfer/fraglen-min')) return `min ${n}`;
        }
        return 'min > 96';
      },
    ),
    row(
      'mem-xfer/len',
      'MEM_SHARE with len > ffa_desc_buf → NO_MEMORY (mem-len-check)',
      (p) => (specHas(p, 'mem-len-check') ? 'NO_MEMORY' : 'not NO_MEMORY'),
      (w) => {
        const r = w.smc([FFA.MEM_SHARE64, 36880, 112]);
        return errName(r) === 'NO_MEMORY' ? 'NO_MEMORY' : 'not NO_MEMORY';
      },
    ),
    row(
      'mem-xfer/guest',
      'MEM_SHARE of a guest page → DENIED, state unchanged',
      (p) => (fromEra('linux-6.11', p) ? 'DENIED unchanged' : undefined),
      (w) => {
        const before = w.stage2.fingerprint();
        const s = w.host.memShare({
          receivers: [{ id: 0x8001, perm: 'RW' }],
          constituents: [{ address: 0xf000_0000, pageCount: 1 }],
        });
        return `${s.ok ? 'ok' : s.error} ${w.stage2.fingerprint() === before ? 'unchanged' : 'changed'}`;
      },
    ),
    row(
      'mem-xfer/mmio',
      'MEM_SHARE of the MMIO page → DENIED',
      (p) => (fromEra('linux-6.11', p) ? 'DENIED' : undefined),
      (w) => {
        const s = w.host.memShare({
          receivers: [{ id: 0x8001, perm: 'RW' }],
          constituents: [{ address: 0x0900_0000, pageCount: 1 }],
        });
        return s.ok ? 'ok' : s.error;
      },
    ),
    row(
      'frag-tx/len',
      'FRAG_TX with a length not a multiple of 16 → INVALID_PARAMETERS',
      () => 'INVALID_PARAMETERS',
      (w) => errName(w.smc([FFA.MEM_FRAG_TX, 1, 0, 24])),
    ),
    row(
      'part-info/no-rx',
      'PARTITION_INFO_GET with the host RX unmapped → BUSY (part-info-copy)',
      (p) => (specHas(p, 'part-info-copy') ? 'BUSY' : undefined),
      (w) => {
        w.host.rxtxUnmap();
        return errName(w.smc([FFA.PARTITION_INFO_GET]));
      },
    ),
    row(
      'deny',
      'a deny-listed SMC64 call → NOT_SUPPORTED; x1, x3 zero; x4–x17 written (SMCCC 1.2 series) or the caller’s (before)',
      (p) =>
        specHas(p, 'smccc12-retval-all') || specHas(p, 'smccc12-retval-smc64')
          ? 'NOT_SUPPORTED x1,x3 0 x4–x17 0'
          : 'NOT_SUPPORTED x1,x3 0 x4–x17 caller',
      (w) => {
        const r = w.smc([FFA.MEM_DONATE64, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7]);
        let rest = true;
        for (let i = 4; i < 18; i++) if (!r.isZero(i)) rest = false;
        let caller = true;
        for (let i = 4; i < 18; i++) if (r.x(i) !== 7n) caller = false;
        return `${errName(r)} x1,x3 ${r.isZero(1) && r.isZero(3) ? '0' : 'set'} x4–x17 ${rest ? '0' : caller ? 'caller' : 'mixed'}`;
      },
    ),
  ];
}

/** Every H1–H20 scenario, on the profiles from its era on: the bug where the spec profile lacks the fix, the fix where it has it. */
function bugRules(): Rule[] {
  return BUG_SCENARIOS.map((s) => ({
    id: `bug/${s.name}`,
    statement: s.description,
    source: 'bug-history.md',
    expected: (p: string) =>
      !fromEra(s.profile ?? 'ffa-1.2', p)
        ? undefined
        : s.fixedBy !== undefined && specHas(p, s.fixedBy)
          ? 'fixed'
          : 'bug shown',
    observe: (profile: Profile) => {
      const spec = PROFILES.find((x) => x.name === profile.base);
      const expectHas = (c: string): boolean => spec?.changes.includes(c) ?? false;
      const r = runScenario(s, { profile, expectProfile: { ...profile, has: expectHas }, trace: true });
      const fixed = s.fixedBy !== undefined && expectHas(s.fixedBy);
      return r.failures.length === 0
        ? fixed
          ? 'fixed'
          : 'bug shown'
        : `expectations failed: ${r.failures.join('; ')}`;
    },
  }));
}

export function allRules(): Rule[] {
  return [...fidRules(), ...acsRules(), ...errorRules(), ...bugRules(), ...virtioRules()];
}

/**
 * Runs every rule that applies to the named base profile of `profile`, on `profile` (which may carry
 * `--with/--without` changes). Never throws: a crash of the model is a failed rule.
 */
export function runCheck(
  profile: Profile,
  filter?: (id: string) => boolean,
  opts: { hyp?: WorldOptions['hyp'] } = {},
): RuleResult[] {
  const prev = checkHyp;
  checkHyp = opts.hyp;
  try {
    return runRules(profile, filter);
  } finally {
    checkHyp = prev;
  }
}

function runRules(profile: Profile, filter: ((id: string) => boolean) | undefined): RuleResult[] {
  const out: RuleResult[] = [];
  for (const r of allRules()) {
    if (filter !== undefined && !filter(r.id)) continue;
    const expected = r.expected(profile.base);
    if (expected === undefined) continue;
    let observed: string;
    try {
      observed = r.observe(profile);
    } catch (e) {
      observed = `model error: ${e instanceof Error ? e.message : String(e)}`;
    }
    out.push({
      id: r.id,
      statement: r.statement,
      source: r.source,
      profile: profile.name,
      expected,
      observed,
      pass: observed === expected,
    });
  }
  return out;
}
