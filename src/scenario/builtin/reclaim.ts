/**
 * `reclaim-unknown`: the SPMC's side of MEM_RECLAIM. The host reclaims a handle the SPMC never allocated, one a
 * partition still holds, and one already reclaimed; the proxy passes the SPMC's answers on, and the trace names
 * the SPMC's rule, reason and source for each (`ffasim run reclaim-unknown --explain`; src/spmc/rules.ts).
 */
import type { RegisterFile } from '../../smccc/regs.ts';
import { echo } from '../../spmc/spmc.ts';
import type { PartitionContext } from '../../spmc/types.ts';
import type { Scenario } from '../scenario.ts';

const TRUSTY = 0x8001;
/** A handle no SPMC call ever returned (SPMC handles count up from 1; bit 63 clear: "SPMC-allocated"). */
const UNKNOWN = 0xdead_beefn;

/** Direct-request protocol of this scenario's partition: x3 = 1 retrieve handle x4, 2 relinquish it. */
const RETRIEVE = 1n;
const RELINQUISH = 2n;

/** A partition that retrieves and relinquishes on request; x3 of its answer is 0 on success, 1 on failure. */
function holder(req: RegisterFile, ctx: PartitionContext): RegisterFile {
  const out = echo(req);
  const op = req.x(3);
  const handle = req.x(4);
  if (op === RETRIEVE) out.setX(3, ctx.retrieve(handle).ok ? 0n : 1n);
  else if (op === RELINQUISH) out.setX(3, ctx.relinquish(handle).ok ? 0n : 1n);
  return out;
}

export const reclaimUnknown: Scenario = {
  name: 'reclaim-unknown',
  description:
    'MEM_RECLAIM of an unknown handle, of one a partition still holds, and of a reclaimed one: the SPMC says why (--explain)',
  options: () => ({ handlers: { [TRUSTY]: holder } }),
  run({ world, host, expect, step }) {
    step('negotiate and map RXTX');
    expect(host.negotiate().ok && host.rxtxMap().ok, 'host set up');

    step(`MEM_RECLAIM of handle 0x${UNKNOWN.toString(16)}, which the SPMC never allocated`);
    const unknown = host.memReclaim(UNKNOWN);
    expect(!unknown.ok && unknown.error === 'INVALID_PARAMETERS', 'INVALID_PARAMETERS from the SPMC');
    expect(world.spmc.transactions().length === 0, 'the SPMC holds no transaction');

    step('share a page; the partition retrieves it');
    const ps = world.config.pageSize;
    const page = world.allocHostPages(1);
    const s = host.memShare({
      receivers: [{ id: TRUSTY, perm: 'RW' }],
      constituents: [{ address: page, pageCount: ps / 4096 }],
    });
    if (!expect(s.ok, 'share succeeds') || !s.ok) return;
    const handle = s.value.handle;
    const got = host.directReq(TRUSTY, [RETRIEVE, handle]);
    expect(got.ok && got.value.payload[0] === 0n, 'the partition retrieved the handle');

    step('MEM_RECLAIM while the partition holds it');
    const held = host.memReclaim(handle);
    expect(!held.ok && held.error === 'DENIED', 'DENIED from the SPMC: a borrower still holds it');
    expect(world.stage2.hostState(page) === 'SHARED_OWNED', 'the page stays SHARED_OWNED');

    step('the partition relinquishes; MEM_RECLAIM succeeds');
    const rel = host.directReq(TRUSTY, [RELINQUISH, handle]);
    expect(rel.ok && rel.value.payload[0] === 0n, 'the partition relinquished');
    expect(host.memReclaim(handle).ok, 'reclaimed');
    expect(world.stage2.hostState(page) === 'OWNED', 'the page is OWNED again');

    step('MEM_RECLAIM of the same handle again');
    const again = host.memReclaim(handle);
    expect(!again.ok && again.error === 'INVALID_PARAMETERS', 'INVALID_PARAMETERS: the handle is gone');
  },
};
