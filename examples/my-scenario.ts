/**
 * A user scenario: `./bin/ffasim.js run examples/my-scenario.ts [--profile P] [--format jsonl]`.
 * Export a scenario object (or a plain function of the context) as default.
 */
import type { Scenario } from 'ffasim';

const scenario: Scenario = {
  name: 'my-scenario',
  description:
    'Trusty retrieves a shared buffer, writes into it, relinquishes; the host reclaims and reads it back',
  options: () => ({
    handlers: {
      // Trusty-like partition: on a DIRECT_REQ carrying a handle (x3 lo, x4 hi), retrieve it, write a marker into
      // the first page, relinquish, answer.
      32769: (req, ctx) => {
        const handle = (req.x(4) << 32n) | req.x(3);
        const r = ctx.retrieve(handle);
        if (r.ok) {
          ctx.write(Number(r.constituents[0]!.address), new TextEncoder().encode('hello from S-EL1'));
          ctx.relinquish(handle);
        }
        return req
          .clone()
          .setW(0, 0xc4000070)
          .setW(1, (0x8001 << 16) >>> 0)
          .setX(3, r.ok ? 0n : 1n);
      },
    },
  }),
  run({ world, host, expect, step }) {
    step('set up');
    expect(host.negotiate().ok && host.rxtxMap().ok, 'negotiated and mapped');
    const buf = world.allocHostPages(1);
    step('share one page with Trusty and tell it the handle');
    const s = host.memShare({
      receivers: [{ id: 0x8001, perm: 'RW' }],
      constituents: [{ address: buf, pageCount: 1 }],
    });
    if (!expect(s.ok, 'shared') || !s.ok) return;
    const r = host.directReq(0x8001, [s.value.handle & 0xffff_ffffn, s.value.handle >> 32n]);
    expect(r.ok && r.value.payload[0] === 0n, 'Trusty retrieved, wrote and relinquished');
    step('reclaim and read what Trusty wrote');
    expect(host.memReclaim(s.value.handle).ok, 'reclaimed');
    expect(
      new TextDecoder().decode(world.mem.read(buf, 16)) === 'hello from S-EL1',
      'the marker is in host memory',
    );
  },
};

export default scenario;
