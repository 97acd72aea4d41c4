/**
 * A large, real trace for the virtualisation test and `npm run bench:web`: the model itself runs direct requests
 * to partition 0x8001 with a one-page share and reclaim every 40 calls, until the trace holds `hops` hops.
 */
import { runWithInvariants } from '../../src/check/invariants.ts';
import type { Scenario } from '../../src/scenario/scenario.ts';
import { runToJSONL } from '../../src/scenario/trace.ts';

export function bigScenario(hops: number): Scenario {
  return {
    name: `big-${hops}`,
    description: `direct requests with periodic share/reclaim until ${hops} hops`,
    run({ world, host, expect }) {
      expect(host.negotiate().ok && host.rxtxMap().ok, 'host set up');
      const page = world.allocHostPages(1);
      const hopsNow = (): number => world.trace?.events.filter((e) => e.kind === 'hop').length ?? 0;
      let n = hopsNow();
      for (let k = 0; n < hops; k++) {
        if (k % 40 === 39) {
          const s = host.memShare({
            receivers: [{ id: 0x8001, perm: 'RW' }],
            constituents: [{ address: page, pageCount: world.config.pageSize / 4096 }],
          });
          if (s.ok) host.memReclaim(s.value.handle);
          n = hopsNow();
        } else {
          host.directReq(0x8001, [BigInt(k), 2n, 3n, 4n, 5n]);
          n += 6;
        }
      }
    },
  };
}

/** JSONL of a trace with at least `hops` hops. */
export function bigTrace(hops: number): string {
  return runToJSONL(runWithInvariants(bigScenario(hops)));
}
