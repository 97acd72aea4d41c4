/**
 * What a downstream user writes: a vitest test of their own FF-A flow against ffasim's typed API.
 * (In a project that depends on ffasim, the import is the same.)
 */
import { createProfile, createWorld } from 'ffasim';
import { describe, expect, it } from 'vitest';

describe('my driver change, on two kernels', () => {
  it.each(['ffa-1.2', 'ffa-1.2-direct-msg'])('REQ2 to Trusty on %s', (profile) => {
    const w = createWorld({ profile: createProfile(profile) });
    expect(w.host.negotiate().ok).toBe(true);
    const r = w.host.directReq2(0x8001, '40ee25f0-a2bc-304c-8c4c-a173c57d8af1', [7n]);
    if (profile === 'ffa-1.2') expect(!r.ok && r.error).toBe('NOT_SUPPORTED');
    else expect(r.ok && r.value.payload[0]).toBe(7n);
  });

  it('a share leaves the page SHARED_OWNED until reclaim', () => {
    const w = createWorld();
    w.host.negotiate();
    w.host.rxtxMap();
    const p = w.allocHostPages(1);
    const s = w.host.memShare({
      receivers: [{ id: 0x8001, perm: 'RW' }],
      constituents: [{ address: p, pageCount: 1 }],
    });
    expect(w.state(p)[0]!.host).toBe('SHARED_OWNED');
    if (s.ok) w.host.memReclaim(s.value.handle);
    expect(w.state(p)[0]!.host).toBe('OWNED');
  });
});
