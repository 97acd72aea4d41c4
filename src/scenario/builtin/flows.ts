/** Built-in flows: the everyday FF-A paths through the proxy. */
import { FFA } from '../../ffa/ids.ts';
import { TRUSTY_UUIDS } from '../../world/config.ts';
import type { Scenario } from '../scenario.ts';

const TRUSTY = 0x8001;

export const shareLendReclaim: Scenario = {
  name: 'share-lend-reclaim',
  description: 'share 3 constituents, lend 1, check stage-2 states, reclaim both, check they are OWNED again',
  run({ world, host, expect, step }) {
    step('negotiate and map RXTX');
    expect(host.negotiate().ok && host.rxtxMap().ok, 'host set up');
    const ps = world.config.pageSize;
    const a = world.allocHostPages(6);
    step('MEM_SHARE of 3 constituents (pages 0, 2, 4)');
    const cs = [0, 2, 4].map((i) => ({ address: a + i * ps, pageCount: ps / 4096 }));
    const s = host.memShare({ receivers: [{ id: TRUSTY, perm: 'RW' }], constituents: cs });
    expect(s.ok, 'share succeeds');
    expect(
      cs.every((c) => world.stage2.hostState(c.address) === 'SHARED_OWNED'),
      'the 3 constituents are SHARED_OWNED',
    );
    expect(world.stage2.hostState(a + ps) === 'OWNED', 'the gaps stay OWNED');
    step('MEM_LEND of page 1 (read-only)');
    const l = host.memLend({
      receivers: [{ id: TRUSTY, perm: 'RO' }],
      constituents: [{ address: a + ps, pageCount: ps / 4096 }],
    });
    expect(l.ok, 'lend succeeds');
    step('sharing an already shared page is DENIED, with no state change');
    const before = world.stage2.fingerprint();
    const again = host.memShare({ receivers: [{ id: TRUSTY, perm: 'RW' }], constituents: [cs[0]!] });
    expect(!again.ok && again.error === 'DENIED', 'second share of page 0 → DENIED');
    expect(world.stage2.fingerprint() === before, 'no page state changed');
    step('reclaim');
    if (s.ok) expect(host.memReclaim(s.value.handle).ok, 'share reclaimed');
    if (l.ok) expect(host.memReclaim(l.value.handle).ok, 'lend reclaimed');
    expect(
      world.stage2.query(a, 6).every((r) => r.host === 'OWNED'),
      'all 6 pages OWNED',
    );
  },
};

export const fragmentedShare: Scenario = {
  name: 'fragmented-share',
  description:
    'a share whose descriptor is larger than the mailbox: first fragment, FRAG_TX until SUCCESS, reclaim via FRAG_RX',
  run({ world, host, expect, step }) {
    expect(host.negotiate().ok && host.rxtxMap().ok, 'host set up');
    const ps = world.config.pageSize;
    const n = 600;
    const base = world.allocHostPages(2 * n);
    const cs = Array.from({ length: n }, (_, i) => ({ address: base + 2 * i * ps, pageCount: ps / 4096 }));
    step(`MEM_SHARE of ${n} constituents (${96 + 16 * n} bytes > one ${ps}-byte mailbox)`);
    const s = host.memShare({ receivers: [{ id: TRUSTY, perm: 'RW' }], constituents: cs });
    expect(s.ok && s.value.fragments > 1, `share completes in ${s.ok ? s.value.fragments : '?'} fragments`);
    expect(
      cs.every((c) => world.stage2.hostState(c.address) === 'SHARED_OWNED'),
      `all ${n} constituents SHARED_OWNED`,
    );
    step('reclaim: the hyp reassembles the retrieve response with FFA_MEM_FRAG_RX');
    if (s.ok) expect(host.memReclaim(s.value.handle).ok, 'reclaimed');
    expect(
      cs.every((c) => world.stage2.hostState(c.address) === 'OWNED'),
      'all back to OWNED',
    );
  },
};

