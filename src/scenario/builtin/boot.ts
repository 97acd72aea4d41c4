/**
 * `boot`: the seed series' own test, in milliseconds. The patch was tested by "booting Android under QEMU,
 * loading Trusty, and observing SEND_DIRECT2 being used" (seed-cover-letter.txt): hyp init against a 1.2 SPMC
 * with a Trusty-like partition, the host driver negotiates 1.2, maps RXTX, discovers partitions, shares and lends
 * buffers, sends DIRECT_REQ, attempts DIRECT_REQ2 (NOT_SUPPORTED on ffa-1.2, delivered on ffa-1.2-direct-msg)
 * and reclaims.
 */
import { TRUSTY_UUIDS } from '../../world/config.ts';
import type { Scenario } from '../scenario.ts';

const TRUSTY = 0x8001;

export const boot: Scenario = {
  name: 'boot',
  description:
    'the seed flow: init, negotiate 1.2, RXTX, discovery, share + lend, DIRECT_REQ, DIRECT_REQ2, reclaim',
  run({ world, host, profile, expect, step }) {
    const ps = world.config.pageSize;
    step('pKVM init: the hyp negotiates with the SPMC');
    expect(
      world.init.kind === 'ok',
      `hyp init succeeds (${world.init.kind === 'ok' ? 'ok' : world.init.reason})`,
    );

    step('host driver: FFA_VERSION');
    const v = host.negotiate();
    expect(v.ok && v.value.version === 0x10002, 'host negotiates FF-A 1.2');

    step('host driver: FFA_FEATURES(RXTX_MAP) and FFA_RXTX_MAP');
    const m = host.rxtxMap();
    expect(m.ok, 'RXTX_MAP succeeds');
    if (m.ok)
      expect(
        world.stage2.hostState(m.value.tx) === 'SHARED_OWNED',
        'host TX page is SHARED_OWNED (shared with the hyp)',
      );

    step('host driver: partition discovery');
    const parts = host.partitionInfo();
    expect(
      parts.ok && parts.value.some((p) => p.id === TRUSTY),
      'the Trusty-like partition 0x8001 is discovered',
    );

    step('share 4 pages with Trusty');
    const shareBuf = world.allocHostPages(4);
    const share = host.memShare({
      receivers: [{ id: TRUSTY, perm: 'RW' }],
      constituents: [{ address: shareBuf, pageCount: (4 * ps) / 4096 }],
    });
    expect(share.ok, 'MEM_SHARE returns a handle');
    expect(world.stage2.hostState(shareBuf) === 'SHARED_OWNED', 'shared pages are SHARED_OWNED');

    step('lend 2 pages to Trusty');
    const lendBuf = world.allocHostPages(2);
    const lend = host.memLend({
      receivers: [{ id: TRUSTY, perm: 'RW' }],
      constituents: [{ address: lendBuf, pageCount: (2 * ps) / 4096 }],
    });
    expect(lend.ok, 'MEM_LEND returns a handle');

    step('FFA_MSG_SEND_DIRECT_REQ to Trusty (the handle as payload)');
    const h = share.ok ? share.value.handle : 0n;
    const req = host.directReq(TRUSTY, [h & 0xffff_ffffn, h >> 32n, 0x1234n]);
    expect(req.ok, 'DIRECT_REQ answered with DIRECT_RESP');

    step('FFA_MSG_SEND_DIRECT_REQ2 to Trusty by UUID');
    const req2 = host.directReq2(TRUSTY, TRUSTY_UUIDS[0]!, [0xc0ffeen]);
    if (profile.has('direct-req2-forward')) expect(req2.ok, 'DIRECT_REQ2 delivered (direct-req2-forward)');
    else if (profile.has('deny-ffa12-optional'))
      expect(!req2.ok && req2.error === 'NOT_SUPPORTED', 'DIRECT_REQ2 → NOT_SUPPORTED (deny-ffa12-optional)');

    step('reclaim both');
    if (share.ok) expect(host.memReclaim(share.value.handle).ok, 'share reclaimed');
    if (lend.ok) expect(host.memReclaim(lend.value.handle).ok, 'lend reclaimed');
    expect(
      world.stage2.hostState(shareBuf) === 'OWNED' && world.stage2.hostState(lendBuf) === 'OWNED',
      'pages back to OWNED',
    );
  },
};
