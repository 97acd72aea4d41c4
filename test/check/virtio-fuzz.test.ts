/**
 * The virtio-msg fuzz target: the host driver against hostile device answers. No exception escapes, every
 * failure carries an allow-listed error code, nothing is left shared behind the driver's back, the invariants
 * hold; and each mutation kind is shown to be caught at least once by a fixed plan.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type HostileMutation,
  hostileMutation,
  runHostileVirtio,
  VIRTIO_DRIVER_ERRORS,
} from '../../src/check/virtio-fuzz.ts';

const NUM_RUNS = Number(process.env.FC_NUM_RUNS ?? 60);

describe('virtio-msg fuzz target', () => {
  it('a well-behaved device: the flow completes and echoes', () => {
    const r = runHostileVirtio([]);
    expect(r.crash).toBeUndefined();
    expect(r.failure).toBeUndefined();
    expect(r.echoed).toBe(true);
    expect(r.orphans).toBe(0);
    expect(r.violations).toEqual([]);
  });

  // Answer numbers (0-based): 0 VERSION, 1 AREA_SHARE, 2 GET_DEVICE_INFO, … 11 EVENT_AVAIL(q1), 12 EVENT_POLL.
  const cases: [string, HostileMutation[], RegExp][] = [
    ['msg_size past the payload', [{ kind: 'size', value: 200 }], /^VMSG_SIZE_RANGE$/],
    ['wrong token', [{ kind: 'token', xor: 1 }], /^VMSG_MISMATCH$/],
    ['another message ID', [{ kind: 'msg-id', value: 0x83 }], /^VMSG_(MISMATCH|BODY_SHORT|TRAILING)$/],
    ['busy forever', [{ kind: 'busy' }, { kind: 'busy' }, { kind: 'busy' }, { kind: 'busy' }], /^BUSY$/],
    [
      'AREA_SHARE answered with garbage',
      [{ kind: 'none' }, { kind: 'garbage', bytes: Uint8Array.of(0xff) }],
      /^VMSG_/,
    ],
  ];
  it.each(cases)('%s is rejected with a located error', (_, plan, code) => {
    const r = runHostileVirtio(plan);
    expect(r.crash).toBeUndefined();
    expect(r.failure?.error).toMatch(code);
    expect(r.orphans).toBe(0);
    expect(r.violations).toEqual([]);
  });

  it('ring corruption (used.idx, used id, used len) is caught by the driver', () => {
    const none: HostileMutation = { kind: 'none' };
    // The answer to the transmit EVENT_AVAIL comes after the rings hold a used entry for queue 1.
    const find = (m: HostileMutation): string | undefined => {
      for (let at = 8; at < 16; at++) {
        const plan: HostileMutation[] = Array.from({ length: at }, () => none);
        plan.push(m);
        const r = runHostileVirtio(plan);
        expect(r.crash).toBeUndefined();
        if (r.failure !== undefined && /^VQ_/.test(r.failure.error)) return r.failure.error;
      }
      return undefined;
    };
    expect(find({ kind: 'used-idx', value: 9 })).toBe('VQ_USED_IDX_RANGE');
    expect(find({ kind: 'used-id', value: 7 })).toBe('VQ_USED_ID');
    expect(find({ kind: 'used-len', value: 4096 })).toBe('VQ_USED_LEN');
  });

  it('property: random hostile plans never crash, leak or break an invariant', () => {
    fc.assert(
      fc.property(fc.array(hostileMutation, { maxLength: 24 }), (plan) => {
        const r = runHostileVirtio(plan);
        expect(r.crash).toBeUndefined();
        if (r.failure !== undefined) expect(r.failure.error).toMatch(VIRTIO_DRIVER_ERRORS);
        expect(r.orphans).toBe(0);
        expect(r.violations).toEqual([]);
      }),
      { numRuns: NUM_RUNS, seed: 15 },
    );
  });
});