export const versionDowngrade: Scenario = {
  name: 'version-downgrade',
  description:
    'a 1.1 driver negotiates first (downgrade accepted by the SPMC), then a 1.0 driver is refused (H8)',
  run({ world, profile, expect, step }) {
    step('FFA_VERSION(1.1): a downgrade, sent to the SPMC first');
    const r1 = world.smc([FFA.VERSION, 0x10001]);
    expect(r1.w(0) === 0x10001, 'negotiated 1.1');
    step('FFA_VERSION(1.0) after negotiation');
    const r2 = world.smc([FFA.VERSION, 0x10000]);
    if (profile.has('version-downgrade-reject'))
      expect(r2.x(0) === 0xffff_ffff_ffff_ffffn, 'refused with NOT_SUPPORTED (version-downgrade-reject)');
    else expect(r2.w(0) === 0x10001, 'answered with the negotiated version (before the fix)');
    step('FFA_VERSION(1.2) after negotiation still answers 1.1');
    expect(world.smc([FFA.VERSION, 0x10002]).w(0) === 0x10001, 'answers 1.1');
  },
};

export const partitionDiscovery: Scenario = {
  name: 'partition-discovery',
  description:
    'count-only then full FFA_PARTITION_INFO_GET, copied by the hyp into the host RX; multi-UUID (1.2); RX_RELEASE',
  world: (cfg) => {
    cfg.spmc.partitions.push({
      id: 0x8002,
      uuids: ['5a3d17b0-1f2e-4c3d-9e8f-0a1b2c3d4e5f'],
      properties: 0x3 | 0x100,
      execContexts: 1,
      name: 'second',
    });
  },
  run({ host, expect, step }) {
    expect(host.negotiate().ok && host.rxtxMap().ok, 'host set up');
    step('Nil UUID: one descriptor per (partition, UUID) for a 1.2 caller');
    const all = host.partitionInfo();
    expect(
      all.ok && all.value.length === 3,
      `3 descriptors (0x8001 × 2 UUIDs, 0x8002) — got ${all.ok ? all.value.length : all.error}`,
    );
    step('by UUID');
    const one = host.partitionInfo(TRUSTY_UUIDS[1]!);
    expect(
      one.ok && one.value.length === 1 && one.value[0]!.id === TRUSTY,
      'the second Trusty UUID finds 0x8001',
    );
    step('an unknown UUID');
    const none = host.partitionInfo('00000000-0000-0000-0000-000000000001');
    expect(!none.ok && none.error === 'INVALID_PARAMETERS', 'INVALID_PARAMETERS');
  },
};

export const directReq2: Scenario = {
  name: 'direct-req2',
  description:
    'FEATURES(DIRECT_REQ2) then DIRECT_REQ2 by UUID: NOT_SUPPORTED on ffa-1.2, delivered on ffa-1.2-direct-msg',
  run({ host, profile, expect, step }) {
    expect(host.negotiate().ok, 'negotiated');
    step('FFA_FEATURES(FFA_MSG_SEND_DIRECT_REQ2)');
    const has = host.supportsReq2();
    step('FFA_MSG_SEND_DIRECT_REQ2 by UUID');
    const r = host.directReq2(TRUSTY, TRUSTY_UUIDS[0]!, [1n, 2n, 3n]);
    if (profile.has('direct-req2-forward')) {
      expect(has && r.ok && r.value.payload[0] === 1n, 'delivered and echoed (direct-req2-forward)');
    } else if (profile.has('deny-ffa12-optional')) {
      expect(
        !has && !r.ok && r.error === 'NOT_SUPPORTED',
        'FEATURES and the call → NOT_SUPPORTED (deny-ffa12-optional)',
      );
    } else {
      expect(r.ok, 'forwarded unfiltered (before the FF-A 1.2 series)');
    }
  },
};
